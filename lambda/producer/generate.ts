import { randomUUID } from 'node:crypto';
import { intEnv, listEnv } from '../shared/env';
import {
  branchProblem,
  DEFAULT_AMOUNT_RANGE,
  DEFAULT_BRANCHES,
  DEFAULT_CURRENCIES,
  isCurrencyCode,
  type Transaction,
} from '../shared/transaction';

export interface GeneratorConfig {
  readonly branches: readonly string[];
  readonly currencies: readonly string[];
  /** Inclusive lower bound of the integer amount. */
  readonly amountMin: number;
  /** Exclusive upper bound of the integer amount. */
  readonly amountMax: number;
}

/** Uniform in [0, 1), like `Math.random`; injectable so tests can pin the draws. */
export type RandomSource = () => number;

export interface GeneratorDeps {
  readonly random: RandomSource;
  readonly now: () => Date;
  readonly newId: () => string;
}

export const defaultGeneratorDeps: GeneratorDeps = {
  random: Math.random,
  now: () => new Date(),
  newId: randomUUID,
};

export interface KafkaMessage {
  readonly key: string;
  readonly value: string;
}

/** Bound on configured amounts: keeps every generated value an exact integer far inside `NUMERIC` and JSON. */
const AMOUNT_LIMIT = 1_000_000_000;

/** Checks a configuration against the message contract, so the generator cannot emit records the aggregator would reject. */
export function validateGeneratorConfig(config: GeneratorConfig): GeneratorConfig {
  if (config.branches.length === 0) {
    throw new Error('Producer branches must be a non-empty list of non-empty names');
  }
  for (const branch of config.branches) {
    const problem = branchProblem(branch);
    if (problem !== undefined) throw new Error(`Producer branches must be valid branch names: ${problem}`);
  }
  const badCurrency = config.currencies.find((currency) => !isCurrencyCode(currency));
  if (config.currencies.length === 0 || badCurrency !== undefined) {
    throw new Error(
      `Producer currencies must be three upper-case letters, got "${badCurrency ?? config.currencies.join(',')}"`,
    );
  }
  if (!Number.isInteger(config.amountMin) || !Number.isInteger(config.amountMax)) {
    throw new Error('Producer amount bounds must be integers');
  }
  if (config.amountMin >= config.amountMax) {
    throw new Error(
      `Producer amount range [${config.amountMin}, ${config.amountMax}) is empty: the minimum must be below the maximum`,
    );
  }
  return config;
}

export function generatorConfigFromEnv(): GeneratorConfig {
  const range = { min: -AMOUNT_LIMIT, max: AMOUNT_LIMIT };
  return validateGeneratorConfig({
    branches: listEnv('PRODUCER_BRANCHES', DEFAULT_BRANCHES),
    currencies: listEnv('PRODUCER_CURRENCIES', DEFAULT_CURRENCIES),
    amountMin: intEnv('PRODUCER_AMOUNT_MIN', DEFAULT_AMOUNT_RANGE.min, range),
    amountMax: intEnv('PRODUCER_AMOUNT_MAX', DEFAULT_AMOUNT_RANGE.max, range),
  });
}

/** An index in [0, length); clamped so an RNG that returns exactly 1 cannot step past the end. */
function pickIndex(random: RandomSource, length: number): number {
  return Math.min(Math.floor(random() * length), length - 1);
}

function pick<T>(items: readonly T[], random: RandomSource): T {
  const item = items[pickIndex(random, items.length)];
  if (item === undefined) {
    throw new Error('Cannot pick from an empty list');
  }
  return item;
}

export function generateTransaction(
  config: GeneratorConfig,
  deps: GeneratorDeps = defaultGeneratorDeps,
): Transaction {
  return {
    id: deps.newId(),
    ts: deps.now().toISOString(),
    branch: pick(config.branches, deps.random),
    currency: pick(config.currencies, deps.random),
    amount: config.amountMin + pickIndex(deps.random, config.amountMax - config.amountMin),
  };
}

/** Keyed by branch, so one branch's transactions stay in order on one partition. */
export function toKafkaMessage(transaction: Transaction): KafkaMessage {
  return { key: transaction.branch, value: JSON.stringify(transaction) };
}

export function generateMessages(
  count: number,
  config: GeneratorConfig,
  deps: GeneratorDeps = defaultGeneratorDeps,
): KafkaMessage[] {
  return Array.from({ length: count }, () => toKafkaMessage(generateTransaction(config, deps)));
}
