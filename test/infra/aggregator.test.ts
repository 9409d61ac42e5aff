import { Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { idOf, resourcesOfType, securityGroupRules, useSynthPipeline } from './synth';

const synth = useSynthPipeline();

function resource(id: string) {
  return synth().template.toJSON().Resources[id];
}

function aggregatorStatements(): { Sid?: string; Action: string | string[]; Resource: unknown }[] {
  const policy = synth().stack.aggregator.function.role?.node.findChild('DefaultPolicy');
  return resource(idOf(policy as never)).Properties.PolicyDocument.Statement;
}

describe('AggregatorConstruct', () => {
  it('consumes the topic from the beginning under the configured consumer group, in batches', () => {
    const { stack } = synth();
    const mapping = resource(idOf(stack.aggregator.eventSourceMapping)).Properties;

    expect(mapping).toEqual({
      EventSourceArn: { 'Fn::GetAtt': [idOf(stack.kafka.cluster), 'Arn'] },
      FunctionName: { Ref: idOf(stack.aggregator.function) },
      Topics: ['transaction'],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'transaction-aggregator' },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 1000,
      MaximumBatchingWindowInSeconds: 2,
      SourceAccessConfigurations: [
        { Type: 'SASL_SCRAM_512_AUTH', URI: { Ref: idOf(stack.kafka.scramSecret) } },
      ],
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [idOf(stack.aggregator.onFailureQueue), 'Arn'] } },
      },
      Tags: expect.any(Array),
    });
  });

  it('starts polling only after the topic, the schema and the pollers network path exist', () => {
    const { stack, template } = synth();
    const dependsOn = resource(idOf(stack.aggregator.eventSourceMapping)).DependsOn as string[];
    const msk = idOf(stack.kafka.securityGroup);
    const pollerRules = securityGroupRules(template).filter(
      (rule) =>
        (rule.group === msk && rule.direction === 'egress') || (rule.peer === msk && rule.fromPort === 443),
    );

    expect(dependsOn).toEqual(
      expect.arrayContaining([idOf(stack.topic.resource), idOf(stack.database.migration)]),
    );
    // Egress to the brokers and four endpoints, ingress on the four endpoints.
    expect(pollerRules).toHaveLength(9);
    for (const rule of pollerRules) expect(dependsOn).toContain(rule.id);
  });

  it('exposes the mapping id for the OffsetLag dashboard and alarm', () => {
    const { stack } = synth();

    expect(stack.resolve(stack.aggregator.eventSourceMappingId)).toEqual({
      Ref: idOf(stack.aggregator.eventSourceMapping),
    });
  });

  it('connects to PostgreSQL with its own user, under the consumer group it commits offsets for', () => {
    const { stack } = synth();
    const aggregator = resource(idOf(stack.aggregator.function)).Properties;

    expect(aggregator.Environment.Variables).toMatchObject({
      DB_SECRET_ARN: stack.resolve(stack.database.aggregatorSecret.secretArn),
      CONSUMER_GROUP_ID: 'transaction-aggregator',
      POWERTOOLS_SERVICE_NAME: 'aggregator',
    });
    expect(aggregator.Environment.Variables).not.toHaveProperty('DATABASE_URL');
    expect(aggregator).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 60,
      MemorySize: 512,
    });
  });

  it('reaches only PostgreSQL and the Secrets Manager endpoint', () => {
    const { stack } = synth();
    const aggregator = idOf(stack.aggregator.securityGroup);
    const rules = securityGroupRules(synth().template).filter((rule) => rule.group === aggregator);

    expect(rules.map((rule) => `${rule.direction} ${rule.peer}`).sort()).toEqual(
      [
        `egress ${idOf(stack.database.securityGroup)}`,
        `egress ${idOf(stack.network.secretsManagerEndpoint.connections.securityGroups[0] as never)}`,
      ].sort(),
    );
  });

  it('looks up only its own cluster and reads only its two secrets, without managed policies', () => {
    const { stack } = synth();
    const clusterArn = { 'Fn::GetAtt': [idOf(stack.kafka.cluster), 'Arn'] };
    const statements = aggregatorStatements();
    const role = resource(idOf(stack.aggregator.function.role as never)).Properties;

    expect(role.ManagedPolicyArns).toBeUndefined();
    expect(statements.filter((statement) => JSON.stringify(statement.Action).includes('kafka:'))).toEqual([
      {
        Sid: 'MskClusterLookup',
        Effect: 'Allow',
        Action: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
        Resource: clusterArn,
      },
    ]);
    expect(
      statements.filter((statement) => JSON.stringify(statement.Action).includes('secretsmanager:')),
    ).toEqual([
      {
        Effect: 'Allow',
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        Resource: [
          stack.resolve(stack.database.aggregatorSecret.secretArn),
          { Ref: idOf(stack.kafka.scramSecret) },
        ],
      },
    ]);
    expect(statements.filter((statement) => JSON.stringify(statement.Action).includes('sqs:'))).toEqual([
      {
        Effect: 'Allow',
        Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
        Resource: { 'Fn::GetAtt': [idOf(stack.aggregator.onFailureQueue), 'Arn'] },
      },
    ]);
  });

  it('explains each of its statements on "*" in an acknowledgement on its own role', () => {
    const { stack } = synth();
    const functions = [
      stack.aggregator.function,
      stack.producer.function,
      stack.topic.adminFunction,
      stack.database.migrationFunction,
    ];

    for (const fn of functions) {
      const role = fn.role;
      const policy = resource(idOf(role?.node.findChild('DefaultPolicy') as never));
      const wildcardSids = (
        policy.Properties.PolicyDocument.Statement as { Sid?: string; Resource: unknown }[]
      )
        .filter(
          (statement) => JSON.stringify(statement.Resource).includes('"*"') || statement.Resource === '*',
        )
        .map((statement) => statement.Sid);
      const reasons = (role?.node.metadata ?? [])
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
        .filter(([id]) => id.endsWith('AwsSolutions-IAM5[Resource::*]'))
        .map(([, reason]) => reason);

      expect(wildcardSids).toContain('VpcNetworkInterfaces');
      for (const sid of wildcardSids) {
        expect(sid, fn.node.path).toBeDefined();
        expect(
          reasons.filter((reason) => reason.includes(`statement ${sid}`)),
          `${fn.node.path}: ${sid}`,
        ).toHaveLength(1);
      }
      expect(reasons, fn.node.path).toHaveLength(wildcardSids.length);
    }
    expect(aggregatorStatements().find((statement) => statement.Sid === 'MskPollerNetworkLookup')).toEqual({
      Sid: 'MskPollerNetworkLookup',
      Effect: 'Allow',
      Action: ['ec2:DescribeSecurityGroups', 'ec2:DescribeVpcs'],
      Resource: '*',
    });
  });

  it('may decrypt the SCRAM secret through Secrets Manager, as the mapping needs', () => {
    const { stack, template } = synth();

    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Action: 'kms:Decrypt',
            Effect: 'Allow',
            Condition: {
              StringEquals: {
                'kms:ViaService': {
                  'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']],
                },
              },
            },
            Principal: {
              AWS: Match.arrayWith([
                { 'Fn::GetAtt': [idOf(stack.aggregator.function.role as never), 'Arn'] },
              ]),
            },
            Resource: '*',
          },
        ]),
      },
    });
  });

  it('keeps discarded-batch records in an encrypted, TLS-only queue', () => {
    const { stack, template } = synth();
    const queueId = idOf(stack.aggregator.onFailureQueue);

    expect(resource(queueId).Properties).toMatchObject({ SqsManagedSseEnabled: true });
    expect(
      resourcesOfType(template, 'AWS::SQS::QueuePolicy').some(
        ([, policy]) =>
          JSON.stringify(policy.Properties?.Queues) === JSON.stringify([{ Ref: queueId }]) &&
          JSON.stringify(policy.Properties?.PolicyDocument).includes('"aws:SecureTransport":"false"'),
      ),
    ).toBe(true);
  });
});
