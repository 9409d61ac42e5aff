import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  AVAILABILITY_ZONES,
  type DatabaseRemovalPolicy,
  EMAIL_ADDRESS,
  type MskEnhancedMonitoring,
  type PipelineConfig,
  type PostgresMajorVersion,
  PRODUCER_TIMEOUT_SECONDS,
  type ProvisionedPollers,
} from '../lib/config';

export type { PipelineConfig } from '../lib/config';

/** Reads one context value; `app.node.tryGetContext` in the app, a plain map in tests. */
export type ContextReader = (key: string) => unknown;

/** Cold start, connection and the last acknowledgements must fit between the end of a run and the timeout. */
const PRODUCER_TIMEOUT_MARGIN_SECONDS = 15;

/** A run ends this long before the next scheduled one starts, so runs never overlap. */
const PRODUCER_SCHEDULE_MARGIN_SECONDS = 10;

/**
 * Versions MSK creates new provisioned clusters with (Apache Kafka 3.6.0 and 3.7.x are past their MSK end of
 * support). The `.kraft` variants run KRaft metadata mode, which the kafka.t3.small broker type cannot run.
 */
export const KAFKA_VERSIONS = [
  '3.8.x',
  '3.9.x',
  '3.8.x.kraft',
  '3.9.x.kraft',
  '4.0.x.kraft',
  '4.1.x.kraft',
] as const;

const MSK_ENHANCED_MONITORING: readonly MskEnhancedMonitoring[] = [
  'DEFAULT',
  'PER_BROKER',
  'PER_TOPIC_PER_BROKER',
  'PER_TOPIC_PER_PARTITION',
];
const REMOVAL_POLICIES: readonly DatabaseRemovalPolicy[] = ['snapshot', 'retain', 'destroy'];
const POSTGRES_VERSIONS: readonly PostgresMajorVersion[] = ['16', '17'];

/** RetentionDays.INFINITE (9999) is left out on purpose: every log group here has a finite retention. */
const RETENTION_DAYS: readonly number[] = Object.values(RetentionDays).filter(
  (value): value is number => typeof value === 'number' && value !== RetentionDays.INFINITE,
);

export class ConfigError extends Error {
  constructor(key: string, expectation: string, raw: unknown) {
    super(`Invalid context "${key}": ${expectation}, got ${describe(raw)}`);
    this.name = 'ConfigError';
  }
}

function describe(raw: unknown): string {
  if (raw === undefined) return 'nothing (set it in cdk.json or with -c)';
  return typeof raw === 'string' ? `"${raw}"` : JSON.stringify(raw);
}

/**
 * Builds the pipeline configuration from CDK context. Values from `-c key=value` arrive as strings and values
 * from cdk.json as JSON; both are accepted. Every key must be present (cdk.json holds the defaults), so a typo
 * in a key name is reported instead of silently falling back.
 */
