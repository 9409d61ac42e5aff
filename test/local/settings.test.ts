import { afterEach, describe, expect, it, vi } from 'vitest';
import { localRuntimeSettingsFromEnv, parseStartFlags } from '../../local/settings';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('parseStartFlags', () => {
  it('runs everything with the live view on a terminal', () => {
    expect(parseStartFlags([], true)).toEqual({ producer: true, consumer: true, ui: true, help: false });
  });

  it('falls back to plain lines when stdout is not a terminal or --no-ui is given', () => {
    expect(parseStartFlags([], false).ui).toBe(false);
    expect(parseStartFlags(['--no-ui'], true).ui).toBe(false);
  });

  it('runs one side only on request', () => {
    expect(parseStartFlags(['--consumer-only'], true)).toMatchObject({ producer: false, consumer: true });
    expect(parseStartFlags(['--producer-only'], true)).toMatchObject({ producer: true, consumer: false });
  });

  it('rejects contradictory or unknown flags', () => {
    expect(() => parseStartFlags(['--consumer-only', '--producer-only'], true)).toThrow(/exclude each other/);
    expect(() => parseStartFlags(['--fast'], true)).toThrow();
  });
});

describe('localRuntimeSettingsFromEnv', () => {
  it('defaults to the original pipeline: 100 msg/s continuous, 1,000-record batches as deployed, 2 s window, 3 partitions', () => {
    for (const name of [
      'CONSUMER_GROUP_ID',
      'PRODUCER_RATE',
      'LOCAL_PRODUCER_INTERVAL_SECONDS',
      'LOCAL_PRODUCER_INVOCATION_SECONDS',
      'LOCAL_BATCH_SIZE',
      'LOCAL_BATCH_WINDOW_MS',
      'LOCAL_TOPIC_PARTITIONS',
    ]) {
      vi.stubEnv(name, undefined);
    }
    expect(localRuntimeSettingsFromEnv()).toEqual({
      groupId: 'transaction-aggregator',
      rate: 100,
      producerIntervalSeconds: 0,
      invocationSeconds: 2,
      batchSize: 1_000,
      batchWindowMs: 2_000,
      partitions: 3,
    });
  });

  it('names the variable that is out of range', () => {
    vi.stubEnv('LOCAL_BATCH_SIZE', '0');
    expect(() => localRuntimeSettingsFromEnv()).toThrow(/LOCAL_BATCH_SIZE/);
  });
});
