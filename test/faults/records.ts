/**
 * The stream the fault runner sends, and what the tables must hold afterwards, computed here from the
 * generated cents with BigInt arithmetic and nothing from lambda/.
 */

import { BRANCHES, CURRENCIES, centsText, seededRandom } from '../helpers/transactions';

/** One record in this many is malformed. */
const MALFORMED_EVERY = 97;

export interface OutgoingRecord {
  readonly partition: number;
  readonly key: string;
  readonly value: Buffer | null;
}

export interface ExpectedTotal {
  cents: bigint;
  count: number;
}

/** Malformed values of every kind the contract names; the key `bad-<n>` identifies each one. */
function malformedValue(kind: number, n: number): Buffer | null {
  switch (kind % 10) {
    case 0:
      return Buffer.from(`not json ${n}`);
    case 1:
      return null;
    case 2:
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(String(n))]);
    case 3:
      return Buffer.alloc(0);
    case 4:
      return Buffer.from(`{"id":"bad-${n}","branch":"Kazan","currency":"rub","amount":1}`);
    case 5:
      return Buffer.from(`{"id":"bad-${n}","branch":"Kazan","currency":"RUB","amount":1.001}`);
    case 6:
      return Buffer.from(`{"id":"bad-${n}","branch":"","currency":"RUB","amount":1}`);
    case 7:
      return Buffer.from(`{"id":"bad-${n}","branch":"SPB","currency":"USD","amount":"12"}`);
    case 8:
      return Buffer.from(`{"id":"bad-${n}","branch":"SPB","currency":"USD","amount":1e400}`);
    default:
      return Buffer.from(`[${n}]`);
  }
}

/** Generates the stream record by record and keeps the expected totals of what has been handed out. */
export class RecordSource {
  private readonly random: () => number;
  private produced = 0;
  readonly expected = new Map<string, ExpectedTotal>();
  readonly malformedKeys = new Set<string>();

  constructor(
    readonly total: number,
    private readonly partitions: number,
    seed: number,
  ) {
    this.random = seededRandom(seed);
  }

  get count(): number {
    return this.produced;
  }

  get validCount(): number {
    return this.produced - this.malformedKeys.size;
  }

  next(): OutgoingRecord {
    const n = this.produced;
    if (n >= this.total) throw new Error('All records have been produced');
    this.produced += 1;
    const partition = n % this.partitions;
    if (n % MALFORMED_EVERY === MALFORMED_EVERY - 1) {
      const key = `bad-${n}`;
      this.malformedKeys.add(key);
      return { partition, key, value: malformedValue(Math.floor(n / MALFORMED_EVERY), n) };
    }
    const branch = BRANCHES[Math.floor(this.random() * BRANCHES.length)] as string;
    const currency = CURRENCIES[Math.floor(this.random() * CURRENCIES.length)] as string;
    // Like the original generator, mostly whole amounts in [-100, 100); some carry cents.
    const whole = Math.floor(this.random() * 200) - 100;
    const cents =
      this.random() < 0.7 ? BigInt(whole) * 100n : BigInt(Math.floor(this.random() * 20_000) - 10_000);
    const amount = cents % 100n === 0n ? String(cents / 100n) : centsText(cents);
    const total = this.expected.get(`${branch}/${currency}`) ?? { cents: 0n, count: 0 };
    total.cents += cents;
    total.count += 1;
    this.expected.set(`${branch}/${currency}`, total);
    const value = `{"id":"r-${n}","ts":"${new Date().toISOString()}","branch":"${branch}","currency":"${currency}","amount":${amount}}`;
    return { partition, key: branch, value: Buffer.from(value) };
  }
}
