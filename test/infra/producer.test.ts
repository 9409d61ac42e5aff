import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE } from '../../lambda/shared/metric-names';
import { idOf, resourcesOfType, securityGroupRules, useSynthPipeline } from './synth';

const synth = useSynthPipeline();

function resource(id: string) {
  return synth().template.toJSON().Resources[id];
}

describe('ProducerConstruct', () => {
  it('runs one paced producer at a time on ARM64 Node.js 24 in the VPC', () => {
    const { stack } = synth();
    const producer = resource(idOf(stack.producer.function)).Properties;

    expect(producer).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 70,
      MemorySize: 256,
      ReservedConcurrentExecutions: 1,
      VpcConfig: {
        SecurityGroupIds: [{ 'Fn::GetAtt': [idOf(stack.producer.securityGroup), 'GroupId'] }],
        SubnetIds: stack.network.vpc.isolatedSubnets.map((subnet) => ({ Ref: idOf(subnet) })),
      },
    });
  });

  it('is configured through the documented environment, with the brokers fetched in the deploy', () => {
    const { stack } = synth();
    const variables = resource(idOf(stack.producer.function)).Properties.Environment.Variables;

    expect(variables).toEqual({
      KAFKA_BROKERS: stack.resolve(stack.kafka.bootstrapBrokers),
      KAFKA_SECRET_ARN: { Ref: idOf(stack.kafka.scramSecret) },
      KAFKA_TOPIC: 'transaction',
      KAFKA_TLS: 'true',
      PRODUCER_RATE: '100',
      PRODUCER_DURATION_SECONDS: '50',
      POWERTOOLS_SERVICE_NAME: 'producer',
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it('logs to its own log group with retention and may write nowhere else', () => {
    const { stack } = synth();
    const producer = resource(idOf(stack.producer.function)).Properties;
    const logGroupId = producer.LoggingConfig.LogGroup.Ref as string;
    const statements = resource(idOf(stack.producer.function.role?.node.findChild('DefaultPolicy') as never))
      .Properties.PolicyDocument.Statement as { Action: string[]; Resource: unknown }[];

    expect(resource(logGroupId).Properties.RetentionInDays).toBe(30);
    expect(statements.filter((statement) => JSON.stringify(statement.Action).includes('logs:'))).toEqual([
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
      },
    ]);
  });

  it('reaches only the brokers and the Secrets Manager endpoint', () => {
    const { stack } = synth();
    const producer = idOf(stack.producer.securityGroup);
    const rules = securityGroupRules(synth().template).filter((rule) => rule.group === producer);

    expect(rules.map((rule) => `${rule.direction} ${rule.peer}:${rule.fromPort}`).sort()).toEqual(
      [
        `egress ${idOf(stack.kafka.securityGroup)}:9096`,
        `egress ${idOf(stack.network.secretsManagerEndpoint.connections.securityGroups[0] as never)}:443`,
      ].sort(),
    );
  });

  it('starts a paced run every minute once the topic exists', () => {
    const { stack } = synth();
    const schedule = resource(idOf(stack.producer.schedule));

    expect(schedule.Properties).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: { 'Fn::GetAtt': [idOf(stack.producer.function), 'Arn'] },
        Input: '{"mode":"paced"}',
      },
    });
    expect(schedule.DependsOn).toContain(idOf(stack.topic.resource));
  });

  it('retries an undelivered run briefly, then parks it in an encrypted, TLS-only dead-letter queue', () => {
    const { stack, template } = synth();
    const queueId = idOf(stack.producer.deadLetterQueue);

    expect(resource(idOf(stack.producer.schedule)).Properties.Target).toMatchObject({
      RetryPolicy: { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 2 },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
    });
    expect(resource(queueId).Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ],
      },
    });
  });

  it('gives the scheduler a role that may invoke the producer and feed its dead-letter queue only', () => {
    const { stack } = synth();
    const roleArn = resource(idOf(stack.producer.schedule)).Properties.Target.RoleArn as {
      'Fn::GetAtt': [string];
    };
    const roleId = roleArn['Fn::GetAtt'][0];
    const role = resource(roleId).Properties;
    const functionArn = { 'Fn::GetAtt': [idOf(stack.producer.function), 'Arn'] };
    const [policy] = resourcesOfType(synth().template, 'AWS::IAM::Policy')
      .map(([, candidate]) => candidate.Properties as { Roles: { Ref: string }[]; PolicyDocument: unknown })
      .filter((candidate) => candidate.Roles[0]?.Ref === roleId);

    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
    ]);
    expect(policy?.PolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Action: 'lambda:InvokeFunction',
          Effect: 'Allow',
          Resource: [functionArn, { 'Fn::Join': ['', [functionArn, ':*']] }],
        },
        {
          Action: 'sqs:SendMessage',
          Effect: 'Allow',
          Resource: { 'Fn::GetAtt': [idOf(stack.producer.deadLetterQueue), 'Arn'] },
        },
      ],
    });
  });
});
