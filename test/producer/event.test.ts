import { afterEach, describe, expect, it, vi } from 'vitest';
import { planFromEvent, producerDefaultsFromEnv } from '../../lambda/producer/event';

const defaults = { rate: 100, durationSeconds: 50 };

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('planFromEvent', () => {
  it.each([undefined, null, {}])('paces the default minute for %s', (event) => {
    expect(planFromEvent(event, defaults)).toEqual({ mode: 'paced', total: 5_000, rate: 100 });
  });

  it('takes rate, durationSeconds or count for paced mode', () => {
    expect(planFromEvent({ rate: 1_000, durationSeconds: 10 }, defaults)).toEqual({
      mode: 'paced',
      total: 10_000,
      rate: 1_000,
    });
    expect(planFromEvent({ mode: 'paced', count: 30 }, defaults)).toEqual({
      mode: 'paced',
      total: 30,
      rate: 100,
    });
  });

  it('takes count for burst mode', () => {
    expect(planFromEvent({ mode: 'burst', count: 1_000_000 }, defaults)).toEqual({
      mode: 'burst',
      total: 1_000_000,
    });
  });

  it.each([
    ['a string', 'burst', /must be an object/],
    ['an array', [], /must be an object/],
    ['an unknown mode', { mode: 'flood' }, /mode must be "paced" or "burst", got "flood"/],
    ['burst without count', { mode: 'burst' }, /burst mode needs count/],
    ['burst with a rate', { mode: 'burst', count: 10, rate: 5 }, /paced mode only/],
    ['count and duration together', { count: 10, durationSeconds: 5 }, /not both/],
    ['a zero count', { count: 0 }, /count must be an integer from 1 to 10000000, got 0/],
    ['a fractional rate', { rate: 2.5 }, /rate must be an integer/],
    ['a numeric string', { count: '100' }, /count must be an integer.*got "100"/],
    [
      'a duration beyond 15 minutes',
      { durationSeconds: 901 },
      /durationSeconds must be an integer from 1 to 900/,
    ],
    ['a misspelt field', { durationSecond: 5 }, /unknown field\(s\) durationSecond; allowed: mode, count/],
    ['too many messages in total', { rate: 100_000, durationSeconds: 900 }, /above 10000000/],
  ])('rejects %s', (_, event, message) => {
    expect(() => planFromEvent(event, defaults)).toThrow(message);
  });
});

describe('producerDefaultsFromEnv', () => {
  it('defaults to 100 messages a second for 50 seconds', () => {
    expect(producerDefaultsFromEnv()).toEqual({ rate: 100, durationSeconds: 50 });
  });

  it('reads PRODUCER_RATE and PRODUCER_DURATION_SECONDS, failing on bad values', () => {
    vi.stubEnv('PRODUCER_RATE', '250');
    vi.stubEnv('PRODUCER_DURATION_SECONDS', '20');
    expect(producerDefaultsFromEnv()).toEqual({ rate: 250, durationSeconds: 20 });

    vi.stubEnv('PRODUCER_RATE', '0');
    expect(() => producerDefaultsFromEnv()).toThrow(/PRODUCER_RATE/);
  });
});
