export interface RetryOptions {
  readonly attempts: number;
  readonly delayMs: number;
  readonly shouldRetry: (error: unknown) => boolean;
  readonly onRetry?: (error: unknown, nextAttempt: number) => void;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Runs `operation` until it succeeds, fails with an error not worth retrying, or runs out of attempts. */
export async function withRetries<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const wait = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= options.attempts || !options.shouldRetry(error)) throw error;
      options.onRetry?.(error, attempt + 1);
      await wait(options.delayMs);
    }
  }
}
