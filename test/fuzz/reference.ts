/**
 * An oracle for the message contract, written from the contract and not from lambda/aggregator: amounts are read
 * as exact decimals from their JSON text with BigInt arithmetic, never through a double.
 */

/** Largest accepted |amount| in cents (1e12 currency units). */
export const MAX_ABS_CENTS = 100_000_000_000_000n;

export type CentsReading =
  | { readonly kind: 'cents'; readonly cents: bigint }
  | { readonly kind: 'precision' }
  | { readonly kind: 'range' }
  | { readonly kind: 'syntax' };

const JSON_NUMBER = /^(-?)(0|[1-9]\d*)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * The exact value of a JSON number text in integer cents; `precision` when it has more than two decimal places,
 * `range` when |value| is above 1e12 (checked before any huge power of ten is built).
 */
export function readCents(text: string): CentsReading {
  const match = JSON_NUMBER.exec(text);
  if (match === null) return { kind: 'syntax' };
  const [, sign = '', whole = '', fraction = '', exponentText = '0'] = match;
  let digits = BigInt(`${whole}${fraction}`);
  // value × 100 = digits × 10^scale
  let scale = Number(exponentText) - fraction.length + 2;
  if (digits === 0n) return { kind: 'cents', cents: 0n };
  while (scale < 0 && digits % 10n === 0n) {
    digits /= 10n;
    scale += 1;
  }
  if (scale < 0) return { kind: 'precision' };
  // 10^15 cents is already ten times the limit, whatever the digits.
  if (scale > 15) return { kind: 'range' };
  const cents = digits * 10n ** BigInt(scale);
  if (cents > MAX_ABS_CENTS) return { kind: 'range' };
  return { kind: 'cents', cents: sign === '-' ? -cents : cents };
}

/** Integer cents as decimal text in currency units, as PostgreSQL prints NUMERIC(38, 2). */
export function centsToText(cents: bigint): string {
  const negative = cents < 0n;
  const abs = negative ? -cents : cents;
  return `${negative ? '-' : ''}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether a branch name is one the pipeline stores: non-blank, at most 200 code units, storable as text. */
export function isAcceptableBranch(branch: unknown): branch is string {
  return (
    typeof branch === 'string' &&
    branch.trim() !== '' &&
    branch.length <= 200 &&
    !branch.includes('\u0000') &&
    !LONE_SURROGATE.test(branch)
  );
}

export function isAcceptableCurrency(currency: unknown): currency is string {
  return typeof currency === 'string' && /^[A-Z]{3}$/.test(currency);
}

/** Sum of cents per `"branch/currency"`. */
export function sumsByKey(
  items: Iterable<{ readonly branch: string; readonly currency: string; readonly cents: bigint }>,
): Map<string, bigint> {
  const sums = new Map<string, bigint>();
  for (const { branch, currency, cents } of items) {
    const key = `${branch}/${currency}`;
    sums.set(key, (sums.get(key) ?? 0n) + cents);
  }
  return sums;
}
