import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { idOf, resourcesOfType, securityGroupRules, useSynthPipeline } from './synth';

const synth = useSynthPipeline();

function endpointServiceNames(): string[] {
  return resourcesOfType(synth().template, 'AWS::EC2::VPCEndpoint').map(([, endpoint]) => {
    const join = (endpoint.Properties?.ServiceName as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return String(join[1].at(-1)).replace(/^\./, '');
  });
}

describe('NetworkConstruct', () => {
  it('builds two isolated subnets and no route to the internet', () => {
    const { template } = synth();

    template.resourceCountIs('AWS::EC2::Subnet', 2);
    template.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false });
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::Route', 0);
  });

  it('logs all VPC traffic to a CloudWatch log group with the configured retention', () => {
    const { template } = synth();
    const flowLogs = resourcesOfType(template, 'AWS::EC2::FlowLog');

    expect(flowLogs).toHaveLength(1);
    const flowLog = flowLogs[0]?.[1].Properties as Record<string, unknown>;
    expect(flowLog).toMatchObject({
      TrafficType: 'ALL',
      ResourceType: 'VPC',
      LogDestinationType: 'cloud-watch-logs',
    });
    const groupId = (flowLog.LogGroupName as { Ref: string }).Ref;
    expect(template.toJSON().Resources[groupId].Properties.RetentionInDays).toBe(30);
  });

  it('reaches AWS APIs through private-DNS interface endpoints for exactly the services in use', () => {
    const { template } = synth();

    expect(endpointServiceNames().sort()).toEqual(['lambda', 'secretsmanager', 'sqs', 'sts']);
    template.allResourcesProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
      SubnetIds: synth().stack.network.vpc.isolatedSubnets.map((subnet) => ({ Ref: idOf(subnet) })),
    });
  });

  it('admits to each endpoint only HTTPS from the security groups that call it', () => {
    const { stack } = synth();
    const rules = securityGroupRules(synth().template);
    const callers = (endpoint: { connections: { securityGroups: unknown[] } }) => {
      const group = idOf(endpoint.connections.securityGroups[0] as never);
      const ingress = rules.filter((rule) => rule.group === group && rule.direction === 'ingress');
      for (const rule of ingress) {
        expect(rule).toMatchObject({ protocol: 'tcp', fromPort: 443, toPort: 443 });
      }
      return ingress.map((rule) => rule.peer).sort();
    };
    const database = stack.database.node;
    const rotationGroups = ['MasterRotationSecurityGroup', 'AggregatorRotationSecurityGroup'].map((id) =>
      idOf(database.findChild(id)),
    );

    expect(callers(stack.network.secretsManagerEndpoint)).toEqual(
      [
        idOf(stack.producer.securityGroup),
        idOf(stack.aggregator.securityGroup),
        idOf(stack.topic.securityGroup),
        idOf(stack.database.migrationFunction.securityGroup),
        idOf(stack.kafka.securityGroup),
        ...rotationGroups,
      ].sort(),
    );
    // STS, Lambda and SQS serve the MSK event source mapping's pollers only, which use the cluster's group.
    for (const endpoint of [
      stack.network.stsEndpoint,
      stack.network.lambdaEndpoint,
      stack.network.sqsEndpoint,
    ]) {
      expect(callers(endpoint)).toEqual([idOf(stack.kafka.securityGroup)]);
    }
  });

  it('has no security group rule open to an address range, in either direction', () => {
    const rules = securityGroupRules(synth().template);
    const cidrRules = rules.filter((rule) => /^[0-9a-f.:]+\/\d+$/.test(rule.peer));

    expect(rules.length).toBeGreaterThan(20);
    // The only CIDR rules are the placeholders CDK writes into groups without outbound rules.
    for (const rule of cidrRules) {
      expect(rule).toMatchObject({ direction: 'egress', peer: '255.255.255.255/32', protocol: 'icmp' });
    }
    expect(rules.filter((rule) => rule.direction === 'ingress' && rule.peer.includes('/'))).toEqual([]);
  });

  it('does not create the Session Manager endpoints while the bastion is off', () => {
    expect(endpointServiceNames()).not.toContain('ssm');
    synth().template.resourceCountIs('AWS::EC2::Instance', 0);
  });

  it('strips the rules of the VPC default security group', () => {
    synth().template.hasResourceProperties('Custom::VpcRestrictDefaultSG', {
      DefaultSecurityGroupId: Match.anyValue(),
    });
  });
});
