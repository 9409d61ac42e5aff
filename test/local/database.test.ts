import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { readMigrations, resolveMigrationsDir } from '../../lambda/shared/migrations';
import { startLocalDatabase } from '../../local/database';
import { useTestDatabase } from '../helpers/postgres';

const external = useTestDatabase({ migrate: false });
const files = readMigrations(resolveMigrationsDir()).map((migration) => migration.name);
const tempDirs: string[] = [];

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

async function tables(url: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    );
    return rows.map((row) => row.name);
  } finally {
    await client.end();
  }
}

describe('startLocalDatabase', () => {
  it('migrates DATABASE_URL when one is given', async () => {
    // Act
    const database = await startLocalDatabase({ url: external().url, dataDir: '/nonexistent' });

    // Assess
    try {
      expect(database).toMatchObject({ kind: 'external', url: external().url });
      expect(database.migrations).toEqual({ applied: files, alreadyApplied: [], latest: files.at(-1) });
      expect(await tables(database.url)).toContain('consumer_offsets');
    } finally {
      await database.close();
    }
  });

  it('serves a migrated PGlite under the data dir, locked against another live process', async () => {
    // Prepare
    const dataDir = mkdtempSync(join(tmpdir(), 'local-db-'));
    tempDirs.push(dataDir);

    // Act
    const database = await startLocalDatabase({ dataDir });
    let created: string[];
    try {
      created = await tables(database.url);
    } finally {
      await database.close();
    }
    const other = spawn('sleep', ['30']);
    writeFileSync(join(dataDir, 'pglite.lock'), `${other.pid}\n`);
    const whileHeld = startLocalDatabase({ dataDir });
    await expect(whileHeld).rejects.toThrow(`in use by another local pipeline (pid ${other.pid})`);
    other.kill('SIGKILL');
    await once(other, 'exit');
    const reopened = await startLocalDatabase({ dataDir });
    await reopened.close();

    // Assess
    expect(database.kind === 'pglite' && database.dataDir).toBe(join(dataDir, 'pglite'));
    expect(database.migrations.applied).toEqual(files);
    expect(created).toContain('consumer_offsets');
    expect(reopened.migrations).toEqual({ applied: [], alreadyApplied: files, latest: files.at(-1) });
  });
});
