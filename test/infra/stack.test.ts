import { describe, expect, it } from 'vitest';
import { cdkJsonContext, idOf, resourcesOf, resourcesOfType, useSynthPipeline } from './synth';

const synth = useSynthPipeline();

interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
}

/** Every statement of every identity policy in the template, with the logical id of its policy or role. */
function identityStatements(): { owner: string; statement: Statement }[] {
  const found: { owner: string; statement: Statement }[] = [];
  for (const [id, resource] of Object.entries(resourcesOf(synth().template))) {
    const documents: { Statement: Statement[] }[] = [];
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      documents.push(resource.Properties?.PolicyDocument as { Statement: Statement[] });
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of (resource.Properties?.Policies ?? []) as {
        PolicyDocument: { Statement: Statement[] };
      }[]) {
        documents.push(policy.PolicyDocument);
      }
    }
    for (const document of documents) {
      for (const statement of document.Statement) found.push({ owner: id, statement });
    }
  }
  return found;
}

const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

/**
 * The only actions granted on Resource "*", each because AWS offers nothing narrower for them.
 */
const ALLOWED_ON_ANY_RESOURCE: Record<string, string> = {
  // Lambda creates a VPC function's network interfaces before their ids exist; Describe* has no resource level.
  'ec2:AssignPrivateIpAddresses': 'Lambda VPC networking (AWSLambdaVPCAccessExecutionRole actions)',
  'ec2:CreateNetworkInterface': 'Lambda VPC networking (AWSLambdaVPCAccessExecutionRole actions)',
  'ec2:DeleteNetworkInterface': 'Lambda VPC networking (AWSLambdaVPCAccessExecutionRole actions)',
  'ec2:DescribeNetworkInterfaces': 'Lambda VPC networking (AWSLambdaVPCAccessExecutionRole actions)',
  'ec2:DescribeSubnets': 'Lambda VPC networking (AWSLambdaVPCAccessExecutionRole actions)',
  'ec2:UnassignPrivateIpAddresses': 'Lambda VPC networking (AWSLambdaVPCAccessExecutionRole actions)',
  // The MSK event source mapping inspects the cluster's VPC and security groups; no resource-level permissions.
  'ec2:DescribeVpcs': 'MSK event source mapping pollers',
  'ec2:DescribeSecurityGroups': 'MSK event source mapping pollers',
};

