import { spawn } from 'node:child_process';
import path from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { createKafka } from '../lambda/shared/kafka';
import { localConfig } from '../local/config';
import { EventSourceMapping, type MskHandler } from '../local/event-source-mapping';
import { collectOutput } from '../test/helpers/child-output';
import { progress } from './capture';
import type { BenchTopics } from './kafka';
import { median, percentile, round, slopeWithError } from './stats';

export interface LatencyOptions {
  readonly handler: MskHandler;
  readonly topics: BenchTopics;
  /** The mapping's consumer group; equals the aggregator's CONSUMER_GROUP_ID. */
  readonly groupId: string;
  readonly rates: readonly number[];
  readonly windowsMs: readonly number[];
  /** The deployment's batch size (cdk.json `batchSize`). */
  readonly batchSize: number;
  /** How long the producer sends at each rate. */
  readonly seconds: number;
}

export interface LatencyResult {
  readonly rate: number;
  readonly windowMs: number;
  readonly records: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Rate the producer actually achieved. */
  readonly producedPerSecond: number;
  readonly invocations: number;
  readonly medianRecordsPerInvocation: number;
  /** Largest unconsumed backlog seen (sampled every 500 ms), records. */
  readonly maxLagRecords: number;
  /**
   * How fast the lag grew, in ms per second of the run: least squares over the invocations of the latency of each
   * batch's freshest record, which leaves out the wait for the batching window. A consumer that falls behind by
   * x% of the rate makes it grow by about 10·x ms/s.
   */
  readonly latencyGrowthMsPerSecond: number;
  readonly latencyGrowthStandardError: number;
  /** From the producer's end until every record was committed. */
  readonly catchUpMs: number;
  /**
   * The lag did not grow (by MAX_LAG_GROWTH_MS_PER_SECOND or more, and clearly beyond the scatter of the fit) and
   * the backlog drained within two windows plus 2 s after the producer stopped.
   */
  readonly held: boolean;
}

interface ProducerRun {
  readonly sent: number;
  readonly durationMs: number;
}

/** A consumer falling behind by 1% of the rate grows the lag by about 10 ms per second. */
const MAX_LAG_GROWTH_MS_PER_SECOND = 10;

const TSX = path.join(__dirname, '..', 'node_modules', '.bin', 'tsx');

function runPacedProducer(topic: string, rate: number, count: number): Promise<ProducerRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [path.join(__dirname, 'paced-producer.ts')], {
      env: {
        ...process.env,
        KAFKA_TOPIC: topic,
        BENCH_RATE: String(rate),
        BENCH_COUNT: String(count),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Only the tail matters; the logs before it are dropped as they come.
    const output = collectOutput(child, 4096);
    child.on('error', reject);
    child.on('close', (code) => {
      const { stdout, stderr } = output;
      const line = /BENCH_RESULT (.*)$/m.exec(stdout);
      if (code !== 0 || line === null) {
        reject(new Error(`The paced producer failed (exit ${code}): ${stderr}`));
        return;
      }
      resolve(JSON.parse(line[1] as string) as ProducerRun);
    });
  });
}

/**
 * Records' producer timestamps (`ts`, set when the producer generates the message) against the wall-clock time
 * the aggregator handler returned, i.e. just after its transaction committed. Only records generated after
 * `since` count, which leaves the warm-up record out.
 */
class CommitClock {
  readonly latencies: number[] = [];
  readonly batchSizes: number[] = [];
  /** Per invocation: commit time (s) and the latency of its freshest record (ms). */
  readonly freshest: { x: number; y: number }[] = [];
  since = Number.POSITIVE_INFINITY;

  wrap(handler: MskHandler): MskHandler {
    return async (event) => {
      const result = await handler(event);
      const committedAt = Date.now();
      let records = 0;
      let freshest = Number.POSITIVE_INFINITY;
      for (const group of Object.values(event.records)) {
        for (const record of group) {
          records++;
          const { ts } = JSON.parse(Buffer.from(record.value, 'base64').toString('utf8')) as { ts: string };
          const produced = Date.parse(ts);
          if (produced >= this.since) {
            this.latencies.push(committedAt - produced);
            freshest = Math.min(freshest, committedAt - produced);
          }
        }
      }
      this.batchSizes.push(records);
      if (Number.isFinite(freshest)) this.freshest.push({ x: committedAt / 1000, y: freshest });
      return result;
    };
  }
}

