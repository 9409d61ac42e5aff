import type { ProduceResult, ProducerEvent } from '../lambda/producer';

export type ProducerHandler = (event?: ProducerEvent) => Promise<ProduceResult>;

export interface ScheduleOptions {
  readonly handler: ProducerHandler;
  /** The event of every invocation, as EventBridge Scheduler would send it. */
  readonly event: ProducerEvent;
  /**
   * Time from one invocation's start to the next, like a `rate(...)` schedule; an invocation that runs longer
   * is followed at once, never overlapped. 0 runs invocations back to back: a continuous, paced stream.
   */
  readonly intervalMs: number;
  readonly onResult?: (result: ProduceResult) => void;
  readonly onError?: (error: unknown) => void;
}

export interface ScheduleStats {
  readonly invocations: number;
  readonly failedInvocations: number;
  readonly sent: number;
  readonly failed: number;
  readonly bytes: number;
  readonly lastError?: { readonly message: string; readonly at: Date };
}

/**
 * A continuous paced stream of about 100 messages a second, as the original generator sent: short paced
 * invocations, one every `invocationSeconds`, so that a stop waits for at most one of them.
 */
export function continuousEvent(rate: number, invocationSeconds: number): ProducerEvent {
  return { mode: 'paced', rate, durationSeconds: invocationSeconds };
}

/** EventBridge Scheduler, locally: invokes the producer on an interval until stopped. */
export class ProducerSchedule {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private counters = { invocations: 0, failedInvocations: 0, sent: 0, failed: 0, bytes: 0 };
  private lastError: ScheduleStats['lastError'];

  constructor(private readonly options: ScheduleOptions) {
    if (!Number.isFinite(options.intervalMs) || options.intervalMs < 0) {
      throw new Error(`The schedule interval must be 0 or more milliseconds, got ${options.intervalMs}`);
    }
  }

  start(): void {
    if (this.loop !== undefined) throw new Error('The producer schedule is already started');
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Schedules no more invocations and waits for the one in progress (a paced run ends within its duration) for
   * at most `graceMs`; returns whether it finished. One still running is abandoned to the caller, who closes
   * the producer under it.
   */
  async stop(graceMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    this.running = false;
    this.wake?.();
    if (this.loop === undefined) return true;
    if (!Number.isFinite(graceMs)) {
      await this.loop;
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      this.loop.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    return finished;
  }

  stats(): ScheduleStats {
    return { ...this.counters, ...(this.lastError === undefined ? {} : { lastError: this.lastError }) };
  }

  private async run(): Promise<void> {
    while (this.running) {
      const began = Date.now();
      let failedNow = false;
      try {
        const result = await this.options.handler(this.options.event);
        this.counters.invocations += 1;
        this.counters.sent += result.sent;
        this.counters.failed += result.failed;
        this.counters.bytes += result.bytes;
        this.options.onResult?.(result);
      } catch (error) {
        this.counters.invocations += 1;
        this.counters.failedInvocations += 1;
        failedNow = true;
        this.lastError = { message: error instanceof Error ? error.message : String(error), at: new Date() };
        this.options.onError?.(error);
      }
      // A failing producer (broker down) is retried at most once a second, not in a tight loop.
      const minimumGap = failedNow ? 1_000 : 0;
      await this.sleep(Math.max(minimumGap, began + this.options.intervalMs - Date.now()));
    }
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
