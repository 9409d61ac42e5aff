import type { MSKEvent, MSKRecord } from 'aws-lambda';
import { defaultGeneratorDeps, type GeneratorDeps, generateMessages } from '../lambda/producer/generate';
import {
  DEFAULT_AMOUNT_RANGE,
  DEFAULT_BRANCHES,
  DEFAULT_CURRENCIES,
  DEFAULT_TOPIC,
} from '../lambda/shared/transaction';
import { seededRandom } from '../test/helpers/transactions';

/** The topic has three partitions in the deployment (cdk.json `partitions`). */
export const BENCH_PARTITIONS = 3;

export interface BenchEventOptions {
  readonly records: number;
  /** First offset of every partition, so repeated batches are new records to the offset ledger. */
  readonly firstOffset?: number;
  readonly topic?: string;
  readonly seed?: number;
}

/**
 * An MSK event of `records` messages exactly as the producer generates them (default branches, currencies and
 * amounts), spread round-robin over three partitions, base64 key and value, Kafka timestamps, no headers.
 */
export function benchEvent(options: BenchEventOptions): MSKEvent {
  const topic = options.topic ?? DEFAULT_TOPIC;
  const firstOffset = options.firstOffset ?? 0;
  const random = seededRandom(options.seed ?? 42);
  let clock = Date.UTC(2026, 0, 1);
  const deps: GeneratorDeps = {
    ...defaultGeneratorDeps,
    random,
    now: () => {
      clock += 1;
      return new Date(clock);
    },
  };
  const messages = generateMessages(
    options.records,
    {
      branches: DEFAULT_BRANCHES,
      currencies: DEFAULT_CURRENCIES,
      amountMin: DEFAULT_AMOUNT_RANGE.min,
      amountMax: DEFAULT_AMOUNT_RANGE.max,
    },
    deps,
  );
  const records: Record<string, MSKRecord[]> = {};
  messages.forEach((message, index) => {
    const partition = index % BENCH_PARTITIONS;
    const source = `${topic}-${partition}`;
    records[source] ??= [];
    records[source].push({
      topic,
      partition,
      offset: firstOffset + Math.floor(index / BENCH_PARTITIONS),
      timestamp: Date.parse(JSON.parse(message.value).ts),
      timestampType: 'CREATE_TIME',
      key: Buffer.from(message.key).toString('base64'),
      value: Buffer.from(message.value).toString('base64'),
      headers: [],
    });
  });
  return {
    eventSource: 'aws:kafka',
    eventSourceArn:
      'arn:aws:kafka:us-east-1:123456789012:cluster/bench/00000000-0000-0000-0000-000000000000-1',
    bootstrapServers: 'b-1.bench.kafka.us-east-1.amazonaws.com:9096',
    records,
  };
}
