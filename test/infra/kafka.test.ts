import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { idOf, resourcesOfType, securityGroupRules, useSynthPipeline } from './synth';

const synth = useSynthPipeline();

describe('KafkaConstruct', () => {
  it('provisions two kafka.t3.small brokers in ZooKeeper mode across the isolated subnets', () => {
    const { stack, template } = synth();

    template.hasResourceProperties('AWS::MSK::Cluster', {
      ClusterName: 'TransactionPipeline-kafka',
      KafkaVersion: '3.8.x',
      NumberOfBrokerNodes: 2,
      BrokerNodeGroupInfo: {
        InstanceType: 'kafka.t3.small',
        ClientSubnets: stack.network.vpc.isolatedSubnets.map((subnet) => ({ Ref: idOf(subnet) })),
        SecurityGroups: [{ 'Fn::GetAtt': [idOf(stack.kafka.securityGroup), 'GroupId'] }],
        ConnectivityInfo: { PublicAccess: { Type: 'DISABLED' } },
      },
    });
  });

  it('accepts only SASL/SCRAM over TLS and encrypts in the cluster and at rest with its own key', () => {
    const { stack, template } = synth();

    template.hasResourceProperties('AWS::MSK::Cluster', {
      ClientAuthentication: {
        Sasl: { Scram: { Enabled: true }, Iam: { Enabled: false } },
        Unauthenticated: { Enabled: false },
      },
      EncryptionInfo: {
        EncryptionInTransit: { ClientBroker: 'TLS', InCluster: true },
        EncryptionAtRest: { DataVolumeKMSKeyId: { 'Fn::GetAtt': [idOf(stack.kafka.kmsKey), 'Arn'] } },
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      Description: Match.stringLikeRegexp('MSK SCRAM secret'),
    });
  });

  it('disables topic auto-creation and sizes replication for two brokers', () => {
    const configurations = resourcesOfType(synth().template, 'AWS::MSK::Configuration');

    expect(configurations).toHaveLength(1);
    const properties = configurations[0]?.[1].Properties as {
      Name: string;
      ServerProperties: string;
      KafkaVersionsList: string[];
    };
    expect(properties.KafkaVersionsList).toEqual(['3.8.x']);
    expect(properties.Name).toBe('TransactionPipeline-kafka-3-8-x');
    expect(properties.ServerProperties.split('\n').sort()).toEqual([
      'auto.create.topics.enable=false',
      'default.replication.factor=2',
      'min.insync.replicas=1',
      'num.partitions=3',
      'unclean.leader.election.enable=false',
    ]);
  });

  it('sends broker logs to a CloudWatch log group with retention', () => {
    const { template } = synth();
    const cluster = resourcesOfType(template, 'AWS::MSK::Cluster')[0]?.[1].Properties as {
      LoggingInfo: { BrokerLogs: { CloudWatchLogs: { Enabled: boolean; LogGroup: { Ref: string } } } };
    };
    const logs = cluster.LoggingInfo.BrokerLogs.CloudWatchLogs;

    expect(logs.Enabled).toBe(true);
    expect(template.toJSON().Resources[logs.LogGroup.Ref].Properties.RetentionInDays).toBe(30);
  });

  it('generates an AmazonMSK_ secret under the customer-managed key and associates it with the cluster', () => {
    const { stack, template } = synth();
    const secretId = idOf(stack.kafka.scramSecret);
    const secret = template.toJSON().Resources[secretId].Properties;

    expect(secret.Name['Fn::Join'][1][0]).toBe('AmazonMSK_TransactionPipeline-kafka-');
    expect(secret.KmsKeyId).toEqual({ 'Fn::GetAtt': [idOf(stack.kafka.kmsKey), 'Arn'] });
    expect(secret.GenerateSecretString).toMatchObject({
      SecretStringTemplate: '{"username":"pipeline"}',
      GenerateStringKey: 'password',
      ExcludePunctuation: true,
      PasswordLength: 32,
    });
    template.hasResourceProperties('AWS::MSK::BatchScramSecret', {
      ClusterArn: { 'Fn::GetAtt': [idOf(stack.kafka.cluster), 'Arn'] },
      SecretArnList: [{ Ref: secretId }],
    });
  });

  it('fetches the SASL/SCRAM bootstrap brokers in the deploy, allowed on this cluster only', () => {
    const { stack, template } = synth();
    const clusterArn = { 'Fn::GetAtt': [idOf(stack.kafka.cluster), 'Arn'] };
    const [id, bootstrap] = resourcesOfType(template, 'Custom::MskBootstrapBrokers')[0] ?? [];
    // The SDK call is a JSON string joined around the cluster ARN token.
    const parts = (bootstrap?.Properties?.Create as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
    const call = JSON.parse(parts.map((part) => (typeof part === 'string' ? part : 'CLUSTER_ARN')).join(''));

    expect(parts).toContainEqual(clusterArn);
    expect(call).toMatchObject({
      service: 'Kafka',
      action: 'GetBootstrapBrokers',
      parameters: { ClusterArn: 'CLUSTER_ARN' },
      outputPaths: ['BootstrapBrokerStringSaslScram'],
    });
    expect(bootstrap?.Properties?.Update).toEqual(bootstrap?.Properties?.Create);
    expect(bootstrap?.DependsOn).toContain(idOf(stack.kafka.scramAssociation));
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [{ Action: 'kafka:GetBootstrapBrokers', Effect: 'Allow', Resource: clusterArn }],
      },
    });
    expect(stack.resolve(stack.kafka.bootstrapBrokers)).toEqual({
      'Fn::GetAtt': [id, 'BootstrapBrokerStringSaslScram'],
    });
  });

  it('opens port 9096 to itself (brokers and pollers), the producer and topic administration only', () => {
    const { stack } = synth();
    const msk = idOf(stack.kafka.securityGroup);
    const rules = securityGroupRules(synth().template).filter((rule) => rule.group === msk);
    const describe = (direction: string) =>
      rules
        .filter((rule) => rule.direction === direction)
        .map((rule) => `${rule.peer}:${rule.fromPort}`)
        .sort();

    expect(describe('ingress')).toEqual(
      [
        `${msk}:9096`,
        `${idOf(stack.producer.securityGroup)}:9096`,
        `${idOf(stack.topic.securityGroup)}:9096`,
      ].sort(),
    );
    expect(describe('egress')).toEqual(
      [
        `${msk}:9096`,
        ...[
          stack.network.stsEndpoint,
          stack.network.secretsManagerEndpoint,
          stack.network.lambdaEndpoint,
          stack.network.sqsEndpoint,
        ].map((endpoint) => `${idOf(endpoint.connections.securityGroups[0] as never)}:443`),
      ].sort(),
    );
  });
});

