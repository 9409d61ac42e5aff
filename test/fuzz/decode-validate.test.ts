import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMskEvent } from '../../lambda/aggregator/decode';
import {
  isRejection,
  REJECTION_CODES,
  type Validation,
  validateValue,
} from '../../lambda/aggregator/validate';
import { validAmountText } from './arbitraries';
import { isAcceptableBranch, isAcceptableCurrency, readCents } from './reference';

/** Bounded so the whole file runs in a few seconds; a failure prints its seed for replay. */
const RUNS = { numRuns: 400 };

const CODES = new Set<string>(Object.values(REJECTION_CODES));

/** Every outcome is one of two shapes: an accepted transaction, or a known code with a reason. */
function expectClassified(result: Validation): void {
  if (isRejection(result)) {
    expect(CODES.has(result.code)).toBe(true);
    expect(typeof result.reason).toBe('string');
    expect(result.reason.trim()).not.toBe('');
    return;
  }
  expect(isAcceptableBranch(result.branch)).toBe(true);
  expect(isAcceptableCurrency(result.currency)).toBe(true);
  expect(Number.isSafeInteger(result.cents)).toBe(true);
  expect(Object.is(result.cents, -0)).toBe(false);
}

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

/** Numbers at and around every limit the contract and IEEE doubles have. */
const BOUNDARY_NUMBERS = [
  0,
  -0,
  0.01,
  -0.01,
  0.005,
  0.1 + 0.2,
  1e12,
  -1e12,
  1e12 + 0.01,
  1e12 - 0.01,
  999_999_999_999.99,
  -999_999_999_999.99,
  1e12 + 1,
  2 ** 53,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  Number.EPSILON,
  1e-7,
  1e21,
  123.456,
  42.1,
  -42.99,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
];

/** JSON number texts of every shape: sign, leading zero, fraction, exponent, long digit runs. */
const jsonNumberText = fc
  .tuple(
    fc.boolean(),
    fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9]\d{0,17}$/)),
    fc.option(fc.stringMatching(/^\d{1,20}$/), { nil: undefined }),
    fc.option(
      fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.integer({ min: 0, max: 400 })),
      {
        nil: undefined,
      },
    ),
  )
  .map(([negative, whole, fraction, exponent]) => {
    const sign = negative ? '-' : '';
    const fractionPart = fraction === undefined ? '' : `.${fraction}`;
    const exponentPart = exponent === undefined ? '' : `${exponent[0]}${exponent[1]}${exponent[2]}`;
    return `${sign}${whole}${fractionPart}${exponentPart}`;
  });

const branchValue = fc.oneof(
  fc.constantFrom('Kazan', 'SPB', 'Novosibirsk', 'Surgut', 'Санкт-Петербург', '東京', 'a'.repeat(200)),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.constantFrom('', '   ', 'a'.repeat(201), 'x\u0000y', '\uD800', 'a\uDC00', '\uD83D\uDE00', 'amount'),
  fc.jsonValue({ maxDepth: 1 }),
);

const currencyValue = fc.oneof(
  fc.constantFrom('RUB', 'USD', 'EUR', 'GBP', 'CNY'),
  fc.stringMatching(/^[A-Z]{3}$/),
  fc.constantFrom('rub', 'US', 'EURO', 'R1B', '', ' USD', 'ÄÖÜ'),
  fc.string({ maxLength: 4 }),
  fc.jsonValue({ maxDepth: 1 }),
);

/** The amount as raw JSON text: number texts of any shape, or values of other types. */
const amountText = fc.oneof(
  { arbitrary: validAmountText, weight: 3 },
  { arbitrary: jsonNumberText, weight: 3 },
  { arbitrary: fc.constantFrom(...BOUNDARY_NUMBERS).map((n) => JSON.stringify(n)), weight: 1 },
  { arbitrary: fc.double().map((n) => JSON.stringify(n)), weight: 1 },
  { arbitrary: fc.jsonValue({ maxDepth: 1 }).map((v) => JSON.stringify(v)), weight: 1 },
);

const optionalField = fc.option(
  fc.oneof(fc.string({ maxLength: 20 }), fc.constant('amount'), fc.jsonValue({ maxDepth: 1 })),
  {
    nil: undefined,
  },
);

interface Message {
  readonly branch: unknown;
  readonly currency: unknown;
  readonly amount: string;
  readonly id: unknown;
  readonly ts: unknown;
}

