import { setTimeout as sleep } from 'node:timers/promises';

/** Time source and sleeper, injectable so a schedule can be tested without waiting for it. */
export interface Clock {
  /** Milliseconds on a monotonic scale; only differences matter. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: async (ms) => {
    await sleep(ms);
  },
};

/**
 * Paced mode sends a small batch every 200 ms: close enough to a steady stream that the aggregator's 2-second
 * batching window sees about ten sends, while one produce request per tick keeps the per-message overhead low.
 */
export const PACED_TICK_MS = 200;

/** Upper bound on one produce request, in messages; a larger paced tick is split. */
export const MAX_BATCH_SIZE = 5_000;

/** Burst batches: large enough to amortise a round trip and compress well, small enough to stay under 1 MB. */
export const BURST_BATCH_SIZE = 2_000;

/**
 * Sends kept in flight in burst mode. kafkajs serialises an idempotent producer's requests per broker, so the
 * gain comes from preparing (generating, compressing) the next batch while the previous one is on the wire.
 */
export const BURST_CONCURRENCY = 4;

export interface Tick {
  /** Offset from the start of the run. */
  readonly atMs: number;
  readonly count: number;
}

/**
 * `total` messages spread at `rate` per second: tick `i` brings the running total to `floor(rate * elapsed)`, so
 * rounding never accumulates and the counts add up to exactly `total`. Ticks that would send nothing are left
 * out (rates below one message per tick).
 */
export function pacedSchedule(total: number, rate: number, tickMs: number = PACED_TICK_MS): Tick[] {
  assertPositiveInteger('total', total, true);
  assertPositiveInteger('rate', rate);
  assertPositiveInteger('tickMs', tickMs);
  const ticks: Tick[] = [];
  let scheduled = 0;
  for (let index = 0; scheduled < total; index += 1) {
    const due = Math.min(total, Math.floor((rate * (index + 1) * tickMs) / 1000));
    if (due > scheduled) {
      ticks.push({ atMs: index * tickMs, count: due - scheduled });
      scheduled = due;
    }
  }
  return ticks;
}

/** `count` split into sends of at most `batchSize`, the remainder last. */
export function splitIntoBatches(count: number, batchSize: number): number[] {
  assertPositiveInteger('count', count, true);
  assertPositiveInteger('batchSize', batchSize);
  const batches: number[] = [];
  for (let remaining = count; remaining > 0; remaining -= batchSize) {
    batches.push(Math.min(remaining, batchSize));
  }
  return batches;
}

function assertPositiveInteger(name: string, value: number, allowZero = false): void {
  if (!Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new Error(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${value}`);
  }
}

/** Sends `count` messages; resolves once the batch is accounted for (sent or counted as failed). */
export type SendBatch = (count: number) => Promise<void>;

export interface RunOptions {
  readonly clock?: Clock;
  /** Clock time after which nothing new is started: the invocation must return before Lambda stops it. */
  readonly deadline?: number;
}

export interface RunResult {
  /** Messages in the schedule that were never started because the deadline came first. */
  readonly skipped: number;
}

/**
 * Walks the schedule against the clock. Sends are awaited one after another: if one is slow the next tick
 * starts late and the schedule catches up, so the total is kept rather than the exact spacing.
 */
export async function runPaced(
  ticks: readonly Tick[],
  send: SendBatch,
  options: RunOptions & { readonly maxBatchSize?: number } = {},
): Promise<RunResult> {
  const clock = options.clock ?? systemClock;
  const start = clock.now();
  for (const [index, tick] of ticks.entries()) {
    const due = start + tick.atMs;
    if (options.deadline !== undefined && Math.max(due, clock.now()) >= options.deadline) {
      return { skipped: ticks.slice(index).reduce((sum, rest) => sum + rest.count, 0) };
    }
    const wait = due - clock.now();
    if (wait > 0) {
      await clock.sleep(wait);
    }
    for (const batch of splitIntoBatches(tick.count, options.maxBatchSize ?? MAX_BATCH_SIZE)) {
      await send(batch);
    }
  }
  return { skipped: 0 };
}

/** Sends the batches as fast as the broker takes them, `concurrency` at a time. */
export async function runBurst(
  batches: readonly number[],
  send: SendBatch,
  options: RunOptions & { readonly concurrency?: number } = {},
): Promise<RunResult> {
  const clock = options.clock ?? systemClock;
  const concurrency = options.concurrency ?? BURST_CONCURRENCY;
  assertPositiveInteger('concurrency', concurrency);
  let next = 0;
  let skipped = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next] ?? 0;
      next += 1;
      if (options.deadline !== undefined && clock.now() >= options.deadline) {
        skipped += batch;
        continue;
      }
      await send(batch);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, worker));
  return { skipped };
}
