import { randomBytes } from 'node:crypto';
import { Client, escapeIdentifier } from 'pg';
import { applyMigrations } from '../lambda/shared/migrations';
import { withAdmin } from '../test/helpers/postgres-admin';

/** The local server: 127.0.0.1:5432, trust authentication, superuser postgres. */
export const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own, so the bench never touches anyone else's rows. */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await withAdmin(ADMIN_URL, (admin) => admin.query(`CREATE DATABASE ${escapeIdentifier(name)}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await applyMigrations(client);
  } finally {
    await client.end();
  }
  return {
    name,
    url: url.toString(),
    drop: () =>
      withAdmin(ADMIN_URL, async (admin) => {
        await admin.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`);
      }),
  };
}
