import type { Clock } from '../../lambda/producer/pacing';

/** A clock that only moves when told to: `sleep` advances it instantly and records the wait. */
export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  private time: number;

  constructor(start = 1_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.time += ms;
  }

  advance(ms: number): void {
    this.time += ms;
  }
}
