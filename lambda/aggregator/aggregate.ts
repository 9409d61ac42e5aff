import type { KafkaRecord } from './decode';
import { partitionKey } from './offset-ledger';
import type { ValidTransaction } from './validate';

/** First and last offset, within one partition, of the records that fed a group. */
export interface OffsetRange {
  first: number;
  last: number;
}

/** The sum of one (branch, currency) in a batch: one transaction_flow row and one position delta. */
export interface GroupTotal {
  readonly branch: string;
  readonly currency: string;
  readonly cents: bigint;
  readonly recordCount: number;
  /** Keyed by `"<topic>-<partition>"`, as in the MSK event. */
  readonly sourceOffsets: Readonly<Record<string, OffsetRange>>;
  readonly firstRecordTime: number | undefined;
  readonly lastRecordTime: number | undefined;
}

/**
 * Partial sums stay exact doubles while below this bound; beyond it they move into a BigInt. Each record adds
 * at most MAX_ABS_AMOUNT × 100 = 1e14 cents, so no addition can pass Number.MAX_SAFE_INTEGER.
 */
const FLUSH_THRESHOLD = 2 ** 52;

interface Accumulator {
  branch: string;
  currency: string;
  small: number;
  big: bigint;
  recordCount: number;
  sourceOffsets: Record<string, OffsetRange>;
  firstRecordTime: number | undefined;
  lastRecordTime: number | undefined;
}

/** Sums integer cents per (branch, currency), exactly for any batch size. */
export class BatchAggregator {
  /** Branch, then currency: two short-string lookups cost less than building a combined key per record. */
  private readonly groups = new Map<string, Map<string, Accumulator>>();

  /** `source` is the record's `"<topic>-<partition>"`, passed in because callers already hold it. */
  add(
    record: KafkaRecord,
    transaction: ValidTransaction,
    source = partitionKey(record.topic, record.partition),
  ): void {
    let byCurrency = this.groups.get(transaction.branch);
    if (byCurrency === undefined) {
      byCurrency = new Map();
      this.groups.set(transaction.branch, byCurrency);
    }
    let group = byCurrency.get(transaction.currency);
    if (group === undefined) {
      group = {
        branch: transaction.branch,
        currency: transaction.currency,
        small: 0,
        big: 0n,
        recordCount: 0,
        sourceOffsets: {},
        firstRecordTime: undefined,
        lastRecordTime: undefined,
      };
      byCurrency.set(transaction.currency, group);
    }
    group.small += transaction.cents;
    if (group.small > FLUSH_THRESHOLD || group.small < -FLUSH_THRESHOLD) {
      group.big += BigInt(group.small);
      group.small = 0;
    }
    group.recordCount++;
    const range = group.sourceOffsets[source];
    if (range === undefined) group.sourceOffsets[source] = { first: record.offset, last: record.offset };
    else if (record.offset < range.first) range.first = record.offset;
    else if (record.offset > range.last) range.last = record.offset;
    const time = record.timestamp;
    if (time !== undefined) {
      if (group.firstRecordTime === undefined || time < group.firstRecordTime) group.firstRecordTime = time;
      if (group.lastRecordTime === undefined || time > group.lastRecordTime) group.lastRecordTime = time;
    }
  }

  /** Totals sorted by branch, then currency (code-unit order). */
  totals(): GroupTotal[] {
    return [...this.groups.values()]
      .flatMap((byCurrency) => [...byCurrency.values()])
      .map((group) => ({
        branch: group.branch,
        currency: group.currency,
        cents: group.big + BigInt(group.small),
        recordCount: group.recordCount,
        sourceOffsets: group.sourceOffsets,
        firstRecordTime: group.firstRecordTime,
        lastRecordTime: group.lastRecordTime,
      }))
      .sort((a, b) => compare(a.branch, b.branch) || compare(a.currency, b.currency));
  }
}

/** Net cents per currency over all branches. */
export function netByCurrency(totals: readonly GroupTotal[]): Map<string, bigint> {
  const net = new Map<string, bigint>();
  for (const total of totals) net.set(total.currency, (net.get(total.currency) ?? 0n) + total.cents);
  return net;
}

/** Integer cents as an exact decimal string in currency units, e.g. -5n → "-0.05", for NUMERIC parameters. */
export function centsToDecimal(cents: bigint): string {
  const negative = cents < 0n;
  const abs = negative ? -cents : cents;
  const fraction = (abs % 100n).toString().padStart(2, '0');
  return `${negative ? '-' : ''}${abs / 100n}.${fraction}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
