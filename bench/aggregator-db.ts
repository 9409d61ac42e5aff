import type { MSKEvent } from 'aws-lambda';
import { Client } from 'pg';
import type { MskHandler } from '../local/event-source-mapping';
import { stdoutMeter } from './capture';
import { benchEvent } from './events';
import { cpuMillisSince, median, round } from './stats';

export interface DbOptions {
  readonly url: string;
  readonly handler: MskHandler;
  /** Topic of the generated records; one per call, so that no call's offsets look like another's replays. */
  readonly topic: string;
  /** Repetitions per batch size, candidate and baseline interleaved. */
  readonly repetitions: Readonly<Record<number, number>>;
}

export interface DbBatchResult {
  readonly records: number;
  readonly handlerMs: number;
  /** CPU of this process during the invocation; the rest of the wall time is waiting for PostgreSQL. */
  readonly handlerCpuMs: number;
  readonly statements: number;
  readonly rowByRowMs: number;
  readonly rowByRowStatements: number;
  /** Median row-by-row wall time / median handler wall time. */
  readonly speedup: number;
  /** What the handler printed per invocation (JSON logs, EMF metrics): CloudWatch Logs ingestion on AWS. */
  readonly logBytesPerInvocation: number;
  readonly repetitions: number;
}

/**
 * Counts every statement any pg client sends, by wrapping `Client.prototype.query`: the pool the handler builds
 * from DATABASE_URL uses the same class. Each call is one round trip (pg does not pipeline).
 */
export function countStatements(): { readonly count: () => number; readonly restore: () => void } {
  const prototype = Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = prototype.query;
  let count = 0;
  prototype.query = function countedQuery(this: unknown, ...args: unknown[]) {
    count++;
    return original.apply(this, args);
  };
  return {
    count: () => count,
    restore: () => {
      prototype.query = original;
    },
  };
}

const ROW_BY_ROW_TABLE = `CREATE TABLE IF NOT EXISTS bench_row_by_row (
  topic text NOT NULL,
  partition integer NOT NULL,
  "offset" bigint NOT NULL,
  branch_name text NOT NULL,
  currency_code char(3) NOT NULL,
  amount numeric(38, 2) NOT NULL,
  ts timestamptz,
  PRIMARY KEY (topic, partition, "offset")
)`;

interface RawRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

/**
 * The naive design the aggregator replaces: one INSERT per record. Generous to it: one transaction for the
 * whole batch (not one per row), no positions, no ledger, no validation beyond parsing.
 */
async function rowByRow(client: Client, event: MSKEvent): Promise<void> {
  await client.query('BEGIN');
  try {
    for (const records of Object.values(event.records) as RawRecord[][]) {
      for (const record of records) {
        const message = JSON.parse(Buffer.from(record.value, 'base64').toString('utf8')) as {
          branch: string;
          currency: string;
          amount: number;
          ts?: string;
        };
        await client.query(
          `INSERT INTO bench_row_by_row (topic, partition, "offset", branch_name, currency_code, amount, ts)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [
            record.topic,
            record.partition,
            record.offset,
            message.branch,
            message.currency,
            message.amount,
            message.ts ?? null,
          ],
        );
      }
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

/** Median time of `SELECT 1` on a fresh connection to `url`: the round trip each statement pays. */
export async function measureRoundTripMs(url: string, samples = 50): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const start = performance.now();
      await client.query('SELECT 1');
      times.push(performance.now() - start);
    }
    return round(median(times), 3);
  } finally {
    await client.end();
  }
}

/**
 * The aggregator handler against a real, fresh PostgreSQL database (through DATABASE_URL, as the local runtime
 * runs it) next to the row-by-row baseline on its own connection, alternating, per batch size.
 */
export async function measureAggregatorDatabase(options: DbOptions): Promise<DbBatchResult[]> {
  const baseline = new Client({ connectionString: options.url });
  await baseline.connect();
  const counter = countStatements();
  let nextOffset = 0;
  const freshEvent = (records: number): MSKEvent => {
    const event = benchEvent({
      records,
      firstOffset: nextOffset,
      seed: nextOffset + 1,
      topic: options.topic,
    });
    nextOffset += records;
    return event;
  };
  stdoutMeter.start();
  try {
    await baseline.query(ROW_BY_ROW_TABLE);
    // Connects the handler's pool and warms both paths; not measured.
    await options.handler(freshEvent(100));
    await rowByRow(baseline, freshEvent(100));

    const results: DbBatchResult[] = [];
    for (const [size, repetitions] of Object.entries(options.repetitions).map(
      ([size, reps]) => [Number(size), reps] as const,
    )) {
      const handlerMs: number[] = [];
      const handlerCpuMs: number[] = [];
      const statements = new Set<number>();
      const rowByRowMs: number[] = [];
      const rowByRowStatements = new Set<number>();
      let logBytes = 0;
      for (let rep = 0; rep < repetitions; rep++) {
        const candidateEvent = freshEvent(size);
        const baselineEvent = freshEvent(size);
        const runCandidate = async () => {
          const before = counter.count();
          const bytesBefore = stdoutMeter.bytes;
          const cpu = process.cpuUsage();
          const start = performance.now();
          const result = (await options.handler(candidateEvent)) as { accepted?: unknown };
          handlerMs.push(performance.now() - start);
          if (result.accepted !== size) {
            throw new Error(`The aggregator accepted ${String(result.accepted)} of ${size} records`);
          }
          handlerCpuMs.push(cpuMillisSince(cpu));
          statements.add(counter.count() - before);
          logBytes += stdoutMeter.bytes - bytesBefore;
        };
        const runBaseline = async () => {
          const before = counter.count();
          const start = performance.now();
          await rowByRow(baseline, baselineEvent);
          rowByRowMs.push(performance.now() - start);
          rowByRowStatements.add(counter.count() - before);
        };
        if (rep % 2 === 0) {
          await runCandidate();
          await runBaseline();
        } else {
          await runBaseline();
          await runCandidate();
        }
      }
      if (statements.size !== 1) {
        throw new Error(`Statements per invocation varied at ${size} records: ${[...statements].join(', ')}`);
      }
      results.push({
        records: size,
        handlerMs: round(median(handlerMs)),
        handlerCpuMs: round(median(handlerCpuMs)),
        statements: [...statements][0] as number,
        rowByRowMs: round(median(rowByRowMs)),
        rowByRowStatements: Math.max(...rowByRowStatements),
        speedup: round(median(rowByRowMs) / median(handlerMs), 3),
        logBytesPerInvocation: Math.round(logBytes / repetitions),
        repetitions,
      });
    }
    return results;
  } finally {
    stdoutMeter.stop();
    counter.restore();
    await baseline.end();
  }
}
