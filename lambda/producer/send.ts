import type { Logger } from '@aws-lambda-powertools/logger';
import { CompressionTypes, type Kafka, Partitioners, type Producer, type ProducerConfig } from 'kafkajs';
import type { KafkaMessage } from './generate';

/**
 * Idempotent: the broker de-duplicates kafkajs's own retries by producer id and sequence number, so a retried
 * batch is written once. kafkajs keeps the sequence numbers on the client and cannot reorder after a failed
 * request, so one request in flight per connection (as KIP-98 first specified) keeps them gapless; the
 * idempotent producer takes a per-broker lock around each produce request anyway, so this costs nothing.
 * No auto-creation: the topic is created at deploy time with its partition count, and a typo in KAFKA_TOPIC
 * must fail rather than create a single-partition topic.
 */
export const PRODUCER_CONFIG: ProducerConfig = {
  idempotent: true,
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  // The Java-compatible murmur2 partitioner (kafkajs 2 default), named to keep a branch on the same partition
  // as any other client would put it, and to silence kafkajs's notice about the changed default.
  createPartitioner: Partitioners.DefaultPartitioner,
  // Bounded so a send fails within the invocation rather than retrying past Lambda's deadline.
  retry: { retries: 5 },
};

export function createTransactionProducer(kafka: Kafka): Producer {
  return kafka.producer(PRODUCER_CONFIG);
}

/** `acks: -1` waits for every in-sync replica; required by the idempotent producer. */
export const SEND_ACKS = -1;

export type SendClient = Pick<Producer, 'send'>;

export interface SendTotals {
  readonly sent: number;
  readonly failed: number;
  /** Uncompressed key and value bytes of the messages the broker acknowledged. */
  readonly bytes: number;
  readonly failedBatches: number;
}

export type SendLogger = Pick<Logger, 'error'>;

/**
 * Sends batches to one topic and keeps the tally. A rejected batch is counted, logged with its error and kept
 * as `lastError`; it is not re-sent (kafkajs already retried it), and the caller decides from the totals
 * whether the run failed.
 */
export class BatchSender {
  private sent = 0;
  private failed = 0;
  private bytes = 0;
  private failedBatches = 0;
  private lastErrorValue: unknown;

  constructor(
    private readonly producer: SendClient,
    private readonly topic: string,
    private readonly logger: SendLogger,
  ) {}

  async send(messages: readonly KafkaMessage[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      await this.producer.send({
        topic: this.topic,
        messages: [...messages],
        acks: SEND_ACKS,
        compression: CompressionTypes.GZIP,
      });
      this.sent += messages.length;
      this.bytes += payloadBytes(messages);
    } catch (error) {
      this.failed += messages.length;
      this.failedBatches += 1;
      this.lastErrorValue = error;
      this.logger.error('Failed to send a batch to Kafka', {
        topic: this.topic,
        messages: messages.length,
        error,
      });
    }
  }

  get lastError(): unknown {
    return this.lastErrorValue;
  }

  totals(): SendTotals {
    return { sent: this.sent, failed: this.failed, bytes: this.bytes, failedBatches: this.failedBatches };
  }
}

export function payloadBytes(messages: readonly KafkaMessage[]): number {
  let bytes = 0;
  for (const message of messages) {
    bytes += Buffer.byteLength(message.key) + Buffer.byteLength(message.value);
  }
  return bytes;
}
