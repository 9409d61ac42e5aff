import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AggregatorResult } from '../../lambda/aggregator/index.js';
import { kafkaBrokersFromEnv } from '../../lambda/shared/kafka';
import type { PartitionCommit } from '../../local/msk-event';
import { collectOutput } from '../helpers/child-output';
import { type TestDatabase, uniqueName } from '../helpers/postgres';
import { type AggregatorPipeline, drainTopic, openAggregatorPipeline } from './support/pipeline';
import {
  expectedText,
  interleave,
  malformedTransactions,
  readTotals,
  validTransactions,
} from './support/transactions';

const brokers = kafkaBrokersFromEnv();
const topic = uniqueName('e2e-crash');
const groupId = `${topic}-aggregator`;
const valid = validTransactions(900, 7);
const malformed = malformedTransactions();
const BATCH_SIZE = 60;
const CRASH_AFTER_BATCHES = 4;

interface CrashReport {
  readonly batch: number;
  readonly result: AggregatorResult;
  readonly commits: PartitionCommit[];
}

let pipeline: AggregatorPipeline | undefined;
let database: TestDatabase;
let kafka: Kafka;
let admin: Admin;

/** Runs the mapping in a child process that SIGKILLs itself between the database commit and the offset commit. */
function runCrashingMapping(): Promise<{
  signal: NodeJS.Signals | null;
  reports: CrashReport[];
  stderr: string;
}> {
  const root = path.resolve(__dirname, '..', '..');
  const child = spawn(
    process.execPath,
    // tsx as a loader rather than its CLI, so that no wrapper process stands between the test and the kill.
    ['--import', 'tsx', path.join(__dirname, 'support', 'crashing-mapping.ts')],
    {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: database.url,
        CONSUMER_GROUP_ID: groupId,
        KAFKA_TOPIC: topic,
        BATCH_SIZE: String(BATCH_SIZE),
        CRASH_AFTER_BATCHES: String(CRASH_AFTER_BATCHES),
        POWERTOOLS_LOG_LEVEL: 'ERROR',
        POWERTOOLS_METRICS_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output = collectOutput(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`The crashing mapping did not crash within 40 s; stderr: ${output.stderr}`));
    }, 40_000);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      const reports = output.stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as CrashReport);
      resolve({ signal, reports, stderr: output.stderr });
    });
  });
}

beforeAll(async () => {
  pipeline = await openAggregatorPipeline({
    clientId: 'e2e-crash',
    brokers,
    topic,
    groupId,
    messages: interleave(
      valid.messages,
      malformed.map((bad) => bad.message),
    ),
    sendSize: 200,
  });
  ({ database, kafka, admin } = pipeline);
});

afterAll(async () => {
  await pipeline?.close();
});

describe('a poller killed between the database commit and the offset commit', () => {
  it('applies every record exactly once after the restart', async () => {
    // Act 1: the poller dies with SIGKILL right after the aggregator committed its fourth batch.
    const crash = await runCrashingMapping();

    // Assess 1: the fourth batch is in the database but its offsets are not committed in Kafka.
    expect(crash.signal, crash.stderr).toBe('SIGKILL');
    expect(crash.reports.map((report) => report.batch)).toEqual([1, 2, 3, 4]);
    const appliedBeforeCrash = crash.reports.reduce((n, report) => n + report.result.accepted, 0);
    const totalsAfterCrash = await readTotals(database.url);
    expect(totalsAfterCrash.flowRecords).toBe(appliedBeforeCrash);
    const lastBatch = crash.reports[3];
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committedByPartition = new Map(
      (committed[0]?.partitions ?? []).map((entry) => [entry.partition, Number(entry.offset)]),
    );
    for (const commit of lastBatch?.commits ?? []) {
      expect(committedByPartition.get(commit.partition) ?? -1).toBeLessThan(Number(commit.offset));
    }

    // Act 2: a new poller in the same consumer group resumes from the committed offsets.
    const aggregator = await import('../../lambda/aggregator/index.js');
    const { results } = await drainTopic({
      kafka,
      topic,
      groupId,
      brokers,
      batching: { batchSize: BATCH_SIZE, windowMs: 200 },
      handler: aggregator.handler,
    });

    // Assess 2: the redelivered fourth batch was recognised, and the sums are those of one clean pass.
    const deduplicated = results.reduce((n, result) => n + result.deduplicated, 0);
    const lastBatchRecords =
      (lastBatch?.result.accepted ?? 0) +
      (lastBatch?.result.rejected ?? 0) +
      (lastBatch?.result.deduplicated ?? 0);
    expect(deduplicated).toBe(lastBatchRecords);
    const acceptedAfterRestart = results.reduce((n, result) => n + result.accepted, 0);
    expect(appliedBeforeCrash + acceptedAfterRestart).toBe(valid.messages.length);

    const totals = await readTotals(database.url);
    expect(totals.positions).toEqual(expectedText(valid.expected));
    expect(totals.flowSums).toEqual(expectedText(valid.expected));
    expect(totals.flowRecords).toBe(valid.messages.length);
    const { rows } = await database.pool.query<{ n: number; distinct: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT (partition, "offset"))::int AS distinct FROM rejected_transactions`,
    );
    expect(rows[0]).toEqual({ n: malformed.length, distinct: malformed.length });
  });
});
