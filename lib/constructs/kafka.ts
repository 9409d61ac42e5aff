import { Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

/** Brokers listen for SASL/SCRAM over TLS on this port; it is the only one opened. */
export const KAFKA_SASL_SCRAM_TLS_PORT = 9096;

/** Fixed user name of the pipeline's SCRAM credentials; the password is generated. */
export const KAFKA_USERNAME = 'pipeline';

export interface KafkaProps {
  readonly vpc: ec2.IVpc;
  /** One subnet per Availability Zone; brokers are spread evenly over them. */
  readonly subnets: ec2.SubnetSelection;
  /** MSK cluster name; also names the configuration and the SCRAM secret. */
  readonly clusterName: string;
  /** MSK Apache Kafka version, e.g. "3.8.x" (ZooKeeper mode) or "3.9.x.kraft". */
  readonly kafkaVersion: string;
  readonly brokerInstanceType: string;
  /** A multiple of the number of subnets. */
  readonly brokerCount: number;
  readonly brokerVolumeGiB: number;
  /** Partitions of topics created without an explicit count. */
  readonly defaultPartitions: number;
  readonly enhancedMonitoring: string;
  readonly logRetention: logs.RetentionDays;
}

/**
 * A provisioned MSK cluster that accepts only SASL/SCRAM over TLS on port 9096: unauthenticated and IAM access
 * are off, data is encrypted in transit between brokers and at rest with a customer-managed key, and broker
 * logs go to CloudWatch. Clients are let in with `kafka.connections.allowDefaultPortFrom(client)`.
 */
export class KafkaConstruct extends Construct implements ec2.IConnectable {
  public readonly cluster: msk.CfnCluster;
  public readonly clusterArn: string;
  public readonly clusterName: string;
  /** `host:port,...` of the SASL/SCRAM listeners, fetched during the deploy (not a CloudFormation attribute). */
  public readonly bootstrapBrokers: string;
  /** Held by the brokers and by the MSK event source mapping's pollers, which MSK places in this group. */
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly connections: ec2.Connections;
  /** `{"username","password"}` of the pipeline's SCRAM user, associated with the cluster. */
  public readonly scramSecret: secretsmanager.ISecret;
  /** Encrypts the SCRAM secret and the broker volumes. Readers of the secret need decrypt on it. */
  public readonly kmsKey: kms.Key;
  /** Topic administration must wait for this: SCRAM logins fail until the secret is associated. */
  public readonly scramAssociation: msk.CfnBatchScramSecret;
  /** Replication factor that the cluster can honour with its broker count. */
  public readonly replicationFactor: number;

  constructor(scope: Construct, id: string, props: KafkaProps) {
    super(scope, id);
    const subnets = props.vpc.selectSubnets(props.subnets);
    if (props.brokerCount % subnets.subnetIds.length !== 0) {
      throw new Error(
        `brokerCount ${props.brokerCount} must be a multiple of the ${subnets.subnetIds.length} broker subnets`,
      );
    }
    this.clusterName = props.clusterName;

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'MSK brokers and the event source mapping pollers: SASL/SCRAM over TLS only',
      allowAllOutbound: false,
    });
    // The event source mapping's pollers join this group and must reach the brokers through it.
    this.securityGroup.connections.allowInternally(
      ec2.Port.tcp(KAFKA_SASL_SCRAM_TLS_PORT),
      'Brokers and the event source mapping pollers',
    );
    this.connections = new ec2.Connections({
      securityGroups: [this.securityGroup],
      defaultPort: ec2.Port.tcp(KAFKA_SASL_SCRAM_TLS_PORT),
    });

    // Deleted with the stack after the 30-day waiting period, during which the deletion can be cancelled.
    this.kmsKey = new kms.Key(this, 'Key', {
      description: `${props.clusterName}: MSK SCRAM secret and broker volumes`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(30),
    });

    // Secrets Manager keeps a deleted secret's name for its recovery window, so a fixed name would block a
    // redeploy after `cdk destroy`; the stack id's first UUID block makes the name unique per stack instance.
    const stackIdSuffix = Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', Stack.of(this).stackId))));
    this.scramSecret = new secretsmanager.Secret(this, 'ScramSecret', {
      secretName: `AmazonMSK_${props.clusterName}-${stackIdSuffix}`,
      description: `SASL/SCRAM credentials of the pipeline user on MSK cluster ${props.clusterName}`,
      encryptionKey: this.kmsKey,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: KAFKA_USERNAME }),
        generateStringKey: 'password',
        passwordLength: 32,
        excludePunctuation: true,
      },
    });
    Validations.of(this.scramSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'MSK SCRAM secrets have no AWS-provided rotation function; rotating means updating the secret, which ' +
        'MSK picks up on the next login, and clients re-read it after an authentication failure.',
    });

    const brokerLogs = new logs.LogGroup(this, 'BrokerLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.replicationFactor = Math.min(props.brokerCount, 3);
    // With two brokers, min.insync.replicas=1 keeps producers (acks=all) writing while one broker is patched;
    // the price is that writes made during that window exist on one broker only until it catches up.
    // With three or more brokers, two in-sync replicas are required and one broker may still be down.
    const minInsyncReplicas = this.replicationFactor >= 3 ? 2 : 1;
    const configuration = new msk.CfnConfiguration(this, 'Configuration', {
      // The version list can only change by replacement, which needs a new name.
      name: `${props.clusterName}-${props.kafkaVersion.replace(/\./g, '-')}`,
      description: 'Topics are created by the deploy, never implicitly by clients',
      kafkaVersionsList: [props.kafkaVersion],
      serverProperties: [
        'auto.create.topics.enable=false',
        `default.replication.factor=${this.replicationFactor}`,
        `min.insync.replicas=${minInsyncReplicas}`,
        `num.partitions=${props.defaultPartitions}`,
        'unclean.leader.election.enable=false',
      ].join('\n'),
    });

    this.cluster = new msk.CfnCluster(this, 'Cluster', {
      clusterName: props.clusterName,
      kafkaVersion: props.kafkaVersion,
      numberOfBrokerNodes: props.brokerCount,
      brokerNodeGroupInfo: {
        instanceType: props.brokerInstanceType,
        clientSubnets: subnets.subnetIds,
        securityGroups: [this.securityGroup.securityGroupId],
        storageInfo: { ebsStorageInfo: { volumeSize: props.brokerVolumeGiB } },
        connectivityInfo: { publicAccess: { type: 'DISABLED' } },
      },
      clientAuthentication: {
        sasl: { scram: { enabled: true }, iam: { enabled: false } },
        unauthenticated: { enabled: false },
      },
      encryptionInfo: {
        encryptionInTransit: { clientBroker: 'TLS', inCluster: true },
        encryptionAtRest: { dataVolumeKmsKeyId: this.kmsKey.keyArn },
      },
      configurationInfo: { arn: configuration.attrArn, revision: configuration.attrLatestRevisionRevision },
      enhancedMonitoring: props.enhancedMonitoring,
      loggingInfo: {
        brokerLogs: { cloudWatchLogs: { enabled: true, logGroup: brokerLogs.logGroupName } },
      },
    });
    this.clusterArn = this.cluster.attrArn;

    this.scramAssociation = new msk.CfnBatchScramSecret(this, 'ScramAssociation', {
      clusterArn: this.clusterArn,
      secretArnList: [this.scramSecret.secretArn],
    });

    const bootstrapCall: cr.AwsSdkCall = {
      service: 'Kafka',
      action: 'GetBootstrapBrokers',
      parameters: { ClusterArn: this.clusterArn },
      physicalResourceId: cr.PhysicalResourceId.of(`${props.clusterName}-bootstrap-brokers`),
      outputPaths: ['BootstrapBrokerStringSaslScram'],
    };
    const bootstrap = new cr.AwsCustomResource(this, 'BootstrapBrokers', {
      resourceType: 'Custom::MskBootstrapBrokers',
      onCreate: bootstrapCall,
      onUpdate: bootstrapCall,
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['kafka:GetBootstrapBrokers'], resources: [this.clusterArn] }),
      ]),
      installLatestAwsSdk: false,
      logGroup: new logs.LogGroup(this, 'BootstrapBrokersLogs', {
        retention: props.logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    bootstrap.node.addDependency(this.scramAssociation);
    if (bootstrap.grantPrincipal instanceof iam.Role) {
      Validations.of(bootstrap.grantPrincipal).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'The AwsCustomResource function is created by aws-cdk-lib with the basic execution role; its only ' +
          'other permission is kafka:GetBootstrapBrokers on this cluster.',
      });
    }
    this.bootstrapBrokers = bootstrap.getResponseField('BootstrapBrokerStringSaslScram');
  }

  /**
   * Environment of a function that logs in to the cluster; grant it the SCRAM secret too. KAFKA_TLS repeats
   * the handlers' default on purpose: the SASL/SCRAM listener accepts TLS only, and the template should say
   * so rather than leave it to a default the local runtime overrides.
   */
  public clientEnvironment(): Record<string, string> {
    return { KAFKA_SECRET_ARN: this.scramSecret.secretArn, KAFKA_TLS: 'true' };
  }
}
