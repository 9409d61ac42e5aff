import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { MSKEvent } from 'aws-lambda';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, kafkaBrokersFromEnv } from '../../lambda/shared/kafka';
import { EventSourceMapping, type EventSourceMappingOptions } from '../../local/event-source-mapping';
import type { MskEvent } from '../../local/msk-record';

const brokers = kafkaBrokersFromEnv();
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const mappings: EventSourceMapping[] = [];

async function newTopic(partitions: number): Promise<string> {
  const topic = `esm-test-${randomBytes(4).toString('hex')}`;
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  return topic;
}

function mapping(
  topic: string,
  handler: (event: MSKEvent) => Promise<unknown>,
  options: Partial<EventSourceMappingOptions> = {},
): EventSourceMapping {
  const created = new EventSourceMapping({
    kafka,
    topic,
    groupId: `${topic}-group`,
    brokers,
    handler,
    retry: { baseMs: 50, maxMs: 200 },
    ...options,
  });
  mappings.push(created);
  return created;
}

function offsetsOf(events: readonly MskEvent[], key: string): number[] {
  return events.flatMap((event) => (event.records[key] ?? []).map((record) => record.offset));
}

beforeAll(async () => {
  kafka = await createKafka({
    brokers,
    clientId: 'esm-test',
    logger: new Logger({ serviceName: 'esm-test', logLevel: 'SILENT' }),
  });
  admin = kafka.admin();
  producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
});

afterEach(async () => {
  await Promise.all(mappings.splice(0).map((created) => created.stop()));
});

afterAll(async () => {
  await Promise.all([admin?.disconnect(), producer?.disconnect()]);
});

