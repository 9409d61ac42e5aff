import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { MSKEvent } from 'aws-lambda';
import type { Pool, PoolClient } from 'pg';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { AggregatorResult } from '../../lambda/aggregator/index';
import { processBatch } from '../../lambda/aggregator/process-batch';
import type { ConnectionSource } from '../../lambda/shared/database';
import { mskEvent, type TestRecord } from '../helpers/msk-events';
import { useTestDatabase } from '../helpers/postgres';
import {
  branchesFor,
  centsText,
  type GeneratedTransaction,
  generateTransactions,
  referenceSums,
  seededRandom,
  transactionJson,
} from '../helpers/transactions';

const CONSUMER_GROUP = 'transaction-aggregator-test';

const database = useTestDatabase();
let handler: (event: MSKEvent) => Promise<AggregatorResult>;
let closeDatabase: () => Promise<void>;

beforeAll(async () => {
  process.env.DATABASE_URL = database().url;
  process.env.DB_POOL_MAX = '8';
  process.env.CONSUMER_GROUP_ID = CONSUMER_GROUP;
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  ({ handler, closeDatabase } = await import('../../lambda/aggregator/index.js'));
});

function records(
  topic: string,
  partition: number,
  firstOffset: number,
  transactions: readonly GeneratedTransaction[],
): TestRecord[] {
  return transactions.map((transaction, i) => ({
    topic,
    partition,
    offset: firstOffset + i,
    value: transactionJson(transaction),
  }));
}

async function positions(branches: readonly string[]): Promise<Map<string, string>> {
  const { rows } = await database().pool.query<{
    branch_name: string;
    currency_code: string;
    position: string;
  }>(
    'SELECT branch_name, currency_code, position::text FROM open_currency_position WHERE branch_name = ANY($1)',
    [branches],
  );
  return new Map(rows.map((row) => [`${row.branch_name}/${row.currency_code}`, row.position]));
}

async function flowSums(branches: readonly string[]): Promise<Map<string, string>> {
  const { rows } = await database().pool.query<{ branch_name: string; currency_code: string; total: string }>(
    `SELECT branch_name, currency_code, sum(batch_value)::text AS total FROM transaction_flow
      WHERE branch_name = ANY($1) GROUP BY branch_name, currency_code`,
    [branches],
  );
  return new Map(rows.map((row) => [`${row.branch_name}/${row.currency_code}`, row.total]));
}

function expected(transactions: readonly GeneratedTransaction[]): Map<string, string> {
  return new Map([...referenceSums(transactions)].map(([key, cents]) => [key, centsText(cents)]));
}

async function ledger(topic: string): Promise<Record<number, number>> {
  const { rows } = await database().pool.query<{ partition: number; last_offset: string }>(
    'SELECT partition, last_offset FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2',
    [CONSUMER_GROUP, topic],
  );
  return Object.fromEntries(rows.map((row) => [row.partition, Number(row.last_offset)]));
}

/** Every row of every table the aggregator writes, for "nothing changed" comparisons. */
async function snapshot(): Promise<unknown> {
  const pool = database().pool;
  const [flow, position, rejected, offsets] = await Promise.all([
    pool.query('SELECT * FROM transaction_flow ORDER BY id'),
    pool.query('SELECT * FROM open_currency_position ORDER BY branch_name, currency_code'),
    pool.query('SELECT * FROM rejected_transactions ORDER BY topic, partition, "offset"'),
    pool.query('SELECT * FROM consumer_offsets ORDER BY consumer_group, topic, partition'),
  ]);
  return { flow: flow.rows, position: position.rows, rejected: rejected.rows, offsets: offsets.rows };
}

