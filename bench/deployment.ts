import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { loadConfig, type PipelineConfig } from '../bin/config';
import { PipelineStack } from '../lib/pipeline-stack';

/** What the default deployment provisions, read from its synthesized template: the inputs of the cost model. */
export interface DeploymentInventory {
  readonly config: PipelineConfig;
  readonly brokerInstanceType: string;
  readonly brokerCount: number;
  readonly brokerVolumeGiB: number;
  readonly dbInstanceClass: string;
  readonly dbAllocatedStorageGiB: number;
  readonly dbMultiAz: boolean;
  /** Interface endpoints times the subnets (AZs) each spans. */
  readonly interfaceEndpointAzs: number;
  readonly interfaceEndpoints: number;
  readonly natGateways: number;
  readonly secrets: number;
  readonly kmsKeys: number;
  readonly alarms: number;
  readonly dashboards: number;
  readonly logGroups: number;
  readonly mappingBatchSize: number;
  readonly mappingWindowSeconds: number;
  readonly scheduleExpression: string;
}

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

const REPO_ROOT = path.resolve(__dirname, '..');

/**
 * Synthesizes the stack with cdk.json's context (the defaults a plain `cdk deploy` uses), without bundling the
 * functions, and counts what is billed.
 */
export function synthesizeDefaultDeployment(): DeploymentInventory {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-synth-'));
  try {
    const app = new App({ outdir, context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
    const config = loadConfig((key) => app.node.tryGetContext(key));
    const stack = new PipelineStack(app, config.stackName, { config });
    const template = app.synth().getStackByName(stack.stackName).template as {
      Resources: Record<string, Resource>;
    };
    const resources = Object.values(template.Resources);
    const ofType = (type: string) => resources.filter((resource) => resource.Type === type);
    const only = (type: string): Record<string, unknown> => {
      const found = ofType(type);
      if (found.length !== 1) throw new Error(`Expected one ${type}, found ${found.length}`);
      return found[0]?.Properties ?? {};
    };

    const cluster = only('AWS::MSK::Cluster') as {
      NumberOfBrokerNodes: number;
      BrokerNodeGroupInfo: { InstanceType: string; StorageInfo: { EBSStorageInfo: { VolumeSize: number } } };
    };
    const database = only('AWS::RDS::DBInstance') as {
      DBInstanceClass: string;
      AllocatedStorage: string | number;
      MultiAZ?: boolean;
    };
    const mapping = only('AWS::Lambda::EventSourceMapping') as {
      BatchSize: number;
      MaximumBatchingWindowInSeconds: number;
    };
    const schedule = only('AWS::Scheduler::Schedule') as { ScheduleExpression: string };
    const interfaceEndpoints = ofType('AWS::EC2::VPCEndpoint').filter(
      (endpoint) => endpoint.Properties?.VpcEndpointType === 'Interface',
    );
    return {
      config,
      brokerInstanceType: cluster.BrokerNodeGroupInfo.InstanceType,
      brokerCount: cluster.NumberOfBrokerNodes,
      brokerVolumeGiB: cluster.BrokerNodeGroupInfo.StorageInfo.EBSStorageInfo.VolumeSize,
      dbInstanceClass: database.DBInstanceClass,
      dbAllocatedStorageGiB: Number(database.AllocatedStorage),
      dbMultiAz: database.MultiAZ === true,
      interfaceEndpoints: interfaceEndpoints.length,
      interfaceEndpointAzs: interfaceEndpoints.reduce(
        (sum, endpoint) => sum + ((endpoint.Properties?.SubnetIds as unknown[] | undefined)?.length ?? 0),
        0,
      ),
      natGateways: ofType('AWS::EC2::NatGateway').length,
      secrets: ofType('AWS::SecretsManager::Secret').length,
      kmsKeys: ofType('AWS::KMS::Key').length,
      alarms: ofType('AWS::CloudWatch::Alarm').length,
      dashboards: ofType('AWS::CloudWatch::Dashboard').length,
      logGroups: ofType('AWS::Logs::LogGroup').length,
      mappingBatchSize: mapping.BatchSize,
      mappingWindowSeconds: mapping.MaximumBatchingWindowInSeconds,
      scheduleExpression: schedule.ScheduleExpression,
    };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}
