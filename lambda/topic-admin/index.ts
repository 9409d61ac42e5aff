import { Logger } from '@aws-lambda-powertools/logger';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { createKafka, isAuthenticationError, isConnectionError, parseBrokerList } from '../shared/kafka';
import { type EnsureTopicResult, ensureTopic } from './ensure-topic';
import { withRetries } from './retry';
import { type DesiredTopic, parseTopicProperties } from './topic-plan';

/** What the CDK Provider framework expects back from `onEvent`. */
export interface TopicAdminResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly Topic: string; readonly Partitions: number };
}

const logger = new Logger({ serviceName: 'topic-admin' });

/**
 * A SCRAM secret associated with the cluster in the same deploy can take a while to be accepted by every broker,
 * and brokers may still be settling after an update: failures of that kind are retried for about a minute
 * (plus kafkajs's own retries) before the deploy is failed.
 */
const ATTEMPTS = 5;
const RETRY_DELAY_MS = 15_000;
/**
 * An attempt against unreachable brokers can take a minute of kafkajs's own retries; with less time left than
 * this the error is reported now, rather than as a timeout that hides it.
 */
const MIN_REMAINING_FOR_RETRY_MS = 90_000;

async function ensureTopicOnCluster(
  brokers: string[],
  desired: DesiredTopic,
  forceFetchSecret: boolean,
): Promise<EnsureTopicResult> {
  const kafka = await createKafka({ brokers, clientId: 'topic-admin', logger, forceFetchSecret });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await ensureTopic(admin, desired, logger);
  } finally {
    await admin.disconnect();
  }
}

export async function handler(
  event: CloudFormationCustomResourceEvent,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<TopicAdminResponse> {
  logger.info('Topic resource event', {
    requestType: event.RequestType,
    logicalResourceId: event.LogicalResourceId,
  });

  if (event.RequestType === 'Delete') {
    // The topic holds the transactions not yet aggregated, and stack deletion or a resource replacement must not
    // silently destroy data: the topic goes away with the cluster, or by an operator's explicit decision.
    return { PhysicalResourceId: event.PhysicalResourceId };
  }

  const { brokers, ...desired } = parseTopicProperties(event.ResourceProperties);
  const brokerList = parseBrokerList(brokers);
  let refreshSecret = false;
  const result = await withRetries(() => ensureTopicOnCluster(brokerList, desired, refreshSecret), {
    attempts: ATTEMPTS,
    delayMs: RETRY_DELAY_MS,
    shouldRetry: (error) =>
      (isAuthenticationError(error) || isConnectionError(error)) &&
      (context === undefined ||
        context.getRemainingTimeInMillis() > MIN_REMAINING_FOR_RETRY_MS + RETRY_DELAY_MS),
    onRetry: (error, nextAttempt) => {
      refreshSecret = isAuthenticationError(error);
      logger.warn('Could not reach the Kafka cluster; retrying', {
        error,
        nextAttempt,
        attempts: ATTEMPTS,
      });
    },
  });

  logger.info('Topic is ready', { ...result });
  // The topic name is the identity: renaming it makes CloudFormation replace the resource, and the Delete of
  // the old one keeps the old topic (see above).
  return { PhysicalResourceId: result.topic, Data: { Topic: result.topic, Partitions: result.partitions } };
}
