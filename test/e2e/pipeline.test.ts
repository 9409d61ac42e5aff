import type { Admin, Kafka } from 'kafkajs';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AggregatorResult } from '../../lambda/aggregator/index.js';
import { kafkaBrokersFromEnv } from '../../lambda/shared/kafka';
import { type TestDatabase, uniqueName } from '../helpers/postgres';
import { type AggregatorPipeline, drainTopic, openAggregatorPipeline } from './support/pipeline';
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

let pipeline: AggregatorPipeline | undefined;
let database: TestDatabase;
let kafka: Kafka;
let admin: Admin;
let aggregator: typeof import('../../lambda/aggregator/index.js');

async function drain(batching: { batchSize: number; windowMs: number }): Promise<AggregatorResult[]> {
  const { results, failedInvocations } = await drainTopic({
    kafka,
    topic,
    groupId,
    brokers,
    batching,
    handler: aggregator.handler,
    retry: { baseMs: 100, maxMs: 1_000 },
  });
  expect(failedInvocations).toBe(0);
  return results;
}

function sum(results: readonly AggregatorResult[], field: 'accepted' | 'rejected' | 'deduplicated'): number {
  return results.reduce((total, result) => total + result[field], 0);
}

beforeAll(async () => {
  pipeline = await openAggregatorPipeline({
    clientId: 'e2e-pipeline',
    brokers,
    topic,
    groupId,
    messages: interleave(
      valid.messages,
      malformed.map((bad) => bad.message),
    ),
    sendSize: 250,
  });
  ({ database, kafka, admin } = pipeline);
  aggregator = await import('../../lambda/aggregator/index.js');
});

afterAll(async () => {
  await pipeline?.close();
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
