import type { Context } from 'aws-lambda';
import type { ProducerRecord, RecordMetadata } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as KafkaModule from '../../lambda/shared/kafka';
import { METRICS_NAMESPACE, PRODUCER_METRICS } from '../../lambda/shared/metric-names';

/** Stands in for a connected kafkajs producer: records sends and lets a test fail them or drop the connection. */
class FakeKafkaProducer {
  readonly events = { DISCONNECT: 'producer.disconnect' } as const;
  readonly records: ProducerRecord[] = [];
  failSends = false;
  private readonly listeners = new Map<string, () => void>();

  readonly connect = vi.fn(async () => undefined);
  readonly disconnect = vi.fn(async () => this.listeners.get(this.events.DISCONNECT)?.());
  readonly send = vi.fn(async (record: ProducerRecord): Promise<RecordMetadata[]> => {
    if (this.failSends) throw new Error('NOT_ENOUGH_REPLICAS');
    this.records.push(record);
    return [];
  });
  readonly on = vi.fn((event: string, listener: () => void) => {
    this.listeners.set(event, listener);
    return () => this.listeners.delete(event);
  });

  dropConnection(): void {
    this.listeners.get(this.events.DISCONNECT)?.();
  }
}

const kafka = vi.hoisted(() => ({
  producers: [] as unknown[],
  connectError: undefined as Error | undefined,
}));

vi.mock('../../lambda/shared/kafka', async (importOriginal) => {
  const actual = await importOriginal<typeof KafkaModule>();
  return {
    ...actual,
    createKafka: vi.fn(async () => ({
      producer: () => {
        const producer = new FakeKafkaProducer();
        const error = kafka.connectError;
        if (error !== undefined) {
          kafka.connectError = undefined;
          producer.connect.mockRejectedValueOnce(error);
        }
        kafka.producers.push(producer);
        return producer;
      },
    })),
  };
});

async function loadHandler() {
  vi.resetModules();
  const kafkaModule = await import('../../lambda/shared/kafka.js');
  const producerModule = await import('../../lambda/producer/index.js');
  return { ...producerModule, createKafka: vi.mocked(kafkaModule.createKafka) };
}

function lastProducer(): FakeKafkaProducer {
  return kafka.producers.at(-1) as FakeKafkaProducer;
}

let closeProducer: (() => Promise<void>) | undefined;

beforeEach(() => {
  vi.clearAllMocks();
  kafka.producers.length = 0;
  kafka.connectError = undefined;
  vi.stubEnv('KAFKA_BROKERS', 'b-1:9096,b-2:9096');
  vi.stubEnv('KAFKA_TOPIC', 'transaction-test');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
});

afterEach(async () => {
  await closeProducer?.();
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('producer handler', () => {
  it('connects once, sends the requested messages to KAFKA_TOPIC and reports the totals', async () => {
    // Prepare
    const loaded = await loadHandler();
    closeProducer = loaded.closeProducer;

    // Act
    const result = await loaded.handler({ mode: 'burst', count: 5_000 });

    // Assess
    const producer = lastProducer();
    expect(result).toMatchObject({ sent: 5_000, failed: 0, skipped: 0 });
    expect(result.bytes).toBeGreaterThan(5_000 * 60);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(loaded.createKafka).toHaveBeenCalledWith(
      expect.objectContaining({ brokers: ['b-1:9096', 'b-2:9096'], forceFetchSecret: false }),
    );
    expect(producer.connect).toHaveBeenCalledTimes(1);
    expect(new Set(producer.records.map((record) => record.topic))).toEqual(new Set(['transaction-test']));
    expect(producer.records.reduce((sum, record) => sum + record.messages.length, 0)).toBe(5_000);
  });

  it('reuses the connection across warm invocations and reconnects after closeProducer', async () => {
    const loaded = await loadHandler();
    closeProducer = loaded.closeProducer;

    await loaded.handler({ count: 10, rate: 100 });
    await loaded.handler({ count: 10, rate: 100 });
    expect(loaded.createKafka).toHaveBeenCalledTimes(1);
    const first = lastProducer();

    await loaded.closeProducer();
    expect(first.disconnect).toHaveBeenCalledTimes(1);
    await loaded.handler({ count: 10, rate: 100 });

    expect(loaded.createKafka).toHaveBeenCalledTimes(2);
    expect(lastProducer()).not.toBe(first);
    expect(lastProducer().records).toHaveLength(1);
  });

  it('reconnects after the broker drops the connection', async () => {
    const loaded = await loadHandler();
    closeProducer = loaded.closeProducer;
    await loaded.handler({ count: 10, rate: 100 });

    lastProducer().dropConnection();
    await loaded.handler({ count: 10, rate: 100 });

    expect(kafka.producers).toHaveLength(2);
  });

  it('throws when every send fails, so the scheduler retries and dead-letters it', async () => {
    const loaded = await loadHandler();
    closeProducer = loaded.closeProducer;
    await loaded.handler({ count: 10, rate: 100 });
    lastProducer().failSends = true;

    await expect(loaded.handler({ mode: 'burst', count: 3_000 })).rejects.toThrow(
      /No message reached topic transaction-test: 3000 failed/,
    );
  });

  it('rejects a bad event before connecting', async () => {
    const loaded = await loadHandler();
    closeProducer = loaded.closeProducer;

    await expect(loaded.handler({ mode: 'burst' })).rejects.toThrow(/burst mode needs count/);
    expect(loaded.createKafka).not.toHaveBeenCalled();
  });

  it('re-reads the secret on the next invocation after the broker refused the credentials', async () => {
    // Prepare
    const loaded = await loadHandler();
    closeProducer = loaded.closeProducer;
    const refused = new Error('SASL SCRAM SHA512 authentication failed');
    refused.name = 'KafkaJSSASLAuthenticationError';
    kafka.connectError = refused;

    // Act
    await expect(loaded.handler({ count: 10, rate: 100 })).rejects.toThrow(/authentication failed/);
    const result = await loaded.handler({ count: 10, rate: 100 });

    // Assess
    expect(result.sent).toBe(10);
    expect(kafka.producers[0] as FakeKafkaProducer).toHaveProperty('disconnect.mock.calls.length', 1);
    expect(
      loaded.createKafka.mock.calls.map(
        ([options]: [{ forceFetchSecret?: boolean }]) => options.forceFetchSecret,
      ),
    ).toEqual([false, true]);
  });

  it('stops starting batches before the function timeout', async () => {
    const loaded = await loadHandler();
    closeProducer = loaded.closeProducer;
    // 5 s of margin are kept back, so this leaves 400 ms for a schedule of one second.
    const context = { getRemainingTimeInMillis: () => 5_400 } as Context;

    const result = await loaded.handler({ count: 100, rate: 100 }, context);

    expect(result.sent + result.skipped).toBe(100);
    expect(result.sent).toBeGreaterThanOrEqual(20);
    expect(result.skipped).toBeGreaterThanOrEqual(40);
  });

  it('publishes the producer metrics as EMF in the shared namespace', async () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const loaded = await loadHandler();
    closeProducer = loaded.closeProducer;

    await loaded.handler({ count: 10, rate: 100 });

    const emf = write.mock.calls
      .map(([chunk]) => String(chunk))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE }] },
      [PRODUCER_METRICS.messagesSent]: 10,
      [PRODUCER_METRICS.messagesFailed]: 0,
    });
    expect(emf[0]?.[PRODUCER_METRICS.bytesSent]).toBeGreaterThan(0);
    expect(emf[0]).toHaveProperty(PRODUCER_METRICS.sendDuration);
  });
});
