import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, MSKEvent } from 'aws-lambda';
import { databaseFromEnvironment } from '../shared/database';
import { stringEnv } from '../shared/env';
import { AGGREGATOR_METRICS, CURRENCY_DIMENSION, METRICS_NAMESPACE, SERVICE } from '../shared/metric-names';
import { DEFAULT_CONSUMER_GROUP_ID } from '../shared/transaction';
import { type BatchResult, processBatch } from './process-batch';

const logger = new Logger({ serviceName: SERVICE.aggregator });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE.aggregator });
const consumerGroupId = stringEnv('CONSUMER_GROUP_ID', DEFAULT_CONSUMER_GROUP_ID);
const database = databaseFromEnvironment('transaction-aggregator');

export interface AggregatorResult {
  readonly batchId: string;
  readonly accepted: number;
  readonly rejected: number;
  readonly deduplicated: number;
  readonly undecodable: number;
  readonly partitions: number;
}

/** Ends the database connections (the local runtime's stop); a later invocation opens new ones. */
export function closeDatabase(): Promise<void> {
  return database.end();
}

/**
 * Bad records never fail the invocation (they are stored with a reason), because a failed batch is retried
 * until its records expire and would stall the partition. Only an infrastructure error (the database) is
 * thrown, after the transaction has rolled back, so the redelivery starts from a clean state.
 */
export const handler = async (event: MSKEvent, context?: Context): Promise<AggregatorResult> => {
  if (context !== undefined) logger.addContext(context);
  let result: BatchResult;
  try {
    result = await processBatch(database, event, { consumerGroupId });
  } catch (error) {
    logger.error('Batch not applied; the event source mapping will redeliver it', error as Error);
    throw error;
  }
  publishMetrics(result);
  if (result.rejected > 0) {
    logger.warn('Records rejected and stored in rejected_transactions', {
      rejectedByCode: result.rejectedByCode,
    });
  }
  if (result.undecodable.length > 0) {
    logger.error('Event entries without a usable topic, partition or offset were skipped', {
      undecodable: result.undecodable.slice(0, 20),
      count: result.undecodable.length,
    });
  }
  const summary: AggregatorResult = {
    batchId: result.batchId,
    accepted: result.accepted,
    rejected: result.rejected,
    deduplicated: result.deduplicated,
    undecodable: result.undecodable.length,
    partitions: result.partitions,
  };
  logger.info('Batch applied', { ...summary });
  return summary;
};

function publishMetrics(result: BatchResult): void {
  metrics.addMetric(AGGREGATOR_METRICS.recordsAccepted, MetricUnit.Count, result.accepted);
  metrics.addMetric(AGGREGATOR_METRICS.recordsRejected, MetricUnit.Count, result.rejected);
  metrics.addMetric(AGGREGATOR_METRICS.recordsDeduplicated, MetricUnit.Count, result.deduplicated);
  if (result.oldestRecordTime !== undefined) {
    // From the oldest applied record's Kafka timestamp to its commit: how stale the positions were.
    metrics.addMetric(
      AGGREGATOR_METRICS.batchLatency,
      MetricUnit.Milliseconds,
      Math.max(0, Date.now() - result.oldestRecordTime),
    );
  }
  metrics.publishStoredMetrics();
  for (const [currency, cents] of result.netCentsByCurrency) {
    const single = metrics.singleMetric();
    single.addDimension(CURRENCY_DIMENSION, currency);
    single.addMetric(AGGREGATOR_METRICS.netAmount, MetricUnit.NoUnit, Number(cents) / 100);
  }
}
