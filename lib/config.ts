import type { RetentionDays } from 'aws-cdk-lib/aws-logs';

export type DatabaseRemovalPolicy = 'snapshot' | 'retain' | 'destroy';
export type MskEnhancedMonitoring =
  | 'DEFAULT'
  | 'PER_BROKER'
  | 'PER_TOPIC_PER_BROKER'
  | 'PER_TOPIC_PER_PARTITION';
export type PostgresMajorVersion = '16' | '17';

export interface ProvisionedPollers {
  readonly minimumPollers: number;
  readonly maximumPollers: number;
}

/** Every deploy-time knob of the pipeline, validated; built only by `loadConfig`. */
export interface PipelineConfig {
  readonly stackName: string;
  readonly topic: string;
  readonly partitions: number;
  readonly kafkaVersion: string;
  readonly brokerInstanceType: string;
  readonly brokerCount: number;
  readonly brokerVolumeGiB: number;
  readonly mskEnhancedMonitoring: MskEnhancedMonitoring;
  readonly postgresVersion: PostgresMajorVersion;
  readonly dbInstanceType: string;
  readonly dbAllocatedStorageGiB: number;
  readonly dbMaxAllocatedStorageGiB: number;
  readonly multiAz: boolean;
  readonly backupRetentionDays: number;
  readonly deletionProtection: boolean;
  readonly removalPolicy: DatabaseRemovalPolicy;
  readonly iamAuthentication: boolean;
  readonly natGateways: number;
  readonly consumerGroupId: string;
  readonly batchSize: number;
  readonly batchingWindowSeconds: number;
  /** `undefined`: the mapping runs in on-demand mode. */
  readonly provisionedPollers: ProvisionedPollers | undefined;
  readonly aggregatorMemoryMb: number;
  readonly aggregatorTimeoutSeconds: number;
  readonly scheduleEnabled: boolean;
  readonly scheduleRateMinutes: number;
  readonly producerRate: number;
  readonly producerDurationSeconds: number;
  /** `undefined`: no reserved concurrency (accounts whose concurrency quota is too low to reserve any). */
  readonly producerReservedConcurrency: number | undefined;
  readonly producerMemoryMb: number;
  /** `undefined`: the producer's built-in defaults. */
  readonly producerBranches: readonly string[] | undefined;
  readonly producerCurrencies: readonly string[] | undefined;
  readonly producerAmountMin: number | undefined;
  readonly producerAmountMax: number | undefined;
  readonly logRetention: RetentionDays;
  readonly offsetLagThreshold: number;
  readonly alarmEmail: string | undefined;
  readonly bastion: boolean;
}

/** The subnets (one per Availability Zone) the VPC spans; brokers are spread evenly over them. */
export const AVAILABILITY_ZONES = 2;

/** The producer's function timeout; a paced run must end well before it. */
export const PRODUCER_TIMEOUT_SECONDS = 70;

/** What passes for an e-mail address in the alarm subscription: one @, a dot in the domain, no spaces. */
export const EMAIL_ADDRESS = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
