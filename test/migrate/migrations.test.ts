import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, escapeIdentifier } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AGGREGATOR_TABLES,
  applyMigrations,
  ensureAggregatorRole,
  readMigrations,
  resolveMigrationsDir,
} from '../../lambda/shared/migrations';
import { createTestDatabase, dropRoles, type TestDatabase, uniqueName } from '../helpers/postgres';

const databases: TestDatabase[] = [];
const roles: string[] = [];
const tempDirs: string[] = [];

afterAll(async () => {
  for (const database of databases) await database.drop();
  await dropRoles(roles);
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

async function freshDatabase(migrate: boolean): Promise<TestDatabase> {
  const database = await createTestDatabase({ migrate });
  databases.push(database);
  return database;
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await connect(url);
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function copyOfMigrations(): string {
  const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
  tempDirs.push(dir);
  cpSync(resolveMigrationsDir(), dir, { recursive: true });
  return dir;
}

function expectedVerifier(password: string, stored: string): boolean {
  const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(stored);
  if (match === null) return false;
  const [, iterations, salt, storedKey, serverKey] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  const salted = pbkdf2Sync(password, Buffer.from(salt, 'base64'), Number(iterations), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return (
    createHash('sha256').update(clientKey).digest('base64') === storedKey &&
    createHmac('sha256', salted).update('Server Key').digest('base64') === serverKey
  );
}

async function sqlState(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe('applyMigrations', () => {
  it('applies every file once and is a no-op the second time', async () => {
    // Prepare
    const database = await freshDatabase(false);
    const files = readMigrations(resolveMigrationsDir()).map((migration) => migration.name);

    // Act
    const first = await withClient(database.url, (client) => applyMigrations(client));
    const second = await withClient(database.url, (client) => applyMigrations(client));

    // Assess
    expect(first).toEqual({ applied: files, alreadyApplied: [], latest: files.at(-1) });
    expect(second).toEqual({ applied: [], alreadyApplied: files, latest: files.at(-1) });
    const { rows } = await database.pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(rows.map((row) => row.table_name)).toEqual(
      [...AGGREGATOR_TABLES, 'schema_migrations'].sort((a, b) => a.localeCompare(b)),
    );
    const recorded = await database.pool.query(
      'SELECT version, name FROM schema_migrations ORDER BY version',
    );
    expect(recorded.rows.map((row) => row.name)).toEqual(files);
  });

  it('lets concurrent runners apply each migration exactly once', async () => {
    // Prepare
    const database = await freshDatabase(false);
    const clients = await Promise.all([1, 2, 3, 4].map(() => connect(database.url)));

    // Act
    const results = await Promise.all(clients.map((client) => applyMigrations(client))).finally(() =>
      Promise.all(clients.map((client) => client.end())),
    );

    // Assess
    const appliedCount = results.flatMap((result) => result.applied).length;
    expect(appliedCount).toBe(readMigrations(resolveMigrationsDir()).length);
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM schema_migrations');
    expect(rows[0].n).toBe(appliedCount);
  });

  it('refuses a database whose applied migration was edited afterwards', async () => {
    // Prepare
    const database = await freshDatabase(false);
    const dir = copyOfMigrations();
    await withClient(database.url, (client) => applyMigrations(client, dir));
    writeFileSync(join(dir, '001-init.sql'), '-- edited\nSELECT 1;\n');

    // Act
    const attempt = withClient(database.url, (client) => applyMigrations(client, dir));

    // Assess
    await expect(attempt).rejects.toThrow(/001-init\.sql was changed after it was applied/);
  });

  it('rolls a failing migration back entirely and records nothing for it', async () => {
    // Prepare
    const database = await freshDatabase(false);
    const dir = copyOfMigrations();
    writeFileSync(
      join(dir, '900-broken.sql'),
      'CREATE TABLE half_done (id int);\nSELECT no_such_function();\n',
    );

    // Act
    const attempt = withClient(database.url, (client) => applyMigrations(client, dir));

    // Assess
    await expect(attempt).rejects.toThrow(/900-broken\.sql failed/);
    const half = await database.pool.query("SELECT to_regclass('public.half_done') AS t");
    expect(half.rows[0].t).toBeNull();
    const { rows } = await database.pool.query('SELECT name FROM schema_migrations');
    expect(rows.map((row) => row.name)).not.toContain('900-broken.sql');
    expect(rows.map((row) => row.name)).toContain('001-init.sql');
  });

  it('orders versions as numbers, whatever their width', () => {
    // Prepare
    const dir = copyOfMigrations();
    writeFileSync(join(dir, '1000-later.sql'), 'SELECT 1;');
    writeFileSync(join(dir, '999-earlier.sql'), 'SELECT 1;');
    writeFileSync(join(dir, '0100-middle.sql'), 'SELECT 1;');

    // Act
    const names = readMigrations(dir).map((migration) => migration.name);

    // Assess
    expect(names).toEqual(['001-init.sql', '0100-middle.sql', '999-earlier.sql', '1000-later.sql']);
  });

  it('applies 999 before 1000 and reports the newest as the schema version', async () => {
    // Prepare
    const database = await freshDatabase(false);
    const dir = copyOfMigrations();
    writeFileSync(join(dir, '1000-later.sql'), 'CREATE TABLE later (id int REFERENCES earlier (id));');
    writeFileSync(join(dir, '999-earlier.sql'), 'CREATE TABLE earlier (id int PRIMARY KEY);');

    // Act
    const result = await withClient(database.url, (client) => applyMigrations(client, dir));

    // Assess
    expect(result.applied).toEqual(['001-init.sql', '999-earlier.sql', '1000-later.sql']);
    expect(result.latest).toBe('1000-later.sql');
  });

  it('rejects two files with the same version number written differently', () => {
    const dir = copyOfMigrations();
    writeFileSync(join(dir, '0001-again.sql'), 'SELECT 1;');
    expect(() => readMigrations(dir)).toThrow(
      /001-init\.sql and 0001-again\.sql share version 1|0001-again\.sql and 001-init\.sql share version 1/,
    );
  });

  it('rejects a file name that does not follow NNN-name.sql', () => {
    const dir = copyOfMigrations();
    writeFileSync(join(dir, 'init2.sql'), 'SELECT 1;');
    expect(() => readMigrations(dir)).toThrow(/does not match NNN-name\.sql/);
  });
});

describe('ensureAggregatorRole', () => {
  it('creates a login role that can read, insert and update the four tables and nothing more', async () => {
    // Prepare
    const database = await freshDatabase(true);
    const username = `${uniqueName('agg')}-"q`;
    roles.push(username);
    const password = `p'a"ss\\word ${uniqueName('x')}`;

    // Act
    await withClient(database.url, (client) => ensureAggregatorRole(client, { username, password }));
    await withClient(database.url, (client) => ensureAggregatorRole(client, { username, password }));

    // Assess
    const role = await database.pool.query(
      'SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolpassword FROM pg_authid WHERE rolname = $1',
      [username],
    );
    expect(role.rows[0]).toMatchObject({
      rolcanlogin: true,
      rolsuper: false,
      rolcreaterole: false,
      rolcreatedb: false,
    });
    expect(expectedVerifier(password, role.rows[0].rolpassword)).toBe(true);
    expect(role.rows[0].rolpassword).not.toContain(password);

    const privileges = await database.pool.query(
      `SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type) AS privileges
         FROM information_schema.role_table_grants WHERE grantee = $1 GROUP BY table_name ORDER BY table_name`,
      [username],
    );
    expect(privileges.rows).toEqual(
      [...AGGREGATOR_TABLES]
        .sort((a, b) => a.localeCompare(b))
        .map((table) => ({ table_name: table, privileges: 'INSERT,SELECT,UPDATE' })),
    );

    await withClient(database.urlFor(username), async (aggregator) => {
      await aggregator.query(
        "INSERT INTO transaction_flow (batch_id, curr_time, branch_name, currency_code, batch_value, record_count, source_offsets, consumer_group) VALUES (gen_random_uuid(), now(), 'Kazan', 'RUB', 1.50, 1, '{}', 'g')",
      );
      await aggregator.query(
        "INSERT INTO consumer_offsets (consumer_group, topic, partition, last_offset) VALUES ('g', 't', 0, 5)",
      );
      await aggregator.query("UPDATE consumer_offsets SET last_offset = 6 WHERE consumer_group = 'g'");
      const read = await aggregator.query('SELECT last_offset FROM consumer_offsets');
      expect(read.rows).toEqual([{ last_offset: '6' }]);

      expect(await sqlState(aggregator.query('DELETE FROM consumer_offsets'))).toBe('42501');
      expect(await sqlState(aggregator.query('TRUNCATE transaction_flow'))).toBe('42501');
      expect(await sqlState(aggregator.query('DROP TABLE open_currency_position'))).toBe('42501');
      expect(await sqlState(aggregator.query('ALTER TABLE rejected_transactions ADD COLUMN x int'))).toBe(
        '42501',
      );
      expect(await sqlState(aggregator.query('CREATE TABLE sneaky (id int)'))).toBe('42501');
      expect(await sqlState(aggregator.query('SELECT * FROM schema_migrations'))).toBe('42501');
    });
  });

  it('converges an existing role: new password, hand-granted extras revoked', async () => {
    // Prepare
    const database = await freshDatabase(true);
    const username = uniqueName('agg');
    roles.push(username);
    await withClient(database.url, (client) =>
      ensureAggregatorRole(client, { username, password: 'first-password' }),
    );
    await database.pool.query(`GRANT DELETE, TRUNCATE ON consumer_offsets TO ${escapeIdentifier(username)}`);

    // Act
    await withClient(database.url, (client) =>
      ensureAggregatorRole(client, { username, password: 'second-password' }),
    );

    // Assess
    const role = await database.pool.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [
      username,
    ]);
    expect(expectedVerifier('second-password', role.rows[0].rolpassword)).toBe(true);
    await withClient(database.urlFor(username), async (aggregator) => {
      expect(await sqlState(aggregator.query('DELETE FROM consumer_offsets'))).toBe('42501');
    });
  });

  it('refuses to take over the migrating role or a privileged role', async () => {
    // Prepare
    const database = await freshDatabase(true);
    const privileged = uniqueName('admin');
    roles.push(privileged);
    await database.pool.query(`CREATE ROLE ${escapeIdentifier(privileged)} CREATEDB`);

    // Act
    const asSelf = withClient(database.url, (client) =>
      ensureAggregatorRole(client, { username: 'postgres', password: 'whatever' }),
    ).catch((error: Error) => error);
    const asPrivileged = withClient(database.url, (client) =>
      ensureAggregatorRole(client, { username: privileged, password: 'whatever' }),
    ).catch((error: Error) => error);

    // Assess
    expect(await asSelf).toMatchObject({
      message: expect.stringMatching(/must not be the role that runs migrations/),
    });
    expect(await asPrivileged).toMatchObject({ message: expect.stringMatching(/administrative attributes/) });
  });
});
