import fc from 'fast-check';

/** Amount texts the contract accepts: at most two decimals, |amount| <= 1e12, written in varied forms. */
export const validAmountText = fc
  .tuple(fc.bigInt({ min: -100_000_000_000_000n, max: 100_000_000_000_000n }), fc.integer({ min: 0, max: 4 }))
  .map(([cents, form]) => {
    const abs = cents < 0n ? -cents : cents;
    const sign = cents < 0n ? '-' : '';
    const units = abs / 100n;
    const rest = (abs % 100n).toString().padStart(2, '0');
    switch (form) {
      case 0:
        return `${sign}${units}.${rest}`;
      case 1:
        return `${sign}${abs}e-2`;
      case 2:
        return `${sign}${units}.${rest}000`;
      case 3:
        return rest === '00' ? `${sign}${units}` : `${sign}${units}.${rest}`;
      default:
        // JSON forbids leading zeros, so zero is written without the extra digit.
        return abs === 0n ? '0E-3' : `${sign}${abs}0E-3`;
    }
  });

/** Valid amounts drawn mostly from everyday sizes, sometimes from the whole accepted range. */
export const everydayAmountText = fc.oneof(
  { arbitrary: validAmountText, weight: 1 },
  {
    arbitrary: fc.integer({ min: -10_000, max: 10_000 }).map((cents) => {
      const abs = Math.abs(cents);
      return `${cents < 0 ? '-' : ''}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
    }),
    weight: 4,
  },
);

export interface ValidMessage {
  readonly branch: string;
  readonly currency: string;
  /** The amount exactly as written in the JSON text. */
  readonly amount: string;
}

/** Valid messages over a few branches and currencies, so that groups collect several records. */
export const validMessage: fc.Arbitrary<ValidMessage> = fc.record({
  branch: fc.oneof(
    { arbitrary: fc.constantFrom('Kazan', 'SPB', 'Novosibirsk', 'Surgut'), weight: 5 },
    {
      arbitrary: fc.constantFrom(
        'Санкт-Петербург',
        '東京',
        'a'.repeat(200),
        ' padded ',
        'emoji \uD83D\uDE00',
      ),
      weight: 1,
    },
  ),
  currency: fc.constantFrom('RUB', 'USD', 'EUR', 'GBP'),
  amount: everydayAmountText,
});

export function validMessageText(message: ValidMessage): string {
  return `{"branch":${JSON.stringify(message.branch)},"currency":"${message.currency}","amount":${message.amount}}`;
}

/** Values the contract rejects, one of each kind. */
export const MALFORMED_VALUES: readonly (Buffer | null)[] = [
  null,
  Buffer.alloc(0),
  Buffer.from([0xff, 0xfe, 0x00]),
  Buffer.from('not json'),
  Buffer.from('[1,2,3]'),
  Buffer.from('{"branch":"","currency":"RUB","amount":1}'),
  Buffer.from('{"branch":"Kazan","currency":"rub","amount":1}'),
  Buffer.from('{"branch":"Kazan","currency":"RUB","amount":"1"}'),
  Buffer.from('{"branch":"Kazan","currency":"RUB","amount":1.001}'),
  Buffer.from('{"branch":"Kazan","currency":"RUB","amount":1e13}'),
  Buffer.from('{"branch":"Kazan","currency":"RUB","amount":1e400}'),
];
