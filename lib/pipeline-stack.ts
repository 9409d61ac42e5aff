import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import {
  AVAILABILITY_ZONES,
  type DatabaseRemovalPolicy,
  type PipelineConfig,
  PRODUCER_TIMEOUT_SECONDS,
} from './config';
import { AggregatorConstruct } from './constructs/aggregator';
import { BastionConstruct } from './constructs/bastion';
import { DatabaseConstruct } from './constructs/database';
import { KafkaConstruct } from './constructs/kafka';
import { NetworkConstruct } from './constructs/network';
import { ObservabilityConstruct } from './constructs/observability';
import { ProducerConstruct } from './constructs/producer';
import { KafkaTopic } from './constructs/topic';

export interface PipelineStackProps extends StackProps {
  readonly config: PipelineConfig;
}

const REMOVAL_POLICIES: Record<DatabaseRemovalPolicy, RemovalPolicy> = {
  snapshot: RemovalPolicy.SNAPSHOT,
  retain: RemovalPolicy.RETAIN,
  destroy: RemovalPolicy.DESTROY,
};

/**
 * The whole pipeline in one stack: EventBridge Scheduler -> producer -> MSK topic -> event source mapping ->
 * aggregator -> RDS PostgreSQL, in a VPC without internet access, with its dashboard and alarms.
 */
export class PipelineStack extends Stack {
  public readonly network: NetworkConstruct;
  public readonly kafka: KafkaConstruct;
  public readonly topic: KafkaTopic;
  public readonly database: DatabaseConstruct;
  public readonly producer: ProducerConstruct;
  public readonly aggregator: AggregatorConstruct;
  public readonly observability: ObservabilityConstruct;
  public readonly bastion: BastionConstruct | undefined;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetention = config.logRetention;

    this.network = new NetworkConstruct(this, 'Network', {
      availabilityZones: AVAILABILITY_ZONES,
      natGateways: config.natGateways,
      logRetention,
      sessionManagerEndpoints: config.bastion,
    });

    this.kafka = new KafkaConstruct(this, 'Kafka', {
      vpc: this.network.vpc,
      subnets: this.network.dataSubnets,
      clusterName: `${config.stackName}-kafka`,
      kafkaVersion: config.kafkaVersion,
      brokerInstanceType: config.brokerInstanceType,
      brokerCount: config.brokerCount,
      brokerVolumeGiB: config.brokerVolumeGiB,
      defaultPartitions: config.partitions,
      enhancedMonitoring: config.mskEnhancedMonitoring,
      logRetention,
    });

    this.topic = new KafkaTopic(this, 'KafkaTopic', {
      network: this.network,
      kafka: this.kafka,
      topic: config.topic,
      partitions: config.partitions,
      logRetention,
    });

    this.database = new DatabaseConstruct(this, 'Database', {
      network: this.network,
      instanceIdentifier: `${config.stackName}-db`.toLowerCase(),
      postgresVersion: config.postgresVersion,
      instanceType: config.dbInstanceType,
      allocatedStorageGiB: config.dbAllocatedStorageGiB,
      maxAllocatedStorageGiB: config.dbMaxAllocatedStorageGiB,
      multiAz: config.multiAz,
      backupRetentionDays: config.backupRetentionDays,
      deletionProtection: config.deletionProtection,
      removalPolicy: REMOVAL_POLICIES[config.removalPolicy],
      iamAuthentication: config.iamAuthentication,
      logRetention,
    });

    this.producer = new ProducerConstruct(this, 'Producer', {
      network: this.network,
      kafka: this.kafka,
      topic: config.topic,
      rate: config.producerRate,
      durationSeconds: config.producerDurationSeconds,
      timeout: Duration.seconds(PRODUCER_TIMEOUT_SECONDS),
      memorySize: config.producerMemoryMb,
      reservedConcurrency: config.producerReservedConcurrency,
      branches: config.producerBranches,
      currencies: config.producerCurrencies,
      amountRange:
        config.producerAmountMin === undefined || config.producerAmountMax === undefined
          ? undefined
          : { min: config.producerAmountMin, max: config.producerAmountMax },
      scheduleRate: Duration.minutes(config.scheduleRateMinutes),
      scheduleEnabled: config.scheduleEnabled,
      logRetention,
    });
    // The producer must not start before the topic exists (auto-creation is off).
    this.producer.schedule.node.addDependency(this.topic.resource);

    this.aggregator = new AggregatorConstruct(this, 'Aggregator', {
      network: this.network,
      kafka: this.kafka,
      topic: this.topic,
      database: this.database,
      consumerGroupId: config.consumerGroupId,
      batchSize: config.batchSize,
      maxBatchingWindow: Duration.seconds(config.batchingWindowSeconds),
      provisionedPollers: config.provisionedPollers,
      memorySize: config.aggregatorMemoryMb,
      timeout: Duration.seconds(config.aggregatorTimeoutSeconds),
      logRetention,
    });
    // The aggregator's tables and user exist only after the migration.
    this.aggregator.eventSourceMapping.node.addDependency(this.database.migration);

    this.observability = new ObservabilityConstruct(this, 'Observability', {
      producer: this.producer.function,
      aggregator: this.aggregator.function,
      eventSourceMappingId: this.aggregator.eventSourceMappingId,
      topicName: this.topic.topicName,
      clusterName: this.kafka.clusterName,
      database: this.database.instance,
      deadLetterQueues: [this.producer.deadLetterQueue, this.aggregator.onFailureQueue],
      offsetLagThreshold: config.offsetLagThreshold,
      alarmEmail: config.alarmEmail,
    });

    this.bastion = config.bastion
      ? new BastionConstruct(this, 'Bastion', { network: this.network, database: this.database })
      : undefined;

    this.addOutputs(config);
  }

  private addOutputs(config: PipelineConfig): void {
    new CfnOutput(this, 'DbEndpoint', {
      description: 'PostgreSQL host name (reachable from inside the VPC only)',
      value: this.database.instance.dbInstanceEndpointAddress,
    });
    new CfnOutput(this, 'DbSecretArn', {
      description: "Secret of the aggregator's database user (host, port, dbname, username, password)",
      value: this.database.aggregatorSecret.secretArn,
    });
    new CfnOutput(this, 'DbMasterSecretArn', {
      description: 'Secret of the database master user, for administration',
      value: this.database.masterSecret.secretArn,
    });
    new CfnOutput(this, 'DashboardUrl', {
      description: 'CloudWatch dashboard of the pipeline',
      value: `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards/dashboard/${this.observability.dashboard.dashboardName}`,
    });
    new CfnOutput(this, 'ClusterArn', { description: 'MSK cluster', value: this.kafka.clusterArn });
    new CfnOutput(this, 'BootstrapBrokers', {
      description: 'SASL/SCRAM (TLS) bootstrap brokers of the MSK cluster',
      value: this.kafka.bootstrapBrokers,
    });
    new CfnOutput(this, 'KafkaSecretArn', {
      description: 'SCRAM credentials of the pipeline user on MSK',
      value: this.kafka.scramSecret.secretArn,
    });
    new CfnOutput(this, 'Topic', { description: 'Kafka topic of the transactions', value: config.topic });
    new CfnOutput(this, 'ProducerFunctionName', {
      description: 'Invoke with {"mode":"burst","count":N} for a load test',
      value: this.producer.function.functionName,
    });
    if (this.bastion !== undefined) {
      new CfnOutput(this, 'BastionId', {
        description: 'Session Manager target for port forwarding to PostgreSQL',
        value: this.bastion.instance.instanceId,
      });
    }
  }
}
