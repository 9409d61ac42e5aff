import type { Logger } from '@aws-lambda-powertools/logger';
import type { Admin } from 'kafkajs';
import { type CurrentTopic, type DesiredTopic, planTopic, type TopicPlan } from './topic-plan';

export type TopicAdmin = Pick<
  Admin,
  'listTopics' | 'fetchTopicMetadata' | 'createTopics' | 'createPartitions'
>;

export type TopicAdminLogger = Pick<Logger, 'info' | 'warn'>;

export interface EnsureTopicResult {
  readonly topic: string;
  /** Partitions the topic has now; at least the desired count. */
  readonly partitions: number;
  readonly action: TopicPlan['action'];
}

/** Broker-side timeout for topic creation and partition growth, including waiting for leaders. */
const ADMIN_TIMEOUT_MS = 30_000;

const silentLogger: TopicAdminLogger = { info: () => undefined, warn: () => undefined };

export async function describeTopic(admin: TopicAdmin, topic: string): Promise<CurrentTopic | undefined> {
  // Listing first: asking for the metadata of a missing topic fails only after kafkajs has retried it.
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) return undefined;
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  const partitions = metadata.topics.find((entry) => entry.name === topic)?.partitions ?? [];
  if (partitions.length === 0) {
    throw new Error(`Topic ${topic} is listed but the broker returned no partitions for it`);
  }
  return {
    partitions: partitions.length,
    replicationFactor: Math.max(...partitions.map((partition) => partition.replicas.length)),
  };
}

/** Re-plans after losing a creation race; more than this means the broker's metadata disagrees with itself. */
const MAX_CREATE_RACES = 3;

/**
 * Creates the topic if it is missing and grows it if it has fewer partitions than asked for; never shrinks or
 * deletes. Safe to run any number of times, and concurrently: if another client creates the topic first, the
 * plan is made again against what that client created.
 */
export async function ensureTopic(
  admin: TopicAdmin,
  desired: DesiredTopic,
  logger: TopicAdminLogger = silentLogger,
): Promise<EnsureTopicResult> {
  for (let race = 0; race < MAX_CREATE_RACES; race += 1) {
    const plan = planTopic(await describeTopic(admin, desired.topic), desired);
    switch (plan.action) {
      case 'create': {
        const created = await admin.createTopics({
          topics: [
            {
              topic: desired.topic,
              numPartitions: plan.partitions,
              replicationFactor: plan.replicationFactor,
            },
          ],
          waitForLeaders: true,
          timeout: ADMIN_TIMEOUT_MS,
        });
        if (!created) {
          logger.info('Topic was created concurrently; checking it again', { topic: desired.topic });
          continue;
        }
        logger.info('Created topic', { topic: desired.topic, partitions: plan.partitions });
        return { topic: desired.topic, partitions: plan.partitions, action: 'create' };
      }
      case 'grow':
        try {
          await admin.createPartitions({
            topicPartitions: [{ topic: desired.topic, count: plan.to }],
            timeout: ADMIN_TIMEOUT_MS,
          });
        } catch (error) {
          // Another client may have grown it in the meantime; that is success, not a failed deploy.
          const now = await describeTopic(admin, desired.topic);
          if (now !== undefined && now.partitions >= plan.to) {
            logger.info('Topic was grown concurrently', { topic: desired.topic, partitions: now.partitions });
            return { topic: desired.topic, partitions: now.partitions, action: 'keep' };
          }
          throw error;
        }
        logger.info('Added partitions to topic', { topic: desired.topic, from: plan.from, to: plan.to });
        return { topic: desired.topic, partitions: plan.to, action: 'grow' };
      case 'keep':
        for (const note of plan.notes) {
          logger.warn(note, { topic: desired.topic });
        }
        return { topic: desired.topic, partitions: plan.partitions, action: 'keep' };
    }
  }
  throw new Error(
    `Topic ${desired.topic}: the broker reports it as existing but does not list it (tried ${MAX_CREATE_RACES} times)`,
  );
}