async function measureOne(options: LatencyOptions, rate: number, windowMs: number): Promise<LatencyResult> {
  const topic = await options.topics.create(`latency-${rate}-${windowMs}`);
  const clock = new CommitClock();
  const kafka = await createKafka({
    brokers: localConfig.kafka.brokers,
    clientId: 'bench-event-source-mapping',
    logger: new Logger({ serviceName: 'event-source-mapping' }),
  });
  const mapping = new EventSourceMapping({
    kafka,
    topic,
    groupId: options.groupId,
    brokers: localConfig.kafka.brokers,
    batching: { batchSize: options.batchSize, windowMs },
    handler: clock.wrap(options.handler),
  });
  await mapping.start();
  try {
    // One record through the whole path first: group join, first fetch and the pool's connection are not
    // part of the steady state being measured.
    await runPacedProducer(topic, 1, 1);
    await mapping.waitUntilCaughtUp(60_000);

    const count = rate * options.seconds;
    clock.since = Date.now();
    const lagSamples: { y: number }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const lag = await mapping.lag();
        lagSamples.push({ y: lag.reduce((sum, p) => sum + p.lag, 0) });
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    let produced: ProducerRun;
    try {
      produced = await runPacedProducer(topic, rate, count);
    } finally {
      sampling = false;
      await sampler;
    }
    const producerEnd = Date.now();
    let caughtUp = true;
    try {
      await mapping.waitUntilCaughtUp(Math.max(30_000, options.seconds * 1_500));
    } catch {
      // Beyond what the pipeline can absorb: reported as not held, with the records that did commit.
      caughtUp = false;
    }
    const catchUpMs = Date.now() - producerEnd;

    const { slope: growth, standardError } = slopeWithError(clock.freshest);
    // Growth only counts when it stands out from the scatter: a short run has too few batches to show a trend.
    const lagGrew = growth > MAX_LAG_GROWTH_MS_PER_SECOND && growth > 3 * standardError;
    if (caughtUp && clock.latencies.length < count) {
      throw new Error(`Only ${clock.latencies.length} of ${count} records were seen committed`);
    }
    const held = caughtUp && !lagGrew && catchUpMs <= 2 * windowMs + 2_000;
    const stats = mapping.stats();
    return {
      rate,
      windowMs,
      records: clock.latencies.length,
      p50Ms: Math.round(percentile(clock.latencies, 50)),
      p99Ms: Math.round(percentile(clock.latencies, 99)),
      maxMs: Math.round(percentile(clock.latencies, 100)),
      producedPerSecond: Math.round(produced.sent / (produced.durationMs / 1000)),
      invocations: stats.batches - 1,
      medianRecordsPerInvocation: median(clock.batchSizes.slice(1)),
      maxLagRecords: Math.max(0, ...lagSamples.map((sample) => sample.y)),
      latencyGrowthMsPerSecond: round(growth, 3),
      latencyGrowthStandardError: round(standardError, 3),
      catchUpMs,
      held,
    };
  } finally {
    await mapping.stop();
  }
}

/**
 * End-to-end latency through the local MSK event source mapping and the real aggregator and PostgreSQL: the
 * producer handler runs paced in a child process, the mapping batches with the deployment's batch size and the
 * given window, and every record's producer timestamp is compared with the time its batch committed.
 */
export async function measureLatency(options: LatencyOptions): Promise<LatencyResult[]> {
  const results: LatencyResult[] = [];
  for (const windowMs of options.windowsMs) {
    for (const rate of options.rates) {
      const result = await measureOne(options, rate, windowMs);
      progress(
        `latency ${rate} msg/s, window ${windowMs} ms: p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms` +
          `${result.held ? '' : ' (lag grew)'}`,
      );
      results.push(result);
    }
  }
  return results;
}
