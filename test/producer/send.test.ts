import { Logger } from '@aws-lambda-powertools/logger';
import { CompressionTypes, type ProducerRecord, type RecordMetadata } from 'kafkajs';
import { describe, expect, it, vi } from 'vitest';
import type { ProducerPlan } from '../../lambda/producer/event';
import { type GeneratorConfig, generateMessages } from '../../lambda/producer/generate';
import { type MetricsSink, produce } from '../../lambda/producer/produce';
import { BatchSender, PRODUCER_CONFIG, payloadBytes } from '../../lambda/producer/send';
import { PRODUCER_METRICS } from '../../lambda/shared/metric-names';
import type { Transaction } from '../../lambda/shared/transaction';
import { FakeClock } from './fake-clock';

const CONFIG: GeneratorConfig = {
  branches: ['Kazan', 'SPB'],
  currencies: ['RUB', 'USD'],
  amountMin: -100,
  amountMax: 100,
};

/** A producer whose `send` records every call and fails the calls whose number is in `failOn` (1-based). */
function fakeProducer(failOn: (call: number) => boolean = () => false) {
  const records: ProducerRecord[] = [];
  const send = vi.fn(async (record: ProducerRecord): Promise<RecordMetadata[]> => {
    records.push(record);
    if (failOn(records.length)) {
      throw new Error(`broker unavailable (call ${records.length})`);
    }
    return [];
  });
  return { send, records };
}

function quietLogger() {
  const logger = new Logger({ serviceName: 'producer-test', logLevel: 'SILENT' });
  return {
    logger,
    error: vi.spyOn(logger, 'error'),
    warn: vi.spyOn(logger, 'warn'),
    info: vi.spyOn(logger, 'info'),
  };
}

function recordingMetrics() {
  const recorded: Record<string, { unit: string; value: number }> = {};
  const metrics: MetricsSink = {
    addMetric: (name, unit, value) => {
      recorded[name] = { unit, value };
    },
  };
  return { metrics, recorded };
}

