import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrationsHash } from '../../lib/constructs/database';
import { idOf, resourcesOfType, securityGroupRules, useSynthPipeline } from './synth';

const synth = useSynthPipeline();

function resource(id: string) {
  return synth().template.toJSON().Resources[id];
}

describe('DatabaseConstruct', () => {
  it('runs PostgreSQL 17 on db.t4g.micro in the isolated subnets, encrypted, private and backed up', () => {
    const { stack, template } = synth();

    template.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      EngineVersion: '17',
      DBInstanceClass: 'db.t4g.micro',
      DBInstanceIdentifier: 'transactionpipeline-db',
      DBName: 'pipeline',
      StorageEncrypted: true,
      PubliclyAccessible: false,
      BackupRetentionPeriod: 7,
      DeletionProtection: true,
      MultiAZ: false,
      CACertificateIdentifier: 'rds-ca-rsa2048-g1',
      EnableCloudwatchLogsExports: ['postgresql'],
      // db.t4g.micro cannot run Performance Insights.
      EnablePerformanceInsights: false,
      VPCSecurityGroups: [{ 'Fn::GetAtt': [idOf(stack.database.securityGroup), 'GroupId'] }],
    });
    const subnetGroup = resourcesOfType(template, 'AWS::RDS::DBSubnetGroup')[0]?.[1].Properties;
    expect(subnetGroup?.SubnetIds).toEqual(
      stack.network.vpc.isolatedSubnets.map((subnet) => ({ Ref: idOf(subnet) })),
    );
  });

  it('keeps a snapshot when the instance is removed', () => {
    const instance = resource(idOf(synth().stack.database.instance));

    expect(instance.DeletionPolicy).toBe('Snapshot');
    expect(instance.UpdateReplacePolicy).toBe('Snapshot');
  });

  it('enforces TLS through the parameter group', () => {
    synth().template.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Family: 'postgres17',
      Parameters: Match.objectLike({ 'rds.force_ssl': '1', password_encryption: 'scram-sha-256' }),
    });
  });

  it('exports PostgreSQL logs to a log group it owns, with retention', () => {
    const { stack, template } = synth();
    const [logGroupId] =
      resourcesOfType(template, 'AWS::Logs::LogGroup').find(
        ([, group]) =>
          group.Properties?.LogGroupName === '/aws/rds/instance/transactionpipeline-db/postgresql',
      ) ?? [];

    expect(logGroupId).toBeDefined();
    expect(resource(logGroupId as string).Properties.RetentionInDays).toBe(30);
    expect(resource(idOf(stack.database.instance)).DependsOn).toContain(logGroupId);
  });

  it('generates the master credentials and a separate aggregator user, both attached to the instance', () => {
    const { stack, template } = synth();
    const secrets = resourcesOfType(template, 'AWS::SecretsManager::Secret').map(
      ([, secret]) => secret.Properties?.GenerateSecretString as { SecretStringTemplate: string },
    );

    expect(secrets.map((secret) => JSON.parse(secret.SecretStringTemplate))).toEqual(
      expect.arrayContaining([{ username: 'postgres' }, { username: 'aggregator', dbname: 'pipeline' }]),
    );
    const attachments = resourcesOfType(template, 'AWS::SecretsManager::SecretTargetAttachment');
    expect(attachments).toHaveLength(2);
    for (const [, attachment] of attachments) {
      expect(attachment.Properties).toMatchObject({
        TargetType: 'AWS::RDS::DBInstance',
        TargetId: { Ref: idOf(stack.database.instance) },
      });
    }
  });

  it('rotates both secrets monthly with single-user functions in the VPC through the endpoint', () => {
    const { stack, template } = synth();
    const schedules = resourcesOfType(template, 'AWS::SecretsManager::RotationSchedule');
    const applications = resourcesOfType(template, 'AWS::Serverless::Application');
    const endpointId = idOf(stack.network.secretsManagerEndpoint);

    expect(schedules).toHaveLength(2);
    for (const [, schedule] of schedules) {
      expect(schedule.Properties?.RotationRules).toEqual({ ScheduleExpression: 'rate(30 days)' });
      // Rotation starts at once; the aggregator user exists only after the migration.
      expect(schedule.DependsOn).toContain(idOf(stack.database.migration));
    }
    expect(applications).toHaveLength(2);
    const mappings = template.toJSON().Mappings as Record<string, { aws: { applicationId: string } }>;
    const isolatedSubnets = stack.network.vpc.isolatedSubnets.map((subnet) => ({ Ref: idOf(subnet) }));
    for (const [, application] of applications) {
      const properties = application.Properties as {
        Location: { ApplicationId: { 'Fn::FindInMap': [string, unknown, string] } };
        Parameters: Record<string, unknown>;
      };
      const mapping = properties.Location.ApplicationId['Fn::FindInMap'][0];
      expect(mappings[mapping]?.aws.applicationId).toMatch(/SecretsManagerRDSPostgreSQLRotationSingleUser$/);
      expect(JSON.stringify(properties.Parameters.endpoint)).toContain(endpointId);
      const functionName = properties.Parameters.functionName as string;
      expect(
        resourcesOfType(template, 'AWS::Logs::LogGroup').find(
          ([, group]) => group.Properties?.LogGroupName === `/aws/lambda/${functionName}`,
        )?.[1].Properties?.RetentionInDays,
      ).toBe(30);
      expect(properties.Parameters.vpcSubnetIds).toEqual({
        'Fn::Join': ['', [isolatedSubnets[0], ',', isolatedSubnets[1]]],
      });
    }
  });

  it('admits PostgreSQL traffic only from the aggregator, the migration and the two rotation functions', () => {
    const { stack } = synth();
    const database = idOf(stack.database.securityGroup);
    const rules = securityGroupRules(synth().template).filter((rule) => rule.group === database);
    const node = stack.database.node;

    expect(rules.filter((rule) => rule.direction === 'egress')).toEqual([
      expect.objectContaining({ peer: '255.255.255.255/32', protocol: 'icmp' }),
    ]);
    const ingress = rules.filter((rule) => rule.direction === 'ingress');
    for (const rule of ingress) {
      expect(rule.fromPort).toEqual({ 'Fn::GetAtt': [idOf(stack.database.instance), 'Endpoint.Port'] });
    }
    expect(ingress.map((rule) => rule.peer).sort()).toEqual(
      [
        idOf(stack.aggregator.securityGroup),
        idOf(stack.database.migrationFunction.securityGroup),
        idOf(node.findChild('MasterRotationSecurityGroup')),
        idOf(node.findChild('AggregatorRotationSecurityGroup')),
      ].sort(),
    );
    expect(resource(idOf(stack.database.instance)).Properties.Port).toBe('5432');
  });
});