describe('EventSourceMapping on the local broker', () => {
  it('delivers exactly the MSK event shape, commits after success and reports no lag', async () => {
    // Prepare
    const topic = await newTopic(1);
    await producer.send({
      topic,
      messages: [
        { key: 'Kazan', value: '{"branch":"Kazan","currency":"RUB","amount":42}', headers: { trace: 'abc' } },
        { key: 'SPB', value: null },
        { key: null, value: Buffer.from([0xff, 0xfe]) },
      ],
    });
    const events: MskEvent[] = [];
    const esm = mapping(topic, async (event) => {
      events.push(event as MskEvent);
      return { ok: true };
    });

    // Act
    await esm.start();
    const lag = await esm.waitUntilCaughtUp(20_000);

    // Assess
    const records = events.flatMap((event) => event.records[`${topic}-0`] ?? []);
    expect(events[0]).toMatchObject({ eventSource: 'aws:kafka', bootstrapServers: brokers.join(',') });
    expect(events[0]?.eventSourceArn).toMatch(/^arn:aws:kafka:/);
    expect(records).toHaveLength(3);
    const [first, tombstone, keyless] = records;
    expect(first).toMatchObject({
      topic,
      partition: 0,
      offset: 0,
      timestampType: 'CREATE_TIME',
      key: Buffer.from('Kazan').toString('base64'),
      value: Buffer.from('{"branch":"Kazan","currency":"RUB","amount":42}').toString('base64'),
      headers: [{ trace: [...Buffer.from('abc')] }],
    });
    expect(Math.abs((first?.timestamp ?? 0) - Date.now())).toBeLessThan(60_000);
    expect(tombstone).not.toHaveProperty('value');
    expect(tombstone?.key).toBe(Buffer.from('SPB').toString('base64'));
    expect(keyless).not.toHaveProperty('key');
    expect(Buffer.from(keyless?.value ?? '', 'base64')).toEqual(Buffer.from([0xff, 0xfe]));
    expect(lag).toEqual([{ partition: 0, high: 3, committed: 3, lag: 0 }]);
    expect(esm.stats()).toMatchObject({ batches: events.length, records: 3, failedInvocations: 0 });
  });

  it('honours the batch size, carries several partitions in one event and keeps partition order', async () => {
    const topic = await newTopic(3);
    await producer.send({
      topic,
      messages: Array.from({ length: 90 }, (_, i) => ({ partition: i % 3, value: `m${i}` })),
    });
    const events: MskEvent[] = [];
    // A long window: only the batch size can trigger invocations until the tail is left.
    const esm = mapping(
      topic,
      async (event) => {
        events.push(event as MskEvent);
      },
      { batching: { batchSize: 25, windowMs: 1_000 } },
    );

    await esm.start();
    await esm.waitUntilCaughtUp(20_000);

    const sizes = events.map((event) =>
      Object.values(event.records).reduce((n, records) => n + records.length, 0),
    );
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(90);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(25);
    expect(events.some((event) => Object.keys(event.records).length > 1)).toBe(true);
    for (let partition = 0; partition < 3; partition += 1) {
      expect(offsetsOf(events, `${topic}-${partition}`)).toEqual([...Array(30).keys()]);
    }
  });

  it('waits for the batching window before invoking with fewer records than the batch size', async () => {
    const topic = await newTopic(1);
    const invokedAt: number[] = [];
    const esm = mapping(
      topic,
      async () => {
        invokedAt.push(Date.now());
      },
      { batching: { batchSize: 100, windowMs: 1_500 } },
    );
    await esm.start();
    // Let the consumer join the group before the record is written.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const sentAt = Date.now();
    await producer.send({ topic, messages: [{ value: 'single' }] });
    await esm.waitUntilCaughtUp(20_000);

    expect(invokedAt).toHaveLength(1);
    expect((invokedAt[0] ?? 0) - sentAt).toBeGreaterThanOrEqual(1_400);
  });

  it('retries a failing batch with the same records and commits nothing until it succeeds', async () => {
    const topic = await newTopic(1);
    await producer.send({ topic, messages: Array.from({ length: 5 }, (_, i) => ({ value: `v${i}` })) });
    const attempts: number[][] = [];
    let committedWhileFailing: number | undefined;
    const esm = mapping(
      topic,
      async (event) => {
        attempts.push(offsetsOf([event as MskEvent], `${topic}-0`));
        if (attempts.length < 3) {
          committedWhileFailing = (await esm.lag())[0]?.committed;
          throw new Error(`transient failure ${attempts.length}`);
        }
      },
      { batching: { batchSize: 10, windowMs: 100 } },
    );

    await esm.start();
    await esm.waitUntilCaughtUp(20_000);

    expect(attempts).toEqual([
      [0, 1, 2, 3, 4],
      [0, 1, 2, 3, 4],
      [0, 1, 2, 3, 4],
    ]);
    expect(committedWhileFailing).toBe(0);
    expect(esm.stats()).toMatchObject({ batches: 1, failedInvocations: 2 });
    expect(esm.stats().lastError?.message).toBe('transient failure 2');
  });

  it('counts an invocation that outlives the timeout as failed and retries the batch', async () => {
    const topic = await newTopic(1);
    await producer.send({ topic, messages: [{ value: 'slow' }] });
    let calls = 0;
    const esm = mapping(
      topic,
      async () => {
        calls += 1;
        if (calls === 1) await new Promise((resolve) => setTimeout(resolve, 1_000));
      },
      { batching: { batchSize: 10, windowMs: 0 }, invocationTimeoutMs: 300 },
    );

    await esm.start();
    await esm.waitUntilCaughtUp(20_000);

    expect(calls).toBe(2);
    expect(esm.stats()).toMatchObject({ batches: 1, failedInvocations: 1 });
    expect(esm.stats().lastError?.message).toBe('Invocation timed out after 300 ms');
  });

  it('redelivers records handled but not committed when the poller stops between the two', async () => {
    const topic = await newTopic(1);
    await producer.send({ topic, messages: Array.from({ length: 4 }, (_, i) => ({ value: `v${i}` })) });
    const groupId = `${topic}-group`;
    const firstRun: number[] = [];
    const crashing = mapping(
      topic,
      async (event) => {
        firstRun.push(...offsetsOf([event as MskEvent], `${topic}-0`));
      },
      {
        groupId,
        batching: { batchSize: 2, windowMs: 100 },
        afterInvoke: async (event) => {
          // Commit the first batch normally; "crash" after handling the second.
          if ((event.records[`${topic}-0`]?.[0]?.offset ?? 0) >= 2) {
            void crashing.stop();
            throw new Error('crashed before the offset commit');
          }
        },
      },
    );
    await crashing.start();
    await expect.poll(() => crashing.stats().state, { timeout: 20_000 }).toBe('stopped');

    const secondRun: number[] = [];
    const restarted = mapping(
      topic,
      async (event) => {
        secondRun.push(...offsetsOf([event as MskEvent], `${topic}-0`));
      },
      { groupId, batching: { batchSize: 2, windowMs: 100 } },
    );
    await restarted.start();
    await restarted.waitUntilCaughtUp(20_000);

    expect(firstRun).toEqual([0, 1, 2, 3]);
    expect(secondRun).toEqual([2, 3]);
  });
});
