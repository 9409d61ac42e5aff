import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isRejection, REJECTION_CODES, validateValue } from '../../lambda/aggregator/validate';
import {
  type GeneratorConfig,
  type GeneratorDeps,
  generateMessages,
  generateTransaction,
  generatorConfigFromEnv,
  toKafkaMessage,
  validateGeneratorConfig,
} from '../../lambda/producer/generate';
import {
  DEFAULT_AMOUNT_RANGE,
  DEFAULT_BRANCHES,
  DEFAULT_CURRENCIES,
  type Transaction,
} from '../../lambda/shared/transaction';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const DEFAULT_CONFIG: GeneratorConfig = {
  branches: DEFAULT_BRANCHES,
  currencies: DEFAULT_CURRENCIES,
  amountMin: DEFAULT_AMOUNT_RANGE.min,
  amountMax: DEFAULT_AMOUNT_RANGE.max,
};

/** The message contract's validity rules, as the aggregator applies them. */
function assertContract(value: unknown, config: GeneratorConfig): asserts value is Transaction {
  const record = value as Record<string, unknown>;
  expect(typeof record.branch).toBe('string');
  expect(record.branch).not.toBe('');
  expect(record.currency).toMatch(/^[A-Z]{3}$/);
  expect(Number.isInteger(record.amount)).toBe(true);
  expect(record.amount as number).toBeGreaterThanOrEqual(config.amountMin);
  expect(record.amount as number).toBeLessThan(config.amountMax);
  expect(record.id).toMatch(UUID);
  expect(record.ts).toMatch(ISO_8601);
  expect(Object.keys(record).sort()).toEqual(['amount', 'branch', 'currency', 'id', 'ts']);
}

/** Replays the given draws in a loop: a deterministic stand-in for Math.random. */
function scriptedDeps(draws: readonly number[]): GeneratorDeps {
  let index = 0;
  let id = 0;
  return {
    random: () => draws[index++ % draws.length] ?? 0,
    now: () => new Date('2024-05-01T12:00:00.000Z'),
    newId: () => `00000000-0000-4000-8000-${String(id++).padStart(12, '0')}`,
  };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('generateMessages', () => {
  it('emits messages that satisfy the contract, keyed by branch, with unique ids', () => {
    // Act
    const messages = generateMessages(10_000, DEFAULT_CONFIG);

    // Assess
    for (const message of messages.slice(0, 2_000)) {
      const value: unknown = JSON.parse(message.value);
      assertContract(value, DEFAULT_CONFIG);
      expect(message.key).toBe(value.branch);
    }
    const ids = new Set(messages.map((message) => (JSON.parse(message.value) as Transaction).id));
    expect(ids.size).toBe(10_000);
  });

  it('covers every default branch, currency and both ends of the amount range', () => {
    const values = generateMessages(10_000, DEFAULT_CONFIG).map((m) => JSON.parse(m.value) as Transaction);

    expect(new Set(values.map((v) => v.branch))).toEqual(new Set(DEFAULT_BRANCHES));
    expect(new Set(values.map((v) => v.currency))).toEqual(new Set(DEFAULT_CURRENCIES));
    expect(Math.min(...values.map((v) => v.amount))).toBe(-100);
    expect(Math.max(...values.map((v) => v.amount))).toBe(99);
  });

  it('stays inside the contract for any random draws, including the extremes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.integer({ min: -1_000, max: 1_000 }),
        fc.integer({ min: 1, max: 1_000 }),
        (draws, amountMin, width) => {
          const config = { ...DEFAULT_CONFIG, amountMin, amountMax: amountMin + width };
          for (const message of generateMessages(20, config, scriptedDeps(draws))) {
            assertContract(JSON.parse(message.value), config);
          }
        },
      ),
    );
  });

  it('maps draws onto branch, currency and amount deterministically, clamping a draw of exactly 1', () => {
    // Prepare: one transaction consumes three draws, branch, currency, amount.
    const deps = scriptedDeps([0, 0.99, 0, 0.5, 0.25, 1]);

    // Act
    const first = generateTransaction(DEFAULT_CONFIG, deps);
    const second = generateTransaction(DEFAULT_CONFIG, deps);

    // Assess
    expect(first).toEqual({
      id: '00000000-0000-4000-8000-000000000000',
      ts: '2024-05-01T12:00:00.000Z',
      branch: 'Kazan',
      currency: 'GBP',
      amount: -100,
    });
    expect(second).toMatchObject({ branch: 'Novosibirsk', currency: 'USD', amount: 99 });
  });

  it('serialises to the documented JSON with the branch as key', () => {
    const message = toKafkaMessage({
      id: 'a4b1c6a2-5d0e-4c1e-9d51-1f1e4c2b7a90',
      ts: '2024-05-01T12:00:00.000Z',
      branch: 'Kazan',
      currency: 'RUB',
      amount: -42,
    });

    expect(message).toEqual({
      key: 'Kazan',
      value:
        '{"id":"a4b1c6a2-5d0e-4c1e-9d51-1f1e4c2b7a90","ts":"2024-05-01T12:00:00.000Z","branch":"Kazan","currency":"RUB","amount":-42}',
    });
  });
});

