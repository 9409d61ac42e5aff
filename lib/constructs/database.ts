import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CustomResource, Duration, Names, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { readMigrations } from '../../lambda/shared/migrations';
import { CustomResourceProvider } from './custom-resource-provider';
import { NetworkConstruct } from './network';
import { lambdaEntry, PipelineFunction, REPO_ROOT } from './pipeline-function';

/** The only schema source: applied by the migration custom resource, the local runtime and the tests. */
export const MIGRATIONS_DIR = path.join(REPO_ROOT, 'migrations');

export const DATABASE_NAME = 'pipeline';
export const AGGREGATOR_USERNAME = 'aggregator';
const MASTER_USERNAME = 'postgres';
const POSTGRES_PORT = 5432;

/** Secrets rotate monthly; clients re-read a secret after an authentication failure. */
const ROTATION_INTERVAL = Duration.days(30);

/** Characters left out of generated passwords: quoting, URL and shell metacharacters. */
const PASSWORD_EXCLUDED_CHARACTERS = ' %+~`#$&*()|[]{}:;<>?!\'/@"\\';

const ENGINE_VERSIONS = {
  '16': rds.PostgresEngineVersion.VER_16,
  '17': rds.PostgresEngineVersion.VER_17,
} as const;

export interface DatabaseProps {
  readonly network: NetworkConstruct;
  /** Lower-case RDS identifier; also names the PostgreSQL log group. */
  readonly instanceIdentifier: string;
  readonly postgresVersion: keyof typeof ENGINE_VERSIONS;
  /** RDS instance class, e.g. "db.t4g.micro". */
  readonly instanceType: string;
  readonly allocatedStorageGiB: number;
  readonly maxAllocatedStorageGiB: number;
  readonly multiAz: boolean;
  readonly backupRetentionDays: number;
  readonly deletionProtection: boolean;
  readonly removalPolicy: RemovalPolicy;
  readonly iamAuthentication: boolean;
  readonly logRetention: logs.RetentionDays;
}

/**
 * RDS PostgreSQL in the isolated subnets with TLS enforced, encrypted storage, exported logs, generated and
 * rotated credentials for the master user and for the aggregator's least-privilege user, and the schema applied
 * by a migration custom resource that re-runs whenever `migrations/*.sql` change.
 */
