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