export function loadConfig(read: ContextReader): PipelineConfig {
  const kafkaVersion = oneOf(read, 'kafkaVersion', KAFKA_VERSIONS);
  const brokerInstanceType = matching(
    read,
    'brokerInstanceType',
    /^kafka\.[a-z0-9]+\.[a-z0-9]+$/,
    'an MSK broker type such as "kafka.t3.small" or "kafka.m7g.large"',
  );
  if (brokerInstanceType === 'kafka.t3.small' && kafkaVersion.endsWith('.kraft')) {
    throw new ConfigError(
      'kafkaVersion',
      `must be a ZooKeeper-mode version (${KAFKA_VERSIONS.filter((v) => !v.endsWith('.kraft')).join(', ')}) ` +
        'because brokerInstanceType kafka.t3.small cannot run KRaft',
      kafkaVersion,
    );
  }

  const brokerCount = integer(read, 'brokerCount', AVAILABILITY_ZONES, 30);
  if (brokerCount % AVAILABILITY_ZONES !== 0) {
    throw new ConfigError(
      'brokerCount',
      `must be a multiple of the ${AVAILABILITY_ZONES} Availability Zones the cluster spans`,
      read('brokerCount'),
    );
  }

  const dbAllocatedStorageGiB = integer(read, 'dbAllocatedStorageGiB', 20, 65_536);
  const dbMaxAllocatedStorageGiB = integer(read, 'dbMaxAllocatedStorageGiB', dbAllocatedStorageGiB, 65_536);

  const scheduleRateMinutes = integer(read, 'scheduleRateMinutes', 1, 1440);
  const producerDurationSeconds = integer(
    read,
    'producerDurationSeconds',
    1,
    Math.min(
      PRODUCER_TIMEOUT_SECONDS - PRODUCER_TIMEOUT_MARGIN_SECONDS,
      scheduleRateMinutes * 60 - PRODUCER_SCHEDULE_MARGIN_SECONDS,
    ),
  );

  const producerAmountMin = optionalInteger(read, 'producerAmountMin', -1_000_000, 1_000_000);
  const producerAmountMax = optionalInteger(read, 'producerAmountMax', -1_000_000, 1_000_000);
  if ((producerAmountMin === undefined) !== (producerAmountMax === undefined)) {
    throw new ConfigError(
      'producerAmountMax',
      'must be set together with producerAmountMin (or both left empty)',
      read('producerAmountMax'),
    );
  }
  if (
    producerAmountMin !== undefined &&
    producerAmountMax !== undefined &&
    producerAmountMin >= producerAmountMax
  ) {
    throw new ConfigError(
      'producerAmountMax',
      `must be greater than producerAmountMin (${producerAmountMin})`,
      read('producerAmountMax'),
    );
  }

  return {
    stackName: matching(
      read,
      'stackName',
      /^(?!.*--)[A-Za-z][A-Za-z0-9-]{0,38}[A-Za-z0-9]$/,
      '2 to 40 letters, digits and single hyphens, starting with a letter and not ending with a hyphen',
    ),
    topic: matching(
      read,
      'topic',
      /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,249}$/,
      'a Kafka topic name (1 to 249 letters, digits, ".", "_" or "-"; not "." or "..")',
    ),
    partitions: integer(read, 'partitions', 1, 1000),
    kafkaVersion,
    brokerInstanceType,
    brokerCount,
    brokerVolumeGiB: integer(read, 'brokerVolumeGiB', 1, 16_384),
    mskEnhancedMonitoring: oneOf(read, 'mskEnhancedMonitoring', MSK_ENHANCED_MONITORING),
    postgresVersion: oneOf(read, 'postgresVersion', POSTGRES_VERSIONS),
    dbInstanceType: matching(
      read,
      'dbInstanceType',
      /^db\.[a-z0-9]+\.[a-z0-9]+$/,
      'an RDS instance class such as "db.t4g.micro" or "db.m7g.large"',
    ),
    dbAllocatedStorageGiB,
    dbMaxAllocatedStorageGiB,
    multiAz: boolean(read, 'multiAz'),
    backupRetentionDays: integer(read, 'backupRetentionDays', 1, 35),
    deletionProtection: boolean(read, 'deletionProtection'),
    removalPolicy: oneOf(read, 'removalPolicy', REMOVAL_POLICIES),
    iamAuthentication: boolean(read, 'iamAuthentication'),
    natGateways: integer(read, 'natGateways', 0, AVAILABILITY_ZONES),
    consumerGroupId: matching(
      read,
      'consumerGroupId',
      /^[a-zA-Z0-9\-/*:_+=.@]{1,200}$/,
      'a consumer group id of 1 to 200 characters from [a-zA-Z0-9-/*:_+=.@]',
    ),
    batchSize: integer(read, 'batchSize', 1, 10_000),
    batchingWindowSeconds: integer(read, 'batchingWindowSeconds', 0, 300),
    provisionedPollers: provisionedPollers(read, 'provisionedPollers'),
    aggregatorMemoryMb: integer(read, 'aggregatorMemoryMb', 128, 10_240),
    aggregatorTimeoutSeconds: integer(read, 'aggregatorTimeoutSeconds', 10, 900),
    scheduleEnabled: boolean(read, 'scheduleEnabled'),
    scheduleRateMinutes,
    producerRate: integer(read, 'producerRate', 1, 100_000),
    producerDurationSeconds,
    producerReservedConcurrency: integerOrOff(read, 'producerReservedConcurrency', 1, 1000),
    producerMemoryMb: integer(read, 'producerMemoryMb', 128, 10_240),
    producerBranches: optionalList(read, 'producerBranches', /^[^,\s][^,]*$/, 'non-empty branch names'),
    producerCurrencies: optionalList(
      read,
      'producerCurrencies',
      /^[A-Z]{3}$/,
      'three-letter upper-case codes',
    ),
    producerAmountMin,
    producerAmountMax,
    logRetention: retention(read, 'logRetentionDays'),
    offsetLagThreshold: integer(read, 'offsetLagThreshold', 1, 1_000_000_000),
    alarmEmail: optionalEmail(read, 'alarmEmail'),
    bastion: boolean(read, 'bastion'),
  };
}

function integer(read: ContextReader, key: string, min: number, max: number): number {
  const raw = read(key);
  const value = toNumber(raw);
  if (value === undefined || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(key, `must be an integer from ${min} to ${max}`, raw);
  }
  return value;
}

function optionalInteger(read: ContextReader, key: string, min: number, max: number): number | undefined {
  const raw = read(key);
  if (raw === undefined || raw === null || raw === '') return undefined;
  return integer(read, key, min, max);
}

function integerOrOff(read: ContextReader, key: string, min: number, max: number): number | undefined {
  const raw = read(key);
  if (raw === 'off' || raw === false) return undefined;
  const value = toNumber(raw);
  if (value === undefined || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(key, `must be "off" or an integer from ${min} to ${max}`, raw);
  }
  return value;
}

function toNumber(raw: unknown): number | undefined {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string' && /^-?\d+$/.test(raw.trim())) return Number(raw.trim());
  return undefined;
}

function boolean(read: ContextReader, key: string): boolean {
  const raw = read(key);
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw new ConfigError(key, 'must be true or false', raw);
}

function oneOf<T extends string>(read: ContextReader, key: string, allowed: readonly T[]): T {
  const raw = read(key);
  const match = allowed.find((value) => value === raw);
  if (match === undefined) {
    throw new ConfigError(key, `must be one of ${allowed.map((value) => `"${value}"`).join(', ')}`, raw);
  }
  return match;
}

function matching(read: ContextReader, key: string, pattern: RegExp, expectation: string): string {
  const raw = read(key);
  if (typeof raw !== 'string' || !pattern.test(raw)) {
    throw new ConfigError(key, `must be ${expectation}`, raw);
  }
  return raw;
}

function optionalList(
  read: ContextReader,
  key: string,
  itemPattern: RegExp,
  expectation: string,
): readonly string[] | undefined {
  const raw = read(key);
  if (raw === undefined || raw === null || raw === '') return undefined;
  const items = typeof raw === 'string' ? raw.split(',').map((item) => item.trim()) : raw;
  if (
    !Array.isArray(items) ||
    items.length === 0 ||
    !items.every((item) => typeof item === 'string' && itemPattern.test(item))
  ) {
    throw new ConfigError(
      key,
      `must be empty (the producer's defaults) or a comma-separated list of ${expectation}`,
      raw,
    );
  }
  return items as string[];
}

function optionalEmail(read: ContextReader, key: string): string | undefined {
  const raw = read(key);
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string' || !EMAIL_ADDRESS.test(raw)) {
    throw new ConfigError(key, 'must be empty (no subscription) or an e-mail address', raw);
  }
  return raw;
}

function retention(read: ContextReader, key: string): RetentionDays {
  const raw = read(key);
  const value = toNumber(raw);
  if (value === undefined || !RETENTION_DAYS.includes(value)) {
    throw new ConfigError(
      key,
      `must be one of the CloudWatch Logs retention periods ${RETENTION_DAYS.join(', ')}`,
      raw,
    );
  }
  return value as RetentionDays;
}

/** Accepts "off" / false, "MIN-MAX" (from the command line) or `{ "minimumPollers": n, "maximumPollers": m }`. */
function provisionedPollers(read: ContextReader, key: string): ProvisionedPollers | undefined {
  const raw = read(key);
  if (raw === 'off' || raw === false) return undefined;
  let minimum: number | undefined;
  let maximum: number | undefined;
  if (typeof raw === 'string') {
    const match = /^(\d+)-(\d+)$/.exec(raw.trim());
    minimum = match?.[1] === undefined ? undefined : Number(match[1]);
    maximum = match?.[2] === undefined ? undefined : Number(match[2]);
  } else if (typeof raw === 'object' && raw !== null) {
    const fields = raw as Record<string, unknown>;
    minimum = toNumber(fields.minimumPollers);
    maximum = toNumber(fields.maximumPollers);
  }
  if (
    minimum === undefined ||
    maximum === undefined ||
    !Number.isInteger(minimum) ||
    !Number.isInteger(maximum) ||
    minimum < 1 ||
    minimum > 200 ||
    maximum < minimum ||
    maximum > 2000
  ) {
    throw new ConfigError(
      key,
      'must be "off", "MIN-MAX" or {"minimumPollers":MIN,"maximumPollers":MAX} with 1 <= MIN <= 200 and MIN <= MAX <= 2000',
      raw,
    );
  }
  return { minimumPollers: minimum, maximumPollers: maximum };
}
