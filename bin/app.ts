import { App } from 'aws-cdk-lib';
import { loadConfig } from './config';
import { definePipeline } from './pipeline';

const app = new App();
const config = loadConfig((key) => app.node.tryGetContext(key));

// Without credentials the stack stays environment-agnostic; with them the CLI sets both variables.
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
definePipeline(app, config, account !== undefined && region !== undefined ? { account, region } : undefined);
