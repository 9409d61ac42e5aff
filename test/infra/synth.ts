import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig, type PipelineConfig } from '../../bin/config';
import { definePipeline } from '../../bin/pipeline';
import type { PipelineStack } from '../../lib/pipeline-stack';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The context `cdk synth` runs with: cdk.json's defaults and feature flags. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

export interface ValidationViolation {
  readonly ruleName: string;
  readonly description: string;
  readonly severity: string;
  readonly violatingConstructs: readonly { readonly constructPath: string }[];
}

interface ValidationReport {
  readonly pluginReports: readonly {
    readonly pluginName: string;
    readonly conclusion: string;
    readonly violations: readonly ValidationViolation[];
  }[];
}

export interface SynthResult {
  readonly stack: PipelineStack;
  readonly config: PipelineConfig;
  readonly template: Template;
  /** Every unacknowledged finding of every validation plugin (cdk-nag, CloudFormation Validate). */
  readonly violations: readonly (ValidationViolation & { readonly plugin: string })[];
  /** The error `app.synth()` threw, if any (a validation failure throws after writing the report). */
  readonly synthError: Error | undefined;
  /** Warnings and errors that constructs attached to the stack (empty when synthesis failed). */
  readonly messages: readonly { readonly level: string; readonly id: string; readonly text: string }[];
  /** The cloud assembly directory, removed by `dispose`. */
  readonly assemblyDir: string;
  readonly dispose: () => void;
}

/**
 * Synthesizes the pipeline exactly as bin/app.ts does (same context, same nag registration), with the given
 * context overrides, but without bundling the functions (esbuild would dominate the run time).
 */
export function synthPipeline(overrides: Record<string, unknown> = {}): SynthResult {
  const assemblyDir = mkdtempSync(path.join(tmpdir(), 'pipeline-synth-'));
  const dispose = () => rmSync(assemblyDir, { recursive: true, force: true });
  try {
    const app = new App({
      outdir: assemblyDir,
      context: {
        ...cdkJsonContext(),
        'aws:cdk:bundling-stacks': [],
        ...overrides,
      },
    });
    const config = loadConfig((key) => app.node.tryGetContext(key));
    const stack = definePipeline(app, config);

    let synthError: Error | undefined;
    let messages: SynthResult['messages'] = [];
    try {
      const assembly = app.synth();
      messages = assembly.getStackArtifact(stack.artifactId).messages.map((message) => ({
        level: message.level,
        id: message.id,
        text: String(message.entry.data),
      }));
    } catch (error) {
      synthError = error instanceof Error ? error : new Error(String(error));
    }

    const template = Template.fromJSON(
      JSON.parse(readFileSync(path.join(assemblyDir, `${stack.artifactId}.template.json`), 'utf8')),
    );
    let report: ValidationReport = { pluginReports: [] };
    try {
      report = JSON.parse(
        readFileSync(path.join(assemblyDir, 'validation-report.json'), 'utf8'),
      ) as ValidationReport;
    } catch {
      // No report file: no plugin had anything to say.
    }
    const violations = report.pluginReports.flatMap((plugin) =>
      plugin.violations.map((violation) => ({ ...violation, plugin: plugin.pluginName })),
    );
    return { stack, config, template, violations, synthError, messages, assemblyDir, dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}

/** Registers beforeAll/afterAll that synthesize the default pipeline once for a test file; returns a getter. */
export function useSynthPipeline(): () => SynthResult {
  let synth: SynthResult | undefined;
  beforeAll(() => {
    synth = synthPipeline();
  });
  afterAll(() => synth?.dispose());
  return () => {
    if (synth === undefined) throw new Error('The pipeline is synthesized in beforeAll');
    return synth;
  };
}

export type Resources = Record<
  string,
  { Type: string; Properties?: Record<string, unknown>; DependsOn?: string[] }
>;

export function resourcesOf(template: Template): Resources {
  return template.toJSON().Resources as Resources;
}

export function resourcesOfType(template: Template, type: string): [string, Resources[string]][] {
  return Object.entries(resourcesOf(template)).filter(([, resource]) => resource.Type === type);
}

/** Logical id of the security group behind a `Fn::GetAtt [id, GroupId]`. */
export function groupIdRef(value: unknown): string | undefined {
  const getAtt = (value as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt'];
  return getAtt?.[1] === 'GroupId' ? getAtt[0] : undefined;
}

export interface SecurityGroupRule {
  /** Logical id of the rule resource, or of its group for inline rules. */
  readonly id: string;
  readonly direction: 'ingress' | 'egress';
  /** Logical id of the group the rule belongs to. */
  readonly group: string;
  /** Logical id of the peer group, or the CIDR. */
  readonly peer: string;
  readonly fromPort: unknown;
  readonly toPort: unknown;
  readonly protocol: unknown;
}

/** All security group rules, inline or standalone, normalised. */
export function securityGroupRules(template: Template): SecurityGroupRule[] {
  const rules: SecurityGroupRule[] = [];
  for (const [id, resource] of Object.entries(resourcesOf(template))) {
    const props = resource.Properties ?? {};
    if (resource.Type === 'AWS::EC2::SecurityGroup') {
      for (const [direction, key] of [
        ['ingress', 'SecurityGroupIngress'],
        ['egress', 'SecurityGroupEgress'],
      ] as const) {
        for (const rule of (props[key] ?? []) as Record<string, unknown>[]) {
          rules.push({
            id,
            direction,
            group: id,
            peer: String(
              rule.CidrIp ??
                rule.CidrIpv6 ??
                groupIdRef(rule.SourceSecurityGroupId ?? rule.DestinationSecurityGroupId) ??
                '?',
            ),
            fromPort: rule.FromPort,
            toPort: rule.ToPort,
            protocol: rule.IpProtocol,
          });
        }
      }
    }
    if (
      resource.Type === 'AWS::EC2::SecurityGroupIngress' ||
      resource.Type === 'AWS::EC2::SecurityGroupEgress'
    ) {
      const direction = resource.Type.endsWith('Ingress') ? 'ingress' : 'egress';
      rules.push({
        id,
        direction,
        group: groupIdRef(props.GroupId) ?? '?',
        peer: String(
          props.CidrIp ??
            props.CidrIpv6 ??
            groupIdRef(props.SourceSecurityGroupId ?? props.DestinationSecurityGroupId) ??
            '?',
        ),
        fromPort: props.FromPort,
        toPort: props.ToPort,
        protocol: props.IpProtocol,
      });
    }
  }
  return rules;
}

/** Logical id of the single resource of `type` whose id starts with `prefix`. */
export function logicalId(template: Template, type: string, prefix: string): string {
  const matches = resourcesOfType(template, type)
    .map(([id]) => id)
    .filter((id) => id.startsWith(prefix));
  if (matches.length !== 1) {
    throw new Error(
      `Expected one ${type} with id ${prefix}*, found ${matches.length}: ${matches.join(', ')}`,
    );
  }
  return matches[0] as string;
}

/** Logical id of a construct's CloudFormation resource in its stack. */
export function idOf(construct: IConstruct): string {
  const element = CfnElement.isCfnElement(construct) ? construct : construct.node.defaultChild;
  return Stack.of(construct).getLogicalId(element as CfnElement);
}
