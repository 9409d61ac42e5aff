import { type App, type Environment, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { PipelineConfig } from '../lib/config';
import { PipelineStack } from '../lib/pipeline-stack';

/**
 * Adds the pipeline stack to the app and registers the AWS Solutions rule pack, so `cdk synth` fails on any
 * finding that is not acknowledged next to the code it concerns. Kept apart from `app.ts` so tests build
 * exactly what the app builds.
 */
export function definePipeline(app: App, config: PipelineConfig, env?: Environment): PipelineStack {
  const stack = new PipelineStack(app, config.stackName, {
    config,
    env,
    description: 'Serverless transaction pipeline: EventBridge Scheduler, Lambda, Amazon MSK, RDS PostgreSQL',
  });
  Tags.of(stack).add('Project', 'transaction-pipeline');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