describe('generatorConfigFromEnv', () => {
  it('defaults to the original generator', () => {
    expect(generatorConfigFromEnv()).toEqual({
      branches: [...DEFAULT_BRANCHES],
      currencies: [...DEFAULT_CURRENCIES],
      amountMin: -100,
      amountMax: 100,
    });
  });

  it('reads branches, currencies and the amount range from the environment', () => {
    vi.stubEnv('PRODUCER_BRANCHES', 'Moscow, Omsk');
    vi.stubEnv('PRODUCER_CURRENCIES', 'CNY');
    vi.stubEnv('PRODUCER_AMOUNT_MIN', '0');
    vi.stubEnv('PRODUCER_AMOUNT_MAX', '5');

    const config = generatorConfigFromEnv();
    const values = generateMessages(500, config).map((m) => JSON.parse(m.value) as Transaction);

    expect(config).toEqual({ branches: ['Moscow', 'Omsk'], currencies: ['CNY'], amountMin: 0, amountMax: 5 });
    expect(new Set(values.map((v) => v.amount))).toEqual(new Set([0, 1, 2, 3, 4]));
  });

  it.each([
    ['PRODUCER_CURRENCIES', 'RUB,usd', /three upper-case letters.*usd/],
    ['PRODUCER_CURRENCIES', 'RUBL', /RUBL/],
    ['PRODUCER_AMOUNT_MIN', '100', /minimum must be below the maximum/],
    ['PRODUCER_AMOUNT_MIN', '1.5', /PRODUCER_AMOUNT_MIN/],
    ['PRODUCER_AMOUNT_MAX', 'lots', /PRODUCER_AMOUNT_MAX/],
    ['PRODUCER_BRANCHES', ' , ', /PRODUCER_BRANCHES/],
  ])('rejects %s=%s', (name, value, message) => {
    vi.stubEnv(name, value);

    expect(() => generatorConfigFromEnv()).toThrow(message);
  });
});

describe('validateGeneratorConfig and the aggregator agree', () => {
  it.each([
    ['a blank branch', { branches: ['Kazan', ' '] }, REJECTION_CODES.invalidBranch],
    ['a branch longer than 200 characters', { branches: ['x'.repeat(201)] }, REJECTION_CODES.invalidBranch],
    ['a branch with a NUL', { branches: ['Ka\u0000zan'] }, REJECTION_CODES.invalidBranch],
    ['a branch with a lone surrogate', { branches: ['\ud800'] }, REJECTION_CODES.invalidBranch],
    ['a lower-case currency', { currencies: ['rub'] }, REJECTION_CODES.invalidCurrency],
    ['a four-letter currency', { currencies: ['RUBL'] }, REJECTION_CODES.invalidCurrency],
  ])('refuses %s, which the aggregator would reject', (_name, override, code) => {
    // Prepare
    const config: GeneratorConfig = { ...DEFAULT_CONFIG, ...override };
    const message = { branch: config.branches.at(-1), currency: config.currencies[0], amount: 1 };

    // Act
    const validation = validateValue(Buffer.from(JSON.stringify(message)));

    // Assess
    expect(() => validateGeneratorConfig(config)).toThrow(/branch|currenc/);
    expect(isRejection(validation) && validation.code).toBe(code);
  });

  it('accepts the longest branch name the aggregator accepts', () => {
    const config: GeneratorConfig = { ...DEFAULT_CONFIG, branches: ['x'.repeat(200)] };
    expect(validateGeneratorConfig(config)).toBe(config);
    expect(isRejection(validateValue(Buffer.from(generateMessages(1, config)[0]?.value ?? '')))).toBe(false);
  });
});
