import { branchProblem, isCurrencyCode, LONE_SURROGATE } from '../shared/transaction';

/**
 * Largest accepted |amount|, in currency units. Cents stay far below Number.MAX_SAFE_INTEGER (1e14 < 9e15), so
 * the conversion to integer cents is exact, and NUMERIC(38, 2) holds any sum of them.
 */
export const MAX_ABS_AMOUNT = 1_000_000_000_000;

export const REJECTION_CODES = {
  tombstone: 'tombstone',
  emptyValue: 'empty_value',
  invalidUtf8: 'invalid_utf8',
  invalidJson: 'invalid_json',
  notAnObject: 'not_an_object',
  invalidBranch: 'invalid_branch',
  invalidCurrency: 'invalid_currency',
  invalidAmount: 'invalid_amount',
  amountNotFinite: 'amount_not_finite',
  amountOutOfRange: 'amount_out_of_range',
  amountPrecision: 'amount_precision',
  invalidId: 'invalid_id',
  invalidTs: 'invalid_ts',
  /** The event entry's own topic or partition was unusable (see KafkaRecord.malformed). */
  malformedRecord: 'malformed_record',
} as const;

export type RejectionCode = (typeof REJECTION_CODES)[keyof typeof REJECTION_CODES];

/** An accepted transaction, amount in integer cents so that sums are exact. */
export interface ValidTransaction {
  readonly branch: string;
  readonly currency: string;
  readonly cents: number;
}

export interface Rejection {
  readonly code: RejectionCode;
  readonly reason: string;
}

export type Validation = ValidTransaction | Rejection;

export function isRejection(validation: Validation): validation is Rejection {
  return (validation as Rejection).code !== undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

function reject(code: RejectionCode, reason: string): Rejection {
  return { code, reason };
}

/**
 * Checks one Kafka value against the message contract. Never throws: every way a value can be wrong yields a
 * rejection with a code (for counting) and a reason (for the operator reading rejected_transactions).
 */
export function validateValue(value: Buffer | null): Validation {
  if (value === null) return reject(REJECTION_CODES.tombstone, 'value is null (tombstone)');
  if (value.length === 0) return reject(REJECTION_CODES.emptyValue, 'value is empty');
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    return reject(REJECTION_CODES.invalidUtf8, 'value is not valid UTF-8');
  }
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (error) {
    return reject(REJECTION_CODES.invalidJson, `value is not JSON: ${storable((error as Error).message)}`);
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    return reject(REJECTION_CODES.notAnObject, `value is JSON ${describe(message)}, not an object`);
  }
  const { branch, currency, amount, id, ts } = message as Record<string, unknown>;

  if (typeof branch !== 'string') {
    return reject(REJECTION_CODES.invalidBranch, `branch must be a string, got ${describe(branch)}`);
  }
  if (!validBranches.has(branch)) {
    const problem = branchProblem(branch);
    if (problem !== undefined) return reject(REJECTION_CODES.invalidBranch, problem);
    // A stream has a handful of branches: remember them rather than re-scan each name per record.
    if (validBranches.size >= BRANCH_CACHE_SIZE) validBranches.clear();
    validBranches.add(branch);
  }

  if (typeof currency !== 'string' || !isCurrencyCode(currency)) {
    return reject(
      REJECTION_CODES.invalidCurrency,
      `currency must be three upper-case letters, got ${describe(currency)}`,
    );
  }

  if (typeof amount !== 'number') {
    return reject(REJECTION_CODES.invalidAmount, `amount must be a number, got ${describe(amount)}`);
  }
  // JSON has no Infinity or NaN, but a literal such as 1e400 parses to Infinity.
  if (!Number.isFinite(amount)) return reject(REJECTION_CODES.amountNotFinite, 'amount is not finite');
  if (amount > MAX_ABS_AMOUNT || amount < -MAX_ABS_AMOUNT) {
    return reject(REJECTION_CODES.amountOutOfRange, `|amount| must be at most ${MAX_ABS_AMOUNT}`);
  }
  const cents = Math.round(amount * 100);
  if (cents / 100 !== amount || hasExtraDigits(text)) {
    return reject(REJECTION_CODES.amountPrecision, 'amount has more than 2 decimal places');
  }

  if (id !== undefined && typeof id !== 'string') {
    return reject(REJECTION_CODES.invalidId, `id must be a string when present, got ${describe(id)}`);
  }
  if (ts !== undefined && typeof ts !== 'string') {
    return reject(REJECTION_CODES.invalidTs, `ts must be a string when present, got ${describe(ts)}`);
  }
  // -0 would otherwise survive into sums as a distinct value.
  return { branch, currency, cents: cents === 0 ? 0 : cents };
}

const BRANCH_CACHE_SIZE = 1024;
const validBranches = new Set<string>();

