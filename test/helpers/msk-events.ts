import type { MSKEvent, MSKRecord } from 'aws-lambda';

export interface TestRecord {
  readonly topic?: string;
  readonly partition: number;
  readonly offset: number;
  /** An object is sent as JSON, a string as its UTF-8 bytes, a Buffer as is, null as a tombstone. */
  readonly value: object | string | Buffer | null;
  /** @default the branch of an object value, else no key */
  readonly key?: string | null;
  /** @default 1_700_000_000_000 + offset */
  readonly timestamp?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export const TEST_TOPIC = 'transaction';

function toBytes(value: object | string | Buffer): Buffer {
  if (Buffer.isBuffer(value)) return value;
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');
}

/** Builds the payload the MSK event source mapping delivers: records grouped by "<topic>-<partition>". */
export function mskEvent(records: readonly TestRecord[]): MSKEvent {
  const grouped: Record<string, MSKRecord[]> = {};
  for (const record of records) {
    const topic = record.topic ?? TEST_TOPIC;
    const branch = (record.value as { branch?: unknown } | null)?.branch;
    const key = record.key !== undefined ? record.key : typeof branch === 'string' ? branch : null;
    const entry = {
      topic,
      partition: record.partition,
      offset: record.offset,
      timestamp: record.timestamp ?? 1_700_000_000_000 + record.offset,
      timestampType: 'CREATE_TIME',
      key: key === null ? null : Buffer.from(key, 'utf8').toString('base64'),
      value: record.value === null ? null : toBytes(record.value).toString('base64'),
      headers: Object.entries(record.headers ?? {}).map(([name, value]) => ({
        [name]: [...Buffer.from(value, 'utf8')],
      })),
    } as unknown as MSKRecord;
    const source = `${topic}-${record.partition}`;
    grouped[source] ??= [];
    grouped[source].push(entry);
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn:
      'arn:aws:kafka:us-east-1:123456789012:cluster/test/00000000-0000-0000-0000-000000000000-1',
    bootstrapServers: 'b-1.test.kafka.us-east-1.amazonaws.com:9098',
    records: grouped,
  };
}
