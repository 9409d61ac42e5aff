export interface GeneratedTransaction {
  readonly branch: string;
  readonly currency: string;
  /** Exact decimal text, e.g. "-12.05". */
  readonly amount: string;
  readonly cents: bigint;
}

/** A deterministic pseudo-random source (mulberry32), so a failing run fails the same way every time. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const BRANCHES = ['Kazan', 'SPB', 'Novosibirsk', 'Surgut'] as const;
export const CURRENCIES = ['RUB', 'USD', 'EUR', 'GBP'] as const;

/** Branch names private to one test, so tests sharing a database do not share positions. */
export function branchesFor(test: string): string[] {
  return BRANCHES.map((branch) => `${branch}-${test}`);
}

/** Transactions with cent amounts in (-1000, 1000), written with the JSON number text of the exact decimal. */
export function generateTransactions(
  count: number,
  random: () => number,
  branches: readonly string[] = BRANCHES,
): GeneratedTransaction[] {
  const result: GeneratedTransaction[] = [];
  for (let i = 0; i < count; i++) {
    const cents = BigInt(Math.floor(random() * 199_999) - 99_999);
    result.push({
      branch: branches[Math.floor(random() * branches.length)] as string,
      currency: CURRENCIES[Math.floor(random() * CURRENCIES.length)] as string,
      amount: centsText(cents),
      cents,
    });
  }
  return result;
}

/** The Kafka value of a generated transaction, amount written exactly as its decimal text. */
export function transactionJson(
  transaction: GeneratedTransaction,
  extra: Readonly<Record<string, string>> = {},
): string {
  const fields = Object.entries(extra)
    .map(([name, value]) => `,${JSON.stringify(name)}:${JSON.stringify(value)}`)
    .join('');
  return `{"branch":${JSON.stringify(transaction.branch)},"currency":"${transaction.currency}","amount":${transaction.amount}${fields}}`;
}

/** Expected positions, summed independently of the code under test: BigInt cents per "branch/currency". */
export function referenceSums(transactions: Iterable<GeneratedTransaction>): Map<string, bigint> {
  const sums = new Map<string, bigint>();
  for (const t of transactions) {
    const key = `${t.branch}/${t.currency}`;
    sums.set(key, (sums.get(key) ?? 0n) + t.cents);
  }
  return sums;
}

/** BigInt cents as the text PostgreSQL prints for NUMERIC(38, 2). */
export function centsText(cents: bigint): string {
  const abs = cents < 0n ? -cents : cents;
  return `${cents < 0n ? '-' : ''}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}