const message: fc.Arbitrary<Message> = fc.record({
  branch: branchValue,
  currency: currencyValue,
  amount: amountText,
  id: optionalField,
  ts: optionalField,
});

function messageText({ branch, currency, amount, id, ts }: Message): string {
  const fields = [
    `"branch":${JSON.stringify(branch)}`,
    `"currency":${JSON.stringify(currency)}`,
    `"amount":${amount}`,
  ];
  if (id !== undefined) fields.unshift(`"id":${JSON.stringify(id)}`);
  if (ts !== undefined) fields.push(`"ts":${JSON.stringify(ts)}`);
  return `{${fields.join(',')}}`;
}

/** What the contract says about a message, decided without the production code. */
function expectedCents(m: Message): bigint | undefined {
  if (!isAcceptableBranch(m.branch) || !isAcceptableCurrency(m.currency)) return undefined;
  if ((m.id !== undefined && typeof m.id !== 'string') || (m.ts !== undefined && typeof m.ts !== 'string')) {
    return undefined;
  }
  const reading = readCents(m.amount);
  return reading.kind === 'cents' ? reading.cents : undefined;
}

describe('validateValue on arbitrary input', () => {
  it('classifies arbitrary bytes without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expectClassified(validateValue(Buffer.from(bytes)));
      }),
      RUNS,
    );
  });

  it('classifies arbitrary text, including lone surrogates and control characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        expectClassified(validateValue(utf8(text)));
      }),
      RUNS,
    );
  });

  it('classifies arbitrary JSON documents and rejects every one that is not an object', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        const result = validateValue(utf8(JSON.stringify(value)));
        expectClassified(result);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          expect(isRejection(result)).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('classifies tombstones and empty values', () => {
    expectClassified(validateValue(null));
    expectClassified(validateValue(Buffer.alloc(0)));
    expect(isRejection(validateValue(null))).toBe(true);
    expect(isRejection(validateValue(Buffer.alloc(0)))).toBe(true);
  });

  it('accepts a message exactly when the contract does, with the exact amount in cents', () => {
    fc.assert(
      fc.property(message, (m) => {
        const result = validateValue(utf8(messageText(m)));
        expectClassified(result);
        const expected = expectedCents(m);
        if (expected === undefined) {
          expect(isRejection(result), `accepted ${messageText(m)}`).toBe(true);
        } else {
          expect(result).toEqual({ branch: m.branch, currency: m.currency, cents: Number(expected) });
        }
      }),
      { numRuns: 3000 },
    );
  });

  // These parse to 0 (or -0) as doubles, but their exact values have hundreds of decimal places.
  it.each(['1e-400', '-1e-400', '0.4e-324', '4.9e-325', '0.000001e-320'])(
    'rejects %s, a nonzero amount that underflows to zero, for its decimal places',
    (amount) => {
      const result = validateValue(utf8(`{"branch":"Kazan","currency":"RUB","amount":${amount}}`));
      expect(result).toMatchObject({ code: REJECTION_CODES.amountPrecision });
    },
  );

  it('accepts every boundary number the contract allows and rejects the others', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...BOUNDARY_NUMBERS), fc.double(), fc.integer()),
        fc.constantFrom('RUB', 'USD'),
        (amount, currency) => {
          const text = JSON.stringify(amount);
          const m: Message = { branch: 'Kazan', currency, amount: text, id: undefined, ts: undefined };
          const result = validateValue(utf8(messageText(m)));
          expectClassified(result);
          const reading = readCents(text);
          if (reading.kind === 'cents') {
            expect(result).toEqual({ branch: 'Kazan', currency, cents: Number(reading.cents) });
          } else {
            expect(isRejection(result)).toBe(true);
          }
        },
      ),
      RUNS,
    );
  });
});

const base64Like = fc.oneof(
  fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes).toString('base64')),
  fc.string({ maxLength: 40 }),
  fc.jsonValue({ maxDepth: 1 }),
);