describe('PipelineStack', () => {
  it('synthesizes with cdk-nag AwsSolutions and CloudFormation validation, every finding acknowledged', () => {
    expect(cdkJsonContext()['@aws-cdk/core:validateAgainstDefaultRules']).toBe(true);
    expect(synth().violations.map((violation) => `${violation.plugin}: ${violation.ruleName}`)).toEqual([]);
    expect(synth().synthError).toBeUndefined();
  });

  it('raises no construct warnings or errors', () => {
    expect(synth().messages.filter((message) => message.level !== 'info')).toEqual([]);
  });

  it('grants no wildcard actions, and Resource "*" only for actions without resource-level permissions', () => {
    const statements = identityStatements().filter(({ statement }) => statement.Effect === 'Allow');
    const onAnyResource = statements.filter(({ statement }) => asList(statement.Resource).includes('*'));

    expect(statements.length).toBeGreaterThan(20);
    for (const { owner, statement } of statements) {
      for (const action of asList(statement.Action)) {
        expect(String(action), `${owner} grants a wildcard action`).not.toContain('*');
      }
    }
    for (const { owner, statement } of onAnyResource) {
      for (const action of asList(statement.Action)) {
        expect(ALLOWED_ON_ANY_RESOURCE, `${owner} grants ${action} on "*"`).toHaveProperty([String(action)]);
      }
    }
    expect(new Set(onAnyResource.flatMap(({ statement }) => asList(statement.Action)))).toEqual(
      new Set(Object.keys(ALLOWED_ON_ANY_RESOURCE)),
    );
  });

  it('gives kms:* only to the account root in key policies (the CDK default that enables IAM)', () => {
    for (const [id, key] of resourcesOfType(synth().template, 'AWS::KMS::Key')) {
      const statements = (key.Properties?.KeyPolicy as { Statement: Statement[] }).Statement;
      for (const statement of statements.filter((candidate) => asList(candidate.Action).includes('kms:*'))) {
        expect(JSON.stringify(statement.Principal), id).toMatch(/":root"\]\]\}\}$/);
      }
      expect(key.Properties?.EnableKeyRotation, id).toBe(true);
    }
  });

  it('attaches no AWS managed policy to the pipeline functions', () => {
    const { stack } = synth();
    const functions = [stack.producer.function, stack.aggregator.function, stack.topic.adminFunction];

    for (const fn of [...functions, stack.database.migrationFunction]) {
      const role = synth().template.toJSON().Resources[idOf(fn.role as never)];
      expect(role.Properties.ManagedPolicyArns, fn.node.path).toBeUndefined();
    }
  });

  it('keeps every log group for the configured retention', () => {
    const groups = resourcesOfType(synth().template, 'AWS::Logs::LogGroup');

    expect(groups.length).toBeGreaterThanOrEqual(10);
    for (const [id, group] of groups) {
      expect(group.Properties?.RetentionInDays, id).toBe(30);
    }
  });

  it('puts no secret value in function environments, outputs or plain properties', () => {
    const template = JSON.stringify(synth().template.toJSON());
    const outputs = JSON.stringify(synth().template.toJSON().Outputs);
    const environments = JSON.stringify(
      resourcesOfType(synth().template, 'AWS::Lambda::Function').map(([, fn]) => fn.Properties?.Environment),
    );

    expect(environments).not.toContain('resolve:secretsmanager');
    expect(outputs).not.toContain('resolve:secretsmanager');
    // The only dynamic reference is the master password handed to RDS itself.
    expect(template.match(/\{\{resolve:secretsmanager:/g)).toHaveLength(1);
    expect(
      JSON.stringify(synth().template.toJSON().Resources[idOf(synth().stack.database.instance)]),
    ).toContain(':SecretString:password::}}');
  });

  it('outputs what an operator needs, never secret values', () => {
    const { stack, template } = synth();
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;

    expect(Object.keys(outputs).sort()).toEqual(
      [
        'BootstrapBrokers',
        'ClusterArn',
        'DashboardUrl',
        'DbEndpoint',
        'DbMasterSecretArn',
        'DbSecretArn',
        'KafkaSecretArn',
        'ProducerFunctionName',
        'Topic',
      ].sort(),
    );
    expect(outputs.DbSecretArn?.Value).toEqual(stack.resolve(stack.database.aggregatorSecret.secretArn));
    expect(outputs.DbMasterSecretArn?.Value).toEqual(stack.resolve(stack.database.masterSecret.secretArn));
    expect(outputs.DbEndpoint?.Value).toEqual({
      'Fn::GetAtt': [idOf(stack.database.instance), 'Endpoint.Address'],
    });
    expect(outputs.ClusterArn?.Value).toEqual({ 'Fn::GetAtt': [idOf(stack.kafka.cluster), 'Arn'] });
    expect(outputs.BootstrapBrokers?.Value).toEqual(stack.resolve(stack.kafka.bootstrapBrokers));
    expect(outputs.Topic?.Value).toBe('transaction');
    expect(JSON.stringify(outputs.DashboardUrl?.Value)).toContain(idOf(stack.observability.dashboard));
  });

  it('wires the dashboard and alarms to the pipeline functions, mapping, database and queues', () => {
    const { stack, template } = synth();
    const alarms = JSON.stringify(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));

    expect(stack.observability.alarms.length).toBeGreaterThan(0);
    for (const id of [
      idOf(stack.producer.function),
      idOf(stack.aggregator.function),
      idOf(stack.database.instance),
      idOf(stack.producer.deadLetterQueue),
      idOf(stack.aggregator.onFailureQueue),
    ]) {
      expect(alarms).toContain(id);
    }
    const dashboard = JSON.stringify(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'));
    expect(dashboard).toContain('TransactionPipeline-kafka');
    expect(dashboard).toContain(idOf(stack.aggregator.eventSourceMapping));
  });

  it('builds four pipeline functions on the house defaults', () => {
    const { stack } = synth();
    const functions = [
      stack.producer.function,
      stack.aggregator.function,
      stack.topic.adminFunction,
      stack.database.migrationFunction,
    ];

    for (const fn of functions) {
      const properties = synth().template.toJSON().Resources[idOf(fn)].Properties;
      expect(properties, fn.node.path).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        LoggingConfig: { LogGroup: expect.anything() },
        VpcConfig: { SecurityGroupIds: [expect.anything()] },
        Environment: { Variables: expect.objectContaining({ NODE_OPTIONS: '--enable-source-maps' }) },
      });
    }
  });
});
