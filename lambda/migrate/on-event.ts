import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { Client, type ClientConfig } from 'pg';
import { connectionConfigFromSecret, parseRdsSecret } from '../shared/database';
import { applyMigrations, ensureAggregatorRole } from '../shared/migrations';
import { assertUsernamePassword } from '../shared/secrets';

/** Constant, so an Update never looks like a replacement (which would be followed by a Delete of the old). */
export const PHYSICAL_RESOURCE_ID = 'transaction-pipeline-schema';

export interface OnEventResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

export interface MigrateDependencies {
  /** The master user's RDS secret: owns the schema, creates the aggregator role. */
  readonly masterSecretId: string;
  /** The aggregator user's secret: the role to create, and the database it works in. */
  readonly aggregatorSecretId: string;
  readonly readSecret: (secretId: string) => Promise<object>;
  readonly ssl: ClientConfig['ssl'];
  readonly migrationsDir: string;
}

/**
 * Provider-framework onEvent for the schema. Create and Update apply pending migrations and converge the
 * aggregator role (both idempotent, so CloudFormation retries and rollbacks are harmless). Delete does nothing:
 * removing the stack must never drop the data.
 */
export async function onEvent(
  event: CloudFormationCustomResourceEvent,
  deps: MigrateDependencies,
): Promise<OnEventResponse> {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };

  const masterValue = await deps.readSecret(deps.masterSecretId);
  const aggregatorValue = await deps.readSecret(deps.aggregatorSecretId);
  const master = parseRdsSecret(deps.masterSecretId, masterValue);
  const aggregator = assertUsernamePassword(deps.aggregatorSecretId, aggregatorValue);
  // The schema goes where the aggregator will connect; a master secret may name only the default database.
  const { dbname } = aggregatorValue as { dbname?: unknown };
  const database = typeof dbname === 'string' && dbname !== '' ? dbname : master.dbname;

  const client = new Client({
    ...connectionConfigFromSecret({ ...master, dbname: database }, deps.ssl),
    connectionTimeoutMillis: 15_000,
    application_name: 'transaction-pipeline-migrate',
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const result = await applyMigrations(client, deps.migrationsDir);
    await ensureAggregatorRole(client, aggregator);
    return {
      PhysicalResourceId: PHYSICAL_RESOURCE_ID,
      Data: {
        Database: database,
        SchemaVersion: result.latest,
        Applied: result.applied.join(','),
      },
    };
  } finally {
    await client.end();
  }
}
