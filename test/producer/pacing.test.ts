import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PACED_TICK_MS,
  pacedSchedule,
  runBurst,
  runPaced,
  splitIntoBatches,
  type Tick,
} from '../../lambda/producer/pacing';
import { FakeClock } from './fake-clock';

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

describe('pacedSchedule', () => {
  it('spreads the default minute (100 msg/s for 50 s) into 20 messages every 200 ms', () => {
    const ticks = pacedSchedule(5_000, 100);

    expect(ticks).toHaveLength(250);
    expect(ticks.every((tick) => tick.count === 20)).toBe(true);
    expect(ticks.map((tick) => tick.atMs)).toEqual(Array.from({ length: 250 }, (_, i) => i * PACED_TICK_MS));
    expect(ticks.at(-1)?.atMs).toBe(49_800);
  });

  it('skips empty ticks at low rates and still sends exactly the total', () => {
    const ticks = pacedSchedule(7, 3);

    expect(ticks).toEqual([
      { atMs: 200, count: 1 },
      { atMs: 600, count: 1 },
      { atMs: 800, count: 1 },
      { atMs: 1_200, count: 1 },
      { atMs: 1_600, count: 1 },
      { atMs: 1_800, count: 1 },
      { atMs: 2_200, count: 1 },
    ]);
  });

  it('never runs ahead of the rate nor falls a tick behind, and always adds up to the total', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        (total, rate) => {
          const ticks = pacedSchedule(total, rate);
          let cumulative = 0;
          for (const tick of ticks) {
            cumulative += tick.count;
            const allowed = (rate * (tick.atMs + PACED_TICK_MS)) / 1000;
            const behind = Math.min(total, allowed) - cumulative;
            if (tick.count <= 0 || cumulative > allowed || behind >= 1) {
              throw new Error(
                `tick ${JSON.stringify(tick)} breaks the pace: ${cumulative} sent, ${allowed} allowed`,
              );
            }
          }
          expect(cumulative).toBe(total);
        },
      ),
    );
  });

  it.each([
    [10, 0],
    [10, 1.5],
    [-1, 10],
    [Number.NaN, 10],
  ])('rejects total=%s rate=%s', (total, rate) => {
    expect(() => pacedSchedule(total, rate)).toThrow(/must be a/);
  });
});

describe('splitIntoBatches', () => {
  it('splits into full batches with the remainder last', () => {
    expect(splitIntoBatches(12_345, 5_000)).toEqual([5_000, 5_000, 2_345]);
    expect(splitIntoBatches(4_000, 2_000)).toEqual([2_000, 2_000]);
    expect(splitIntoBatches(0, 2_000)).toEqual([]);
    expect(() => splitIntoBatches(10, 0)).toThrow(/batchSize/);
  });
});

describe('runPaced', () => {
  it('sends each tick at its time on the clock without real waiting', async () => {
    // Prepare
    const clock = new FakeClock();
    const sends: Array<{ at: number; count: number }> = [];

    // Act
    const result = await runPaced(
      pacedSchedule(500, 100),
      async (count) => {
        sends.push({ at: clock.now() - 1_000, count });
      },
      { clock },
    );

    // Assess
    expect(result).toEqual({ skipped: 0 });
    expect(sends).toHaveLength(25);
    expect(sends.map((send) => send.at)).toEqual(Array.from({ length: 25 }, (_, i) => i * 200));
    expect(sum(sends.map((send) => send.count))).toBe(500);
    expect(clock.now() - 1_000).toBe(4_800);
  });

  it('catches up after a slow send instead of dropping messages', async () => {
    const clock = new FakeClock();
    const sends: Array<{ at: number; count: number }> = [];

    await runPaced(
      pacedSchedule(100, 100),
      async (count) => {
        sends.push({ at: clock.now() - 1_000, count });
        if (sends.length === 1) clock.advance(700);
      },
      { clock },
    );

    expect(sends.map((send) => send.at)).toEqual([0, 700, 700, 700, 800]);
    expect(sum(sends.map((send) => send.count))).toBe(100);
    expect(clock.sleeps).toEqual([100]);
  });

  it('splits a tick larger than one request', async () => {
    const counts: number[] = [];
    const ticks: Tick[] = [{ atMs: 0, count: 12_000 }];

    await runPaced(ticks, async (count) => void counts.push(count), {
      clock: new FakeClock(),
      maxBatchSize: 5_000,
    });

    expect(counts).toEqual([5_000, 5_000, 2_000]);
  });

  it('stops at the deadline and reports what it did not start', async () => {
    const clock = new FakeClock();
    const counts: number[] = [];

    const result = await runPaced(pacedSchedule(1_000, 100), async (count) => void counts.push(count), {
      clock,
      deadline: clock.now() + 3_000,
    });

    expect(sum(counts)).toBe(300);
    expect(result).toEqual({ skipped: 700 });
  });
});

describe('runBurst', () => {
  it('sends every batch without sleeping, keeping the requested number in flight', async () => {
    // Prepare
    const clock = new FakeClock();
    let inFlight = 0;
    let peak = 0;
    const counts: number[] = [];
    const send = async (count: number) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      counts.push(count);
      inFlight -= 1;
    };

    // Act
    const result = await runBurst(splitIntoBatches(25_000, 2_000), send, { clock, concurrency: 4 });

    // Assess
    expect(result).toEqual({ skipped: 0 });
    expect(counts).toHaveLength(13);
    expect(sum(counts)).toBe(25_000);
    expect(peak).toBe(4);
    expect(clock.sleeps).toEqual([]);
  });

  it('does not start batches after the deadline', async () => {
    const clock = new FakeClock();
    const counts: number[] = [];

    const result = await runBurst(
      [1_000, 1_000, 1_000, 1_000],
      async (count) => {
        counts.push(count);
        clock.advance(100);
      },
      { clock, concurrency: 1, deadline: clock.now() + 150 },
    );

    expect(counts).toEqual([1_000, 1_000]);
    expect(result).toEqual({ skipped: 2_000 });
  });
});
