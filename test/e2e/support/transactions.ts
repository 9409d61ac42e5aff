import { randomUUID } from 'node:crypto';
import type { Message } from 'kafkajs';
import { Client } from 'pg';
import { BRANCHES, CURRENCIES, centsText, seededRandom } from '../../helpers/transactions';

/** Integer cents as the decimal text a sender writes in JSON: -1234 -> "-12.34", 500 -> "5". */
export function centsToJsonNumber(cents: bigint): string {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  const whole = abs / 100n;
  const fraction = abs % 100n;
  if (fraction === 0n) return `${sign}${whole}`;
  return `${sign}${whole}.${fraction.toString().padStart(2, '0')}`.replace(/0$/, '');
}

export interface ValidTransactionSet {
  readonly messages: Message[];
  /** Expected open position per "branch/currency", in cents, computed from what was sent. */
  readonly expected: Map<string, bigint>;
  /** Expected accepted record count per "branch/currency". */
  readonly counts: Map<string, number>;
}

/**
 * Valid messages in the contract's two forms (full, and the original producer's branch/currency/amount), with
 * amounts that are integers, one-decimal and two-decimal values, negative and positive, some large; the expected
 * totals are summed in BigInt cents straight from the generated cents, independent of any code under test.
 */
export function validTransactions(count: number, seed: number): ValidTransactionSet {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const messages: Message[] = [];
  const expected = new Map<string, bigint>();
  const counts = new Map<string, number>();
  for (let i = 0; i < count; i += 1) {
    const branch = pick(BRANCHES);
    const currency = pick(CURRENCIES);
    const scale = pick([1n, 10n, 100n, 100n, 10_000n]);
    let cents = BigInt(Math.floor(random() * 20_001) - 10_000) * scale;
    if (i % 7 === 0) cents = (cents / 100n) * 100n;
    if (i % 11 === 0) cents = (cents / 10n) * 10n;
    const amount = centsToJsonNumber(cents);
    const value =
      i % 3 === 0
        ? `{"branch":${JSON.stringify(branch)},"currency":"${currency}","amount":${amount}}`
        : `{"id":"${randomUUID()}","ts":"${new Date().toISOString()}","branch":${JSON.stringify(branch)},"currency":"${currency}","amount":${amount}}`;
    messages.push({ key: branch, value });
    const key = `${branch}/${currency}`;
    expected.set(key, (expected.get(key) ?? 0n) + cents);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return { messages, expected, counts };
}

export interface MalformedMessage {
  readonly message: Message;
  /** The aggregator's rejection code for it. */
  readonly code: string;
}

/** One of every way a record can break the contract; each value is distinct so its rejected row can be found. */
export function malformedTransactions(): MalformedMessage[] {
  const bad = (code: string, key: string, value: Buffer | string | null): MalformedMessage => ({
    message: { key, value },
    code,
  });
  return [
    bad('invalid_json', 'Kazan', '{"branch":"Kazan","currency":"RUB","amount":'),
    bad('invalid_json', 'SPB', 'not json at all'),
    bad('invalid_utf8', 'SPB', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
    bad('tombstone', 'Surgut', null),
    bad('empty_value', 'Novosibirsk', ''),
    bad('not_an_object', 'Kazan', '[1,2,3]'),
    bad('invalid_amount', 'Kazan', '{"branch":"Kazan","currency":"RUB","amount":"12.00"}'),
    bad('invalid_branch', 'SPB', '{"branch":42,"currency":"RUB","amount":1}'),
    bad('invalid_branch', 'SPB', '{"currency":"RUB","amount":2}'),
    bad('amount_precision', 'SPB', '{"branch":"SPB","currency":"USD","amount":1.234}'),
    bad('amount_precision', 'Surgut', '{"branch":"Surgut","currency":"USD","amount":0.001}'),
    bad('invalid_currency', 'Kazan', '{"branch":"Kazan","currency":"usd","amount":3}'),
    bad('invalid_currency', 'Kazan', '{"branch":"Kazan","currency":"EURO","amount":4}'),
    bad('amount_not_finite', 'Surgut', '{"branch":"Surgut","currency":"GBP","amount":1e400}'),
    bad('amount_out_of_range', 'Surgut', '{"branch":"Surgut","currency":"GBP","amount":1e15}'),
  ];
}

/** Interleaves malformed messages among valid ones at fixed strides, so they land in many batches. */
export function interleave(valid: readonly Message[], malformed: readonly Message[]): Message[] {
  const result = [...valid];
  const stride = Math.max(1, Math.floor(valid.length / (malformed.length + 1)));
  malformed.forEach((message, index) => {
    result.splice((index + 1) * stride + index, 0, message);
  });
  return result;
}

export interface DatabaseTotals {
  readonly positions: Map<string, string>;
  readonly positionCounts: Map<string, number>;
  readonly flowSums: Map<string, string>;
  readonly flowRecords: number;
}

export async function readTotals(url: string): Promise<DatabaseTotals> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const positions = await client.query<{ key: string; position: string; record_count: string }>(
      `SELECT branch_name || '/' || currency_code AS key, position::text AS position, record_count::text
         FROM open_currency_position`,
    );
    const flow = await client.query<{ key: string; total: string; records: string }>(
      `SELECT branch_name || '/' || currency_code AS key, sum(batch_value)::numeric(38, 2)::text AS total,
              sum(record_count)::text AS records
         FROM transaction_flow GROUP BY 1`,
    );
    return {
      positions: new Map(positions.rows.map((row) => [row.key, row.position])),
      positionCounts: new Map(positions.rows.map((row) => [row.key, Number(row.record_count)])),
      flowSums: new Map(flow.rows.map((row) => [row.key, row.total])),
      flowRecords: flow.rows.reduce((sum, row) => sum + Number(row.records), 0),
    };
  } finally {
    await client.end();
  }
}

export function expectedText(expected: Map<string, bigint>): Map<string, string> {
  return new Map([...expected].map(([key, cents]) => [key, centsText(cents)]));
}
