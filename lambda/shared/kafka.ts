import { Logger } from '@aws-lambda-powertools/logger';
import { Kafka, type KafkaConfig, type LogEntry, logLevel } from 'kafkajs';
import { boolEnv, listEnv, optionalEnv } from './env';
import { assertUsernamePassword, getJsonSecret, type UsernamePassword } from './secrets';

export const DEFAULT_KAFKA_BROKERS = ['127.0.0.1:9092'] as const;

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** kafkajs logs go to a child of this logger; one is created from `clientId` when omitted. */
  readonly logger?: Logger;
  /** Bypasses the secret cache: used once after an authentication failure to pick up a rotated password. */
  readonly forceFetchSecret?: boolean;
}

/** `KAFKA_BROKERS` as a list; the local broker when unset. */
export function kafkaBrokersFromEnv(): string[] {
  return listEnv('KAFKA_BROKERS', DEFAULT_KAFKA_BROKERS);
}

/** Parses a bootstrap-broker string as MSK returns it: comma-separated `host:port` pairs. */
export function parseBrokerList(value: string): string[] {
  const brokers = value
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  if (brokers.length === 0) {
    throw new Error('The bootstrap broker list is empty');
  }
  return brokers;
}

/**
 * SCRAM credentials: on AWS the `AmazonMSK_` secret named by `KAFKA_SECRET_ARN`; locally `KAFKA_USERNAME` and
 * `KAFKA_PASSWORD`. There is no built-in fallback, so a misconfigured function fails at start instead of trying
 * a guessed user against the cluster.
 */
export async function resolveKafkaCredentials(
  options: { forceFetchSecret?: boolean } = {},
): Promise<UsernamePassword> {
  const secretArn = optionalEnv('KAFKA_SECRET_ARN');
  if (secretArn !== undefined) {
    const secret = await getJsonSecret<object>(secretArn, { forceFetch: options.forceFetchSecret ?? false });
    return assertUsernamePassword(secretArn, secret);
  }
  const username = optionalEnv('KAFKA_USERNAME');
  const password = optionalEnv('KAFKA_PASSWORD');
  if (username === undefined || password === undefined) {
    throw new Error(
      'Kafka credentials are not configured: set KAFKA_SECRET_ARN, or both KAFKA_USERNAME and KAFKA_PASSWORD',
    );
  }
  return { username, password };
}

/** Keys kafkajs may attach to a log entry that must never reach the logs. */
const SENSITIVE_KEY = /pass|secret|sasl|credential|token/i;

/**
 * kafkajs prints to the console in its own format by default; routing it through the function's logger keeps
 * every line structured JSON with the invocation's context. Only WARN and above are passed on: kafkajs is
 * verbose at INFO (every connect, every rebalance) and that cost is paid per invocation. kafkajs's own ERROR
 * lines become warnings: it logs every error response, including the retriable ones it then recovers from
 * (a coordinator still loading, a leader moving), while the outcome that matters, a send or connect that
 * finally failed, reaches the caller as an exception and is logged there as an error.
 */
export function kafkaLogCreator(logger: Logger): (level: logLevel) => (entry: LogEntry) => void {
  return () =>
    ({ namespace, level, label, log }) => {
      const { message, timestamp: _timestamp, ...extra } = log;
      const safeExtra = Object.fromEntries(Object.entries(extra).filter(([key]) => !SENSITIVE_KEY.test(key)));
      const attributes = { kafkaNamespace: namespace, kafkaLevel: label, ...safeExtra };
      if (level <= logLevel.WARN && !isExpectedWarning(message)) {
        logger.warn(message, attributes);
      } else {
        logger.debug(message, attributes);
      }
    };
}

/**
 * kafkajs warns whenever an idempotent producer's retries are bounded. The bound is deliberate: a Lambda
 * invocation has a deadline, and a batch that exhausts its retries is counted as failed and never re-sent, so
 * the broker's de-duplication still covers every retry that does happen.
 */
function isExpectedWarning(message: string): boolean {
  return message.startsWith('Limiting retries for the idempotent producer');
}

/** The full kafkajs configuration; separate from `createKafka` so tests can check it without a broker. */
export async function kafkaConfig(options: KafkaClientOptions): Promise<KafkaConfig> {
  const credentials = await resolveKafkaCredentials({ forceFetchSecret: options.forceFetchSecret ?? false });
  const logger = options.logger ?? new Logger({ serviceName: options.clientId });
  return {
    clientId: options.clientId,
    brokers: [...options.brokers],
    // MSK only accepts SCRAM over TLS; the local broker runs SASL_PLAINTEXT and sets KAFKA_TLS=false.
    ssl: boolEnv('KAFKA_TLS', true),
    sasl: { mechanism: 'scram-sha-512', ...credentials },
    // The kafkajs defaults (1 s connect) are too tight for a cold Lambda in a VPC doing TLS plus SCRAM.
    connectionTimeout: 10_000,
    authenticationTimeout: 10_000,
    requestTimeout: 30_000,
    // Bounded so a broken cluster fails the invocation within its deadline instead of retrying past it.
    retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 5 },
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
  };
}

export async function createKafka(options: KafkaClientOptions): Promise<Kafka> {
  return new Kafka(await kafkaConfig(options));
}

function errorNames(error: unknown): string[] {
  const names: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    names.push(current.name);
    current = current.cause;
  }
  return names;
}

/**
 * True when the broker refused the credentials, so the caller should re-read the secret once. kafkajs may wrap
 * the error (retries exceeded, connection errors), so the cause chain is searched.
 */
export function isAuthenticationError(error: unknown): boolean {
  return errorNames(error).includes('KafkaJSSASLAuthenticationError');
}

const CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
]);

/** True when the brokers could not be reached or stopped answering: worth another attempt later. */
export function isConnectionError(error: unknown): boolean {
  return errorNames(error).some((name) => CONNECTION_ERRORS.has(name));
}
