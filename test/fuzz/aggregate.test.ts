import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchAggregator, centsToDecimal } from '../../lambda/aggregator/aggregate';
import { decodeMskEvent } from '../../lambda/aggregator/decode';
import { isRejection, validateValue } from '../../lambda/aggregator/validate';
import { mskEvent } from '../helpers/msk-events';
import { validAmountText, validMessage, validMessageText } from './arbitraries';
import { centsToText, readCents, sumsByKey } from './reference';

interface Placed {
  readonly partition: number;
  readonly text: string;
  readonly branch: string;
  readonly currency: string;
  readonly cents: bigint;
}

/** Records of a batch as Kafka would deliver them: offsets consecutive per partition, partitions interleaved. */
function place(
  messages: readonly { message: { branch: string; currency: string; amount: string }; partition: number }[],
) {
  const next = new Map<number, number>();
  return messages.map(({ message, partition }) => {
    const offset = next.get(partition) ?? 0;
    next.set(partition, offset + 1);
    const reading = readCents(message.amount);
    if (reading.kind !== 'cents') throw new Error(`generator produced an invalid amount ${message.amount}`);
    const placed: Placed & { offset: number } = {
      partition,
      offset,
      text: validMessageText(message),
      branch: message.branch,
      currency: message.currency,
      cents: reading.cents,
    };
    return placed;
  });
}

function aggregateThroughProduction(records: readonly (Placed & { offset: number })[]) {
  const event = mskEvent(records.map((r) => ({ partition: r.partition, offset: r.offset, value: r.text })));
  const decoded = decodeMskEvent(event);
  expect(decoded.undecodable).toEqual([]);
  const aggregator = new BatchAggregator();
  for (const record of decoded.records) {
    const transaction = validateValue(record.value);
    if (isRejection(transaction)) throw new Error(`valid message rejected: ${transaction.reason}`);
    aggregator.add(record, transaction);
  }
  return aggregator.totals();
}

const batch = fc.array(fc.record({ message: validMessage, partition: fc.nat({ max: 2 }) }), {
  minLength: 1,
  maxLength: 120,
});

describe('BatchAggregator on arbitrary valid batches', () => {
  it('sums each branch and currency exactly as BigInt cents read from the decimal text', () => {
    fc.assert(
      fc.property(batch, (messages) => {
        const records = place(messages);

        const totals = aggregateThroughProduction(records);

        const expected = sumsByKey(records);
        expect(new Map(totals.map((t) => [`${t.branch}/${t.currency}`, t.cents]))).toEqual(expected);
        for (const total of totals) {
          const members = records.filter((r) => r.branch === total.branch && r.currency === total.currency);
          expect(total.recordCount).toBe(members.length);
          expect(centsToDecimal(total.cents)).toBe(
            centsToText(expected.get(`${total.branch}/${total.currency}`) ?? 0n),
          );
          for (const partition of new Set(members.map((m) => m.partition))) {
            const offsets = members.filter((m) => m.partition === partition).map((m) => m.offset);
            expect(total.sourceOffsets[`transaction-${partition}`]).toEqual({
              first: Math.min(...offsets),
              last: Math.max(...offsets),
            });
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('stays exact when sums pass 2^53 cents, where doubles start losing cents', () => {
    const large = fc.record({
      message: fc.record({
        branch: fc.constantFrom('Kazan', 'SPB'),
        currency: fc.constant('RUB'),
        amount: fc.oneof(
          fc.constantFrom('1000000000000', '999999999999.99', '-999999999999.99', '0.01', '-0.01'),
          validAmountText,
        ),
      }),
      partition: fc.nat({ max: 2 }),
    });
    fc.assert(
      fc.property(fc.array(large, { minLength: 150, maxLength: 400 }), (messages) => {
        const records = place(messages);

        const totals = aggregateThroughProduction(records);

        expect(new Map(totals.map((t) => [`${t.branch}/${t.currency}`, t.cents]))).toEqual(
          sumsByKey(records),
        );
      }),
      { numRuns: 40 },
    );
  });

  it('keeps the last cent of a sum that no double can hold', () => {
    const messages = [
      ...Array.from({ length: 200 }, () => ({ branch: 'Kazan', currency: 'RUB', amount: '1000000000000' })),
      { branch: 'Kazan', currency: 'RUB', amount: '0.01' },
    ].map((message, i) => ({ message, partition: i % 3 }));

    const totals = aggregateThroughProduction(place(messages));

    expect(totals.map((t) => centsToDecimal(t.cents))).toEqual(['200000000000000.01']);
    expect(Number.isSafeInteger(Number(totals[0]?.cents))).toBe(false);
  });

  it('gives the same totals whatever order the records arrive in', () => {
    fc.assert(
      fc.property(
        batch.chain((messages) =>
          fc.tuple(fc.constant(messages), fc.shuffledSubarray(messages, { minLength: messages.length })),
        ),
        ([messages, shuffled]) => {
          const inOrder = aggregateThroughProduction(place(messages));
          const reordered = aggregateThroughProduction(place(shuffled));
          expect(reordered.map((t) => [t.branch, t.currency, t.cents, t.recordCount])).toEqual(
            inOrder.map((t) => [t.branch, t.currency, t.cents, t.recordCount]),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
