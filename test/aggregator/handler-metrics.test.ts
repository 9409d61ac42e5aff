import type { MSKEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { AggregatorResult } from '../../lambda/aggregator/index';
import { AGGREGATOR_METRICS, CURRENCY_DIMENSION, METRICS_NAMESPACE } from '../../lambda/shared/metric-names';
import { mskEvent } from '../helpers/msk-events';
import { useTestDatabase } from '../helpers/postgres';

const database = useTestDatabase();
let handler: (event: MSKEvent) => Promise<AggregatorResult>;

beforeAll(async () => {
  process.env.DATABASE_URL = database().url;
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  delete process.env.POWERTOOLS_METRICS_DISABLED;
  delete process.env.POWERTOOLS_DEV;
  ({ handler } = await import('../../lambda/aggregator/index.js'));
});

interface EmfDocument {
  _aws: {
    CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }>;
  };
  [key: string]: unknown;
}

async function emittedDuring(work: () => Promise<unknown>): Promise<EmfDocument[]> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(chunk.toString());
    return true;
  });
  try {
    await work();
  } finally {
    spy.mockRestore();
  }
  return lines
    .flatMap((text) => text.split('\n'))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfDocument);
}

describe('aggregator metrics', () => {
  it('emits record counts and the net amount per currency with the Currency dimension', async () => {
    // Prepare
    const event = mskEvent([
      { topic: 'metrics', partition: 0, offset: 0, value: '{"branch":"M","currency":"RUB","amount":10.25}' },
      { topic: 'metrics', partition: 0, offset: 1, value: '{"branch":"N","currency":"RUB","amount":-0.25}' },
      { topic: 'metrics', partition: 0, offset: 2, value: '{"branch":"M","currency":"USD","amount":-3}' },
      { topic: 'metrics', partition: 0, offset: 3, value: 'garbage' },
    ]);

    // Act
    const documents = await emittedDuring(() => handler(event));

    // Assess
    const counts = documents.find((doc) => doc[AGGREGATOR_METRICS.recordsAccepted] !== undefined);
    expect(counts).toMatchObject({
      [AGGREGATOR_METRICS.recordsAccepted]: 3,
      [AGGREGATOR_METRICS.recordsRejected]: 1,
      [AGGREGATOR_METRICS.recordsDeduplicated]: 0,
    });
    expect(counts?._aws.CloudWatchMetrics[0]?.Namespace).toBe(METRICS_NAMESPACE);
    expect(counts?.[AGGREGATOR_METRICS.batchLatency]).toEqual(expect.any(Number));
    const net = documents
      .filter((doc) => doc[AGGREGATOR_METRICS.netAmount] !== undefined)
      .map((doc) => ({
        currency: doc[CURRENCY_DIMENSION],
        amount: doc[AGGREGATOR_METRICS.netAmount],
        dimensions: doc._aws.CloudWatchMetrics[0]?.Dimensions[0],
      }));
    expect(net).toEqual([
      { currency: 'RUB', amount: 10, dimensions: expect.arrayContaining([CURRENCY_DIMENSION]) },
      { currency: 'USD', amount: -3, dimensions: expect.arrayContaining([CURRENCY_DIMENSION]) },
    ]);
  });
});
