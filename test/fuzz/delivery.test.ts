import type { MSKEvent } from 'aws-lambda';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AggregatorResult } from '../../lambda/aggregator/index';
import { mskEvent, type TestRecord } from '../helpers/msk-events';
import { useTestDatabase } from '../helpers/postgres';
import { MALFORMED_VALUES, validMessage, validMessageText } from './arbitraries';
import { centsToText, readCents } from './reference';

const CONSUMER_GROUP = 'fuzz-delivery';
const TOPIC = 'transaction';
const PARTITIONS = 3;

const database = useTestDatabase();
let handler: (event: MSKEvent) => Promise<AggregatorResult>;

beforeAll(async () => {
  process.env.DATABASE_URL = database().url;
  process.env.DB_POOL_MAX = '4';
  process.env.CONSUMER_GROUP_ID = CONSUMER_GROUP;
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  ({ handler } = await import('../../lambda/aggregator/index.js'));
});

/** One partition's records: a valid message (its cents known) or a malformed value. */
type Item =
  | { readonly kind: 'valid'; readonly text: string; readonly key: string; readonly cents: bigint }
  | {
      readonly kind: 'malformed';
      readonly value: Buffer | null;
    };

const item: fc.Arbitrary<Item> = fc.oneof(
  {
    arbitrary: validMessage.map((m): Item => {
      const reading = readCents(m.amount);
      if (reading.kind !== 'cents') throw new Error(`invalid generated amount ${m.amount}`);
      return {
        kind: 'valid',
        text: validMessageText(m),
        key: `${m.branch}/${m.currency}`,
        cents: reading.cents,
      };
    }),
    weight: 9,
  },
  {
    arbitrary: fc.constantFrom(...MALFORMED_VALUES).map((value): Item => ({ kind: 'malformed', value })),
    weight: 1,
  },
);

/**
 * How Kafka may hand a partition to the function: contiguous ranges in offset order, each starting at most one
 * past what was delivered before (never skipping ahead), any of them reaching back to redeliver older offsets.
 */
const deliveryStep = fc.record({
  length: fc.integer({ min: 1, max: 12 }),
  rewind: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, fc.integer({ min: 1, max: 15 })),
});

interface Range {
  readonly partition: number;
  readonly first: number;
  readonly last: number;
}

function partitionRanges(
  partition: number,
  size: number,
  steps: readonly { length: number; rewind: number }[],
) {
  const ranges: Range[] = [];
  let next = 0;
  for (const { length, rewind } of steps) {
    const first = Math.max(0, next - rewind);
    const last = Math.min(size - 1, Math.max(first, next) + length - 1);
    if (first > last) continue;
    ranges.push({ partition, first, last });
    next = Math.max(next, last + 1);
  }
  if (next < size) ranges.push({ partition, first: next, last: size - 1 });
  return ranges;
}

const scenario = fc
  .record({
    partitions: fc.array(fc.array(item, { maxLength: 25 }), { minLength: PARTITIONS, maxLength: PARTITIONS }),
    steps: fc.array(fc.array(deliveryStep, { maxLength: 8 }), {
      minLength: PARTITIONS,
      maxLength: PARTITIONS,
    }),
    /** Which partition's next range goes next: interleaves partitions in any order. */
    picks: fc.array(fc.nat({ max: PARTITIONS - 1 }), { maxLength: 40 }),
    /** Whether each range joins the previous event (one event may carry several partitions). */
    joins: fc.array(fc.boolean(), { maxLength: 40 }),
    /** Events delivered again later: (index of the event to repeat, position to repeat it at). */
    replays: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 4 }),
    /** Whether each event runs concurrently with the previous one when they share no partition. */
    concurrent: fc.array(fc.boolean(), { maxLength: 60 }),
  })
  .map((s) => ({
    ...s,
    ranges: s.partitions.map((items, p) => partitionRanges(p, items.length, s.steps[p] ?? [])),
  }));

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** Merges the partitions' range sequences (each kept in its own order) and groups them into events. */
function schedule(s: Scenario): Range[][] {
  const queues = s.ranges.map((ranges) => [...ranges]);
  const merged: Range[] = [];
  for (const pick of s.picks) {
    const next = queues[pick]?.shift();
    if (next !== undefined) merged.push(next);
  }
  for (const queue of queues) merged.push(...queue);

  const events: Range[][] = [];
  merged.forEach((range, i) => {
    const current = events[events.length - 1];
    if (
      current !== undefined &&
      s.joins[i] === true &&
      current.every((r) => r.partition !== range.partition)
    ) {
      current.push(range);
    } else {
      events.push([range]);
    }
  });
  // A replay is an older event delivered again after later ones: it lies at or below every ledger offset.
  for (const [which, at] of s.replays) {
    if (events.length === 0) break;
    const source = which % events.length;
    const position = source + 1 + (at % (events.length - source));
    events.splice(position, 0, events[source] as Range[]);
  }
  return events;
}

