import { describe, expect, it } from 'vitest';
import type { ProduceResult, ProducerEvent } from '../../lambda/producer';
import { continuousEvent, ProducerSchedule } from '../../local/schedule';

function result(sent: number): ProduceResult {
  return { sent, failed: 0, bytes: sent * 80, durationMs: 1, skipped: 0 };
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ProducerSchedule', () => {
  it('invokes back to back with the configured event until stopped, never overlapping', async () => {
    // Prepare
    const events: (ProducerEvent | undefined)[] = [];
    let running = 0;
    let overlapped = false;
    const schedule = new ProducerSchedule({
      event: continuousEvent(100, 2),
      intervalMs: 0,
      handler: async (event) => {
        running += 1;
        overlapped ||= running > 1;
        events.push(event);
        await wait(10);
        running -= 1;
        return result(20);
      },
    });

    // Act
    schedule.start();
    await wait(120);
    await schedule.stop();
    const afterStop = events.length;
    await wait(50);

    // Assess
    expect(overlapped).toBe(false);
    expect(afterStop).toBeGreaterThanOrEqual(3);
    expect(events.length).toBe(afterStop);
    expect(events[0]).toEqual({ mode: 'paced', rate: 100, durationSeconds: 2 });
    expect(schedule.stats()).toMatchObject({
      invocations: afterStop,
      sent: afterStop * 20,
      failedInvocations: 0,
    });
  });

  it('keeps the interval between invocation starts', async () => {
    const starts: number[] = [];
    const schedule = new ProducerSchedule({
      event: {},
      intervalMs: 60,
      handler: async () => {
        starts.push(Date.now());
        return result(1);
      },
    });
    schedule.start();
    await wait(200);
    await schedule.stop();
    expect(starts.length).toBeGreaterThanOrEqual(3);
    expect(starts.length).toBeLessThanOrEqual(4);
    for (let i = 1; i < starts.length; i += 1) {
      expect((starts[i] ?? 0) - (starts[i - 1] ?? 0)).toBeGreaterThanOrEqual(55);
    }
  });

  it('stops at once while waiting for the next slot', async () => {
    const schedule = new ProducerSchedule({ event: {}, intervalMs: 60_000, handler: async () => result(1) });
    schedule.start();
    await wait(20);
    const began = Date.now();
    await schedule.stop();
    expect(Date.now() - began).toBeLessThan(100);
    expect(schedule.stats().invocations).toBe(1);
  });

  it('records a failing invocation and retries it no faster than once a second', async () => {
    let calls = 0;
    const schedule = new ProducerSchedule({
      event: {},
      intervalMs: 0,
      handler: async () => {
        calls += 1;
        throw new Error('broker unreachable');
      },
    });
    schedule.start();
    await wait(300);
    await schedule.stop();
    expect(calls).toBe(1);
    expect(schedule.stats()).toMatchObject({ invocations: 1, failedInvocations: 1 });
    expect(schedule.stats().lastError?.message).toBe('broker unreachable');
  });

  it('gives up waiting for a long invocation after the grace period', async () => {
    let finish: () => void = () => undefined;
    const schedule = new ProducerSchedule({
      event: {},
      intervalMs: 0,
      handler: () =>
        new Promise((resolve) => {
          finish = () => resolve(result(1));
        }),
    });
    schedule.start();
    await wait(10);
    const began = Date.now();
    expect(await schedule.stop(50)).toBe(false);
    expect(Date.now() - began).toBeLessThan(500);
    finish();
    expect(await schedule.stop(50)).toBe(true);
    expect(schedule.stats().invocations).toBe(1);
  });

  it('rejects a negative interval', () => {
    expect(() => new ProducerSchedule({ event: {}, intervalMs: -1, handler: async () => result(0) })).toThrow(
      /interval/,
    );
  });
});
