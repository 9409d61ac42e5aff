import { type ClientConfig, Pool, type PoolClient, type PoolConfig } from 'pg';
import { intEnv, optionalEnv } from './env';
import { rdsCaCertificates } from './rds-ca';
import { assertUsernamePassword, getJsonSecret } from './secrets';

/** The fields of an RDS-style JSON secret that a connection needs. */
export interface RdsSecret {
  readonly host: string;
  readonly port: number;
  readonly dbname: string;
  readonly username: string;
  readonly password: string;
}

/** RDS creates this database on every instance; used when the secret names none. */
const DEFAULT_DATABASE_NAME = 'postgres';

export function parseRdsSecret(secretId: string, value: object): RdsSecret {
  const { username, password } = assertUsernamePassword(secretId, value);
  const { host, port, dbname } = value as { host?: unknown; port?: unknown; dbname?: unknown };
  const portNumber = typeof port === 'string' ? Number(port) : port;
  if (typeof host !== 'string' || host === '') {
    throw new Error(`Secret ${secretId} must hold a non-empty "host"`);
  }
  if (
    typeof portNumber !== 'number' ||
    !Number.isInteger(portNumber) ||
    portNumber < 1 ||
    portNumber > 65535
  ) {
    throw new Error(`Secret ${secretId} must hold a valid "port"`);
  }
  if (dbname !== undefined && (typeof dbname !== 'string' || dbname === '')) {
    throw new Error(`Secret ${secretId} has an invalid "dbname"`);
  }
  return { host, port: portNumber, dbname: dbname ?? DEFAULT_DATABASE_NAME, username, password };
}

/** TLS that verifies the server against the RDS certificate authorities (RDS for PostgreSQL 15+ forces TLS). */
export function rdsTls(): NonNullable<ClientConfig['ssl']> {
  return { ca: rdsCaCertificates(), rejectUnauthorized: true };
}

export function connectionConfigFromSecret(
  secret: RdsSecret,
  ssl: ClientConfig['ssl'] = rdsTls(),
): ClientConfig {
  return {
    host: secret.host,
    port: secret.port,
    database: secret.dbname,
    user: secret.username,
    password: secret.password,
    ssl,
  };
}

/** SQLSTATE 28P01 (invalid_password) and 28000 (invalid_authorization_specification). */
export function isAuthenticationFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '28P01' || code === '28000';
}

/** Errors after which the session is gone, so nothing it did without COMMIT has happened. */
export function isConnectionFailure(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
    if (['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)) return true;
  }
  return (
    typeof message === 'string' &&
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message)
  );
}

/** Anything that hands out a connection: a `pg.Pool` or a `Database`. */
export interface ConnectionSource {
  connect(): Promise<PoolClient>;
}

export interface DatabaseOptions {
  /** Connect directly to this URL (local runtime, tests). Takes precedence over `secretId`. */
  readonly connectionString?: string;
  /** Secrets Manager id of an RDS-style JSON secret, read when `connectionString` is not set. */
  readonly secretId?: string;
  /** @default 1 (a Lambda environment runs one invocation at a time) */
  readonly max?: number;
  /** Overrides the verified RDS TLS of the secret path. @default rdsTls() */
  readonly ssl?: ClientConfig['ssl'];
  /** Server-side limit for a statement, lock waits included. @default 30000 */
  readonly statementTimeoutMillis?: number;
  readonly applicationName?: string;
  /** @default getJsonSecret */
  readonly readSecret?: (secretId: string, options: { forceFetch: boolean }) => Promise<object>;
}

/**
 * A pool built once per execution environment and reused across invocations. With a secret, the credentials
 * are fetched once (cached); when the server rejects them (the secret was rotated) the secret is read again,
 * bypassing the cache, and the pool is rebuilt, once per failure.
 */
export class Database implements ConnectionSource {
  private current: Promise<Pool> | undefined;

  constructor(private readonly options: DatabaseOptions) {
    if (options.connectionString === undefined && options.secretId === undefined) {
      throw new Error('Database needs a connectionString (DATABASE_URL) or a secretId (DB_SECRET_ARN)');
    }
  }

