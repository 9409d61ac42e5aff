/**
 * Environment variables are read once, at module load of the handler that needs them, through these helpers:
 * a missing or malformed value fails fast with the variable's name instead of surfacing later as `undefined`.
 */

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`Environment variable ${name} is required but not set`);
  }
  return value;
}

export function optionalEnv(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function stringEnv(name: string, fallback: string): string {
  return optionalEnv(name) ?? fallback;
}

export function intEnv(name: string, fallback: number, range: { min: number; max: number }): number {
  const raw = optionalEnv(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new Error(
      `Environment variable ${name} must be an integer from ${range.min} to ${range.max}, got "${raw}"`,
    );
  }
  return value;
}

export function boolEnv(name: string, fallback: boolean): boolean {
  const raw = optionalEnv(name);
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new Error(`Environment variable ${name} must be true or false, got "${raw}"`);
}

export function listEnv(name: string, fallback: readonly string[]): string[] {
  const raw = optionalEnv(name);
  if (raw === undefined) return [...fallback];
  const items = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) {
    throw new Error(`Environment variable ${name} must be a comma-separated, non-empty list`);
  }
  return items;
}
