import { Logger } from '@aws-lambda-powertools/logger';
import { clearCaches } from '@aws-lambda-powertools/parameters';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import {
  KafkaJSConnectionError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSSASLAuthenticationError,
  logLevel,
} from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  isAuthenticationError,
  isConnectionError,
  kafkaBrokersFromEnv,
  kafkaConfig,
  kafkaLogCreator,
  parseBrokerList,
} from '../../lambda/shared/kafka';

const secretsManager = mockClient(SecretsManagerClient);
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_producer-AbCdEf';
const KAFKA_ENV = ['KAFKA_SECRET_ARN', 'KAFKA_USERNAME', 'KAFKA_PASSWORD', 'KAFKA_TLS', 'KAFKA_BROKERS'];

function quietLogger(): Logger {
  return new Logger({ serviceName: 'kafka-test', logLevel: 'SILENT' });
}

beforeEach(() => {
  secretsManager.reset();
  clearCaches();
  for (const name of KAFKA_ENV) vi.stubEnv(name, undefined);
  vi.stubEnv('AWS_REGION', 'eu-west-1');
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('kafkaConfig', () => {
  it('uses SCRAM-SHA-512 over TLS by default with the local credentials', async () => {
    // Prepare
    vi.stubEnv('KAFKA_USERNAME', 'alice');
    vi.stubEnv('KAFKA_PASSWORD', 'local-password');

    // Act
    const config = await kafkaConfig({ brokers: ['b-1:9096'], clientId: 'producer', logger: quietLogger() });

    // Assess
    expect(config.ssl).toBe(true);
    expect(config.sasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'alice',
      password: 'local-password',
    });
    expect(config.brokers).toEqual(['b-1:9096']);
    expect(config.clientId).toBe('producer');
    expect(config.logLevel).toBe(logLevel.WARN);
    expect(config.connectionTimeout).toBeGreaterThanOrEqual(5_000);
    expect(config.retry?.retries).toBeGreaterThan(0);
    expect(secretsManager.calls()).toHaveLength(0);
  });

  it('turns TLS off only when KAFKA_TLS says so', async () => {
    vi.stubEnv('KAFKA_USERNAME', 'alice');
    vi.stubEnv('KAFKA_PASSWORD', 'local-password');
    vi.stubEnv('KAFKA_TLS', 'false');

    const config = await kafkaConfig({ brokers: ['127.0.0.1:9092'], clientId: 'c', logger: quietLogger() });

    expect(config.ssl).toBe(false);
  });

  it('rejects a malformed KAFKA_TLS instead of guessing', async () => {
    vi.stubEnv('KAFKA_USERNAME', 'alice');
    vi.stubEnv('KAFKA_PASSWORD', 'local-password');
    vi.stubEnv('KAFKA_TLS', 'yes please');

    await expect(kafkaConfig({ brokers: ['b:1'], clientId: 'c', logger: quietLogger() })).rejects.toThrow(
      /KAFKA_TLS/,
    );
  });

  it('reads the credentials from the secret when KAFKA_SECRET_ARN is set, and caches them', async () => {
    // Prepare
    vi.stubEnv('KAFKA_SECRET_ARN', SECRET_ARN);
    vi.stubEnv('KAFKA_USERNAME', 'ignored-local-user');
    vi.stubEnv('KAFKA_PASSWORD', 'ignored-local-password');
    secretsManager
      .on(GetSecretValueCommand, { SecretId: SECRET_ARN })
      .resolves({ SecretString: JSON.stringify({ username: 'msk-user', password: 'from-secret' }) });

    // Act
    const first = await kafkaConfig({ brokers: ['b-1:9096'], clientId: 'producer', logger: quietLogger() });
    const second = await kafkaConfig({ brokers: ['b-1:9096'], clientId: 'producer', logger: quietLogger() });

    // Assess
    expect(first.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'msk-user', password: 'from-secret' });
    expect(second.sasl).toEqual(first.sasl);
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('re-reads the secret when asked to after an authentication failure', async () => {
    vi.stubEnv('KAFKA_SECRET_ARN', SECRET_ARN);
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify({ username: 'msk-user', password: 'old' }) })
      .resolves({ SecretString: JSON.stringify({ username: 'msk-user', password: 'rotated' }) });

    await kafkaConfig({ brokers: ['b:1'], clientId: 'c', logger: quietLogger() });
    const refreshed = await kafkaConfig({
      brokers: ['b:1'],
      clientId: 'c',
      logger: quietLogger(),
      forceFetchSecret: true,
    });

    expect(refreshed.sasl).toMatchObject({ password: 'rotated' });
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('rejects a secret without username and password, naming the secret but not its content', async () => {
    vi.stubEnv('KAFKA_SECRET_ARN', SECRET_ARN);
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ password: 'p4ss' }) });

    const attempt = kafkaConfig({ brokers: ['b:1'], clientId: 'c', logger: quietLogger() });

    await expect(attempt).rejects.toThrow(SECRET_ARN);
    await expect(attempt).rejects.not.toThrow(/p4ss/);
  });

  it('names the variables to set when no credentials are configured', async () => {
    vi.stubEnv('KAFKA_USERNAME', 'alice');

    await expect(kafkaConfig({ brokers: ['b:1'], clientId: 'c', logger: quietLogger() })).rejects.toThrow(
      /KAFKA_SECRET_ARN.*KAFKA_USERNAME.*KAFKA_PASSWORD/,
    );
  });
});