function eventFor(ranges: readonly Range[], partitions: readonly (readonly Item[])[]): MSKEvent {
  const records: TestRecord[] = [];
  for (const { partition, first, last } of ranges) {
    for (let offset = first; offset <= last; offset++) {
      const entry = partitions[partition]?.[offset] as Item;
      records.push(
        entry.kind === 'valid'
          ? { topic: TOPIC, partition, offset, value: entry.text }
          : { topic: TOPIC, partition, offset, value: entry.value, key: `bad-${partition}-${offset}` },
      );
    }
  }
  return mskEvent(records);
}

/** Runs the events in order; an event runs alongside the previous ones while none shares a partition. */
async function deliver(events: readonly Range[][], s: Scenario): Promise<AggregatorResult[]> {
  const results: AggregatorResult[] = [];
  let wave: Promise<AggregatorResult>[] = [];
  let busy = new Set<number>();
  for (const [i, ranges] of events.entries()) {
    const partitions = ranges.map((r) => r.partition);
    if (!(s.concurrent[i] === true && partitions.every((p) => !busy.has(p)))) {
      results.push(...(await Promise.all(wave)));
      wave = [];
      busy = new Set();
    }
    for (const p of partitions) busy.add(p);
    wave.push(handler(eventFor(ranges, s.partitions)));
  }
  results.push(...(await Promise.all(wave)));
  return results;
}

async function resetTables(): Promise<void> {
  await database().pool.query(
    'TRUNCATE transaction_flow, open_currency_position, rejected_transactions, consumer_offsets',
  );
}

describe('delivery order, splitting and duplication through the handler and PostgreSQL', () => {
  it('always ends with the totals of one clean pass', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        // Prepare
        await resetTables();
        const expected = new Map<string, { cents: bigint; count: number }>();
        const malformed = new Set<string>();
        s.partitions.forEach((items, partition) => {
          items.forEach((entry, offset) => {
            if (entry.kind === 'malformed') {
              malformed.add(`${partition}/${offset}`);
              return;
            }
            const sum = expected.get(entry.key) ?? { cents: 0n, count: 0 };
            expected.set(entry.key, { cents: sum.cents + entry.cents, count: sum.count + 1 });
          });
        });
        const validCount = [...expected.values()].reduce((n, v) => n + v.count, 0);

        // Act
        const results = await deliver(schedule(s), s);

        // Assess
        const pool = database().pool;
        const positions = await pool.query<{ key: string; position: string; record_count: string }>(
          `SELECT branch_name || '/' || currency_code AS key, position::text, record_count::text
             FROM open_currency_position`,
        );
        expect(new Map(positions.rows.map((r) => [r.key, `${r.position} x${r.record_count}`]))).toEqual(
          new Map([...expected].map(([key, v]) => [key, `${centsToText(v.cents)} x${v.count}`])),
        );
        const flows = await pool.query<{ key: string; total: string; records: string }>(
          `SELECT branch_name || '/' || currency_code AS key, sum(batch_value)::text AS total,
                  sum(record_count)::text AS records
             FROM transaction_flow GROUP BY 1`,
        );
        expect(new Map(flows.rows.map((r) => [r.key, `${r.total} x${r.records}`]))).toEqual(
          new Map([...expected].map(([key, v]) => [key, `${centsToText(v.cents)} x${v.count}`])),
        );
        const rejected = await pool.query<{ place: string }>(
          `SELECT partition || '/' || "offset" AS place FROM rejected_transactions`,
        );
        expect(rejected.rows.map((r) => r.place).sort()).toEqual([...malformed].sort());
        // Each record was applied by exactly one invocation, however often it was delivered.
        expect(results.reduce((n, r) => n + r.accepted, 0)).toBe(validCount);
        expect(results.reduce((n, r) => n + r.rejected, 0)).toBe(malformed.size);
      }),
      { numRuns: 20 },
    );
  });
});
