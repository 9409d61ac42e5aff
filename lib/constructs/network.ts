import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, type IDependable } from 'constructs';

export interface NetworkProps {
  /** Availability Zones the VPC spans (one subnet of each kind per zone). */
  readonly availabilityZones: number;
  /**
   * NAT gateways for outbound internet access. With 0 nothing in the VPC can reach the internet: AWS APIs are
   * reached through interface endpoints. With more, public and private-with-egress subnets are added and the
   * functions move to the latter; MSK and RDS stay isolated either way.
   * @default 0
   */
  readonly natGateways?: number;
  /** Retention of the VPC flow log group. */
  readonly logRetention: logs.RetentionDays;
  /**
   * Adds the SSM, SSM Messages and EC2 Messages endpoints a Session Manager bastion needs without NAT.
   * @default false
   */
  readonly sessionManagerEndpoints?: boolean;
}

/**
 * The pipeline's VPC: isolated subnets for MSK, RDS and the functions, flow logs, and the interface endpoints
 * that replace internet egress. Endpoints admit nobody by default (`open: false`); each consumer is let in
 * with `endpoint.connections.allowDefaultPortFrom(...)`.
 */
export class NetworkConstruct extends Construct {
  public readonly vpc: ec2.Vpc;
  /** Where MSK brokers and the RDS instance live: never routable from or to the internet. */
  public readonly dataSubnets: ec2.SubnetSelection;
  /** Where the functions run: the isolated subnets, or the egress subnets when NAT gateways exist. */
  public readonly functionSubnets: ec2.SubnetSelection;
  /** Read by every function that fetches a secret, the rotation functions and the MSK mapping's pollers. */
  public readonly secretsManagerEndpoint: ec2.InterfaceVpcEndpoint;
  /** The MSK event source mapping's pollers call STS to assume the function's role. */
  public readonly stsEndpoint: ec2.InterfaceVpcEndpoint;
  /** The MSK event source mapping's pollers invoke the aggregator through the Lambda API. */
  public readonly lambdaEndpoint: ec2.InterfaceVpcEndpoint;
  /** The MSK event source mapping sends discarded batches' metadata to its on-failure SQS queue. */
  public readonly sqsEndpoint: ec2.InterfaceVpcEndpoint;
  /** SSM, SSM Messages and EC2 Messages, present only with `sessionManagerEndpoints`. */
  public readonly sessionManagerEndpoints: ec2.InterfaceVpcEndpoint[] = [];

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const natGateways = props.natGateways ?? 0;

    const subnetConfiguration: ec2.SubnetConfiguration[] = [
      { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
    ];
    if (natGateways > 0) {
      subnetConfiguration.push(
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'egress', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
      );
    }

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.40.0.0/16'),
      maxAzs: props.availabilityZones,
      natGateways,
      subnetConfiguration,
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });

    this.dataSubnets = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    this.functionSubnets = {
      subnetType: natGateways > 0 ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED,
    };

    // No CloudWatch Logs or monitoring endpoint: Lambda ships function logs (and the EMF metrics inside them)
    // from outside the VPC, and Secrets Manager calls KMS on the caller's behalf, so no KMS endpoint either.
    // The endpoints span the isolated subnets because the MSK mapping's pollers run there, beside the brokers.
    this.secretsManagerEndpoint = this.interfaceEndpoint(
      'SecretsManager',
      ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    );
    this.stsEndpoint = this.interfaceEndpoint('Sts', ec2.InterfaceVpcEndpointAwsService.STS);
    this.lambdaEndpoint = this.interfaceEndpoint('Lambda', ec2.InterfaceVpcEndpointAwsService.LAMBDA);
    this.sqsEndpoint = this.interfaceEndpoint('Sqs', ec2.InterfaceVpcEndpointAwsService.SQS);

    if (props.sessionManagerEndpoints === true) {
      this.sessionManagerEndpoints.push(
        this.interfaceEndpoint('Ssm', ec2.InterfaceVpcEndpointAwsService.SSM),
        this.interfaceEndpoint('SsmMessages', ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES),
        this.interfaceEndpoint('Ec2Messages', ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES),
      );
    }
  }

  /**
   * What a resource that uses `endpoints` at deploy time must wait for: the endpoints and their security groups,
   * whose rules are separate resources that nothing else orders before it.
   */
  public static endpointPaths(...endpoints: ec2.InterfaceVpcEndpoint[]): IDependable[] {
    return endpoints.flatMap((endpoint) => [endpoint, ...endpoint.connections.securityGroups]);
  }

  /** A security group for a client of the pipeline's resources: no inbound rules, no outbound until granted. */
  public clientSecurityGroup(scope: Construct, id: string, description: string): ec2.SecurityGroup {
    return new ec2.SecurityGroup(scope, id, { vpc: this.vpc, description, allowAllOutbound: false });
  }

  private interfaceEndpoint(
    id: string,
    service: ec2.InterfaceVpcEndpointAwsService,
  ): ec2.InterfaceVpcEndpoint {
    const securityGroup = new ec2.SecurityGroup(this, `${id}EndpointSecurityGroup`, {
      vpc: this.vpc,
      description: `${id} interface endpoint: HTTPS from the pipeline clients only`,
      allowAllOutbound: false,
    });
    return this.vpc.addInterfaceEndpoint(`${id}Endpoint`, {
      service,
      subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [securityGroup],
      open: false,
      privateDnsEnabled: true,
    });
  }
}
