import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onEvent, PHYSICAL_RESOURCE_ID } from '../../lambda/migrate/on-event';
import { readMigrations, resolveMigrationsDir } from '../../lambda/shared/migrations';
import { uniqueName, useTestDatabase } from '../helpers/postgres';

const aggregatorUser = uniqueName('aggregator');
const database = useTestDatabase({ migrate: false, roles: [aggregatorUser] });
const secretsManager = mockClient(SecretsManagerClient);

afterAll(() => {
  secretsManager.restore();
});

function event(requestType: 'Create' | 'Update' | 'Delete'): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
    ResponseURL: 'https://example.invalid/response',
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/pipeline/1',
    RequestId: uniqueName('request'),
    LogicalResourceId: 'Migration',
    ResourceType: 'Custom::SchemaMigration',
    ResourceProperties: { ServiceToken: 'token', MigrationsHash: 'abc' },
  };
  if (requestType === 'Create') return { ...common, RequestType: 'Create' };
  if (requestType === 'Update') {
    return {
      ...common,
      RequestType: 'Update',
      PhysicalResourceId: PHYSICAL_RESOURCE_ID,
      OldResourceProperties: common.ResourceProperties,
    };
  }
  return { ...common, RequestType: 'Delete', PhysicalResourceId: PHYSICAL_RESOURCE_ID };
}

function secrets(aggregatorPassword: string) {
  const url = new URL(database().url);
  const values: Record<string, object> = {
    // The master secret names only the default database; the aggregator's names the pipeline's.
    master: { host: url.hostname, port: Number(url.port), username: 'postgres', password: 'trust' },
    aggregator: {
      host: url.hostname,
      port: Number(url.port),
      dbname: database().name,
      username: aggregatorUser,
      password: aggregatorPassword,
    },
  };
  const reads: string[] = [];
  return {
    reads,
    deps: {
      masterSecretId: 'master',
      aggregatorSecretId: 'aggregator',
      readSecret: async (secretId: string) => {
        reads.push(secretId);
        const value = values[secretId];
        if (value === undefined) throw new Error(`no secret ${secretId}`);
        return value;
      },
      ssl: false as const,
      migrationsDir: resolveMigrationsDir(),
    },
  };
}

async function query<T extends object>(sql: string, params: unknown[] = []): Promise<T[]> {
  const { rows } = await database().pool.query<T>(sql, params);
  return rows;
}

describe('migrate custom resource onEvent', () => {
  it('Create applies the schema in the aggregator database and creates the aggregator login', async () => {
    // Prepare
    const { deps } = secrets('first-password');
    const files = readMigrations(resolveMigrationsDir()).map((m) => m.name);

    // Act
    const response = await onEvent(event('Create'), deps);

    // Assess
    expect(response).toEqual({
      PhysicalResourceId: PHYSICAL_RESOURCE_ID,
      Data: { Database: database().name, SchemaVersion: files.at(-1), Applied: files.join(',') },
    });
    const tables = await query<{ name: string }>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(['transaction_flow', 'consumer_offsets']),
    );
    const role = await query<{ rolcanlogin: boolean }>(
      'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1',
      [aggregatorUser],
    );
    expect(role).toEqual([{ rolcanlogin: true }]);
  });

  it('Update is idempotent and picks up a rotated aggregator password', async () => {
    // Prepare
    const before = await query<{ rolpassword: string }>(
      'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
      [aggregatorUser],
    );
    const { deps } = secrets('second-password');

    // Act
    const response = await onEvent(event('Update'), deps);

    // Assess
    expect(response.PhysicalResourceId).toBe(PHYSICAL_RESOURCE_ID);
    expect(response.Data?.Applied).toBe('');
    const after = await query<{ rolpassword: string }>(
      'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
      [aggregatorUser],
    );
    expect(after[0]?.rolpassword).toMatch(/^SCRAM-SHA-256\$/);
    expect(after[0]?.rolpassword).not.toBe(before[0]?.rolpassword);
    const recorded = await query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    expect(recorded[0]?.n).toBe(readMigrations(resolveMigrationsDir()).length);
  });

  it('Delete keeps the schema, the data and the role, without reading any secret', async () => {
    // Prepare
    await database().pool.query(
      "INSERT INTO consumer_offsets (consumer_group, topic, partition, last_offset) VALUES ('g', 'keep', 0, 9)",
    );
    const { deps, reads } = secrets('unused');

    // Act
    const response = await onEvent(event('Delete'), deps);

    // Assess
    expect(response).toEqual({ PhysicalResourceId: PHYSICAL_RESOURCE_ID });
    expect(reads).toEqual([]);
    expect(await query("SELECT last_offset FROM consumer_offsets WHERE topic = 'keep'")).toEqual([
      { last_offset: '9' },
    ]);
    expect(await query('SELECT 1 FROM pg_roles WHERE rolname = $1', [aggregatorUser])).toHaveLength(1);
  });

  it('lets the aggregator role log in and work', async () => {
    const url = new URL(database().url);
    url.username = aggregatorUser;
    const client = new Client({ connectionString: url.toString() });
    await client.connect();
    try {
      await client.query(
        "INSERT INTO consumer_offsets (consumer_group, topic, partition) VALUES ('g', 'role', 0) ON CONFLICT DO NOTHING",
      );
      await expect(client.query('DELETE FROM consumer_offsets')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await client.end();
    }
  });
});

describe('migrate handler', () => {
  let handler: (event: CloudFormationCustomResourceEvent) => Promise<unknown>;

  beforeAll(async () => {
    process.env.AWS_REGION ??= 'us-east-1';
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    process.env.DB_SECRET_ARN = uniqueName('master-secret');
    process.env.AGGREGATOR_SECRET_ARN = uniqueName('aggregator-secret');
    ({ handler } = await import('../../lambda/migrate/index.js'));
  });

  it('answers Delete without touching Secrets Manager or the database', async () => {
    secretsManager.reset();
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: PHYSICAL_RESOURCE_ID });
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('connects with verified TLS only: a server without TLS fails the deployment', async () => {
    // Prepare
    secretsManager.reset();
    const url = new URL(database().url);
    secretsManager.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        host: url.hostname,
        port: Number(url.port),
        dbname: database().name,
        username: aggregatorUser,
        password: 'secret-value-never-logged',
      }),
    });

    // Act
    const attempt = handler(event('Create'));

    // Assess
    await expect(attempt).rejects.toThrow(/does not support SSL/);
    expect(secretsManager.commandCalls(GetSecretValueCommand).length).toBeGreaterThanOrEqual(2);
  });
});
