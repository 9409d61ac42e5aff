import { CustomResource, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { KafkaConstruct } from './kafka';
import { NetworkConstruct } from './network';
import { invokeVersionsFinding, lambdaEntry, PipelineFunction } from './pipeline-function';

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

    this.securityGroup = network.clientSecurityGroup(
      this,
      'SecurityGroup',
      'Topic administration: MSK and Secrets Manager only',
    );
    kafka.connections.allowDefaultPortFrom(this.securityGroup, 'Topic administration');
    network.secretsManagerEndpoint.connections.allowDefaultPortFrom(
      this.securityGroup,
      'Topic administration',
    );

    this.adminFunction = new PipelineFunction(this, 'AdminFunction', {
      entry: lambdaEntry('topic-admin'),
      description: 'Creates and updates the pipeline topic on MSK (CloudFormation custom resource)',
      serviceName: 'topic-admin',
      vpc: network.vpc,
      vpcSubnets: network.functionSubnets,
      securityGroup: this.securityGroup,
      logRetention: props.logRetention,
      timeout: Duration.minutes(5),
      environment: {
        KAFKA_SECRET_ARN: kafka.scramSecret.secretArn,
        KAFKA_TLS: 'true',
      },
    });
    kafka.scramSecret.grantRead(this.adminFunction);

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.adminFunction,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', {
        retention: props.logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    acknowledgeProviderFramework(provider, this.adminFunction);

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

/**
 * The Provider framework's own function is CDK's code and only relays events to the onEvent handler, from
 * outside the VPC; what it runs and may do is fixed by the framework.
 */
export function acknowledgeProviderFramework(provider: cr.Provider, onEvent: lambda.IFunction): void {
  const framework = provider.node.findChild('framework-onEvent');
  Validations.of(framework).acknowledge(
    {
      id: invokeVersionsFinding(onEvent),
      reason:
        'The framework may invoke the onEvent handler it was built for (any version), no other function.',
    },
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        'aws-cdk-lib gives the Provider framework function the basic execution role (its own logs only).',
    },
  );
}
