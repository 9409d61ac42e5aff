import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Database,
  databaseFromEnvironment,
  parseRdsSecret,
  rdsTls,
  withTransaction,
} from '../../lambda/shared/database';
import { uniqueName, useTestDatabase } from '../helpers/postgres';

const secretsManager = mockClient(SecretsManagerClient);
const database = useTestDatabase();
const opened: Database[] = [];

beforeAll(() => {
  process.env.AWS_REGION ??= 'us-east-1';
});

afterEach(async () => {
  secretsManager.reset();
  for (const db of opened.splice(0)) await db.end();
});

function secretFor(username: string, overrides: Record<string, unknown> = {}): { SecretString: string } {
  const url = new URL(database().url);
  return {
    SecretString: JSON.stringify({
      engine: 'postgres',
      host: url.hostname,
      port: Number(url.port),
      dbname: database().name,
      username,
      password: 'not-checked-by-trust-auth',
      ...overrides,
    }),
  };
}

/** The local server trusts every role; a role that does not exist fails like a rotated password (SQLSTATE 28000). */
function secretDatabase(secretId: string, max = 1): Database {
  const db = new Database({ secretId, ssl: false, max });
  opened.push(db);
  return db;
}

async function whoAmI(db: Database): Promise<string> {
  return withTransaction(db, async (client) => {
    const { rows } = await client.query<{ current_user: string }>('SELECT current_user');
    return rows[0]?.current_user ?? '';
  });
}

describe('Database from an RDS secret', () => {
  it('reads the secret once and reuses it across connections and invocations', async () => {
    // Prepare
    const secretId = uniqueName('secret');
    secretsManager.on(GetSecretValueCommand, { SecretId: secretId }).resolves(secretFor('postgres'));
    const db = secretDatabase(secretId);

    // Act
    const users = [await whoAmI(db), await whoAmI(db), await whoAmI(db)];

    // Assess
    expect(users).toEqual(['postgres', 'postgres', 'postgres']);
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('re-reads the secret once, bypassing the cache, when the server rejects the credentials', async () => {
    // Prepare: the cached secret names a role the server no longer accepts; the current version works.
    const secretId = uniqueName('secret');
    secretsManager
      .on(GetSecretValueCommand, { SecretId: secretId })
      .resolvesOnce(secretFor(uniqueName('rotated_away')))
      .resolves(secretFor('postgres'));
    const db = secretDatabase(secretId, 3);

    // Act
    const users = await Promise.all([whoAmI(db), whoAmI(db), whoAmI(db)]);
    const later = await whoAmI(db);

    // Assess
    expect(users).toEqual(['postgres', 'postgres', 'postgres']);
    expect(later).toBe('postgres');
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('gives up after one re-read when the new credentials fail too', async () => {
    // Prepare
    const secretId = uniqueName('secret');
    secretsManager
      .on(GetSecretValueCommand, { SecretId: secretId })
      .resolves(secretFor(uniqueName('nobody')));
    const db = secretDatabase(secretId);

    // Act
    const attempt = whoAmI(db);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: '28000' });
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('does not re-read the secret for failures other than authentication', async () => {
    // Prepare
    const secretId = uniqueName('secret');
    secretsManager
      .on(GetSecretValueCommand, { SecretId: secretId })
      .resolves(secretFor('postgres', { port: 1 }));
    const db = secretDatabase(secretId);

    // Act
    const attempt = whoAmI(db);

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('retries a failed secret read on the next connection instead of caching the failure', async () => {
    // Prepare
    const secretId = uniqueName('secret');
    secretsManager
      .on(GetSecretValueCommand, { SecretId: secretId })
      .rejectsOnce(new Error('throttled'))
      .resolves(secretFor('postgres'));
    const db = secretDatabase(secretId);

    // Act
    const first = whoAmI(db);

    // Assess
    await expect(first).rejects.toThrow();
    expect(await whoAmI(db)).toBe('postgres');
  });

  it('recovers on the next connection when the re-read after an authentication failure fails', async () => {
    // Prepare: the cached credentials are rejected, the forced re-read is throttled, then the secret is readable.
    const secretId = uniqueName('secret');
    secretsManager
      .on(GetSecretValueCommand, { SecretId: secretId })
      .resolvesOnce(secretFor(uniqueName('rotated_away')))
      .rejectsOnce(new Error('throttled'))
      .resolves(secretFor('postgres'));
    const db = secretDatabase(secretId);

    // Act
    const first = whoAmI(db);
    await expect(first).rejects.toThrow('throttled');
    const later = await whoAmI(db);

    // Assess
    expect(later).toBe('postgres');
  });

  it('ends cleanly after a failed re-read and connects again afterwards', async () => {
    // Prepare
    const secretId = uniqueName('secret');
    secretsManager
      .on(GetSecretValueCommand, { SecretId: secretId })
      .resolvesOnce(secretFor(uniqueName('rotated_away')))
      .rejectsOnce(new Error('throttled'))
      .resolves(secretFor('postgres'));
    const db = secretDatabase(secretId);
    await expect(whoAmI(db)).rejects.toThrow('throttled');

    // Act
    await db.end();
    const after = await whoAmI(db);

    // Assess
    expect(after).toBe('postgres');
  });

  it('verifies TLS against the RDS certificate authorities and never falls back to plaintext', async () => {
    // Prepare
    const secretId = uniqueName('secret');
    secretsManager.on(GetSecretValueCommand, { SecretId: secretId }).resolves(secretFor('postgres'));
    const db = new Database({ secretId });
    opened.push(db);

    // Act
    const attempt = whoAmI(db);

    // Assess: the local server speaks no TLS, so a verified-TLS connection must fail rather than downgrade.
    await expect(attempt).rejects.toThrow(/does not support SSL/);
    const tls = rdsTls() as { ca: string; rejectUnauthorized: boolean };
    expect(tls.rejectUnauthorized).toBe(true);
    expect(tls.ca.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0).toBeGreaterThan(10);
  });
});

describe('parseRdsSecret', () => {
  it('accepts the RDS secret shape, with a string port and the default database', () => {
    expect(parseRdsSecret('s', { host: 'db', port: '5432', username: 'u', password: 'p' })).toEqual({
      host: 'db',
      port: 5432,
      dbname: 'postgres',
      username: 'u',
      password: 'p',
    });
  });

  it.each([
    [{ port: 5432, username: 'u', password: 'p' }, /host/],
    [{ host: 'db', port: 'x', username: 'u', password: 'p' }, /port/],
    [{ host: 'db', port: 5432, username: 'u' }, /username.*password/],
    [{ host: 'db', port: 5432, username: 'u', password: 'p', dbname: 7 }, /dbname/],
  ])('rejects %j', (value, message) => {
    expect(() => parseRdsSecret('s', value)).toThrow(message);
  });

  it('never puts the password in its errors', () => {
    expect(() => parseRdsSecret('s', { port: 5432, username: 'u', password: 'hunter2' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
  });
});

describe('databaseFromEnvironment', () => {
  it('names both variables when neither is set', () => {
    const saved = { url: process.env.DATABASE_URL, arn: process.env.DB_SECRET_ARN };
    delete process.env.DATABASE_URL;
    delete process.env.DB_SECRET_ARN;
    try {
      expect(() => databaseFromEnvironment('test')).toThrow(/DATABASE_URL.*DB_SECRET_ARN/);
    } finally {
      if (saved.url !== undefined) process.env.DATABASE_URL = saved.url;
      if (saved.arn !== undefined) process.env.DB_SECRET_ARN = saved.arn;
    }
  });
});
