import { type Duration, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { SERVICE } from '../../lambda/shared/metric-names';
import type { DatabaseConstruct } from './database';
import { DeadLetterQueue } from './dead-letter-queue';
import type { KafkaConstruct } from './kafka';
import { NetworkConstruct } from './network';
import { lambdaEntry, PipelineFunction } from './pipeline-function';
import type { KafkaTopic } from './topic';

export interface AggregatorProps {
  readonly network: NetworkConstruct;
  readonly kafka: KafkaConstruct;
  readonly topic: KafkaTopic;
  readonly database: DatabaseConstruct;
  /** Offsets are committed under this group and the aggregator's offset ledger is keyed by it. */
  readonly consumerGroupId: string;
  readonly batchSize: number;
  readonly maxBatchingWindow: Duration;
  /** @default - on-demand pollers */
  readonly provisionedPollers?: lambda.ProvisionedPollerConfig;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The consumer: an MSK event source mapping reading the topic from the beginning (TRIM_HORIZON) under an
 * explicit consumer group, invoking the aggregator function, which writes to PostgreSQL with its own user.
 * Batches whose records expire before they are processed are described on an on-failure queue.
 */
export class AggregatorConstruct extends Construct {
  public readonly function: PipelineFunction;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly eventSourceMapping: lambda.EventSourceMapping;
  public readonly eventSourceMappingId: string;
  /** Metadata of discarded batches (topic, partition, offsets), never the records themselves. */
  public readonly onFailureQueue: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: AggregatorProps) {
    super(scope, id);
    const { network, kafka, database } = props;

    this.function = new PipelineFunction(this, 'Function', {
      entry: lambdaEntry('aggregator'),
      description: 'Aggregates MSK transaction batches into PostgreSQL, exactly once per record',
      serviceName: SERVICE.aggregator,
      network,
      securityGroupDescription: 'Aggregator: PostgreSQL and Secrets Manager only',
      // The SCRAM secret is read by the event source mapping, which acts with the function's role.
      secrets: [database.aggregatorSecret, kafka.scramSecret],
      logRetention: props.logRetention,
      memorySize: props.memorySize,
      timeout: props.timeout,
      rdsCaBundle: true,
      environment: {
        DB_SECRET_ARN: database.aggregatorSecret.secretArn,
        CONSUMER_GROUP_ID: props.consumerGroupId,
      },
    });
    this.securityGroup = this.function.securityGroup;
    database.instance.connections.allowDefaultPortFrom(this.function, 'Aggregator');

    this.onFailureQueue = new DeadLetterQueue(this, 'OnFailureQueue', {
      holds: 'on-failure destination of the MSK event source mapping',
    });

    // The mapping's pollers run in the cluster's subnets with the cluster's security group: from there they
    // reach the brokers (self-referencing rule), STS to assume the function's role, Secrets Manager for the
    // SCRAM secret, Lambda to invoke the function and SQS for the on-failure destination.
    const pollerEndpoints = [
      network.stsEndpoint,
      network.secretsManagerEndpoint,
      network.lambdaEndpoint,
      network.sqsEndpoint,
    ];
    for (const endpoint of pollerEndpoints) {
      endpoint.connections.allowDefaultPortFrom(kafka.securityGroup, 'MSK event source mapping pollers');
    }

    // lambda.EventSourceMapping rather than ManagedKafkaEventSource: the latter also attaches the
    // AWSLambdaMSKExecutionRole managed policy, whose kafka:* actions are granted on every cluster ("*").
    this.eventSourceMapping = new lambda.EventSourceMapping(this, 'KafkaMapping', {
      target: this.function,
      eventSourceArn: kafka.clusterArn,
      kafkaTopic: props.topic.topicName,
      kafkaConsumerGroupId: props.consumerGroupId,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: props.batchSize,
      maxBatchingWindow: props.maxBatchingWindow,
      sourceAccessConfigurations: [
        { type: lambda.SourceAccessConfigurationType.SASL_SCRAM_512_AUTH, uri: kafka.scramSecret.secretArn },
      ],
      onFailure: new sources.SqsDlq(this.onFailureQueue),
      provisionedPollerConfig: props.provisionedPollers,
    });
    this.eventSourceMappingId = this.eventSourceMapping.eventSourceMappingId;
    // The topic must exist and the pollers' network path must be open before the mapping starts polling.
    this.eventSourceMapping.node.addDependency(
      props.topic.resource,
      kafka.securityGroup,
      ...NetworkConstruct.endpointPaths(...pollerEndpoints),
    );

    // The mapping acts with the function's role: besides reading the SCRAM secret (granted above), it looks
    // the cluster up and manages its pollers' network interfaces.
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'MskClusterLookup',
        actions: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
        resources: [kafka.clusterArn],
      }),
    );
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'MskPollerNetworkLookup',
        actions: ['ec2:DescribeVpcs', 'ec2:DescribeSecurityGroups'],
        resources: ['*'],
      }),
    );
    if (this.function.role !== undefined) {
      Validations.of(this.function.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'ec2:DescribeVpcs and ec2:DescribeSecurityGroups (statement MskPollerNetworkLookup) are on "*" because ' +
          'they have no resource-level permissions; the MSK event source mapping needs them, with the ' +
          "function's role, to place its pollers in the cluster's VPC and security groups.",
      });
    }
  }
}