/**
 * A double cannot tell 1 from 1.0000000000000001, so the numeric check alone would accept digits the sender
 * wrote but that cannot be summed: the digits of the top-level `amount` as written are counted, never those of
 * a nested `amount` or of one inside a string.
 */
function hasExtraDigits(text: string): boolean {
  // Producers write amount last. When the last `"amount"` is a key (its quote not escaped) whose number is
  // followed by the brace that ends the text, it is the top-level object's last member: the key JSON.parse
  // kept. Anything else is scanned in full.
  const key = text.lastIndexOf('"amount"');
  if (key > 0 && text.charCodeAt(key - 1) !== 92 /* \ */) {
    const start = numberStart(text, key + 8);
    if (start !== -1) {
      let i = start;
      let exponent = false;
      for (let code = text.charCodeAt(i); isNumberChar(code); code = text.charCodeAt(++i)) {
        if (code === 101 || code === 69) exponent = true;
      }
      const end = i;
      while (isJsonSpace(text.charCodeAt(i))) i++;
      if (text.charCodeAt(i) === 125 /* } */ && (i === text.length - 1 || onlySpaceAfter(text, i + 1))) {
        // A decimal of at most 15 significant digits survives the trip through a double (DBL_DIG), so for a
        // short token the numeric check has decided; not so with an exponent (1e-400 is 0).
        return (exponent || end - start > 15) && extraDigits(text.slice(start, end));
      }
    }
  }
  return topLevelExtraDigits(text, 'amount');
}

/**
 * hasExtraDigits for the value of `key` in the top-level object of `text`, which JSON.parse has accepted (so
 * every string is closed and every bracket matched). Keys are compared unescaped, as JSON.parse compares them:
 * `"\u0061mount"` is `amount`.
 */
function topLevelExtraDigits(text: string, key: string): boolean {
  let depth = 0;
  let extra = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 123 /* { */ || code === 91 /* [ */) depth++;
    else if (code === 125 /* } */ || code === 93 /* ] */) depth--;
    else if (code === 34 /* " */) {
      const open = i;
      let escaped = false;
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i++) {
        if (text.charCodeAt(i) === 92 /* \ */) {
          escaped = true;
          i++;
        }
      }
      if (depth !== 1) continue;
      const name = escaped ? (JSON.parse(text.slice(open, i + 1)) as string) : text.slice(open + 1, i);
      if (name !== key) continue;
      // Only a key is followed by a colon; the last duplicate is the one JSON.parse kept.
      const value = numberStart(text, i + 1);
      if (value === -1) continue;
      let end = value;
      while (isNumberChar(text.charCodeAt(end))) end++;
      extra = extraDigits(text.slice(value, end));
      i = end - 1;
    }
  }
  return extra;
}

/** Where the value after the colon that follows `from` starts; -1 if there is no colon. */
function numberStart(text: string, from: number): number {
  let i = from;
  while (isJsonSpace(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== 58 /* : */) return -1;
  i++;
  while (isJsonSpace(text.charCodeAt(i))) i++;
  return i;
}

/** Whether nothing but whitespace follows `from`. */
function onlySpaceAfter(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) if (!isJsonSpace(text.charCodeAt(i))) return false;
  return true;
}

/** Whether the number written as `token` has more than 2 decimal places. */
function extraDigits(token: string): boolean {
  const exponentAt = token.search(/[eE]/);
  const mantissa = exponentAt === -1 ? token : token.slice(0, exponentAt);
  const power = exponentAt === -1 ? 0 : Number(token.slice(exponentAt + 1));
  const dot = mantissa.indexOf('.');
  const fractionLength = dot === -1 ? 0 : mantissa.length - dot - 1;
  // The value is digits × 10^(power − fractionLength); trailing zeros of the digits add no decimal place.
  let trailingZeros = 0;
  let significant = false;
  for (let j = mantissa.length - 1; j >= 0; j--) {
    const code = mantissa.charCodeAt(j);
    if (code === 48 /* 0 */) trailingZeros++;
    else if (code !== 46 /* . */) {
      significant = code >= 49 && code <= 57;
      break;
    }
  }
  // Zero, however written (0e-4, 0.000), has no decimal places.
  return significant && fractionLength - trailingZeros - power > 2;
}

/**
 * Text PostgreSQL can store: NUL escaped, lone surrogates (which UTF-8 cannot encode) replaced. The JSON
 * parser's message quotes the input, and header keys come from the producer.
 */
export function storable(text: string): string {
  return text.replaceAll('\u0000', '\\u0000').replace(LONE_SURROGATES, '\uFFFD');
}

function isJsonSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13;
}

function isNumberChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) || code === 45 || code === 43 || code === 46 || code === 101 || code === 69
  );
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') {
    return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  }
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
