/**
 * The message contract: the Kafka value is UTF-8 JSON, the key is the branch.
 * `id` and `ts` are optional so that messages from the original producer (branch, currency, amount) stay valid.
 */
export interface Transaction {
  readonly id?: string;
  readonly ts?: string;
  readonly branch: string;
  readonly currency: string;
  readonly amount: number;
}

/** The original generator's branches. */
export const DEFAULT_BRANCHES = ['Kazan', 'SPB', 'Novosibirsk', 'Surgut'] as const;

/** The original generator's currencies. */
export const DEFAULT_CURRENCIES = ['RUB', 'USD', 'EUR', 'GBP'] as const;

/** The original generator draws integer amounts from [-100, 100). */
export const DEFAULT_AMOUNT_RANGE = { min: -100, max: 100 } as const;

/** The original generator sends about 100 messages a second. */
export const DEFAULT_MESSAGES_PER_SECOND = 100;

export const DEFAULT_TOPIC = 'transaction';

/** The event source mapping's consumer group id and the key of the aggregator's offset ledger. */
export const DEFAULT_CONSUMER_GROUP_ID = 'transaction-aggregator';

/**
 * Longest accepted branch name, in UTF-16 code units. The name is part of a B-tree key; PostgreSQL rejects keys
 * above about 2.7 KB, which would fail the whole batch instead of one record.
 */
export const MAX_BRANCH_LENGTH = 200;

/** A UTF-16 surrogate without its other half: UTF-8 cannot encode it. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `branch` is not a valid branch name; undefined when it is one. */
export function branchProblem(branch: string): string | undefined {
  if (branch.trim() === '') return 'branch is empty';
  if (branch.length > MAX_BRANCH_LENGTH) return `branch is longer than ${MAX_BRANCH_LENGTH} characters`;
  // PostgreSQL text cannot hold NUL, and a lone surrogate would be stored as U+FFFD, merging distinct branches.
  if (branch.includes('\u0000')) return 'branch contains a NUL character';
  if (LONE_SURROGATE.test(branch)) return 'branch contains a lone surrogate';
  return undefined;
}

/** Three upper-case letters, /^[A-Z]{3}$/, without the regular expression engine: called once per record. */
export function isCurrencyCode(currency: string): boolean {
  if (currency.length !== 3) return false;
  for (let i = 0; i < 3; i++) {
    const code = currency.charCodeAt(i);
    if (code < 65 || code > 90) return false;
  }
  return true;
}
