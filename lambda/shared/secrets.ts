import { getSecret } from '@aws-lambda-powertools/parameters/secrets';

/** How long a fetched secret is reused before Secrets Manager is asked again. */
const SECRET_MAX_AGE_SECONDS = 300;

/**
 * Reads a JSON secret (RDS and MSK secrets both hold `username` / `password`), cached across invocations.
 * `forceFetch` bypasses the cache: callers use it once after an authentication failure, so that a rotated
 * password is picked up without waiting for the cache to expire.
 */
export async function getJsonSecret<T extends object>(
  secretId: string,
  options: { forceFetch?: boolean } = {},
): Promise<T> {
  const value = await getSecret<T>(secretId, {
    transform: 'json',
    maxAge: SECRET_MAX_AGE_SECONDS,
    forceFetch: options.forceFetch ?? false,
  });
  if (value === undefined || value === null || typeof value !== 'object') {
    throw new Error(`Secret ${secretId} is empty or not a JSON object`);
  }
  return value as T;
}

export interface UsernamePassword {
  readonly username: string;
  readonly password: string;
}

export function assertUsernamePassword(secretId: string, value: object): UsernamePassword {
  const { username, password } = value as Partial<UsernamePassword>;
  if (typeof username !== 'string' || username === '' || typeof password !== 'string' || password === '') {
    throw new Error(`Secret ${secretId} must hold a non-empty "username" and "password"`);
  }
  return { username, password };
}
