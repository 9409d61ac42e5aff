import { Logger } from '@aws-lambda-powertools/logger';
import type { Admin, Kafka, Message, Producer } from 'kafkajs';
import type { AggregatorResult } from '../../../lambda/aggregator/index.js';
import { createKafka } from '../../../lambda/shared/kafka';
import { ensureTopic } from '../../../lambda/topic-admin/ensure-topic';
import { EventSourceMapping, type EventSourceMappingOptions } from '../../../local/event-source-mapping';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres';

/** The functions under test log only errors and publish no metrics, so test output stays readable. */
export function quietPowertools(): void {
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
}

/** A kafkajs client of the local broker with a connected admin, and `topic` created with three partitions. */
export async function connectTopic(
  clientId: string,
  brokers: string[],
  topic: string,
): Promise<{ kafka: Kafka; admin: Admin }> {
  const kafka = await createKafka({
    brokers,
    clientId,
    logger: new Logger({ serviceName: 'e2e', logLevel: 'SILENT' }),
  });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopic(admin, { topic, partitions: 3, replicationFactor: 1 });
  return { kafka, admin };
}

export interface AggregatorPipeline {
  readonly database: TestDatabase;
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly producer: Producer;
  /** Disconnects from Kafka, deletes the topic and drops the database. */
  close(): Promise<void>;
}

export interface AggregatorPipelineOptions {
  readonly clientId: string;
  readonly brokers: string[];
  readonly topic: string;
  readonly groupId: string;
  /** Sent before the tests start. */
  readonly messages: readonly Message[];
  /** Messages per send. */
  readonly sendSize: number;
}

/**
 * A fresh database, the aggregator's environment pointing at it (the aggregator reads it at module load, as it
 * would from its function configuration), and `messages` on a new topic.
 */
export async function openAggregatorPipeline(
  options: AggregatorPipelineOptions,
): Promise<AggregatorPipeline> {
  const database = await createTestDatabase();
  process.env.DATABASE_URL = database.url;
  process.env.CONSUMER_GROUP_ID = options.groupId;
  quietPowertools();
  let connected: { kafka: Kafka; admin: Admin } | undefined;
  let producer: Producer | undefined;
  const close = async (): Promise<void> => {
    await producer?.disconnect();
    await connected?.admin.deleteTopics({ topics: [options.topic] }).catch(() => undefined);
    await connected?.admin.disconnect();
    await database.drop();
  };
  try {
    connected = await connectTopic(options.clientId, options.brokers, options.topic);
    producer = connected.kafka.producer();
    await producer.connect();
    // Several sends, so records reach the partitions in many fetches, as from a live producer.
    for (let start = 0; start < options.messages.length; start += options.sendSize) {
      await producer.send({
        topic: options.topic,
        messages: options.messages.slice(start, start + options.sendSize),
      });
    }
    return { database, ...connected, producer, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Runs the local event source mapping until it has caught up with the topic, then stops it. */
export async function drainTopic(
  options: EventSourceMappingOptions,
): Promise<{ results: AggregatorResult[]; failedInvocations: number }> {
  const results: AggregatorResult[] = [];
  const mapping = new EventSourceMapping({
    ...options,
    onResult: (result) => results.push(result as AggregatorResult),
  });
  await mapping.start();
  try {
    await mapping.waitUntilCaughtUp(40_000);
  } finally {
    await mapping.stop();
  }
  return { results, failedInvocations: mapping.stats().failedInvocations };
}
