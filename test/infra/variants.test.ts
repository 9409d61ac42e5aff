import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idOf, resourcesOfType, type SynthResult, securityGroupRules, synthPipeline } from './synth';

/** Every optional feature switched away from its default, in one synthesis. */
const VARIANT = {
  bastion: true,
  natGateways: 1,
  provisionedPollers: { minimumPollers: 1, maximumPollers: 3 },
  deletionProtection: false,
  removalPolicy: 'destroy',
  multiAz: true,
  dbInstanceType: 'db.m7g.large',
  postgresVersion: '16',
  producerReservedConcurrency: 'off',
  producerBranches: 'Kazan,Moscow',
  producerAmountMin: -5,
  producerAmountMax: 5,
  scheduleEnabled: false,
  scheduleRateMinutes: 5,
  brokerInstanceType: 'kafka.m7g.large',
  brokerCount: 4,
  kafkaVersion: '3.9.x.kraft',
  alarmEmail: 'ops@example.com',
};

let synth: SynthResult;

beforeAll(() => {
  synth = synthPipeline(VARIANT);
});
afterAll(() => synth.dispose());

function resource(id: string) {
  return synth.template.toJSON().Resources[id];
}

function endpointServices(): string[] {
  return resourcesOfType(synth.template, 'AWS::EC2::VPCEndpoint').map(([, endpoint]) => {
    const join = (endpoint.Properties?.ServiceName as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return String(join[1].at(-1)).replace(/^\./, '');
  });
}

describe('pipeline with every option changed', () => {
  it('still passes cdk-nag and CloudFormation validation', () => {
    expect(synth.violations.map((violation) => `${violation.plugin}: ${violation.ruleName}`)).toEqual([]);
    expect(synth.synthError).toBeUndefined();
  });

  describe('bastion', () => {
    it('is a small encrypted ARM instance in an isolated subnet, IMDSv2 only, without a key pair', () => {
      const { stack } = synth;
      const bastion = stack.bastion;
      if (bastion === undefined) throw new Error('bastion=true must create the bastion');
      const instance = resource(idOf(bastion.instance)).Properties;

      expect(instance).toMatchObject({
        InstanceType: 't4g.nano',
        SubnetId: { Ref: idOf(stack.network.vpc.isolatedSubnets[0] as never) },
        SecurityGroupIds: [{ 'Fn::GetAtt': [idOf(bastion.securityGroup), 'GroupId'] }],
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3' } }],
      });
      expect(instance.KeyName).toBeUndefined();
      synth.template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
        LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required' } },
      });
    });

    it('accepts no inbound traffic and reaches only PostgreSQL and the Session Manager endpoints', () => {
      const { stack } = synth;
      const bastion = idOf(stack.bastion?.securityGroup as never);
      const rules = securityGroupRules(synth.template);
      const ssmGroups = stack.network.sessionManagerEndpoints.map((endpoint) =>
        idOf(endpoint.connections.securityGroups[0] as never),
      );

      expect(rules.filter((rule) => rule.group === bastion && rule.direction === 'ingress')).toEqual([]);
      expect(
        rules
          .filter((rule) => rule.group === bastion)
          .map((rule) => rule.peer)
          .sort(),
      ).toEqual([idOf(stack.database.securityGroup), ...ssmGroups].sort());
      expect(
        rules.some((rule) => rule.group === idOf(stack.database.securityGroup) && rule.peer === bastion),
      ).toBe(true);
      expect(endpointServices()).toEqual(expect.arrayContaining(['ssm', 'ssmmessages', 'ec2messages']));
    });

    it('has Session Manager permissions only, and is named in the outputs', () => {
      const { stack, template } = synth;
      const role = stack.bastion?.instance.role;
      const policy = resource(idOf(role?.node.findChild('DefaultPolicy') as never));
      const statements = policy.Properties.PolicyDocument.Statement as {
        Action: string | string[];
        Resource: unknown;
      }[];
      const actions = statements.flatMap((statement) => statement.Action);
      const onAnyResource = statements
        .filter((statement) => statement.Resource === '*')
        .flatMap((statement) => statement.Action);

      expect(resource(idOf(role as never)).Properties.ManagedPolicyArns).toBeUndefined();
      expect(
        actions.every((action) => /^(ssm:UpdateInstanceInformation|ssmmessages:|ec2messages:)/.test(action)),
      ).toBe(true);
      // Session channel and message actions have no resource-level permissions; the registration call has.
      expect(onAnyResource.length).toBeGreaterThan(0);
      expect(onAnyResource.every((action) => /^(ssmmessages|ec2messages):/.test(action))).toBe(true);
      expect(template.toJSON().Outputs.BastionId.Value).toEqual({
        Ref: idOf(stack.bastion?.instance as never),
      });
    });
  });

  it('adds a NAT gateway and moves the functions to the egress subnets, leaving MSK and RDS isolated', () => {
    const { stack, template } = synth;
    const egressSubnets = stack.network.vpc.privateSubnets.map((subnet) => ({ Ref: idOf(subnet) }));
    const isolatedSubnets = stack.network.vpc.isolatedSubnets.map((subnet) => ({ Ref: idOf(subnet) }));

    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.resourceCountIs('AWS::EC2::InternetGateway', 1);
    expect(egressSubnets).toHaveLength(2);
    for (const fn of [stack.producer.function, stack.aggregator.function, stack.database.migrationFunction]) {
      expect(resource(idOf(fn)).Properties.VpcConfig.SubnetIds).toEqual(egressSubnets);
    }
    expect(resource(idOf(stack.kafka.cluster)).Properties.BrokerNodeGroupInfo.ClientSubnets).toEqual(
      isolatedSubnets,
    );
    template.hasResourceProperties('AWS::RDS::DBSubnetGroup', { SubnetIds: isolatedSubnets });
  });

  it('runs the mapping with provisioned pollers', () => {
    expect(
      resource(idOf(synth.stack.aggregator.eventSourceMapping)).Properties.ProvisionedPollerConfig,
    ).toEqual({
      MinimumPollers: 1,
      MaximumPollers: 3,
    });
  });

  it('applies the database choices: no deletion protection, deleted with the stack, Multi-AZ, Insights', () => {
    const instance = resource(idOf(synth.stack.database.instance));

    expect(instance.DeletionPolicy).toBe('Delete');
    expect(instance.Properties).toMatchObject({
      DeletionProtection: false,
      MultiAZ: true,
      DBInstanceClass: 'db.m7g.large',
      EngineVersion: '16',
      EnablePerformanceInsights: true,
    });
  });

  it('applies the producer choices: no reserved concurrency, paused schedule, custom generator', () => {
    const { stack } = synth;
    const producer = resource(idOf(stack.producer.function)).Properties;
    const schedule = resource(idOf(stack.producer.schedule)).Properties;

    expect(producer.ReservedConcurrentExecutions).toBeUndefined();
    expect(producer.Environment.Variables).toMatchObject({
      PRODUCER_BRANCHES: 'Kazan,Moscow',
      PRODUCER_AMOUNT_MIN: '-5',
      PRODUCER_AMOUNT_MAX: '5',
    });
    expect(producer.Environment.Variables).not.toHaveProperty('PRODUCER_CURRENCIES');
    expect(schedule).toMatchObject({
      State: 'DISABLED',
      ScheduleExpression: 'rate(5 minutes)',
      Target: { RetryPolicy: { MaximumEventAgeInSeconds: 300 } },
    });
  });

  it('sizes replication for four brokers: three replicas, two in sync', () => {
    const { template } = synth;
    const configuration = resourcesOfType(template, 'AWS::MSK::Configuration')[0]?.[1].Properties as {
      ServerProperties: string;
    };

    template.hasResourceProperties('AWS::MSK::Cluster', {
      KafkaVersion: '3.9.x.kraft',
      NumberOfBrokerNodes: 4,
      BrokerNodeGroupInfo: Match.objectLike({ InstanceType: 'kafka.m7g.large' }),
    });
    expect(configuration.ServerProperties).toContain('default.replication.factor=3');
    expect(configuration.ServerProperties).toContain('min.insync.replicas=2');
    template.hasResourceProperties('Custom::KafkaTopic', { ReplicationFactor: 3 });
  });

  it('subscribes the alarm e-mail', () => {
    synth.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });
});