describe('kafkaLogCreator', () => {
  const LABELS: Record<number, string> = { 1: 'ERROR', 2: 'WARN', 4: 'INFO', 5: 'DEBUG' };

  function entry(level: logLevel, message: string, extra: Record<string, unknown> = {}) {
    return {
      namespace: 'Connection',
      level,
      label: LABELS[level] ?? 'UNKNOWN',
      log: { timestamp: '2024-01-01T00:00:00.000Z', message, ...extra },
    };
  }

  it('routes kafkajs errors and warnings to the structured logger as warnings, without credentials', () => {
    // Prepare
    const logger = quietLogger();
    const error = vi.spyOn(logger, 'error');
    const warn = vi.spyOn(logger, 'warn');
    const log = kafkaLogCreator(logger)(logLevel.WARN);

    // Act
    log(entry(logLevel.ERROR, 'Response InitProducerId', { broker: 'b-1:9096', sasl: { password: 'x' } }));
    log(entry(logLevel.WARN, 'Slow request', { password: 'x', saslPassword: 'y', retryCount: 2 }));

    // Assess
    expect(error).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledWith('Response InitProducerId', {
      kafkaNamespace: 'Connection',
      kafkaLevel: 'ERROR',
      broker: 'b-1:9096',
    });
    expect(warn).toHaveBeenCalledWith('Slow request', {
      kafkaNamespace: 'Connection',
      kafkaLevel: 'WARN',
      retryCount: 2,
    });
  });

  it('keeps the deliberate bounded-retries notice and chatter below WARN out of the warnings', () => {
    const logger = quietLogger();
    const warn = vi.spyOn(logger, 'warn');
    const debug = vi.spyOn(logger, 'debug');
    const log = kafkaLogCreator(logger)(logLevel.WARN);

    log(entry(logLevel.WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees'));
    log(entry(logLevel.INFO, 'Starting'));

    expect(warn).not.toHaveBeenCalled();
    expect(debug).toHaveBeenCalledTimes(2);
  });
});

describe('broker lists', () => {
  it('defaults to the local broker and reads KAFKA_BROKERS as a comma list', () => {
    expect(kafkaBrokersFromEnv()).toEqual(['127.0.0.1:9092']);
    vi.stubEnv('KAFKA_BROKERS', 'b-1:9096, b-2:9096');
    expect(kafkaBrokersFromEnv()).toEqual(['b-1:9096', 'b-2:9096']);
  });

  it('parses MSK bootstrap strings and rejects an empty one', () => {
    expect(parseBrokerList('b-1.x:9096,b-2.x:9096,')).toEqual(['b-1.x:9096', 'b-2.x:9096']);
    expect(() => parseBrokerList(' , ')).toThrow(/empty/);
  });
});

describe('isAuthenticationError', () => {
  it('finds a SASL failure directly or wrapped by the retrier', () => {
    // The published typings omit the message parameter the runtime class takes.
    const SaslError = KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;
    const sasl = new SaslError('SASL SCRAM SHA512 authentication failed');
    const wrapped = new KafkaJSNumberOfRetriesExceeded(sasl, { retryCount: 5, retryTime: 300 });

    expect(isAuthenticationError(sasl)).toBe(true);
    expect(isAuthenticationError(wrapped)).toBe(true);
    expect(isAuthenticationError(new Error('Connection timeout'))).toBe(false);
    expect(isAuthenticationError('SASL')).toBe(false);
  });
});

describe('isConnectionError', () => {
  it('finds an unreachable broker directly or behind exhausted retries, and nothing else', () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 10.0.1.5:9096');
    const exhausted = new KafkaJSNumberOfRetriesExceeded(refused, { retryCount: 5, retryTime: 4_000 });

    expect(isConnectionError(refused)).toBe(true);
    expect(isConnectionError(exhausted)).toBe(true);
    expect(isConnectionError(new KafkaJSProtocolError('INVALID_REPLICATION_FACTOR'))).toBe(false);
    expect(isConnectionError(new Error('Connection timeout'))).toBe(false);
  });
});
