import { describe, expect, it } from 'vitest';
import {
  BatchAggregator,
  centsToDecimal,
  type GroupTotal,
  netByCurrency,
} from '../../lambda/aggregator/aggregate';
import type { KafkaRecord } from '../../lambda/aggregator/decode';
import { MAX_ABS_AMOUNT, type ValidTransaction } from '../../lambda/aggregator/validate';

function record(partition: number, offset: number, timestamp?: number): KafkaRecord {
  return { topic: 'transaction', partition, offset, timestamp, key: null, value: null, headers: [] };
}

function aggregate(items: readonly { record: KafkaRecord; transaction: ValidTransaction }[]): GroupTotal[] {
  const aggregator = new BatchAggregator();
  for (const { record, transaction } of items) aggregator.add(record, transaction);
  return aggregator.totals();
}

describe('BatchAggregator', () => {
  it('sums exactly: 0.10 + 0.20 is 0.30', () => {
    // Act
    const totals = aggregate([
      { record: record(0, 1), transaction: { branch: 'Kazan', currency: 'RUB', cents: 10 } },
      { record: record(0, 2), transaction: { branch: 'Kazan', currency: 'RUB', cents: 20 } },
    ]);

    // Assess
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(totals).toHaveLength(1);
    expect(centsToDecimal(totals[0]?.cents ?? 0n)).toBe('0.30');
  });

  it('groups by branch and currency, sorted, with counts, offset ranges per partition and record times', () => {
    // Act
    const totals = aggregate([
      { record: record(1, 40, 5000), transaction: { branch: 'SPB', currency: 'USD', cents: -150 } },
      { record: record(0, 10, 3000), transaction: { branch: 'Kazan', currency: 'RUB', cents: 4200 } },
      { record: record(1, 41, 4000), transaction: { branch: 'SPB', currency: 'USD', cents: 50 } },
      { record: record(0, 12, 6000), transaction: { branch: 'SPB', currency: 'USD', cents: 1 } },
      { record: record(1, 39), transaction: { branch: 'SPB', currency: 'USD', cents: 0 } },
      { record: record(0, 11, 1000), transaction: { branch: 'Kazan', currency: 'EUR', cents: -1 } },
    ]);

    // Assess
    expect(totals).toEqual([
      {
        branch: 'Kazan',
        currency: 'EUR',
        cents: -1n,
        recordCount: 1,
        sourceOffsets: { 'transaction-0': { first: 11, last: 11 } },
        firstRecordTime: 1000,
        lastRecordTime: 1000,
      },
      {
        branch: 'Kazan',
        currency: 'RUB',
        cents: 4200n,
        recordCount: 1,
        sourceOffsets: { 'transaction-0': { first: 10, last: 10 } },
        firstRecordTime: 3000,
        lastRecordTime: 3000,
      },
      {
        branch: 'SPB',
        currency: 'USD',
        cents: -99n,
        recordCount: 4,
        sourceOffsets: { 'transaction-1': { first: 39, last: 41 }, 'transaction-0': { first: 12, last: 12 } },
        firstRecordTime: 4000,
        lastRecordTime: 6000,
      },
    ]);
    expect(netByCurrency(totals)).toEqual(
      new Map([
        ['EUR', -1n],
        ['RUB', 4200n],
        ['USD', -99n],
      ]),
    );
  });

  it('stays exact beyond Number.MAX_SAFE_INTEGER cents', () => {
    // Prepare: 200 maximal amounts sum to 2e16 cents, more than a double holds exactly.
    const maxCents = MAX_ABS_AMOUNT * 100;
    const items = Array.from({ length: 200 }, (_, i) => ({
      record: record(0, i),
      transaction: { branch: 'Kazan', currency: 'RUB', cents: maxCents - (i % 2) },
    }));

    // Act
    const [total] = aggregate(items);

    // Assess
    const expected = BigInt(maxCents) * 200n - 100n;
    expect(total?.cents).toBe(expected);
    expect(centsToDecimal(expected)).toBe('199999999999999.00');
  });
});

describe('centsToDecimal', () => {
  it.each([
    [0n, '0.00'],
    [5n, '0.05'],
    [-5n, '-0.05'],
    [-100n, '-1.00'],
    [123456n, '1234.56'],
    [-99999999999999999999n, '-999999999999999999.99'],
  ])('%s cents is %s', (cents, text) => {
    expect(centsToDecimal(cents)).toBe(text);
  });
});
