import { parseArgs } from 'node:util';
import { intEnv, stringEnv } from '../lambda/shared/env';
import { DEFAULT_CONSUMER_GROUP_ID, DEFAULT_MESSAGES_PER_SECOND } from '../lambda/shared/transaction';

export interface StartFlags {
  readonly producer: boolean;
  readonly consumer: boolean;
  /** The live view; plain status lines otherwise. */
  readonly ui: boolean;
  readonly help: boolean;
}

export const USAGE = `Usage: npm start -- [--consumer-only | --producer-only] [--no-ui]

Runs the pipeline locally: Kafka broker, topic, database, producer schedule and event source mapping.
  --consumer-only  run the mapping and the aggregator only (no producer)
  --producer-only  run the producer schedule only (no database, no mapping)
  --no-ui          plain status lines instead of the live view (the default when stdout is not a terminal)

Environment (defaults in brackets):
  KAFKA_BROKERS                     use this broker instead of starting one [local broker on 127.0.0.1:9092]
  KAFKA_TOPIC                       [transaction]
  DATABASE_URL                      use this PostgreSQL instead of the embedded PGlite [.local/pglite]
  CONSUMER_GROUP_ID                 consumer group of the mapping and key of the offset ledger [transaction-aggregator]
  PRODUCER_RATE                     messages per second [100]
  LOCAL_PRODUCER_INTERVAL_SECONDS   0: continuous; N: invoke every N s like the AWS schedule [0]
  LOCAL_PRODUCER_INVOCATION_SECONDS continuous mode: one paced invocation every N s [2]
  LOCAL_BATCH_SIZE                  records per aggregator invocation [1000, as deployed]
  LOCAL_BATCH_WINDOW_MS             batching window [2000]
  LOCAL_TOPIC_PARTITIONS            partitions of the topic when it is created [3]
Logs: .local/logs/*.log`;

export function parseStartFlags(argv: readonly string[], isTty: boolean): StartFlags {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'consumer-only': { type: 'boolean', default: false },
      'producer-only': { type: 'boolean', default: false },
      'no-ui': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values['consumer-only'] && values['producer-only']) {
    throw new Error('--consumer-only and --producer-only exclude each other');
  }
  return {
    producer: !values['consumer-only'],
    consumer: !values['producer-only'],
    ui: isTty && !values['no-ui'],
    help: values.help,
  };
}

export interface LocalRuntimeSettings {
  readonly groupId: string;
  readonly rate: number;
  /** 0: continuous paced stream; otherwise seconds between invocation starts. */
  readonly producerIntervalSeconds: number;
  readonly invocationSeconds: number;
  readonly batchSize: number;
  readonly batchWindowMs: number;
  readonly partitions: number;
}

export function localRuntimeSettingsFromEnv(): LocalRuntimeSettings {
  return {
    groupId: stringEnv('CONSUMER_GROUP_ID', DEFAULT_CONSUMER_GROUP_ID),
    rate: intEnv('PRODUCER_RATE', DEFAULT_MESSAGES_PER_SECOND, { min: 1, max: 100_000 }),
    producerIntervalSeconds: intEnv('LOCAL_PRODUCER_INTERVAL_SECONDS', 0, { min: 0, max: 3_600 }),
    invocationSeconds: intEnv('LOCAL_PRODUCER_INVOCATION_SECONDS', 2, { min: 1, max: 60 }),
    batchSize: intEnv('LOCAL_BATCH_SIZE', 1_000, { min: 1, max: 10_000 }),
    batchWindowMs: intEnv('LOCAL_BATCH_WINDOW_MS', 2_000, { min: 0, max: 300_000 }),
    partitions: intEnv('LOCAL_TOPIC_PARTITIONS', 3, { min: 1, max: 100 }),
  };
}
