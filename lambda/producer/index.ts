import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { Producer } from 'kafkajs';
import { stringEnv } from '../shared/env';
import { createKafka, isAuthenticationError, kafkaBrokersFromEnv } from '../shared/kafka';
import { METRICS_NAMESPACE, SERVICE } from '../shared/metric-names';
import { DEFAULT_TOPIC } from '../shared/transaction';
import { type ProducerEvent, planFromEvent, producerDefaultsFromEnv } from './event';
import { generatorConfigFromEnv } from './generate';
import { systemClock } from './pacing';
import { type ProduceResult, produce } from './produce';
import { createTransactionProducer } from './send';

export type { ProducerEvent } from './event';
export type { ProduceResult } from './produce';

const logger = new Logger({ serviceName: SERVICE.producer });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE.producer });

const topic = stringEnv('KAFKA_TOPIC', DEFAULT_TOPIC);
const brokers = kafkaBrokersFromEnv();
const generator = generatorConfigFromEnv();
const defaults = producerDefaultsFromEnv();

/** Time kept back from the function timeout to finish in-flight sends and flush metrics. */
const DEADLINE_MARGIN_MS = 5_000;

/**
 * One connected producer per execution environment, reused by warm invocations: connecting costs a TLS
 * handshake and a SCRAM exchange per broker, which would otherwise dominate a short run.
 */
let connection: Promise<Producer> | undefined;
/** Set after the broker refused the credentials, so the next connection re-reads a possibly rotated secret. */
let refreshSecret = false;

async function connect(onDisconnect: () => void): Promise<Producer> {
  const kafka = await createKafka({
    brokers,
    clientId: 'transaction-producer',
    logger,
    forceFetchSecret: refreshSecret,
  });
  const producer = createTransactionProducer(kafka);
  producer.on(producer.events.DISCONNECT, onDisconnect);
  try {
    await producer.connect();
  } catch (error) {
    await producer.disconnect().catch(() => undefined);
    throw error;
  }
  refreshSecret = false;
  return producer;
}

async function getProducer(): Promise<Producer> {
  if (connection === undefined) {
    // A dropped producer is forgotten so the next invocation reconnects, unless a newer one already replaced it.
    const attempt: Promise<Producer> = connect(() => {
      if (connection === attempt) connection = undefined;
    });
    connection = attempt;
  }
  const pending = connection;
  try {
    return await pending;
  } catch (error) {
    if (connection === pending) connection = undefined;
    refreshSecret = isAuthenticationError(error);
    logger.error('Could not connect to Kafka', { brokers, error });
    throw error;
  }
}

/** Disconnects the shared producer; the next invocation connects again. */
export async function closeProducer(): Promise<void> {
  const pending = connection;
  connection = undefined;
  if (pending === undefined) return;
  const producer = await pending.catch(() => undefined);
  await producer?.disconnect();
}

/**
 * Lambda sends SIGTERM before it shuts an execution environment down (only when an extension is registered;
 * otherwise the environment is frozen and the broker times the connection out). Only inside the Lambda runtime:
 * a local process that imports this module keeps its own signal handling and calls `closeProducer`.
 */
if (process.env.AWS_LAMBDA_RUNTIME_API !== undefined) {
  process.once('SIGTERM', () => {
    void closeProducer()
      .catch((error: unknown) => logger.error('Failed to close the Kafka producer on shutdown', { error }))
      .finally(() => process.exit(0));
  });
}

export async function handler(event?: ProducerEvent, context?: Context): Promise<ProduceResult> {
  if (context !== undefined) {
    logger.addContext(context);
  }
  const plan = planFromEvent(event, defaults);
  const deadline =
    context === undefined
      ? undefined
      : systemClock.now() + context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS;
  try {
    const producer = await getProducer();
    return await produce(plan, { producer, topic, generator, logger, metrics, deadline });
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
}
