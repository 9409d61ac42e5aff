import { Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { DatabaseConstruct } from './database';
import type { NetworkConstruct } from './network';

export interface BastionProps {
  /** Must have been created with `sessionManagerEndpoints: true`. */
  readonly network: NetworkConstruct;
  readonly database: DatabaseConstruct;
}

/**
 * A small instance in the isolated subnets that people reach only through Session Manager (no SSH, no key
 * pair, no inbound rule) to forward a local port to PostgreSQL:
 * `aws ssm start-session --target <BastionId> --document-name AWS-StartPortForwardingSessionToRemoteHost
 *  --parameters host=<DbEndpoint>,portNumber=5432,localPortNumber=5432`.
 */
export class BastionConstruct extends Construct {
  public readonly instance: ec2.Instance;
  public readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: BastionProps) {
    super(scope, id);
    const { network, database } = props;
    if (network.sessionManagerEndpoints.length === 0) {
      throw new Error('The bastion needs the Session Manager endpoints: create the network with them');
    }

    this.securityGroup = network.clientSecurityGroup(
      this,
      'SecurityGroup',
      'Bastion: PostgreSQL and the Session Manager endpoints only, no inbound',
    );
    database.instance.connections.allowDefaultPortFrom(this.securityGroup, 'Bastion port forwarding');
    for (const endpoint of network.sessionManagerEndpoints) {
      endpoint.connections.allowDefaultPortFrom(this.securityGroup, 'Bastion Session Manager agent');
    }

    // The minimal Session Manager instance permissions, instead of AmazonSSMManagedInstanceCore (which also
    // allows Run Command, State Manager and parameter reads) or BastionHostLinux's ssmmessages:* grants.
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Session Manager bastion: agent registration and session channels only',
    });
    const stack = Stack.of(this);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RegisterInstance',
        actions: ['ssm:UpdateInstanceInformation'],
        resources: [stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' })],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SessionChannels',
        actions: [
          'ssmmessages:CreateControlChannel',
          'ssmmessages:CreateDataChannel',
          'ssmmessages:OpenControlChannel',
          'ssmmessages:OpenDataChannel',
          'ec2messages:AcknowledgeMessage',
          'ec2messages:DeleteMessage',
          'ec2messages:FailMessage',
          'ec2messages:GetEndpoint',
          'ec2messages:GetMessages',
          'ec2messages:SendReply',
        ],
        resources: ['*'],
      }),
    );
    Validations.of(role).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'The ssmmessages and ec2messages actions have no resource-level permissions.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]',
        reason:
          'ssm:UpdateInstanceInformation is limited to instances of this account and region; naming the ' +
          'instance itself would make the role depend on the instance that uses it.',
      },
    );

    this.instance = new ec2.Instance(this, 'Instance', {
      vpc: network.vpc,
      vpcSubnets: network.dataSubnets,
      securityGroup: this.securityGroup,
      role,
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.NANO),
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
      requireImdsv2: true,
      detailedMonitoring: false,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(10, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }),
        },
      ],
    });
    Validations.of(this.instance).acknowledge(
      {
        id: 'AwsSolutions-EC28',
        reason: 'A port-forwarding bastion with no workload: basic five-minute monitoring is enough.',
      },
      {
        id: 'AwsSolutions-EC29',
        reason:
          'The bastion is disposable (no state, off by default) and is meant to be removed with bastion=false.',
      },
    );
  }
}