describe('schema migration custom resource', () => {
  it('re-runs exactly when migrations/*.sql change: its property is their content hash', () => {
    synth().template.hasResourceProperties('Custom::SchemaMigration', {
      MigrationsHash: migrationsHash(MIGRATIONS_DIR),
    });
  });

  it('hashes file names and contents in order, ignoring other files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'migrations-'));
    try {
      writeFileSync(path.join(dir, '001-a.sql'), 'CREATE TABLE a ();');
      const first = migrationsHash(dir);
      writeFileSync(path.join(dir, 'README.md'), 'notes');
      expect(migrationsHash(dir)).toBe(first);
      writeFileSync(path.join(dir, '001-a.sql'), 'CREATE TABLE a (id int);');
      const changed = migrationsHash(dir);
      expect(changed).not.toBe(first);
      writeFileSync(path.join(dir, '002-b.sql'), '');
      expect(migrationsHash(dir)).not.toBe(changed);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => migrationsHash(path.join(tmpdir(), 'no-such-migrations-dir'))).toThrow('does not exist');
  });

  it('fails the synth on a migration file the migration function would refuse', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'migrations-'));
    try {
      writeFileSync(path.join(dir, '001-a.sql'), 'CREATE TABLE a ();');
      writeFileSync(path.join(dir, '001-b.sql'), 'CREATE TABLE b ();');
      expect(() => migrationsHash(dir)).toThrow('001-a.sql and 001-b.sql share version 1');
      rmSync(path.join(dir, '001-b.sql'));
      writeFileSync(path.join(dir, 'Add Table.sql'), 'CREATE TABLE c ();');
      expect(() => migrationsHash(dir)).toThrow('does not match NNN-name.sql');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the function both secrets, read-only, and nothing else to read', () => {
    const { stack, template } = synth();
    const database = stack.database;

    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('Applies migrations'),
      Environment: {
        Variables: Match.objectLike({
          DB_SECRET_ARN: stack.resolve(database.masterSecret.secretArn),
          AGGREGATOR_SECRET_ARN: stack.resolve(database.aggregatorSecret.secretArn),
        }),
      },
      VpcConfig: Match.objectLike({
        SubnetIds: stack.network.vpc.isolatedSubnets.map((subnet) => ({ Ref: idOf(subnet) })),
      }),
    });
    const policy = resource(idOf(database.migrationFunction.role?.node.findChild('DefaultPolicy') as never));
    const secretStatements = (
      policy.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[]
    ).filter((statement) => JSON.stringify(statement.Action).includes('secretsmanager'));
    expect(secretStatements).toEqual([
      {
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        Effect: 'Allow',
        Resource: expect.arrayContaining([
          stack.resolve(database.masterSecret.secretArn),
          stack.resolve(database.aggregatorSecret.secretArn),
        ]),
      },
    ]);
  });

  it('waits for the database, the endpoint and the security group rules before running', () => {
    const { stack, template } = synth();
    const dependsOn = resource(idOf(stack.database.migration)).DependsOn as string[];
    const migrate = idOf(stack.database.migrationFunction.securityGroup);
    const migrateRules = securityGroupRules(template).filter(
      (rule) => rule.group === migrate || rule.peer === migrate,
    );

    expect(migrateRules).toHaveLength(4);
    for (const rule of migrateRules) expect(dependsOn).toContain(rule.id);
    expect(dependsOn).toContain(idOf(stack.network.secretsManagerEndpoint));
    // The master secret reference orders it after the instance.
    expect(JSON.stringify(resource(idOf(stack.database.migrationFunction)).Properties.Environment)).toContain(
      'DatabaseInstanceSecretAttachment',
    );
  });
});
