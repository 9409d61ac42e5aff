import { randomBytes } from 'node:crypto';
import { escapeIdentifier, Pool } from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { applyMigrations } from '../../lambda/shared/migrations';
import { withAdmin } from './postgres-admin';

/** The test server: 127.0.0.1:5432, trust authentication, superuser postgres. */
export const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  readonly name: string;
  /** Connection URL of the fresh database, as the superuser. */
  readonly url: string;
  /** A small pool on `url`, ended by `drop`. */
  readonly pool: Pool;
  /** URL of the same database for another role (trust authentication: no password needed). */
  urlFor(role: string): string;
  drop(): Promise<void>;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/**
 * Creates a uniquely named database and, unless told otherwise, applies the migrations to it. Each test file
 * gets its own, so files running in parallel never see each other's rows.
 */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = uniqueName('test');
  await withAdmin(ADMIN_URL, (admin) => admin.query(`CREATE DATABASE ${escapeIdentifier(name)}`));
  const urlFor = (role: string): string => {
    const url = new URL(ADMIN_URL);
    url.username = role;
    url.password = '';
    url.pathname = `/${name}`;
    return url.toString();
  };
  const url = urlFor(new URL(ADMIN_URL).username || 'postgres');
  const pool = new Pool({ connectionString: url, max: 4 });
  pool.on('error', () => undefined);
  if (options.migrate ?? true) {
    const client = await pool.connect();
    try {
      await applyMigrations(client);
    } finally {
      client.release();
    }
  }
  return {
    name,
    url,
    pool,
    urlFor,
    async drop() {
      await pool.end();
      await withAdmin(ADMIN_URL, (admin) =>
        admin.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(name)} WITH (FORCE)`),
      );
    },
  };
}

export interface UseTestDatabaseOptions {
  readonly migrate?: boolean;
  /** Roles the tests create (filled in as they go): dropped after the database that granted them privileges. */
  readonly roles?: readonly string[];
}

/** Registers beforeAll/afterAll for a fresh migrated database and returns a getter for it. */
export function useTestDatabase(options: UseTestDatabaseOptions = {}): () => TestDatabase {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(options);
  });
  afterAll(async () => {
    await database?.drop();
    if (options.roles !== undefined) await dropRoles(options.roles);
  });
  return () => {
    if (database === undefined) throw new Error('The test database is created in beforeAll');
    return database;
  };
}

/** Drops cluster-wide roles a test created (after the databases that granted them privileges are gone). */
export async function dropRoles(roles: readonly string[]): Promise<void> {
  await withAdmin(ADMIN_URL, async (admin) => {
    for (const role of roles) await admin.query(`DROP ROLE IF EXISTS ${escapeIdentifier(role)}`);
  });
}