describe('KafkaTopic', () => {
  it('creates the topic with its partitions and replication from the fetched brokers', () => {
    const { stack, template } = synth();

    template.hasResourceProperties('Custom::KafkaTopic', {
      BootstrapBrokers: stack.resolve(stack.kafka.bootstrapBrokers),
      Topic: 'transaction',
      Partitions: 3,
      ReplicationFactor: 2,
    });
  });

  it('waits for the SCRAM association and the network rules the admin function needs', () => {
    const { stack, template } = synth();
    const dependsOn = template.toJSON().Resources[idOf(stack.topic.resource)].DependsOn as string[];
    const admin = idOf(stack.topic.securityGroup);
    const adminRules = securityGroupRules(template).filter(
      (rule) => rule.group === admin || rule.peer === admin,
    );

    expect(dependsOn).toContain(idOf(stack.kafka.scramAssociation));
    // Egress to MSK and to the Secrets Manager endpoint, ingress on both.
    expect(adminRules).toHaveLength(4);
    for (const rule of adminRules) expect(dependsOn).toContain(rule.id);
  });

  it('runs the admin function in the VPC with the SCRAM secret and TLS', () => {
    const { stack, template } = synth();

    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: Match.absent(),
      Description: Match.stringLikeRegexp('pipeline topic'),
      Environment: {
        Variables: Match.objectLike({
          KAFKA_SECRET_ARN: { Ref: idOf(stack.kafka.scramSecret) },
          KAFKA_TLS: 'true',
        }),
      },
      VpcConfig: { SecurityGroupIds: [{ 'Fn::GetAtt': [idOf(stack.topic.securityGroup), 'GroupId'] }] },
    });
  });
});
