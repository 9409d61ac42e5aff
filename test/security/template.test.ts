import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_KAFKA_PASSWORD } from '../../local/config';
import {
  resourcesOf,
  resourcesOfType,
  type SynthResult,
  securityGroupRules,
  synthPipeline,
} from '../infra/synth';

/**
 * Actions that may be allowed on Resource "*" in identity policies, each because AWS offers no narrower
 * resource for it. Anything else on "*" fails the test; an entry no variant uses fails it too.
 */
const ALLOWED_ON_ANY_RESOURCE: Readonly<Record<string, string>> = {
  'ec2:CreateNetworkInterface': 'VPC functions: Lambda creates ENIs whose ids do not exist yet',
  'ec2:DeleteNetworkInterface': 'VPC functions: the ENIs are created at run time',
  'ec2:DescribeNetworkInterfaces': 'VPC functions: Describe* has no resource-level permissions',
  'ec2:AssignPrivateIpAddresses': 'VPC functions: the ENIs are created at run time',
  'ec2:UnassignPrivateIpAddresses': 'VPC functions: the ENIs are created at run time',
  'ec2:DescribeSubnets': 'VPC functions: Describe* has no resource-level permissions',
  'ec2:DescribeVpcs': 'MSK event source mapping: Describe* has no resource-level permissions',
  'ec2:DescribeSecurityGroups': 'MSK event source mapping: Describe* has no resource-level permissions',
  'ssmmessages:CreateControlChannel': 'bastion Session Manager: no resource-level permissions',
  'ssmmessages:CreateDataChannel': 'bastion Session Manager: no resource-level permissions',
  'ssmmessages:OpenControlChannel': 'bastion Session Manager: no resource-level permissions',
  'ssmmessages:OpenDataChannel': 'bastion Session Manager: no resource-level permissions',
  'ec2messages:AcknowledgeMessage': 'bastion Session Manager: no resource-level permissions',
  'ec2messages:DeleteMessage': 'bastion Session Manager: no resource-level permissions',
  'ec2messages:FailMessage': 'bastion Session Manager: no resource-level permissions',
  'ec2messages:GetEndpoint': 'bastion Session Manager: no resource-level permissions',
  'ec2messages:GetMessages': 'bastion Session Manager: no resource-level permissions',
  'ec2messages:SendReply': 'bastion Session Manager: no resource-level permissions',
};

/**
 * Wildcard action names that resource policies may allow. In a key policy Resource "*" means the key itself.
 */
const ALLOWED_WILDCARD_ACTIONS: Readonly<Record<string, string>> = {
  'kms:*': "the CDK default key policy statement that hands the key to the account's IAM (account root only)",
  'kms:GenerateDataKey*':
    'encrypting with the key (Secrets Manager via kms:ViaService, CloudWatch alarms to SNS)',
  'kms:ReEncrypt*': 'Secrets Manager re-encrypting the SCRAM secret, under kms:ViaService',
};

const VARIANTS: Readonly<Record<string, Record<string, unknown>>> = {
  default: {},
  'bastion on': { bastion: true },
};

interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: unknown;
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

interface OwnedStatement {
  readonly owner: string;
  readonly kind: 'identity' | 'resource';
  readonly statement: Statement;
}

const asList = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Every statement of every identity and resource policy in the template. */
function policyStatements(template: Template): OwnedStatement[] {
  const found: OwnedStatement[] = [];
  for (const [id, resource] of Object.entries(resourcesOf(template))) {
    const properties = resource.Properties ?? {};
    const documents: [OwnedStatement['kind'], unknown][] = [];
    if (['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'].includes(resource.Type)) {
      documents.push(['identity', properties.PolicyDocument]);
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of asList(properties.Policies as { PolicyDocument: unknown }[] | undefined)) {
        documents.push(['identity', policy.PolicyDocument]);
      }
    }
    for (const key of ['KeyPolicy', 'PolicyDocument', 'ResourcePolicy'] as const) {
      if (!resource.Type.startsWith('AWS::IAM::') && properties[key] !== undefined) {
        documents.push(['resource', properties[key]]);
      }
    }
    for (const [kind, document] of documents) {
      for (const statement of asList((document as { Statement?: Statement[] }).Statement)) {
        found.push({ owner: id, kind, statement });
      }
    }
  }
  return found;
}

