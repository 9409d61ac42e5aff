import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readMigrations, resolveMigrationsDir } from '../../lambda/shared/migrations';
import { useTestDatabase } from '../helpers/postgres';

const run = promisify(execFile);
const database = useTestDatabase({ migrate: false });
const SCRIPT = join(__dirname, '..', '..', 'scripts', 'db-migrate.ts');
const TSX = join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');

async function migrate(url: string): Promise<string> {
  const { stdout, stderr } = await run(TSX, [SCRIPT], { env: { ...process.env, DATABASE_URL: url } });
  return `${stdout}${stderr}`;
}

describe('npm run db:migrate', () => {
  it('applies the schema once, then reports it up to date, never printing the password', async () => {
    // Prepare: trust authentication ignores the password, so any will do.
    const url = new URL(database().url);
    url.password = 'not-for-the-log';
    const files = readMigrations(resolveMigrationsDir()).map((migration) => migration.name);

    // Act
    const first = await migrate(url.toString());
    const second = await migrate(url.toString());

    // Assess
    const where = `${url.host}/${database().name}`;
    expect(first).toContain(`${where}: applied ${files.join(', ')}`);
    expect(second).toContain(`${where}: schema up to date (${files.length} migrations already applied)`);
    expect(`${first}${second}`).not.toContain('not-for-the-log');
    const { rows } = await database().pool.query<{ name: string }>('SELECT name FROM schema_migrations');
    expect(rows.map((row) => row.name).sort()).toEqual([...files].sort());
  });

  it('exits 2 naming DATABASE_URL when it is not set', async () => {
    const env = { ...process.env };
    delete env.DATABASE_URL;
    const attempt = run(TSX, [SCRIPT], { env });
    await expect(attempt).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('DATABASE_URL') });
  });
});
