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

export interface GeneratedTransaction {
  readonly branch: string;
  readonly currency: string;
  /** Exact decimal text, e.g. "-12.05". */
  readonly amount: string;
  readonly cents: bigint;
}

/** A deterministic pseudo-random source, so a failing test fails the same way every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const BRANCHES = ['Kazan', 'SPB', 'Novosibirsk', 'Surgut'] as const;
export const CURRENCIES = ['RUB', 'USD', 'EUR', 'GBP'] as const;

/** Branch names private to one test, so tests sharing a database do not share positions. */
export function branchesFor(test: string): string[] {
  return BRANCHES.map((branch) => `${branch}-${test}`);
}

/** Transactions with cent amounts in (-1000, 1000), written with the JSON number text of the exact decimal. */
export function generateTransactions(
  count: number,
  random: () => number,
  branches: readonly string[] = BRANCHES,
): GeneratedTransaction[] {
  const result: GeneratedTransaction[] = [];
  for (let i = 0; i < count; i++) {
    const cents = BigInt(Math.floor(random() * 199_999) - 99_999);
    const abs = cents < 0n ? -cents : cents;
    const amount = `${cents < 0n ? '-' : ''}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
    result.push({
      branch: branches[Math.floor(random() * branches.length)] as string,
      currency: CURRENCIES[Math.floor(random() * CURRENCIES.length)] as string,
      amount,
      cents,
    });
  }
  return result;
}

/** The Kafka value of a generated transaction, amount written exactly as its decimal text. */
export function transactionJson(
  transaction: GeneratedTransaction,
  extra: Readonly<Record<string, string>> = {},
): string {
  const fields = Object.entries(extra)
    .map(([name, value]) => `,${JSON.stringify(name)}:${JSON.stringify(value)}`)
    .join('');
  return `{"branch":${JSON.stringify(transaction.branch)},"currency":"${transaction.currency}","amount":${transaction.amount}${fields}}`;
}

/** Expected positions, summed independently of the code under test: BigInt cents per "branch/currency". */
export function referenceSums(transactions: Iterable<GeneratedTransaction>): Map<string, bigint> {
  const sums = new Map<string, bigint>();
  for (const t of transactions) {
    const key = `${t.branch}/${t.currency}`;
    sums.set(key, (sums.get(key) ?? 0n) + t.cents);
  }
  return sums;
}

/** BigInt cents as the text PostgreSQL prints for NUMERIC(38, 2). */
export function centsText(cents: bigint): string {
  const abs = cents < 0n ? -cents : cents;
  return `${cents < 0n ? '-' : ''}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}
