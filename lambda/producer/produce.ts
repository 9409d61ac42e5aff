import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { PRODUCER_METRICS } from '../shared/metric-names';
import type { ProducerPlan } from './event';
import { defaultGeneratorDeps, type GeneratorConfig, type GeneratorDeps, generateMessages } from './generate';
import {
  BURST_BATCH_SIZE,
  BURST_CONCURRENCY,
  type Clock,
  pacedSchedule,
  runBurst,
  runPaced,
  splitIntoBatches,
  systemClock,
} from './pacing';
import { BatchSender, type SendClient } from './send';

export interface ProduceResult {
  readonly sent: number;
  readonly failed: number;
  readonly bytes: number;
  readonly durationMs: number;
  /** Messages never started because the invocation's deadline came first. */
  readonly skipped: number;
}

export type ProduceLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface MetricsSink {
  addMetric(name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number): unknown;
}

export interface ProduceDeps {
  readonly producer: SendClient;
  readonly topic: string;
  readonly generator: GeneratorConfig;
  readonly logger: ProduceLogger;
  readonly metrics: MetricsSink;
  readonly clock?: Clock;
  readonly generatorDeps?: GeneratorDeps;
  /** Clock time after which no new batch starts. */
  readonly deadline?: number;
  readonly burstBatchSize?: number;
  readonly burstConcurrency?: number;
}

/**
 * Runs one plan against the topic. Batches that fail are counted, logged and reported in `failed`; if nothing at
 * all reached the broker the run throws, so the scheduler's retry policy and dead-letter queue see the failure.
 */
export async function produce(plan: ProducerPlan, deps: ProduceDeps): Promise<ProduceResult> {
  const clock = deps.clock ?? systemClock;
  const generatorDeps = deps.generatorDeps ?? defaultGeneratorDeps;
  const sender = new BatchSender(deps.producer, deps.topic, deps.logger);
  const sendBatch = (count: number) => sender.send(generateMessages(count, deps.generator, generatorDeps));

  const start = clock.now();
  const { skipped } =
    plan.mode === 'paced'
      ? await runPaced(pacedSchedule(plan.total, plan.rate), sendBatch, { clock, deadline: deps.deadline })
      : await runBurst(splitIntoBatches(plan.total, deps.burstBatchSize ?? BURST_BATCH_SIZE), sendBatch, {
          clock,
          deadline: deps.deadline,
          concurrency: deps.burstConcurrency ?? BURST_CONCURRENCY,
        });
  const durationMs = Math.round(clock.now() - start);
  const { sent, failed, bytes, failedBatches } = sender.totals();

  deps.metrics.addMetric(PRODUCER_METRICS.messagesSent, MetricUnit.Count, sent);
  deps.metrics.addMetric(PRODUCER_METRICS.messagesFailed, MetricUnit.Count, failed);
  deps.metrics.addMetric(PRODUCER_METRICS.bytesSent, MetricUnit.Bytes, bytes);
  deps.metrics.addMetric(PRODUCER_METRICS.sendDuration, MetricUnit.Milliseconds, durationMs);

  const summary = {
    topic: deps.topic,
    mode: plan.mode,
    planned: plan.total,
    sent,
    failed,
    bytes,
    durationMs,
  };
  if (skipped > 0) {
    deps.logger.warn('The invocation deadline came before the schedule finished', { ...summary, skipped });
  }
  if (sent === 0) {
    throw new Error(
      `No message reached topic ${deps.topic}: ${failed} failed in ${failedBatches} batch(es), ${skipped} not started`,
      { cause: sender.lastError },
    );
  }
  deps.logger.info('Produced transactions', summary);
  return { sent, failed, bytes, durationMs, skipped };
}