/** A connection source whose clients count statements and can run a hook after each one. */
function instrumented(pool: Pool, afterQuery?: (count: number, client: PoolClient) => Promise<void>) {
  const stats = { statements: 0 };
  const source: ConnectionSource = {
    async connect() {
      const client = await pool.connect();
      return new Proxy(client, {
        get(target, property) {
          if (property === 'query') {
            return async (...args: unknown[]) => {
              stats.statements++;
              const result = await (target.query as (...a: unknown[]) => Promise<unknown>)(...args);
              await afterQuery?.(stats.statements, target);
              return result;
            };
          }
          const value = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
  };
  return { source, stats };
}

describe('aggregator handler with PostgreSQL', () => {
  it('applies the documented sample event', async () => {
    // Prepare
    const event = JSON.parse(
      readFileSync(join(__dirname, '..', 'events', 'msk-event.json'), 'utf8'),
    ) as MSKEvent;

    // Act
    const result = await handler(event);

    // Assess
    expect(result).toMatchObject({ accepted: 1, rejected: 0, deduplicated: 0, partitions: 1 });
    expect(await positions(['Kazan'])).toEqual(new Map([['Kazan/RUB', '42.00']]));
    const { rows } = await database().pool.query(
      `SELECT batch_id, branch_name, currency_code, batch_value::text, record_count, source_offsets, consumer_group,
              first_record_time FROM transaction_flow WHERE branch_name = 'Kazan'`,
    );
    expect(rows).toEqual([
      {
        batch_id: result.batchId,
        branch_name: 'Kazan',
        currency_code: 'RUB',
        batch_value: '42.00',
        record_count: 1,
        source_offsets: { 'transaction-0': { first: 15, last: 15 } },
        consumer_group: CONSUMER_GROUP,
        first_record_time: new Date(1545084650987),
      },
    ]);
    expect(await ledger('transaction')).toEqual({ 0: 15 });
  });

  it('sums exactly, equal to a reference computed with BigInt cents', async () => {
    // Prepare
    const branches = branchesFor('sums');
    const transactions = generateTransactions(600, seededRandom(1), branches);
    const event = mskEvent([
      ...records('sums', 0, 0, transactions.slice(0, 200)),
      ...records('sums', 1, 1000, transactions.slice(200, 400)),
      ...records('sums', 2, 5, transactions.slice(400)),
    ]);

    // Act
    const result = await handler(event);

    // Assess
    expect(result).toMatchObject({ accepted: 600, rejected: 0, deduplicated: 0, partitions: 3 });
    expect(await positions(branches)).toEqual(expected(transactions));
    expect(await flowSums(branches)).toEqual(expected(transactions));
    expect(await ledger('sums')).toEqual({ 0: 199, 1: 1199, 2: 204 });
  });

  it('counts 0.10 + 0.20 as 0.30', async () => {
    // Act
    await handler(
      mskEvent([
        {
          topic: 'cents',
          partition: 0,
          offset: 0,
          value: '{"branch":"Cents","currency":"EUR","amount":0.10}',
        },
        {
          topic: 'cents',
          partition: 0,
          offset: 1,
          value: '{"branch":"Cents","currency":"EUR","amount":0.20}',
        },
      ]),
    );

    // Assess
    expect(await positions(['Cents'])).toEqual(new Map([['Cents/EUR', '0.30']]));
  });

  it('applies the same batch delivered twice once', async () => {
    // Prepare
    const branches = branchesFor('twice');
    const transactions = generateTransactions(300, seededRandom(2), branches);
    const event = mskEvent(records('twice', 0, 0, transactions));
    const first = await handler(event);
    const before = await snapshot();

    // Act
    const second = await handler(event);

    // Assess
    expect(first).toMatchObject({ accepted: 300, deduplicated: 0 });
    expect(second).toMatchObject({ accepted: 0, rejected: 0, deduplicated: 300 });
    expect(await snapshot()).toEqual(before);
    expect(await positions(branches)).toEqual(expected(transactions));
  });

  it('applies overlapping batches once', async () => {
    // Prepare
    const branches = branchesFor('overlap');
    const transactions = generateTransactions(100, seededRandom(3), branches);
    const all = records('overlap', 0, 0, transactions);

    // Act
    const first = await handler(mskEvent(all.slice(0, 60)));
    const second = await handler(mskEvent(all.slice(40, 100)));

    // Assess
    expect(first).toMatchObject({ accepted: 60, deduplicated: 0 });
    expect(second).toMatchObject({ accepted: 40, deduplicated: 20 });
    expect(await positions(branches)).toEqual(expected(transactions));
    expect(await ledger('overlap')).toEqual({ 0: 99 });
  });

  it('applies a batch once when the function dies after committing but before Kafka offsets are committed', async () => {
    // Prepare: the first delivery commits; the mapping never learns it and redelivers from the old offset,
    // this time with more records behind it.
    const branches = branchesFor('redeliver');
    const transactions = generateTransactions(150, seededRandom(4), branches);
    const all = [
      ...records('redeliver', 0, 0, transactions.slice(0, 75)),
      ...records('redeliver', 1, 0, transactions.slice(75)),
    ];
    const firstDelivery = mskEvent(all.filter((r) => r.offset < 50));
    await handler(firstDelivery);

    // Act
    const redelivery = await handler(mskEvent(all));

    // Assess
    expect(redelivery).toMatchObject({ accepted: 50, deduplicated: 100 });
    expect(await positions(branches)).toEqual(expected(transactions));
    expect(await ledger('redeliver')).toEqual({ 0: 74, 1: 74 });
  });

  it('leaves nothing half-written when the connection dies mid-transaction, and the redelivery applies once', async () => {
    // Prepare
    const branches = branchesFor('crash');
    const transactions = generateTransactions(200, seededRandom(5), branches);
    const event = mskEvent([
      ...records('crash', 0, 0, transactions.slice(0, 100)),
      ...records('crash', 1, 0, transactions.slice(100)),
    ]);
    const before = await snapshot();
    const admin = database().pool;
    const { source } = instrumented(admin, async (count, client) => {
      // Statement 2 locked the ledger rows; kill the session before the write.
      if (count === 2) {
        const pid = (client as unknown as { processID: number }).processID;
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      }
    });

    // Act
    const crashed = processBatch(source, event, { consumerGroupId: CONSUMER_GROUP });

    // Assess
    await expect(crashed).rejects.toThrow();
    expect(await snapshot()).toEqual(before);
    const retried = await handler(event);
    expect(retried).toMatchObject({ accepted: 200, deduplicated: 0 });
    expect(await positions(branches)).toEqual(expected(transactions));
  });

  it('keeps sums exact with many concurrent invocations over shared positions, without deadlocks', async () => {
    // Prepare: four partitions of 20 batches each; partitions 0 and 1 travel together in multi-partition
    // events. Lanes (what the mapping would run in parallel) run concurrently, and every event is delivered
    // twice at the same time.
    const branches = branchesFor('concurrent');
    const random = seededRandom(6);
    const perPartition = [0, 1, 2, 3].map(() => generateTransactions(500, random, branches));
    const batch = (partition: number, k: number): TestRecord[] =>
      records('concurrent', partition, k * 25, (perPartition[partition] ?? []).slice(k * 25, (k + 1) * 25));
    const lanes: MSKEvent[][] = [[], [], []];
    for (let k = 0; k < 20; k++) {
      lanes[0]?.push(mskEvent([...batch(1, k), ...batch(0, k)]));
      lanes[1]?.push(mskEvent(batch(2, k)));
      lanes[2]?.push(mskEvent(batch(3, k)));
    }

    // Act
    const results = (
      await Promise.all(
        lanes.map(async (lane) => {
          const laneResults: AggregatorResult[] = [];
          for (const event of lane)
            laneResults.push(...(await Promise.all([handler(event), handler(event)])));
          return laneResults;
        }),
      )
    ).flat();

    // Assess
    expect(results).toHaveLength(120);
    expect(results.reduce((sum, r) => sum + r.accepted, 0)).toBe(2000);
    expect(results.reduce((sum, r) => sum + r.deduplicated, 0)).toBe(2000);
    const all = perPartition.flat();
    expect(await positions(branches)).toEqual(expected(all));
    expect(await flowSums(branches)).toEqual(expected(all));
    expect(await ledger('concurrent')).toEqual({ 0: 499, 1: 499, 2: 499, 3: 499 });
  });

  it('applies a 10,000-record batch in one invocation', async () => {
    // Prepare
    const branches = branchesFor('large');
    const transactions = generateTransactions(10_000, seededRandom(7), branches);
    const event = mskEvent([
      ...records('large', 0, 0, transactions.slice(0, 4000)),
      ...records('large', 1, 0, transactions.slice(4000, 7000)),
      ...records('large', 2, 0, transactions.slice(7000)),
    ]);

    // Act
    const started = performance.now();
    const result = await handler(event);
    const elapsed = performance.now() - started;

    // Assess
    expect(result).toMatchObject({ accepted: 10_000, rejected: 0, deduplicated: 0, partitions: 3 });
    expect(await positions(branches)).toEqual(expected(transactions));
    expect(elapsed).toBeLessThan(5_000);
  });

  it('stores bad records byte-exact with reasons, once, while the good ones are applied', async () => {
    // Prepare
    const branches = branchesFor('bad');
    const good = generateTransactions(20, seededRandom(8), branches);
    const badUtf8 = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const bad: TestRecord[] = [
      { topic: 'bad', partition: 0, offset: 100, value: badUtf8, key: 'Kazan', headers: { trace: 'abc' } },
      { topic: 'bad', partition: 0, offset: 101, value: null, key: 'Kazan' },
      { topic: 'bad', partition: 0, offset: 102, value: '{"branch":"X","currency":"RUB","amount":1.001}' },
      { topic: 'bad', partition: 1, offset: 7, value: 'not json' },
      { topic: 'bad', partition: 1, offset: 8, value: '{"branch":"X","currency":"rub","amount":1}' },
    ];
    const event = mskEvent([
      ...records('bad', 0, 0, good.slice(0, 10)),
      ...bad,
      ...records('bad', 1, 9, good.slice(10)),
    ]);

    // Act
    const first = await handler(event);
    const again = await handler(event);

    // Assess
    expect(first).toMatchObject({ accepted: 20, rejected: 5, deduplicated: 0 });
    expect(again).toMatchObject({ accepted: 0, rejected: 0, deduplicated: 25 });
    expect(await positions(branches)).toEqual(expected(good));
    const { rows } = await database().pool.query(
      `SELECT partition, "offset", record_time, key, value, headers, reason_code, reason, batch_id
         FROM rejected_transactions WHERE topic = 'bad' ORDER BY partition, "offset"`,
    );
    expect(rows.map((row) => [row.partition, Number(row.offset), row.reason_code])).toEqual([
      [0, 100, 'invalid_utf8'],
      [0, 101, 'tombstone'],
      [0, 102, 'amount_precision'],
      [1, 7, 'invalid_json'],
      [1, 8, 'invalid_currency'],
    ]);
    expect(rows[0].value).toEqual(badUtf8);
    expect(rows[0].record_time).toEqual(new Date(1_700_000_000_000 + 100));
    expect(rows[0].key).toEqual(Buffer.from('Kazan'));
    expect(rows[0].headers).toEqual([{ key: 'trace', value: Buffer.from('abc').toString('base64') }]);
    expect(rows[1].value).toBeNull();
    expect(rows[3].value).toEqual(Buffer.from('not json'));
    expect(rows.every((row) => row.batch_id === first.batchId && row.reason.length > 0)).toBe(true);
  });

  it('never fails on malformed entries: bad times are dropped, misplaced records rejected, unkeyable ones skipped', async () => {
    // Prepare: each of these failed the whole batch, on every redelivery, before the decoder checked them.
    const branches = branchesFor('malformed');
    const good = generateTransactions(6, seededRandom(10), branches);
    const event = mskEvent(records('malformed', 0, 0, good));
    const entries = event.records['malformed-0'] as unknown as Record<string, unknown>[];
    entries.push(
      { ...entries[0], offset: 6, timestamp: 1.5 },
      { ...entries[0], offset: 7, topic: 'malformed\u0000' },
      { ...entries[0], offset: 8, partition: 0.5 },
    );
    (event.records as Record<string, unknown>)['nul\u0000-0'] = [
      { ...entries[0], topic: 'nul\u0000', partition: 0, offset: 1 },
    ];

    // Act
    const result = await handler(event);

    // Assess
    expect(result).toMatchObject({ accepted: 7, rejected: 2, undecodable: 1 });
    expect(await positions(branches)).toEqual(expected([...good, good[0] as GeneratedTransaction]));
    const { rows } = await database().pool.query(
      `SELECT "offset"::int, record_time, reason_code, reason FROM rejected_transactions
        WHERE topic = 'malformed' ORDER BY "offset"`,
    );
    expect(rows).toEqual([
      {
        offset: 7,
        record_time: new Date(1_700_000_000_000),
        reason_code: 'malformed_record',
        reason: 'record topic "malformed\\u0000" is not a valid Kafka topic name; kept under malformed-0',
      },
      {
        offset: 8,
        record_time: new Date(1_700_000_000_000),
        reason_code: 'malformed_record',
        reason: 'record partition 0.5 is not valid; kept under malformed-0',
      },
    ]);
    expect(await ledger('malformed')).toEqual({ 0: 8 });
  });

  it('uses the same number of statements whatever the batch size', async () => {
    // Prepare
    const branches = branchesFor('statements');
    const counts: number[] = [];

    // Act
    for (const [size, topic] of [
      [1, 'statements-a'],
      [100, 'statements-b'],
      [5000, 'statements-c'],
    ] as const) {
      const { source, stats } = instrumented(database().pool);
      const transactions = generateTransactions(size, seededRandom(size), branches);
      const event = mskEvent([
        ...records(topic, 0, 0, transactions),
        { topic, partition: 1, offset: 0, value: 'x' },
      ]);
      await processBatch(source, event, { consumerGroupId: CONSUMER_GROUP });
      counts.push(stats.statements);
      const replay = instrumented(database().pool);
      await processBatch(replay.source, event, { consumerGroupId: CONSUMER_GROUP });
      counts.push(replay.stats.statements);
    }

    // Assess: BEGIN, ledger lock, write, COMMIT; a replay has nothing to write.
    expect(counts).toEqual([4, 3, 4, 3, 4, 3]);
  });

  it('does not touch the database for an event without records', async () => {
    const { source, stats } = instrumented(database().pool);
    const result = await processBatch(source, mskEvent([]), { consumerGroupId: CONSUMER_GROUP });
    expect(result).toMatchObject({ accepted: 0, rejected: 0, deduplicated: 0, partitions: 0 });
    expect(stats.statements).toBe(0);
  });
  it('closes its connections on closeDatabase and opens new ones on the next invocation', async () => {
    // Prepare
    const connections = async () => {
      const { rows } = await database().pool.query<{ count: number }>(
        `SELECT count(*)::int AS count FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'transaction-aggregator'`,
      );
      return rows[0]?.count;
    };
    const batch = (offset: number) =>
      mskEvent(
        records('close', 0, offset, generateTransactions(5, seededRandom(offset), branchesFor('close'))),
      );
    await handler(batch(0));
    const before = await connections();

    // Act
    await closeDatabase();
    // The server drops a backend from pg_stat_activity a moment after its socket closes.
    let after = await connections();
    for (let wait = 0; after !== 0 && wait < 40; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      after = await connections();
    }
    const next = await handler(batch(5));

    // Assess
    expect(before).toBeGreaterThan(0);
    expect(after).toBe(0);
    expect(next.accepted).toBe(5);
  });
});

describe('changing the consumer group id', () => {
  async function groupLedger(topic: string): Promise<Record<string, number>> {
    const { rows } = await database().pool.query<{ consumer_group: string; last_offset: string }>(
      'SELECT consumer_group, last_offset FROM consumer_offsets WHERE topic = $1',
      [topic],
    );
    return Object.fromEntries(rows.map((row) => [row.consumer_group, Number(row.last_offset)]));
  }

  it('does not count again what another group id applied, nor when switching back', async () => {
    // Prepare: a new group id starts at TRIM_HORIZON and is delivered the topic again; the old id, switched
    // back to, resumes from the offset Kafka committed for it.
    const topic = 'switch-group';
    const branches = branchesFor('switch-group');
    const transactions = generateTransactions(300, seededRandom(21), branches);
    const pool = database().pool;

    // Act
    const first = await processBatch(pool, mskEvent(records(topic, 0, 0, transactions.slice(0, 100))), {
      consumerGroupId: 'group-a',
    });
    const renamed = await processBatch(pool, mskEvent(records(topic, 0, 0, transactions.slice(0, 200))), {
      consumerGroupId: 'group-b',
    });
    const switchedBack = await processBatch(
      pool,
      mskEvent(records(topic, 0, 100, transactions.slice(100, 300))),
      { consumerGroupId: 'group-a' },
    );

    // Assess
    expect(first).toMatchObject({ accepted: 100, deduplicated: 0 });
    expect(renamed).toMatchObject({ accepted: 100, deduplicated: 100 });
    expect(switchedBack).toMatchObject({ accepted: 100, deduplicated: 100 });
    expect(await positions(branches)).toEqual(expected(transactions));
    expect(await flowSums(branches)).toEqual(expected(transactions));
    expect(await groupLedger(topic)).toEqual({ 'group-a': 299, 'group-b': 199 });
  });

  it('starts a new group id from nothing on a partition no group has applied', async () => {
    // Prepare
    const topic = 'switch-group-fresh';
    const branches = branchesFor('switch-group-fresh');
    const transactions = generateTransactions(20, seededRandom(22), branches);
    const pool = database().pool;
    await processBatch(pool, mskEvent(records(topic, 0, 0, transactions.slice(0, 10))), {
      consumerGroupId: 'group-a',
    });

    // Act: another partition of the same topic, first seen under the new id.
    const result = await processBatch(pool, mskEvent(records(topic, 1, 0, transactions.slice(10))), {
      consumerGroupId: 'group-b',
    });

    // Assess
    expect(result).toMatchObject({ accepted: 10, deduplicated: 0 });
    expect(await positions(branches)).toEqual(expected(transactions));
  });
});

describe('aggregator handler without a database', () => {
  it('rejects the invocation so that the batch is redelivered, writing nothing', async () => {
    // Prepare: a port that was just free, so nothing listens on it.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    const before = await snapshot();
    vi.resetModules();
    process.env.DATABASE_URL = `postgres://postgres@127.0.0.1:${port}/nowhere`;
    const { handler: unreachable } = await import('../../lambda/aggregator/index.js');
    process.env.DATABASE_URL = database().url;
    const event = mskEvent(records('unreachable', 0, 0, generateTransactions(10, seededRandom(9))));

    // Act
    const attempt = unreachable(event);

    // Assess
    await expect(attempt).rejects.toThrow(/ECONNREFUSED|connect/);
    expect(await snapshot()).toEqual(before);
  });
});
