import { Logger } from '@aws-lambda-powertools/logger';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { rdsTls } from '../shared/database';
import { requireEnv } from '../shared/env';
import { resolveMigrationsDir } from '../shared/migrations';
import { getJsonSecret } from '../shared/secrets';
import { type OnEventResponse, onEvent } from './on-event';

const logger = new Logger({ serviceName: 'migrate' });
const masterSecretId = requireEnv('DB_SECRET_ARN');
const aggregatorSecretId = requireEnv('AGGREGATOR_SECRET_ARN');

/**
 * CloudFormation custom resource (Provider framework onEvent). The bundling copies `migrations/` beside this
 * file (commandHooks.afterBundling: `cp -r "${inputDir}/migrations" "${outputDir}/migrations"`) and writes
 * the RDS CA bundle as `rds-ca.pem` (see lambda/shared/rds-ca.ts).
 */
export const handler = async (event: CloudFormationCustomResourceEvent): Promise<OnEventResponse> => {
  logger.info('Schema custom resource', {
    requestType: event.RequestType,
    logicalId: event.LogicalResourceId,
  });
  try {
    const response = await onEvent(event, {
      masterSecretId,
      aggregatorSecretId,
      // A deploy right after a rotation must use the current passwords, not a cached copy.
      readSecret: (secretId) => getJsonSecret(secretId, { forceFetch: true }),
      // Getters: a Delete reads neither, so it cannot fail on a missing file.
      get ssl() {
        return rdsTls();
      },
      get migrationsDir() {
        return resolveMigrationsDir();
      },
    });
    logger.info('Schema custom resource done', { ...response.Data });
    return response;
  } catch (error) {
    logger.error('Schema custom resource failed', error as Error);
    throw error;
  }
};
