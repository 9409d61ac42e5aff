import fs from 'node:fs';
import { Client } from 'pg';
import { localConfig } from '../local/config';
import {
  acquireBrokerLease,
  type BrokerHandle,
  isBrokerHealthy,
  releaseBrokerLease,
  startBroker,
  stopBroker,
} from '../local/kafka/broker';

// The same server test/helpers/postgres.ts creates its per-file databases on.
const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function postgresStartCommand(): string {
  let versions: string[] = [];
  try {
    versions = fs.readdirSync('/etc/postgresql');
  } catch {
    versions = [];
  }
  return `pg_ctlcluster --skip-systemctl-redirect ${versions[0] ?? '<version>'} main start`;
}

async function assertPostgresReachable(): Promise<void> {
  const client = new Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const where = new URL(POSTGRES_URL);
    throw new Error(
      `PostgreSQL is not reachable on ${where.host} as ${where.username || 'postgres'} (${reason}). ` +
        `The tests need it running with trust authentication; start it with: ${postgresStartCommand()}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Runs once before all test files: checks PostgreSQL, then starts the local Kafka broker (or reuses a healthy one,
 * or uses KAFKA_BROKERS as given). Workers are forked after this returns and inherit process.env, which is how
 * the broker address and credentials reach the tests and the handlers under test.
 */
export default async function setup(): Promise<() => Promise<void>> {
  await assertPostgresReachable();

  const { kafka } = localConfig;
  let handle: BrokerHandle;
  if (kafka.external) {
    if (!(await isBrokerHealthy(localConfig, 10_000))) {
      throw new Error(
        `KAFKA_BROKERS is set to ${kafka.brokers.join(',')} but no authenticated admin connection could be made ` +
          'with KAFKA_USERNAME/KAFKA_PASSWORD. Unset KAFKA_BROKERS to let the tests start the local broker.',
      );
    }
    handle = { brokers: kafka.brokers, started: false };
  } else {
    // Leased before starting, so a concurrent run finishing in between does not stop the broker under this one.
    acquireBrokerLease();
    const began = Date.now();
    try {
      handle = await startBroker();
    } catch (error) {
      releaseBrokerLease();
      throw error;
    }
    if (handle.started) {
      console.warn(`Local Kafka broker started in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    }
  }

  process.env.KAFKA_BROKERS = handle.brokers.join(',');
  process.env.KAFKA_USERNAME = kafka.username;
  process.env.KAFKA_PASSWORD = kafka.password;
  process.env.KAFKA_TLS = String(kafka.tls);

  return async () => {
    if (kafka.external) return;
    const others = releaseBrokerLease();
    // Another test run started after this one may still be using the broker; the next start reuses it anyway.
    if (handle.started && others.length === 0) await stopBroker();
  };
}
