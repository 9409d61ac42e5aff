import { describe, expect, it } from 'vitest';
import {
  isRejection,
  MAX_ABS_AMOUNT,
  REJECTION_CODES,
  type RejectionCode,
  storable,
  validateValue,
} from '../../lambda/aggregator/validate';
import { MAX_BRANCH_LENGTH } from '../../lambda/shared/transaction';

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

function codeOf(value: Buffer | null): RejectionCode | 'accepted' {
  const result = validateValue(value);
  return isRejection(result) ? result.code : 'accepted';
}

describe('validateValue accepts the message contract', () => {
  it.each([
    [
      '{"id":"6d0f","ts":"2024-01-01T00:00:00Z","branch":"Kazan","currency":"RUB","amount":-42}',
      'Kazan',
      'RUB',
      -4200,
    ],
    ['{"branch":"SPB","currency":"USD","amount":99}', 'SPB', 'USD', 9900],
    ['{"branch":"Surgut","currency":"EUR","amount":0.1}', 'Surgut', 'EUR', 10],
    ['{"branch":"Surgut","currency":"EUR","amount":-0.07}', 'Surgut', 'EUR', -7],
    ['{"branch":"Surgut","currency":"GBP","amount":12.50}', 'Surgut', 'GBP', 1250],
    ['{"branch":"Surgut","currency":"GBP","amount":1.500}', 'Surgut', 'GBP', 150],
    ['{"branch":"Surgut","currency":"GBP","amount":1e-2}', 'Surgut', 'GBP', 1],
    ['{"branch":"Surgut","currency":"GBP","amount":1000e-3}', 'Surgut', 'GBP', 100],
    ['{"branch":"Surgut","currency":"GBP","amount":-0}', 'Surgut', 'GBP', 0],
    ['{"branch":"Novosibirsk","currency":"RUB","amount":1000000000000}', 'Novosibirsk', 'RUB', 1e14],
    [
      '{"branch":"Novosibirsk","currency":"RUB","amount":-999999999999.99}',
      'Novosibirsk',
      'RUB',
      -99999999999999,
    ],
    [
      '{ "branch" : "Kazan" , "currency" : "RUB" , "amount" : 3.25 , "extra": {"nested": true} }',
      'Kazan',
      'RUB',
      325,
    ],
    ['\uFEFF{"branch":"Kazan","currency":"RUB","amount":1}', 'Kazan', 'RUB', 100],
    ['{"branch":"Kazan","currency":"RUB","amount":1.0000000000000001,"amount":2}', 'Kazan', 'RUB', 200],
    ['{"branch":"Kazan","currency":"RUB","amount":0e-4}', 'Kazan', 'RUB', 0],
    ['{"branch":"Kazan","currency":"RUB","amount":-0.000}', 'Kazan', 'RUB', 0],
    ['{"branch":"Казань","currency":"RUB","amount":1}', 'Казань', 'RUB', 100],
    ['{"branch":"K","currency":"USD","amount":0.1,"meta":{"amount":0.10000000000000001}}', 'K', 'USD', 10],
    ['{"branch":"K","currency":"USD","amount":0.1,"meta":[{"amount":1e-400}]}', 'K', 'USD', 10],
    [
      '{"branch":"\\"amount\\":0.10000000000000001","currency":"USD","amount":0.1}',
      '"amount":0.10000000000000001',
      'USD',
      10,
    ],
    ['{"branch":"K","currency":"USD","amount":0.10000000000000001,"amount":0.1}', 'K', 'USD', 10],
    ['{"branch":"K","currency":"USD","amount":0.1,"amount2":1234567890.123456}', 'K', 'USD', 10],
  ])('%s', (text, branch, currency, cents) => {
    const result = validateValue(utf8(text));
    expect(result).toEqual({ branch, currency, cents });
    expect(Object.is((result as { cents: number }).cents, -0)).toBe(false);
  });
});

