import { describe, expect, it, vi } from 'vitest';
import { withRetries } from '../../lambda/topic-admin/retry';

const retryable = (error: unknown) => error instanceof Error && error.message === 'transient';

describe('withRetries', () => {
  it('retries a transient failure after the delay and returns the result', async () => {
    const sleeps: number[] = [];
    const onRetry = vi.fn();
    const operation = vi
      .fn<(attempt: number) => Promise<string>>()
      .mockRejectedValueOnce(new Error('transient'))
      .mockResolvedValueOnce('done');

    const result = await withRetries(operation, {
      attempts: 3,
      delayMs: 250,
      shouldRetry: retryable,
      onRetry,
      sleep: async (ms) => void sleeps.push(ms),
    });

    expect(result).toBe('done');
    expect(operation.mock.calls).toEqual([[1], [2]]);
    expect(sleeps).toEqual([250]);
    expect(onRetry).toHaveBeenCalledWith(new Error('transient'), 2);
  });

  it('fails at once on an error not worth retrying', async () => {
    const operation = vi.fn(async () => {
      throw new Error('INVALID_REPLICATION_FACTOR');
    });

    await expect(
      withRetries(operation, {
        attempts: 5,
        delayMs: 1,
        shouldRetry: retryable,
        sleep: async () => undefined,
      }),
    ).rejects.toThrow('INVALID_REPLICATION_FACTOR');
    expect(operation).toHaveBeenCalledTimes(1);
  });

  it('passes on the last error when the attempts run out', async () => {
    const operation = vi.fn(async () => {
      throw new Error('transient');
    });

    await expect(
      withRetries(operation, {
        attempts: 3,
        delayMs: 1,
        shouldRetry: retryable,
        sleep: async () => undefined,
      }),
    ).rejects.toThrow('transient');
    expect(operation).toHaveBeenCalledTimes(3);
  });
});
