import type { PoolClient } from 'pg';
import { processBatch } from '../lambda/aggregator/process-batch';
import type { ConnectionSource } from '../lambda/shared/database';
import { benchEvent } from './events';
import { cpuMillisSince, median, round } from './stats';

export interface CpuOptions {
  readonly batchSizes: readonly number[];
  /** Interleaved floor/candidate pairs per batch size. */
  readonly samples: number;
  /** CPU time each sample should last at least, so timer resolution and one-off pauses do not dominate. */
  readonly sampleMillis: number;
}

export interface CpuResult {
  readonly records: number;
  /** Median of the per-pair ratios candidate / floor. */
  readonly ratioToFloor: number;
  readonly floorMicrosPerEvent: number;
  readonly candidateMicrosPerEvent: number;
  readonly candidateNanosPerRecord: number;
  /** JSON.parse of the event alone: what the Lambda runtime spends before the handler runs. */
  readonly eventParseMicrosPerEvent: number;
  readonly repetitionsPerSample: number;
  readonly samples: number;
}

/**
 * Answers the two statements processBatch sends inside its transaction the way PostgreSQL would (a fresh
 * ledger, every row written), at no cost, so that only the aggregator's own CPU is measured.
 */
function fakeDatabase(): ConnectionSource {
  const client = {
    async query(text: string, values?: unknown[]) {
      if (text.includes('INSERT INTO consumer_offsets')) {
        const topics = values?.[1] as string[];
        const partitions = values?.[2] as number[];
        return { rows: topics.map((topic, i) => ({ topic, partition: partitions[i], last_offset: '-1' })) };
      }
      if (text.includes('INSERT INTO transaction_flow')) {
        const totals = (values?.[3] as unknown[]).length;
        return {
          rows: [
            {
              flow_rows: totals,
              position_rows: totals,
              rejected_rows: (values?.[10] as unknown[]).length,
              ledger_rows: (values?.[19] as unknown[]).length,
            },
          ],
        };
      }
      return { rows: [] };
    },
    on: () => client,
    off: () => client,
    release: () => undefined,
  };
  return { connect: async () => client as unknown as PoolClient };
}

/** Keeps the floor's parse results observable so the work cannot be optimised away. */
let sink = 0;

/** The least any aggregator must do: parse the event, base64-decode and parse every value. */
function floor(eventJson: string): void {
  const event = JSON.parse(eventJson) as { records: Record<string, { value: string }[]> };
  for (const records of Object.values(event.records)) {
    for (const record of records) {
      const message = JSON.parse(Buffer.from(record.value, 'base64').toString('utf8')) as { amount: number };
      sink += message.amount;
    }
  }
}

async function candidate(eventJson: string, database: ConnectionSource, expected: number): Promise<void> {
  const result = await processBatch(database, JSON.parse(eventJson), {
    consumerGroupId: 'bench',
    batchId: '00000000-0000-4000-8000-000000000000',
    batchTime: new Date(0),
  });
  if (result.accepted !== expected) {
    throw new Error(`The aggregator accepted ${result.accepted} of ${expected} records`);
  }
}

async function timeFloor(eventJson: string, reps: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < reps; i++) floor(eventJson);
  return cpuMillisSince(start);
}

async function timeCandidate(
  eventJson: string,
  reps: number,
  database: ConnectionSource,
  expected: number,
): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < reps; i++) await candidate(eventJson, database, expected);
  return cpuMillisSince(start);
}

/**
 * CPU per MSK event of the aggregator's decode + validate + aggregate (processBatch with the database replaced
 * by a fake) against the floor. Both get the event as a JSON string, so both pay for parsing it, as the
 * Lambda runtime does before the handler runs. Floor and candidate samples alternate (ABBA) so drift in the
 * machine's speed hits both alike; the result is the median of the per-pair ratios.
 */
export async function measureAggregatorCpu(options: CpuOptions): Promise<CpuResult[]> {
  const database = fakeDatabase();
  const results: CpuResult[] = [];
  for (const records of options.batchSizes) {
    const eventJson = JSON.stringify(benchEvent({ records }));
    for (let i = 0; i < 5; i++) {
      floor(eventJson);
      await candidate(eventJson, database, records);
    }
    const single = Math.max(0.01, await timeFloor(eventJson, 3)) / 3;
    const reps = Math.max(1, Math.ceil(options.sampleMillis / single));
    const ratios: number[] = [];
    const floors: number[] = [];
    const candidates: number[] = [];
    for (let sample = 0; sample < options.samples; sample++) {
      let floorMs: number;
      let candidateMs: number;
      if (sample % 2 === 0) {
        floorMs = await timeFloor(eventJson, reps);
        candidateMs = await timeCandidate(eventJson, reps, database, records);
      } else {
        candidateMs = await timeCandidate(eventJson, reps, database, records);
        floorMs = await timeFloor(eventJson, reps);
      }
      ratios.push(candidateMs / floorMs);
      floors.push((floorMs * 1000) / reps);
      candidates.push((candidateMs * 1000) / reps);
    }
    const parses: number[] = [];
    for (let sample = 0; sample < 5; sample++) {
      const start = process.cpuUsage();
      for (let i = 0; i < reps; i++) sink += Object.keys(JSON.parse(eventJson) as object).length;
      parses.push((cpuMillisSince(start) * 1000) / reps);
    }
    results.push({
      records,
      ratioToFloor: round(median(ratios), 3),
      floorMicrosPerEvent: round(median(floors)),
      candidateMicrosPerEvent: round(median(candidates)),
      candidateNanosPerRecord: round((median(candidates) * 1000) / records),
      eventParseMicrosPerEvent: round(median(parses)),
      repetitionsPerSample: reps,
      samples: options.samples,
    });
  }
  if (Number.isNaN(sink)) throw new Error('unreachable: keeps the floor result alive');
  return results;
}
