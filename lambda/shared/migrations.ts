import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, type ClientBase, escapeIdentifier, escapeLiteral } from 'pg';
import { optionalEnv } from './env';
import type { UsernamePassword } from './secrets';

/**
 * Schema files are `NNN-name.sql`, applied in numeric order of NNN (1000 after 999), each once, each in its own transaction. They
 * must not contain BEGIN/COMMIT or statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY).
 */
const MIGRATION_FILE = /^(\d{3,})-[a-z0-9][a-z0-9-]*\.sql$/;

/** Arbitrary constants naming this project's advisory locks, so concurrent deploys and runners queue. */
const MIGRATION_LOCK_KEY = '728341001';
const ROLE_LOCK_KEY = '728341002';

/** The aggregator's tables: it reads, inserts and updates them; it never deletes and never changes the schema. */
export const AGGREGATOR_TABLES = [
  'transaction_flow',
  'open_currency_position',
  'rejected_transactions',
  'consumer_offsets',
] as const;
const AGGREGATOR_SEQUENCES = ['transaction_flow_id_seq'] as const;

export interface Migration {
  readonly version: string;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

/**
 * Where the SQL files are: MIGRATIONS_DIR when set; else `migrations/` beside the bundle (the migrate
 * function's bundling copies it there: `afterBundling: (inputDir, outputDir) =>
 * [\`cp -r "${inputDir}/migrations" "${outputDir}/migrations"\`]`); else the repository's `migrations/` when
 * run from source.
 */
export function resolveMigrationsDir(): string {
  const fromEnv = optionalEnv('MIGRATIONS_DIR');
  if (fromEnv !== undefined) return fromEnv;
  const candidates = [join(__dirname, 'migrations'), join(__dirname, '..', '..', 'migrations')];
  const found = candidates.find((dir) => existsSync(dir));
  if (found === undefined) {
    throw new Error(`No migrations directory: set MIGRATIONS_DIR or provide one of ${candidates.join(', ')}`);
  }
  return found;
}

/** The migrations in `dir`, in version order; there is at least one. */
export function readMigrations(dir: string): [Migration, ...Migration[]] {
  const migrations = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => {
      const match = MIGRATION_FILE.exec(file);
      if (match === null) throw new Error(`Migration file name ${file} does not match NNN-name.sql`);
      const sql = readFileSync(join(dir, file), 'utf8');
      return {
        version: match[1] as string,
        name: file,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    })
    .sort((a, b) => compareVersions(a.version, b.version));
  for (let i = 1; i < migrations.length; i++) {
    const [previous, current] = [migrations[i - 1] as Migration, migrations[i] as Migration];
    if (compareVersions(previous.version, current.version) === 0) {
      throw new Error(`${previous.name} and ${current.name} share version ${BigInt(current.version)}`);
    }
  }
  const [first, ...rest] = migrations;
  if (first === undefined) throw new Error(`No migrations in ${dir}`);
  return [first, ...rest];
}

/** Versions are numbers, whatever their width: 999 before 1000, and 001 the same as 0001. */
function compareVersions(a: string, b: string): number {
  const [x, y] = [BigInt(a), BigInt(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

export interface MigrationResult {
  /** File names applied by this call. */
  readonly applied: string[];
  /** File names that were already applied. */
  readonly alreadyApplied: string[];
  /** File name of the newest migration: the version the schema is at now. */
  readonly latest: string;
}

/**
 * Brings the schema up to date. Safe to run repeatedly and concurrently: runners queue on a session advisory
 * lock, and a migration already recorded in schema_migrations is skipped. A recorded migration whose file has
 * changed since is an error: the database no longer matches the only schema source.
 */
export async function applyMigrations(
  client: ClientBase,
  dir: string = resolveMigrationsDir(),
): Promise<MigrationResult> {
  const migrations = readMigrations(dir);
  await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: string; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations',
    );
    const recorded = new Map(rows.map((row) => [row.version, row.checksum]));
    const applied: string[] = [];
    const alreadyApplied: string[] = [];
    for (const migration of migrations) {
      const checksum = recorded.get(migration.version);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new Error(
            `Migration ${migration.name} was changed after it was applied; add a new migration instead`,
          );
        }
        alreadyApplied.push(migration.name);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          migration.version,
          migration.name,
          migration.checksum,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`Migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
      }
      applied.push(migration.name);
    }
    const latest = migrations.reduce((_, migration) => migration).name;
    return { applied, alreadyApplied, latest };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
  }
}

/** applyMigrations on a connection of its own to `connectionString`, closed afterwards. */
export async function applyMigrationsTo(
  connectionString: string,
  dir: string = resolveMigrationsDir(),
): Promise<MigrationResult> {
  const client = new Client({ connectionString });
  await client.connect();
  try {
    return await applyMigrations(client, dir);
  } finally {
    await client.end();
  }
}

/**
 * Creates or updates the aggregator's login role and gives it exactly the privileges the aggregator uses. The
 * password is sent as a SCRAM-SHA-256 verifier computed here, so the plain password never appears in a
 * statement the server could log (log_statement = ddl logs ALTER ROLE).
 */
export async function ensureAggregatorRole(client: ClientBase, credentials: UsernamePassword): Promise<void> {
  const { username, password } = credentials;
  const role = escapeIdentifier(username);
  const tables = AGGREGATOR_TABLES.map(escapeIdentifier).join(', ');
  const sequences = AGGREGATOR_SEQUENCES.map(escapeIdentifier).join(', ');
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [ROLE_LOCK_KEY]);
    const { rows } = await client.query<{ current_user: string; database: string }>(
      'SELECT current_user, current_database() AS database',
    );
    const session = rows[0];
    if (session === undefined) throw new Error('current_user returned no row');
    if (session.current_user === username) {
      throw new Error('The aggregator role must not be the role that runs migrations');
    }
    const existing = await client.query<{ privileged: boolean }>(
      'SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls AS privileged FROM pg_roles WHERE rolname = $1',
      [username],
    );
    const passwordClause = `PASSWORD ${escapeLiteral(passwordForStatement(password))}`;
    if (existing.rows.length === 0) {
      await client.query(`CREATE ROLE ${role} WITH LOGIN ${passwordClause}`);
    } else {
      if (existing.rows[0]?.privileged) {
        throw new Error('Refusing to manage the aggregator role: it exists with administrative attributes');
      }
      await client.query(`ALTER ROLE ${role} WITH LOGIN ${passwordClause}`);
    }
    await client.query(`GRANT CONNECT ON DATABASE ${escapeIdentifier(session.database)} TO ${role}`);
    await client.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
    // Revoke first so that a privilege granted by hand (DELETE, TRUNCATE) does not survive a deploy.
    await client.query(`REVOKE ALL ON TABLE ${tables} FROM ${role}`);
    await client.query(`GRANT SELECT, INSERT, UPDATE ON TABLE ${tables} TO ${role}`);
    await client.query(`REVOKE ALL ON SEQUENCE ${sequences} FROM ${role}`);
    await client.query(`GRANT USAGE ON SEQUENCE ${sequences} TO ${role}`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

const SCRAM_ITERATIONS = 4096;

/**
 * PostgreSQL stores a pre-hashed password as given. SASLprep leaves printable ASCII unchanged, so for such
 * passwords (Secrets Manager generates them) the verifier computed here matches what the server would compute;
 * any other password is sent as is and hashed by the server.
 */
function passwordForStatement(password: string): string {
  return /^[\x20-\x7e]+$/.test(password) ? scramSha256Verifier(password) : password;
}

export function scramSha256Verifier(
  password: string,
  salt: Buffer = randomBytes(16),
  iterations = SCRAM_ITERATIONS,
): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