/** Record entries close to the MSK shape, with any field missing, mistyped or out of range. */
const recordEntry = fc.oneof(
  fc.record(
    {
      topic: fc.oneof(fc.constantFrom('transaction', 'a-b-c', ''), fc.jsonValue({ maxDepth: 1 })),
      partition: fc.oneof(
        fc.nat({ max: 5 }),
        fc.constantFrom(-1, 1.5, 2_147_483_648, Number.NaN),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      offset: fc.oneof(
        fc.nat(),
        fc.constantFrom(-1, 0.5, Number.MAX_SAFE_INTEGER + 1, Number.POSITIVE_INFINITY),
        fc.string({ maxLength: 5 }),
      ),
      timestamp: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 5 })),
      timestampType: fc.constantFrom('CREATE_TIME', 'LOG_APPEND_TIME'),
      key: base64Like,
      value: base64Like,
      headers: fc.oneof(
        fc.array(fc.dictionary(fc.string({ maxLength: 8 }), fc.array(fc.integer({ min: -5, max: 300 }))), {
          maxLength: 3,
        }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
    },
    { requiredKeys: [] },
  ),
  fc.anything({ maxDepth: 2 }),
);

const eventLike = fc.oneof(
  fc.record({
    eventSource: fc.constant('aws:kafka'),
    records: fc.dictionary(
      fc.oneof(
        fc.constantFrom('transaction-0', 'transaction-1', 'my-topic-12', 'bad', '-3', 'x-'),
        fc.string(),
      ),
      fc.oneof(
        { arbitrary: fc.array(recordEntry, { maxLength: 6 }), weight: 5 },
        fc.anything({ maxDepth: 1 }),
      ),
      { maxKeys: 4 },
    ),
  }),
  fc.anything({ maxDepth: 3 }),
);

describe('decodeMskEvent on arbitrary input', () => {
  it('never throws, and accounts for every entry as a record or as undecodable with a reason', () => {
    fc.assert(
      fc.property(eventLike, (event) => {
        const { records, undecodable } = decodeMskEvent(event);
        const groups = (event as { records?: unknown } | null)?.records;
        let entries = 0;
        let nonArrayGroups = 0;
        if (typeof groups === 'object' && groups !== null && !Array.isArray(groups)) {
          for (const group of Object.values(groups)) {
            if (Array.isArray(group)) entries += group.length;
            else nonArrayGroups += 1;
          }
        }
        expect(records.length + undecodable.length).toBe(entries + nonArrayGroups);
        for (const entry of undecodable) expect(entry.reason.trim()).not.toBe('');
        for (const record of records) {
          expect(record.topic).not.toBe('');
          expect(Number.isSafeInteger(record.partition) && record.partition >= 0).toBe(true);
          expect(Number.isSafeInteger(record.offset) && record.offset >= 0).toBe(true);
          expect(record.value === null || Buffer.isBuffer(record.value)).toBe(true);
          expectClassified(validateValue(record.value));
        }
      }),
      RUNS,
    );
  });

  it('round-trips well-formed records, bytes unchanged', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            partition: fc.nat({ max: 2 }),
            offset: fc.nat({ max: 1_000_000 }),
            key: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null }),
            value: fc.option(fc.uint8Array({ maxLength: 60 }), { nil: null }),
          }),
          { maxLength: 20 },
        ),
        (entries) => {
          const byPartition = new Map<number, typeof entries>();
          for (const entry of entries)
            byPartition.set(entry.partition, [...(byPartition.get(entry.partition) ?? []), entry]);
          const grouped: Record<string, unknown[]> = {};
          for (const [partition, list] of byPartition) {
            grouped[`transaction-${partition}`] = list.map((entry) => ({
              topic: 'transaction',
              partition,
              offset: entry.offset,
              timestamp: 1_700_000_000_000,
              timestampType: 'CREATE_TIME',
              ...(entry.key === null ? {} : { key: Buffer.from(entry.key).toString('base64') }),
              ...(entry.value === null ? {} : { value: Buffer.from(entry.value).toString('base64') }),
              headers: [],
            }));
          }
          const expected = [...byPartition.values()].flat();

          const { records, undecodable } = decodeMskEvent({ eventSource: 'aws:kafka', records: grouped });

          expect(undecodable).toEqual([]);
          expect(
            records.map((r) => ({ partition: r.partition, offset: r.offset, key: r.key, value: r.value })),
          ).toEqual(
            expected.map((e) => ({
              partition: e.partition,
              offset: e.offset,
              key: e.key === null ? null : Buffer.from(e.key),
              value: e.value === null ? null : Buffer.from(e.value),
            })),
          );
        },
      ),
      RUNS,
    );
  });
});
