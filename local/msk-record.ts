import type { MSKEvent, MSKRecord, MSKRecordHeader } from 'aws-lambda';
import type { IHeaders, KafkaMessage } from 'kafkajs';

/**
 * A record as the MSK event source mapping delivers it. Lambda leaves `key` out for a record without a key and
 * `value` out for a tombstone; the published `MSKRecord` type declares both as always present, so this type
 * widens them and handlers see the same shapes they would see on AWS.
 */
export type MskRecord = Omit<MSKRecord, 'key' | 'value'> & { key?: string; value?: string };

export type MskEvent = Omit<MSKEvent, 'records'> & { records: Record<string, MskRecord[]> };

/** What the mapping needs of a fetched Kafka record, independent of the client library. */
export interface FetchedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** Milliseconds since the epoch, as a decimal string (Kafka timestamps are int64). */
  readonly timestamp: string;
  readonly timestampType: MSKRecord['timestampType'];
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: IHeaders;
}

/** kafkajs value of the record batch's timestamp type for broker-assigned timestamps. */
const KAFKAJS_LOG_APPEND_TIME = 1;

/**
 * kafkajs keeps the record batch's attributes (where the timestamp type lives) in an undeclared `batchContext`
 * on each message; the per-record `attributes` byte is unused by Kafka.
 */
export function timestampTypeOf(message: KafkaMessage): MSKRecord['timestampType'] {
  const context = (message as { batchContext?: { timestampType?: number } }).batchContext;
  return context?.timestampType === KAFKAJS_LOG_APPEND_TIME ? 'LOG_APPEND_TIME' : 'CREATE_TIME';
}

export function fromKafkaMessage(topic: string, partition: number, message: KafkaMessage): FetchedRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    timestamp: message.timestamp,
    timestampType: timestampTypeOf(message),
    key: message.key,
    value: message.value,
    ...(message.headers === undefined ? {} : { headers: message.headers }),
  };
}

/**
 * MSK sends headers as a list of single-key objects whose value is the header's bytes as numbers; a header
 * repeated on the record appears once per value, in order.
 */
export function toMskHeaders(headers: IHeaders | undefined): MSKRecordHeader[] {
  if (headers === undefined) return [];
  const result: MSKRecordHeader[] = [];
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined) continue;
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
      result.push({ [name]: Array.from(bytes) });
    }
  }
  return result;
}

export function toMskRecord(record: FetchedRecord): MskRecord {
  const offset = Number(record.offset);
  const timestamp = Number(record.timestamp);
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new Error(`Offset ${record.offset} of ${record.topic}-${record.partition} is not a safe integer`);
  }
  return {
    topic: record.topic,
    partition: record.partition,
    offset,
    timestamp,
    timestampType: record.timestampType,
    ...(record.key === null ? {} : { key: record.key.toString('base64') }),
    ...(record.value === null ? {} : { value: record.value.toString('base64') }),
    headers: toMskHeaders(record.headers),
  };
}