  async connect(): Promise<PoolClient> {
    const attempt = this.pool();
    const pool = await attempt;
    try {
      return await pool.connect();
    } catch (error) {
      if (this.options.connectionString !== undefined || !isAuthenticationFailure(error)) throw error;
      // Several callers may fail on the same stale pool; only the first replaces it.
      if (this.current === attempt) {
        this.install(this.buildPool(true));
        pool.end().catch(() => undefined);
      }
      return (await this.pool()).connect();
    }
  }

  /** Closes the pool's connections; a later connect builds a new pool. */
  async end(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    const pool = await current?.catch(() => undefined);
    await pool?.end();
  }

  private pool(): Promise<Pool> {
    return this.current ?? this.install(this.buildPool(false));
  }

  /**
   * Makes `building` the pool later connections use. A failed build (a Secrets Manager error) must not stay
   * cached: every later invocation would fail on it without trying again.
   */
  private install(building: Promise<Pool>): Promise<Pool> {
    this.current = building;
    building.catch(() => {
      if (this.current === building) this.current = undefined;
    });
    return building;
  }

  private async buildPool(forceFetch: boolean): Promise<Pool> {
    const { options } = this;
    const base: PoolConfig = {
      max: options.max ?? 1,
      // Connections are kept between invocations; a frozen environment holds one idle connection at most.
      idleTimeoutMillis: 120_000,
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      statement_timeout: options.statementTimeoutMillis ?? 30_000,
      // A function that times out mid-transaction must not leave the offset ledger rows locked.
      idle_in_transaction_session_timeout: 60_000,
      application_name: options.applicationName ?? 'transaction-pipeline',
    };
    let config: PoolConfig;
    if (options.connectionString !== undefined) {
      config = { ...base, connectionString: options.connectionString };
    } else {
      const secretId = options.secretId as string;
      const read = options.readSecret ?? getJsonSecret;
      const secret = parseRdsSecret(secretId, await read(secretId, { forceFetch }));
      config = { ...base, ...connectionConfigFromSecret(secret, options.ssl ?? rdsTls()) };
    }
    const pool = new Pool(config);
    // An idle connection dropped by the server emits here; the pool discards it and the next connect opens a
    // new one. Without a listener the error would crash the process.
    pool.on('error', () => undefined);
    return pool;
  }
}

/**
 * Runs `work` in one transaction on one connection. Anything `work` throws rolls the transaction back and is
 * rethrown. A connection that turns out to be dead at BEGIN (a socket closed while the environment was frozen)
 * is replaced once: nothing has been sent on it yet, so the retry cannot apply anything twice.
 */
export async function withTransaction<T>(
  source: ConnectionSource,
  work: (client: PoolClient) => Promise<T>,
): Promise<T> {
  let client = await checkOut(source);
  try {
    await client.query('BEGIN');
  } catch (error) {
    checkIn(client, true);
    if (!isConnectionFailure(error)) throw error;
    client = await checkOut(source);
    try {
      await client.query('BEGIN');
    } catch (retryError) {
      checkIn(client, true);
      throw retryError;
    }
  }
  try {
    const result = await work(client);
    await client.query('COMMIT');
    checkIn(client, false);
    return result;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
      checkIn(client, false);
    } catch {
      checkIn(client, true);
    }
    throw error;
  }
}

/**
 * A connection lost between two statements is reported as an 'error' event, not through a query; the pool
 * listens only while the client is idle, so without this listener the event would crash the process. The
 * next statement fails with the same cause and is handled there.
 */
function ignoreConnectionError(): void {}

async function checkOut(source: ConnectionSource): Promise<PoolClient> {
  const client = await source.connect();
  client.on('error', ignoreConnectionError);
  return client;
}

function checkIn(client: PoolClient, destroy: boolean): void {
  client.off('error', ignoreConnectionError);
  client.release(destroy);
}

/**
 * The database of a function's environment: DATABASE_URL when set (local runtime, tests), else the RDS secret
 * named by DB_SECRET_ARN. DB_POOL_MAX sizes the pool.
 */
export function databaseFromEnvironment(applicationName: string): Database {
  return new Database({
    connectionString: optionalEnv('DATABASE_URL'),
    secretId: optionalEnv('DB_SECRET_ARN'),
    max: intEnv('DB_POOL_MAX', 1, { min: 1, max: 100 }),
    applicationName,
  });
}