describe('PRODUCER_CONFIG', () => {
  it('is idempotent with one request in flight and never creates topics', () => {
    expect(PRODUCER_CONFIG).toMatchObject({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    expect(PRODUCER_CONFIG.retry?.retries).toBeGreaterThan(0);
  });
});

describe('BatchSender', () => {
  it('sends gzip-compressed, acks=all batches to the topic and tallies them', async () => {
    // Prepare
    const producer = fakeProducer();
    const { logger } = quietLogger();
    const sender = new BatchSender(producer, 'transaction', logger);
    const batch = generateMessages(20, CONFIG);

    // Act
    await sender.send(batch);
    await sender.send(batch.slice(0, 5));

    // Assess
    expect(producer.records[0]).toEqual({
      topic: 'transaction',
      messages: batch,
      acks: -1,
      compression: CompressionTypes.GZIP,
    });
    expect(sender.totals()).toEqual({
      sent: 25,
      failed: 0,
      bytes: payloadBytes(batch) + payloadBytes(batch.slice(0, 5)),
      failedBatches: 0,
    });
  });

  it('counts and logs a rejected batch and keeps its error', async () => {
    const producer = fakeProducer((call) => call === 2);
    const { logger, error } = quietLogger();
    const sender = new BatchSender(producer, 'transaction', logger);

    await sender.send(generateMessages(10, CONFIG));
    await sender.send(generateMessages(7, CONFIG));

    expect(sender.totals()).toMatchObject({ sent: 10, failed: 7, failedBatches: 1 });
    expect(error).toHaveBeenCalledTimes(1);
    expect(error).toHaveBeenCalledWith('Failed to send a batch to Kafka', {
      topic: 'transaction',
      messages: 7,
      error: expect.objectContaining({ message: 'broker unavailable (call 2)' }),
    });
    expect((sender.lastError as Error).message).toBe('broker unavailable (call 2)');
  });

  it('counts bytes as UTF-8, not characters', () => {
    expect(payloadBytes([{ key: 'Казань', value: '{}' }])).toBe(12 + 2);
  });
});

describe('produce', () => {
  it('paces a plan to the topic and reports sent messages, bytes and metrics', async () => {
    // Prepare
    const producer = fakeProducer();
    const { logger, info } = quietLogger();
    const { metrics, recorded } = recordingMetrics();
    const clock = new FakeClock();
    const plan: ProducerPlan = { mode: 'paced', total: 1_000, rate: 200 };

    // Act
    const result = await produce(plan, {
      producer,
      topic: 'transaction',
      generator: CONFIG,
      logger,
      metrics,
      clock,
    });

    // Assess
    const messages = producer.records.flatMap((record) => record.messages);
    expect(result).toEqual({
      sent: 1_000,
      failed: 0,
      bytes: payloadBytes(messages as never),
      durationMs: 4_800,
      skipped: 0,
    });
    expect(producer.records).toHaveLength(25);
    expect(producer.records.every((record) => record.messages.length === 40)).toBe(true);
    for (const message of messages) {
      expect(message.key).toBe((JSON.parse(String(message.value)) as Transaction).branch);
    }
    expect(recorded).toEqual({
      [PRODUCER_METRICS.messagesSent]: { unit: 'Count', value: 1_000 },
      [PRODUCER_METRICS.messagesFailed]: { unit: 'Count', value: 0 },
      [PRODUCER_METRICS.bytesSent]: { unit: 'Bytes', value: result.bytes },
      [PRODUCER_METRICS.sendDuration]: { unit: 'Milliseconds', value: 4_800 },
    });
    expect(info).toHaveBeenCalledWith('Produced transactions', expect.objectContaining({ sent: 1_000 }));
  });

  it('bursts in large batches', async () => {
    const producer = fakeProducer();
    const { logger } = quietLogger();
    const { metrics } = recordingMetrics();

    const result = await produce(
      { mode: 'burst', total: 11_000 },
      {
        producer,
        topic: 't',
        generator: CONFIG,
        logger,
        metrics,
        clock: new FakeClock(),
        burstBatchSize: 5_000,
      },
    );

    expect(result.sent).toBe(11_000);
    expect(producer.records.map((record) => record.messages.length).sort()).toEqual([1_000, 5_000, 5_000]);
  });

  it('reports partial failures without throwing, and counts them in the metrics', async () => {
    const producer = fakeProducer((call) => call % 2 === 0);
    const { logger, error } = quietLogger();
    const { metrics, recorded } = recordingMetrics();

    const result = await produce(
      { mode: 'burst', total: 10_000 },
      {
        producer,
        topic: 't',
        generator: CONFIG,
        logger,
        metrics,
        clock: new FakeClock(),
        burstBatchSize: 2_500,
      },
    );

    expect(result).toMatchObject({ sent: 5_000, failed: 5_000 });
    expect(error).toHaveBeenCalledTimes(2);
    expect(recorded[PRODUCER_METRICS.messagesFailed]?.value).toBe(5_000);
  });

  it('throws when nothing reached the broker, after logging and recording the failures', async () => {
    const producer = fakeProducer(() => true);
    const { logger, error } = quietLogger();
    const { metrics, recorded } = recordingMetrics();

    const attempt = produce(
      { mode: 'paced', total: 60, rate: 100 },
      { producer, topic: 'transaction', generator: CONFIG, logger, metrics, clock: new FakeClock() },
    );

    await expect(attempt).rejects.toThrow('No message reached topic transaction: 60 failed in 3 batch(es)');
    await expect(attempt).rejects.toHaveProperty('cause.message', 'broker unavailable (call 3)');
    expect(error).toHaveBeenCalledTimes(3);
    expect(recorded[PRODUCER_METRICS.messagesFailed]?.value).toBe(60);
    expect(recorded[PRODUCER_METRICS.messagesSent]?.value).toBe(0);
  });

  it('warns when the deadline cuts the schedule short', async () => {
    const producer = fakeProducer();
    const { logger, warn } = quietLogger();
    const { metrics } = recordingMetrics();
    const clock = new FakeClock();

    const result = await produce(
      { mode: 'paced', total: 5_000, rate: 100 },
      { producer, topic: 't', generator: CONFIG, logger, metrics, clock, deadline: clock.now() + 10_000 },
    );

    expect(result).toMatchObject({ sent: 1_000, skipped: 4_000 });
    expect(warn).toHaveBeenCalledWith(
      'The invocation deadline came before the schedule finished',
      expect.objectContaining({ skipped: 4_000 }),
    );
  });
});
