import { CustomResource, Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CustomResourceProvider } from './custom-resource-provider';
import type { KafkaConstruct } from './kafka';
import { NetworkConstruct } from './network';
import { lambdaEntry, PipelineFunction } from './pipeline-function';

export interface KafkaTopicProps {
  readonly network: NetworkConstruct;
  readonly kafka: KafkaConstruct;
  readonly topic: string;
  readonly partitions: number;
  /** @default the cluster's replication factor */
  readonly replicationFactor?: number;
  readonly logRetention: logs.RetentionDays;
}

/**
 * Creates the topic during the deploy (the cluster has `auto.create.topics.enable=false`), so it exists with
 * the intended partitions and replication before the producer or the event source mapping touch it.
 * The admin function runs in the VPC and talks to the brokers over SASL/SCRAM with TLS like any client.
 */
export class KafkaTopic extends Construct {
  public readonly resource: CustomResource;
  public readonly topicName: string;
  public readonly adminFunction: PipelineFunction;
  public readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: KafkaTopicProps) {
    super(scope, id);
    const { network, kafka } = props;
    this.topicName = props.topic;

    this.adminFunction = new PipelineFunction(this, 'AdminFunction', {
      entry: lambdaEntry('topic-admin'),
      description: 'Creates and updates the pipeline topic on MSK (CloudFormation custom resource)',
      serviceName: 'topic-admin',
      network,
      securityGroupDescription: 'Topic administration: MSK and Secrets Manager only',
      secrets: [kafka.scramSecret],
      logRetention: props.logRetention,
      timeout: Duration.minutes(5),
      environment: kafka.clientEnvironment(),
    });
    this.securityGroup = this.adminFunction.securityGroup;
    kafka.connections.allowDefaultPortFrom(this.adminFunction, 'Topic administration');

    const provider = new CustomResourceProvider(this, 'Provider', {
      onEventHandler: this.adminFunction,
      logRetention: props.logRetention,
    });

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::KafkaTopic',
      properties: {
        BootstrapBrokers: kafka.bootstrapBrokers,
        Topic: props.topic,
        Partitions: props.partitions,
        ReplicationFactor: props.replicationFactor ?? kafka.replicationFactor,
      },
    });
    // SCRAM logins fail until the secret is associated (the broker list alone does not imply that), and the
    // function's network path is made of rules that are separate resources.
    this.resource.node.addDependency(
      kafka.scramAssociation,
      kafka.securityGroup,
      this.securityGroup,
      ...NetworkConstruct.endpointPaths(network.secretsManagerEndpoint),
    );
  }
}
