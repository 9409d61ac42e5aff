import { intEnv } from '../shared/env';
import { DEFAULT_MESSAGES_PER_SECOND } from '../shared/transaction';

/**
 * What a schedule (or a person running a load test) may ask of one invocation. Everything is optional: an empty
 * event sends `PRODUCER_RATE` messages a second for `PRODUCER_DURATION_SECONDS`.
 */
export interface ProducerEvent {
  /** `paced` spreads messages evenly over time; `burst` sends `count` messages as fast as the broker takes them. */
  readonly mode?: 'paced' | 'burst';
  /** Messages to send. Paced: instead of `durationSeconds`. Burst: required. */
  readonly count?: number;
  /** Paced only: messages per second. @default PRODUCER_RATE */
  readonly rate?: number;
  /** Paced only: how long to send for. @default PRODUCER_DURATION_SECONDS */
  readonly durationSeconds?: number;
}

export type ProducerPlan =
  | { readonly mode: 'paced'; readonly total: number; readonly rate: number }
  | { readonly mode: 'burst'; readonly total: number };

export interface ProducerDefaults {
  readonly rate: number;
  readonly durationSeconds: number;
}

export const LIMITS = {
  count: { min: 1, max: 10_000_000 },
  rate: { min: 1, max: 100_000 },
  /** A Lambda invocation lasts at most 15 minutes. */
  durationSeconds: { min: 1, max: 900 },
} as const;

/**
 * 50 s leaves ten seconds of a one-minute schedule (and of a 60 s function timeout) for the cold start, the
 * connection and the last acknowledgements, so invocations never overlap.
 */
export const DEFAULT_DURATION_SECONDS = 50;

export function producerDefaultsFromEnv(): ProducerDefaults {
  return {
    rate: intEnv('PRODUCER_RATE', DEFAULT_MESSAGES_PER_SECOND, LIMITS.rate),
    durationSeconds: intEnv('PRODUCER_DURATION_SECONDS', DEFAULT_DURATION_SECONDS, LIMITS.durationSeconds),
  };
}

const KNOWN_KEYS = new Set(['mode', 'count', 'rate', 'durationSeconds']);

/** Validates an invocation event; bad input throws an error that says which field and what is allowed. */
export function planFromEvent(event: unknown, defaults: ProducerDefaults): ProducerPlan {
  if (event === undefined || event === null) {
    return pacedPlan(undefined, undefined, undefined, defaults);
  }
  if (typeof event !== 'object' || Array.isArray(event)) {
    throw new Error('Producer event must be an object such as {"mode":"burst","count":100000}');
  }
  const fields = event as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !KNOWN_KEYS.has(key));
  if (unknown.length > 0) {
    throw new Error(
      `Producer event has unknown field(s) ${unknown.join(', ')}; allowed: ${[...KNOWN_KEYS].join(', ')}`,
    );
  }
  const mode = fields.mode ?? 'paced';
  const count = optionalInteger(fields, 'count');
  const rate = optionalInteger(fields, 'rate');
  const durationSeconds = optionalInteger(fields, 'durationSeconds');

  if (mode === 'paced') {
    return pacedPlan(count, rate, durationSeconds, defaults);
  }
  if (mode === 'burst') {
    if (rate !== undefined || durationSeconds !== undefined) {
      throw new Error('Producer event: rate and durationSeconds apply to paced mode only; burst takes count');
    }
    if (count === undefined) {
      throw new Error('Producer event: burst mode needs count, the number of messages to send');
    }
    return { mode: 'burst', total: count };
  }
  throw new Error(`Producer event: mode must be "paced" or "burst", got ${JSON.stringify(mode)}`);
}

function pacedPlan(
  count: number | undefined,
  rate: number | undefined,
  durationSeconds: number | undefined,
  defaults: ProducerDefaults,
): ProducerPlan {
  if (count !== undefined && durationSeconds !== undefined) {
    throw new Error('Producer event: give count or durationSeconds for paced mode, not both');
  }
  const pace = rate ?? defaults.rate;
  const total = count ?? pace * (durationSeconds ?? defaults.durationSeconds);
  if (total > LIMITS.count.max) {
    throw new Error(`Producer event: rate x durationSeconds is ${total} messages, above ${LIMITS.count.max}`);
  }
  return { mode: 'paced', total, rate: pace };
}

function optionalInteger(fields: Record<string, unknown>, name: keyof typeof LIMITS): number | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  const { min, max } = LIMITS[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(
      `Producer event: ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}