describe('validateValue rejects every invalid class with a specific reason', () => {
  const cases: Array<[string, Buffer | null, RejectionCode, RegExp]> = [
    ['tombstone (null value)', null, REJECTION_CODES.tombstone, /tombstone/],
    ['empty value', Buffer.alloc(0), REJECTION_CODES.emptyValue, /empty/],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), REJECTION_CODES.invalidUtf8, /UTF-8/],
    ['truncated multi-byte UTF-8', Buffer.from([0x22, 0xd0, 0x22]), REJECTION_CODES.invalidUtf8, /UTF-8/],
    ['bad JSON', utf8('{"branch":"Kazan",'), REJECTION_CODES.invalidJson, /not JSON/],
    ['JSON array', utf8('[1,2]'), REJECTION_CODES.notAnObject, /an array, not an object/],
    ['JSON string', utf8('"Kazan"'), REJECTION_CODES.notAnObject, /not an object/],
    ['JSON number', utf8('42'), REJECTION_CODES.notAnObject, /not an object/],
    ['JSON null', utf8('null'), REJECTION_CODES.notAnObject, /null, not an object/],
    [
      'missing branch',
      utf8('{"currency":"RUB","amount":1}'),
      REJECTION_CODES.invalidBranch,
      /must be a string/,
    ],
    [
      'numeric branch',
      utf8('{"branch":7,"currency":"RUB","amount":1}'),
      REJECTION_CODES.invalidBranch,
      /number 7/,
    ],
    [
      'empty branch',
      utf8('{"branch":"","currency":"RUB","amount":1}'),
      REJECTION_CODES.invalidBranch,
      /empty/,
    ],
    [
      'blank branch',
      utf8('{"branch":"  ","currency":"RUB","amount":1}'),
      REJECTION_CODES.invalidBranch,
      /empty/,
    ],
    [
      'NUL in branch',
      utf8('{"branch":"Ka\\u0000zan","currency":"RUB","amount":1}'),
      REJECTION_CODES.invalidBranch,
      /NUL/,
    ],
    [
      'lone surrogate in branch',
      utf8('{"branch":"\\ud800","currency":"RUB","amount":1}'),
      REJECTION_CODES.invalidBranch,
      /surrogate/,
    ],
    [
      'overlong branch',
      utf8(`{"branch":"${'x'.repeat(MAX_BRANCH_LENGTH + 1)}","currency":"RUB","amount":1}`),
      REJECTION_CODES.invalidBranch,
      /longer than/,
    ],
    [
      'missing currency',
      utf8('{"branch":"Kazan","amount":1}'),
      REJECTION_CODES.invalidCurrency,
      /three upper-case/,
    ],
    [
      'lower-case currency',
      utf8('{"branch":"Kazan","currency":"rub","amount":1}'),
      REJECTION_CODES.invalidCurrency,
      /"rub"/,
    ],
    [
      'four-letter currency',
      utf8('{"branch":"Kazan","currency":"RUBL","amount":1}'),
      REJECTION_CODES.invalidCurrency,
      /RUBL/,
    ],
    [
      'numeric currency',
      utf8('{"branch":"Kazan","currency":643,"amount":1}'),
      REJECTION_CODES.invalidCurrency,
      /643/,
    ],
    ['missing amount', utf8('{"branch":"Kazan","currency":"RUB"}'), REJECTION_CODES.invalidAmount, /nothing/],
    [
      'string amount',
      utf8('{"branch":"Kazan","currency":"RUB","amount":"42"}'),
      REJECTION_CODES.invalidAmount,
      /"42"/,
    ],
    [
      'null amount',
      utf8('{"branch":"Kazan","currency":"RUB","amount":null}'),
      REJECTION_CODES.invalidAmount,
      /null/,
    ],
    [
      'boolean amount',
      utf8('{"branch":"Kazan","currency":"RUB","amount":true}'),
      REJECTION_CODES.invalidAmount,
      /boolean/,
    ],
    [
      'infinite amount',
      utf8('{"branch":"Kazan","currency":"RUB","amount":1e400}'),
      REJECTION_CODES.amountNotFinite,
      /finite/,
    ],
    [
      '-infinite amount',
      utf8('{"branch":"Kazan","currency":"RUB","amount":-1e400}'),
      REJECTION_CODES.amountNotFinite,
      /finite/,
    ],
    [
      'amount above the maximum',
      utf8(`{"branch":"Kazan","currency":"RUB","amount":${MAX_ABS_AMOUNT + 0.01}}`),
      REJECTION_CODES.amountOutOfRange,
      /at most/,
    ],
    [
      'amount far out of range',
      utf8('{"branch":"Kazan","currency":"RUB","amount":-1e300}'),
      REJECTION_CODES.amountOutOfRange,
      /at most/,
    ],
    [
      'three decimals',
      utf8('{"branch":"Kazan","currency":"RUB","amount":1.005}'),
      REJECTION_CODES.amountPrecision,
      /2 decimal/,
    ],
    [
      'tiny fraction',
      utf8('{"branch":"Kazan","currency":"RUB","amount":1e-7}'),
      REJECTION_CODES.amountPrecision,
      /2 decimal/,
    ],
    [
      'digits a double cannot hold',
      utf8('{"branch":"Kazan","currency":"RUB","amount":1.0000000000000001}'),
      REJECTION_CODES.amountPrecision,
      /2 decimal/,
    ],
    [
      'underflow to zero',
      utf8('{"branch":"Kazan","currency":"RUB","amount":1e-400}'),
      REJECTION_CODES.amountPrecision,
      /2 decimal/,
    ],
    [
      'hidden digits written before other fields',
      utf8('{"amount":1.0000000000000001,"branch":"Kazan","currency":"RUB"}'),
      REJECTION_CODES.amountPrecision,
      /2 decimal/,
    ],
    [
      'hidden digits in the duplicate key that JSON.parse keeps',
      utf8('{"branch":"Kazan","currency":"RUB","amount":2,"amount":1.0000000000000001}'),
      REJECTION_CODES.amountPrecision,
      /2 decimal/,
    ],
    [
      'hidden digits with a short nested amount after it',
      utf8('{"branch":"K","currency":"USD","amount":0.10000000000000001,"meta":{"amount":5}}'),
      REJECTION_CODES.amountPrecision,
      /2 decimal/,
    ],
    [
      'hidden digits before trailing whitespace',
      utf8('{"branch":"K","currency":"USD","amount" : 0.10000000000000001 }\r\n'),
      REJECTION_CODES.amountPrecision,
      /2 decimal/,
    ],
    [
      'hidden digits under an escaped key',
      utf8('{"branch":"K","currency":"USD","\\u0061mount":0.10000000000000001}'),
      REJECTION_CODES.amountPrecision,
      /2 decimal/,
    ],
    [
      'hidden digits with a string that looks like the amount after it',
      utf8('{"branch":"K","currency":"USD","amount":0.10000000000000001,"note":"\\"amount\\":0.1"}'),
      REJECTION_CODES.amountPrecision,
      /2 decimal/,
    ],
    [
      'exponent precision',
      utf8('{"branch":"Kazan","currency":"RUB","amount":1234e-5}'),
      REJECTION_CODES.amountPrecision,
      /2 decimal/,
    ],
    [
      'numeric id',
      utf8('{"id":5,"branch":"Kazan","currency":"RUB","amount":1}'),
      REJECTION_CODES.invalidId,
      /id must be a string/,
    ],
    [
      'null id',
      utf8('{"id":null,"branch":"Kazan","currency":"RUB","amount":1}'),
      REJECTION_CODES.invalidId,
      /null/,
    ],
    [
      'numeric ts',
      utf8('{"ts":1700000000,"branch":"Kazan","currency":"RUB","amount":1}'),
      REJECTION_CODES.invalidTs,
      /ts must be a string/,
    ],
    [
      'object ts',
      utf8('{"ts":{},"branch":"Kazan","currency":"RUB","amount":1}'),
      REJECTION_CODES.invalidTs,
      /an object/,
    ],
  ];

  it.each(cases)('%s', (_name, value, code, reason) => {
    const result = validateValue(value);
    expect(isRejection(result)).toBe(true);
    expect(result).toMatchObject({ code });
    expect((result as { reason: string }).reason).toMatch(reason);
  });

  it("covers every rejection code but the decoder's", () => {
    const covered = new Set(cases.map(([, , code]) => code));
    const fromValues = Object.values(REJECTION_CODES).filter(
      (code) => code !== REJECTION_CODES.malformedRecord,
    );
    expect([...covered].sort()).toEqual(fromValues.sort());
  });

  it('produces reasons PostgreSQL text can store, whatever the input', () => {
    const bad = validateValue(utf8('{"branch":"\u0000\ud800'));
    expect(codeOf(utf8('{"branch":"\u0000'))).toBe(REJECTION_CODES.invalidJson);
    const reason = (bad as { reason: string }).reason;
    expect(reason).not.toContain('\u0000');
    expect(storable(reason)).toBe(reason);
    expect(storable('a\u0000b\udc00c')).toBe('a\\u0000b\uFFFDc');
  });

  it('never throws on arbitrary bytes', () => {
    for (let seed = 0; seed < 2000; seed++) {
      const bytes = Buffer.from(Array.from({ length: seed % 40 }, (_, i) => (seed * 31 + i * 17) % 256));
      expect(() => validateValue(bytes)).not.toThrow();
    }
  });
});
