import type { Admin, Consumer, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRejection, validateValue } from '../../lambda/aggregator/validate';
import { kafkaBrokersFromEnv } from '../../lambda/shared/kafka';
import { DEFAULT_BRANCHES, DEFAULT_CURRENCIES } from '../../lambda/shared/transaction';
import { uniqueName } from '../helpers/postgres';
import { connectTopic, quietPowertools } from './support/pipeline';

const brokers = kafkaBrokersFromEnv();
const topic = uniqueName('e2e-producer');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Consumed {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | undefined;
  readonly value: Buffer | null;
}

let kafka: Kafka;
let admin: Admin;
let producer: typeof import('../../lambda/producer/index.js');

/** Reads the topic from the beginning with a plain kafkajs consumer until `count` records have arrived. */
async function consume(count: number, groupId: string): Promise<Consumed[]> {
  const consumer: Consumer = kafka.consumer({ groupId, sessionTimeout: 6_000, heartbeatInterval: 1_000 });
  const received: Consumed[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done: () => void = () => undefined;
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push({
          partition,
          offset: message.offset,
          key: message.key?.toString(),
          value: message.value,
        });
        if (received.length >= count) done();
      },
    });
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    // Anything beyond `count` would show up here: give the consumer a moment to overshoot.
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    await consumer.disconnect();
  }
  return received;
}

beforeAll(async () => {
  // The producer reads its topic and brokers at module load, like its function configuration.
  process.env.KAFKA_TOPIC = topic;
  quietPowertools();
  ({ kafka, admin } = await connectTopic('e2e-producer', brokers, topic));
  producer = await import('../../lambda/producer/index.js');
});

afterAll(async () => {
  await producer?.closeProducer();
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.disconnect();
});

describe('producer handler against the local broker', () => {
  it('sends a burst of exactly N contract-valid transactions keyed by branch', async () => {
    // Act
    const startedAt = Date.now();
    const result = await producer.handler({ mode: 'burst', count: 1_000 });

    // Assess: what the handler reports
    expect(result).toMatchObject({ sent: 1_000, failed: 0, skipped: 0 });
    expect(result.bytes).toBeGreaterThan(1_000 * 60);

    // Assess: what is on the topic
    const records = await consume(1_000, `${topic}-burst-check`);
    expect(records).toHaveLength(1_000);
    const ids = new Set<string>();
    const partitionsByBranch = new Map<string, Set<number>>();
    for (const record of records) {
      expect(record.value).not.toBeNull();
      const validation = validateValue(record.value);
      expect(isRejection(validation), String(record.value)).toBe(false);
      const message = JSON.parse((record.value as Buffer).toString('utf8')) as Record<string, unknown>;
      expect(Object.keys(message).sort()).toEqual(['amount', 'branch', 'currency', 'id', 'ts']);
      expect(message.id).toMatch(UUID);
      ids.add(message.id as string);
      const ts = Date.parse(message.ts as string);
      expect(ts).toBeGreaterThanOrEqual(startedAt - 1_000);
      expect(ts).toBeLessThanOrEqual(Date.now());
      expect(DEFAULT_BRANCHES).toContain(message.branch);
      expect(DEFAULT_CURRENCIES).toContain(message.currency);
      expect(Number.isInteger(message.amount)).toBe(true);
      expect(message.amount).toBeGreaterThanOrEqual(-100);
      expect(message.amount).toBeLessThan(100);
      expect(record.key).toBe(message.branch);
      const partitions = partitionsByBranch.get(record.key as string) ?? new Set<number>();
      partitions.add(record.partition);
      partitionsByBranch.set(record.key as string, partitions);
    }
    expect(ids.size).toBe(1_000);
    // Keyed by branch: every branch stays on one partition, so its transactions keep their order.
    for (const partitions of partitionsByBranch.values()) expect(partitions.size).toBe(1);
    expect(partitionsByBranch.size).toBe(DEFAULT_BRANCHES.length);
  });

  it('paces a run at the requested rate', async () => {
    const before = (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);

    const result = await producer.handler({ mode: 'paced', count: 150, rate: 100 });

    expect(result).toMatchObject({ sent: 150, failed: 0 });
    // 150 messages at 100/s: about a second and a half, never all at once.
    expect(result.durationMs).toBeGreaterThanOrEqual(1_200);
    expect(result.durationMs).toBeLessThan(5_000);
    const after = (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
    expect(after - before).toBe(150);
  });
});