function environments(template: Template): [string, Record<string, unknown>][] {
  return resourcesOfType(template, 'AWS::Lambda::Function').map(([id, fn]) => [
    id,
    ((fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
      {}) as Record<string, unknown>,
  ]);
}

/** Every (path, value) in a JSON tree whose key matches `key`. */
function valuesUnderKeys(node: unknown, key: RegExp, at = ''): [string, unknown][] {
  if (Array.isArray(node)) return node.flatMap((item, i) => valuesUnderKeys(item, key, `${at}[${i}]`));
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([name, value]) => [
    ...(key.test(name) ? ([[`${at}.${name}`, value]] as [string, unknown][]) : []),
    ...valuesUnderKeys(value, key, `${at}.${name}`),
  ]);
}

const usedOnAnyResource = new Set<string>();
const usedWildcards = new Set<string>();

describe.each(Object.entries(VARIANTS))('security of the synthesized template (%s)', (_name, overrides) => {
  let synth: SynthResult;
  let template: Template;

  beforeAll(() => {
    synth = synthPipeline(overrides);
    template = synth.template;
  });
  afterAll(() => synth.dispose());

  it('admits nothing from 0.0.0.0/0 or ::/0', () => {
    const ingress = securityGroupRules(template).filter((rule) => rule.direction === 'ingress');

    expect(ingress.length).toBeGreaterThan(5);
    expect(ingress.filter((rule) => rule.peer === '0.0.0.0/0' || rule.peer === '::/0')).toEqual([]);
    // The helper names peer groups by logical id and address ranges by CIDR; an unparsed peer would hide one.
    expect(ingress.filter((rule) => rule.peer === '?')).toEqual([]);
  });

  it('allows no wildcard action in any identity policy, and Resource "*" only where nothing narrower exists', () => {
    const allows = policyStatements(template).filter(
      (s) => s.kind === 'identity' && s.statement.Effect === 'Allow',
    );

    expect(allows.length).toBeGreaterThan(10);
    for (const { owner, statement } of allows) {
      expect(statement.NotAction, owner).toBeUndefined();
      expect(statement.NotResource, owner).toBeUndefined();
      for (const action of asList(statement.Action))
        expect(action, `${owner} allows ${action}`).not.toContain('*');
      if (asList(statement.Resource).includes('*')) {
        for (const action of asList(statement.Action)) {
          expect(ALLOWED_ON_ANY_RESOURCE, `${owner} allows ${action} on "*"`).toHaveProperty([action]);
          usedOnAnyResource.add(action);
        }
      }
    }
  });

  it('allows wildcard actions in resource policies only from the list, and kms:* only to the account root', () => {
    const allows = policyStatements(template).filter(
      (s) => s.kind === 'resource' && s.statement.Effect === 'Allow',
    );

    for (const { owner, statement } of allows) {
      expect(statement.NotAction, owner).toBeUndefined();
      expect(JSON.stringify(statement.Principal ?? null), `${owner} allows anyone`).not.toMatch(
        /^"\*"$|"AWS":"\*"/,
      );
      for (const action of asList(statement.Action).filter((a) => a.includes('*'))) {
        expect(ALLOWED_WILDCARD_ACTIONS, `${owner} allows ${action}`).toHaveProperty([action]);
        usedWildcards.add(action);
        if (action === 'kms:*') expect(JSON.stringify(statement.Principal), owner).toMatch(/:root"\]\]\}\}$/);
      }
    }
  });

  it('uses TLS on every client path: MSK clients, the producer and topic admin, the mapping, RDS', () => {
    const clusters = resourcesOfType(template, 'AWS::MSK::Cluster');
    expect(clusters).toHaveLength(1);
    const cluster = clusters[0]?.[1].Properties as {
      EncryptionInfo: { EncryptionInTransit: unknown };
      ClientAuthentication: {
        Sasl: Record<string, { Enabled: boolean }>;
        Unauthenticated?: { Enabled: boolean };
      };
    };
    expect(cluster.EncryptionInfo.EncryptionInTransit).toEqual({ ClientBroker: 'TLS', InCluster: true });
    expect(cluster.ClientAuthentication.Sasl.Scram).toEqual({ Enabled: true });
    expect(cluster.ClientAuthentication.Unauthenticated?.Enabled ?? false).toBe(false);

    const kafkaClients = environments(template).filter(([, env]) => 'KAFKA_SECRET_ARN' in env);
    expect(kafkaClients.length).toBeGreaterThanOrEqual(2);
    for (const [id, env] of kafkaClients) {
      expect([undefined, 'true'], `${id} KAFKA_TLS`).toContain(env.KAFKA_TLS);
    }

    const mappings = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(1);
    expect(JSON.stringify(mappings[0]?.[1].Properties?.SourceAccessConfigurations)).toContain(
      '"Type":"SASL_SCRAM_512_AUTH"',
    );

    const parameterGroups = resourcesOfType(template, 'AWS::RDS::DBParameterGroup');
    expect(parameterGroups).toHaveLength(1);
    const [groupId, group] = parameterGroups[0] as [
      string,
      { Properties?: { Parameters?: Record<string, unknown> } },
    ];
    expect(group.Properties?.Parameters?.['rds.force_ssl']).toBe('1');
    for (const [id, instance] of resourcesOfType(template, 'AWS::RDS::DBInstance')) {
      expect(instance.Properties?.DBParameterGroupName, id).toEqual({ Ref: groupId });
    }
  });

  it('refuses plaintext on its queues and topics', () => {
    const policies = policyStatements(template).filter(
      (s) => s.kind === 'resource' && s.statement.Effect === 'Deny',
    );
    const tlsOnly = (id: string) =>
      resourcesOf(template)[id] !== undefined &&
      policies.some(
        ({ statement }) =>
          JSON.stringify(statement.Condition) === '{"Bool":{"aws:SecureTransport":"false"}}' &&
          JSON.stringify(statement.Resource ?? '').includes(id),
      );
    for (const [id] of [
      ...resourcesOfType(template, 'AWS::SQS::Queue'),
      ...resourcesOfType(template, 'AWS::SNS::Topic'),
    ]) {
      expect(tlsOnly(id), `${id} accepts requests without TLS`).toBe(true);
    }
  });

  it('holds no secret value: generated secrets only, nothing secret in function environments', () => {
    for (const [id, secret] of resourcesOfType(template, 'AWS::SecretsManager::Secret')) {
      expect(secret.Properties?.SecretString, `${id} has a literal SecretString`).toBeUndefined();
      const generate = secret.Properties?.GenerateSecretString as
        | { SecretStringTemplate?: string }
        | undefined;
      expect(generate, `${id} is not generated`).toBeDefined();
      expect(generate?.SecretStringTemplate ?? '', id).not.toMatch(/password/i);
    }
    for (const [id, env] of environments(template)) {
      for (const [name, value] of Object.entries(env)) {
        if (/PASSWORD|SECRET(?!_ARN$)/i.test(name)) {
          expect(typeof value, `${id} sets ${name} to a literal`).not.toBe('string');
        }
        expect(JSON.stringify(value), `${id} ${name}`).not.toContain('resolve:secretsmanager');
      }
    }
    for (const [id, instance] of resourcesOfType(template, 'AWS::RDS::DBInstance')) {
      const password = instance.Properties?.MasterUserPassword;
      expect(typeof password, `${id} has a literal master password`).not.toBe('string');
      if (password !== undefined) expect(JSON.stringify(password), id).toContain('{{resolve:secretsmanager:');
    }
    const anywhere = valuesUnderKeys(
      resourcesOf(template),
      /password|passphrase|secret(?!arn|id|stringtemplate)/i,
    )
      // password_encryption is the server's hashing setting (scram-sha-256), not a password.
      .filter(([at]) => !at.endsWith('.password_encryption'))
      .filter(([, value]) => typeof value === 'string' && !/^\{\{resolve:secretsmanager:/.test(value))
      .map(([at]) => at);
    expect(anywhere).toEqual([]);
    expect(JSON.stringify(template.toJSON())).not.toContain(LOCAL_KAFKA_PASSWORD);
  });
});

describe('the allow-lists above', () => {
  it('name only actions some variant uses, so they cannot grow stale', () => {
    expect([...usedOnAnyResource].sort()).toEqual(Object.keys(ALLOWED_ON_ANY_RESOURCE).sort());
    expect([...usedWildcards].sort()).toEqual(Object.keys(ALLOWED_WILDCARD_ACTIONS).sort());
  });
});
