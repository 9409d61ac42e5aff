import { App } from 'aws-cdk-lib';
import { ConfigError, loadConfig, type PipelineConfig } from './config';
import { definePipeline } from './pipeline';

const app = new App();

let config: PipelineConfig;
try {
  config = loadConfig((key) => app.node.tryGetContext(key));
} catch (error) {
  // A configuration mistake is the user's to fix: the message names the key; a stack trace would bury it.
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

// Without credentials the stack stays environment-agnostic; with them the CLI sets both variables.
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
definePipeline(app, config, account !== undefined && region !== undefined ? { account, region } : undefined);
