import { Logger } from '@aws-lambda-powertools/logger';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AggregatorResult } from '../../lambda/aggregator/index.js';
import { createKafka, kafkaBrokersFromEnv } from '../../lambda/shared/kafka';
import { ensureTopic } from '../../lambda/topic-admin/ensure-topic';
import { EventSourceMapping } from '../../local/event-source-mapping';
import { createTestDatabase, type TestDatabase, uniqueName } from '../helpers/postgres';
import {
  expectedText,
  interleave,
  malformedTransactions,
  readTotals,
  validTransactions,
} from './support/transactions';

const brokers = kafkaBrokersFromEnv();
const topic = uniqueName('e2e-pipeline');
const groupId = `${topic}-aggregator`;
const valid = validTransactions(1_200, 20_240_601);
const malformed = malformedTransactions();

let database: TestDatabase;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let aggregator: typeof import('../../lambda/aggregator/index.js');

async function drain(options: { batchSize: number; windowMs: number }): Promise<AggregatorResult[]> {
  const results: AggregatorResult[] = [];
  const mapping = new EventSourceMapping({
    kafka,
    topic,
    groupId,
    brokers,
    batching: options,
    handler: aggregator.handler,
    onResult: (result) => results.push(result as AggregatorResult),
    retry: { baseMs: 100, maxMs: 1_000 },
  });
  await mapping.start();
  try {
    await mapping.waitUntilCaughtUp(40_000);
  } finally {
    await mapping.stop();
  }
  expect(mapping.stats().failedInvocations).toBe(0);
  return results;
}

function sum(results: readonly AggregatorResult[], field: 'accepted' | 'rejected' | 'deduplicated'): number {
  return results.reduce((total, result) => total + result[field], 0);
}

beforeAll(async () => {
  database = await createTestDatabase();
  // The aggregator reads these at module load, as it would from its function configuration.
  process.env.DATABASE_URL = database.url;
  process.env.CONSUMER_GROUP_ID = groupId;
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  aggregator = await import('../../lambda/aggregator/index.js');

  kafka = await createKafka({
    brokers,
    clientId: 'e2e-pipeline',
    logger: new Logger({ serviceName: 'e2e', logLevel: 'SILENT' }),
  });
  admin = kafka.admin();
  producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  await ensureTopic(admin, { topic, partitions: 3, replicationFactor: 1 });
  const messages = interleave(
    valid.messages,
    malformed.map((bad) => bad.message),
  );
  // Several sends, so records reach the partitions in many fetches, as from a live producer.
  for (let start = 0; start < messages.length; start += 250) {
    await producer.send({ topic, messages: messages.slice(start, start + 250) });
  }
});

afterAll(async () => {
  await producer?.disconnect();
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.disconnect();
  await database?.drop();
});

describe('producer topic -> local event source mapping -> aggregator -> PostgreSQL', () => {
  it('sums every valid transaction exactly once and keeps every malformed one with a reason', async () => {
    // Act
    const results = await drain({ batchSize: 100, windowMs: 200 });

    // Assess
    expect(sum(results, 'accepted')).toBe(valid.messages.length);
    expect(sum(results, 'rejected')).toBe(malformed.length);
    expect(sum(results, 'deduplicated')).toBe(0);
    expect(results.some((result) => result.partitions > 1)).toBe(true);

    const totals = await readTotals(database.url);
    const expected = expectedText(valid.expected);
    expect(totals.positions).toEqual(expected);
    expect(totals.flowSums).toEqual(expected);
    expect(totals.positionCounts).toEqual(valid.counts);
    expect(totals.flowRecords).toBe(valid.messages.length);

    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{
        partition: number;
        offset: string;
        value: Buffer | null;
        reason_code: string;
        reason: string;
      }>(
        'SELECT partition, "offset"::text, value, reason_code, reason FROM rejected_transactions WHERE topic = $1',
        [topic],
      );
      expect(rows).toHaveLength(malformed.length);
      expect(new Set(rows.map((row) => `${row.partition}/${row.offset}`)).size).toBe(malformed.length);
      for (const bad of malformed) {
        const sent = bad.message.value;
        const matches = rows.filter((row) =>
          sent === null || sent === undefined
            ? row.value === null
            : row.value?.equals(Buffer.from(sent)) === true,
        );
        expect(matches, `rejected row for ${String(sent)}`).toHaveLength(1);
        expect(matches[0]?.reason_code).toBe(bad.code);
        expect(matches[0]?.reason.length).toBeGreaterThan(0);
      }
    } finally {
      await client.end();
    }
  });

  it('leaves every sum unchanged when the whole topic is delivered again', async () => {
    // Prepare: rewind the consumer group to the start of the topic, as a replay or a lost commit would.
    const before = await readTotals(database.url);
    await admin.resetOffsets({ groupId, topic, earliest: true });

    // Act: different batch boundaries than the first pass, so redelivered batches overlap the old ones.
    const results = await drain({ batchSize: 37, windowMs: 100 });

    // Assess
    expect(sum(results, 'accepted')).toBe(0);
    expect(sum(results, 'rejected')).toBe(0);
    expect(sum(results, 'deduplicated')).toBe(valid.messages.length + malformed.length);
    expect(await readTotals(database.url)).toEqual(before);
    const { rows } = await database.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM rejected_transactions',
    );
    expect(rows[0]?.n).toBe(malformed.length);
  });
});