export class DatabaseConstruct extends Construct {
  public readonly instance: rds.DatabaseInstance;
  /** Master credentials (with host, port, dbname): for migrations and people, never for the pipeline. */
  public readonly masterSecret: secretsmanager.ISecret;
  /** The aggregator's own user: host, port, dbname, username, password. */
  public readonly aggregatorSecret: secretsmanager.ISecret;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly migration: CustomResource;
  public readonly migrationFunction: PipelineFunction;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    const { network } = props;
    const instanceClass = props.instanceType.replace(/^db\./, '');

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: network.vpc,
      description: 'RDS PostgreSQL: port 5432 from the pipeline functions only',
      allowAllOutbound: false,
    });

    const engine = rds.DatabaseInstanceEngine.postgres({ version: ENGINE_VERSIONS[props.postgresVersion] });
    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: 'TLS-only connections, SCRAM password hashing, slow statements logged',
      parameters: {
        'rds.force_ssl': '1',
        password_encryption: 'scram-sha-256',
        log_min_duration_statement: '1000',
      },
    });

    // Created ahead of the instance so that the retention applies and the group is removed with the stack,
    // instead of RDS creating an unmanaged group on first export.
    const postgresLogs = new logs.LogGroup(this, 'PostgresLogs', {
      logGroupName: `/aws/rds/instance/${props.instanceIdentifier}/postgresql`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.instance = new rds.DatabaseInstance(this, 'Instance', {
      instanceIdentifier: props.instanceIdentifier,
      engine,
      instanceType: new ec2.InstanceType(instanceClass),
      vpc: network.vpc,
      vpcSubnets: network.dataSubnets,
      securityGroups: [this.securityGroup],
      port: POSTGRES_PORT,
      databaseName: DATABASE_NAME,
      credentials: rds.Credentials.fromGeneratedSecret(MASTER_USERNAME, {
        excludeCharacters: PASSWORD_EXCLUDED_CHARACTERS,
      }),
      parameterGroup,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      storageEncrypted: true,
      storageType: rds.StorageType.GP3,
      allocatedStorage: props.allocatedStorageGiB,
      maxAllocatedStorage: props.maxAllocatedStorageGiB,
      multiAz: props.multiAz,
      publiclyAccessible: false,
      iamAuthentication: props.iamAuthentication,
      backupRetention: Duration.days(props.backupRetentionDays),
      copyTagsToSnapshot: true,
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
      autoMinorVersionUpgrade: true,
      cloudwatchLogsExports: ['postgresql'],
      // Performance Insights (Database Insights standard mode, free at 7 days) is left off on the micro and small
      // burstable classes, where RDS does not offer it for every engine.
      enablePerformanceInsights: !/\.(micro|small)$/.test(instanceClass),
    });
    this.instance.node.addDependency(postgresLogs);
    acknowledgeDatabaseChoices(this.instance, props);

    const masterSecret = this.instance.secret;
    if (masterSecret === undefined) {
      throw new Error('The database instance has no generated master secret');
    }
    this.masterSecret = masterSecret;

    // Attached to the instance, so Secrets Manager adds host, port and engine beside username and password.
    this.aggregatorSecret = new rds.DatabaseSecret(this, 'AggregatorSecret', {
      username: AGGREGATOR_USERNAME,
      dbname: DATABASE_NAME,
      excludeCharacters: PASSWORD_EXCLUDED_CHARACTERS,
    }).attach(this.instance);

    this.migrationFunction = new PipelineFunction(this, 'MigrationFunction', {
      entry: lambdaEntry('migrate'),
      description: 'Applies migrations/*.sql and the aggregator user grants (CloudFormation custom resource)',
      serviceName: 'migrate',
      network,
      securityGroupDescription: 'Schema migration: PostgreSQL and Secrets Manager only',
      secrets: [this.masterSecret, this.aggregatorSecret],
      logRetention: props.logRetention,
      timeout: Duration.minutes(5),
      environment: {
        DB_SECRET_ARN: this.masterSecret.secretArn,
        AGGREGATOR_SECRET_ARN: this.aggregatorSecret.secretArn,
      },
      rdsCaBundle: true,
      bundledDirectories: [path.relative(REPO_ROOT, MIGRATIONS_DIR)],
    });
    this.instance.connections.allowDefaultPortFrom(this.migrationFunction, 'Schema migration');

    const provider = new CustomResourceProvider(this, 'MigrationProvider', {
      onEventHandler: this.migrationFunction,
      logRetention: props.logRetention,
    });

    this.migration = new CustomResource(this, 'Migration', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::SchemaMigration',
      properties: { MigrationsHash: migrationsHash(MIGRATIONS_DIR) },
    });
    // The function reaches the database through rules that are separate resources: wait for them.
    this.migration.node.addDependency(
      this.securityGroup,
      this.migrationFunction.securityGroup,
      ...NetworkConstruct.endpointPaths(network.secretsManagerEndpoint),
    );

    // SecretRotation opens the database to the rotation function but not the endpoint it is given.
    const rotationSecurityGroup = (securityGroupId: string, description: string): ec2.SecurityGroup => {
      const securityGroup = network.clientSecurityGroup(this, securityGroupId, description);
      network.secretsManagerEndpoint.connections.allowDefaultPortFrom(securityGroup, description);
      return securityGroup;
    };

    // Rotation starts right away; the aggregator user exists only once the migration created it.
    const masterRotation = this.instance.addRotationSingleUser({
      automaticallyAfter: ROTATION_INTERVAL,
      excludeCharacters: PASSWORD_EXCLUDED_CHARACTERS,
      vpcSubnets: network.functionSubnets,
      endpoint: network.secretsManagerEndpoint,
      securityGroup: rotationSecurityGroup('MasterRotationSecurityGroup', 'Master secret rotation'),
    });
    masterRotation.node.addDependency(this.migration);

    const aggregatorRotation = new secretsmanager.SecretRotation(this, 'AggregatorRotation', {
      application: secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
      secret: this.aggregatorSecret,
      target: this.instance,
      vpc: network.vpc,
      vpcSubnets: network.functionSubnets,
      endpoint: network.secretsManagerEndpoint,
      securityGroup: rotationSecurityGroup('AggregatorRotationSecurityGroup', 'Aggregator secret rotation'),
      automaticallyAfter: ROTATION_INTERVAL,
      excludeCharacters: PASSWORD_EXCLUDED_CHARACTERS,
    });
    aggregatorRotation.node.addDependency(this.migration);
    for (const rotation of [masterRotation, aggregatorRotation]) {
      rotation.node.addDependency(rotationLogGroup(rotation, props.logRetention));
    }
    // The schedules that start the rotations belong to the secrets, not to the rotation constructs.
    for (const secret of [this.masterSecret, this.aggregatorSecret]) {
      secret.node.findChild('RotationSchedule').node.addDependency(this.migration);
    }
  }
}

/**
 * SHA-256 over the names and checksums of the migrations in the order they are applied: a custom resource
 * property, so the migration runs again exactly when a file is added or changed. `readMigrations` is what the
 * migration function itself reads, so a file it would reject (bad name, duplicate version) fails the synth.
 */
export function migrationsHash(dir: string): string {
  if (!existsSync(dir)) {
    throw new Error(`Migrations directory ${dir} does not exist`);
  }
  const hash = createHash('sha256');
  for (const migration of readMigrations(dir)) {
    hash.update(migration.name).update('\0').update(migration.checksum).update('\0');
  }
  return hash.digest('hex');
}

/**
 * The rotation functions come from the Serverless Application Repository, so Lambda would create their log
 * groups without retention on first use. SecretRotation names each function after the last 64 characters of
 * its unique id; the group is created ahead under that name.
 */
function rotationLogGroup(
  rotation: secretsmanager.SecretRotation,
  retention: logs.RetentionDays,
): logs.LogGroup {
  const uniqueId = Names.uniqueId(rotation);
  const functionName = uniqueId.substring(Math.max(uniqueId.length - 64, 0));
  return new logs.LogGroup(rotation.node.scope as Construct, `${rotation.node.id}Logs`, {
    logGroupName: `/aws/lambda/${functionName}`,
    retention,
    removalPolicy: RemovalPolicy.DESTROY,
  });
}

function acknowledgeDatabaseChoices(instance: rds.DatabaseInstance, props: DatabaseProps): void {
  Validations.of(instance).acknowledge({
    id: 'AwsSolutions-RDS11',
    reason:
      'The default port is kept: the instance is in isolated subnets and its security group admits only the ' +
      "pipeline's own security groups, so a non-standard port would add no protection.",
  });
  if (!props.multiAz) {
    Validations.of(instance).acknowledge({
      id: 'AwsSolutions-RDS3',
      reason: 'Single-AZ by the multiAz context key (cost); set multiAz=true for a standby in the second AZ.',
    });
  }
  if (!props.deletionProtection) {
    Validations.of(instance).acknowledge({
      id: 'AwsSolutions-RDS10',
      reason: 'Deletion protection turned off on purpose with the deletionProtection context key.',
    });
  }
}
