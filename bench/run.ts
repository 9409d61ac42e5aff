import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { processBatch } from '../lambda/aggregator/process-batch';
import { Database } from '../lambda/shared/database';
import type { MskHandler } from '../local/event-source-mapping';
import { startBroker } from '../local/kafka/broker';
import { measureAggregatorCpu } from './aggregator-cpu';
import { measureAggregatorDatabase, measureRoundTripMs } from './aggregator-db';
import { measureBundles } from './bundles';
import { progress, stdoutMeter } from './capture';
import { latencyChartSvg } from './chart';
import { ASSUMPTIONS, costAtRate, loadPrices, priceChecks } from './cost';
import { startDelayProxy } from './delay-proxy';
import { synthesizeDefaultDeployment } from './deployment';
import { BenchTopics, useLocalKafkaEnvironment } from './kafka';
import { measureLatency } from './latency';
import { createBenchDatabase } from './postgres';
import { measureProducer } from './producer-throughput';
import { evaluateTargets, type MachineInfo, renderMarkdown, type Sections } from './report';

const SECTIONS = ['cpu', 'database', 'producer', 'latency', 'bundles', 'cost'] as const;
type SectionName = (typeof SECTIONS)[number];

interface Plan {
  readonly cpu: { samples: number; sampleMillis: number };
  readonly database: Record<number, number>;
  /** Repetitions of the comparison through the delaying proxy. */
  readonly databaseWithRtt: Record<number, number>;
  readonly rttDelayMs: number;
  readonly producer: { nodeMessages: number; javaMessages: number; repetitions: number };
  readonly latencySeconds: number;
  /** Rates beyond the grid, with the shorter window only, to find where the local pipeline stops keeping up. */
  readonly latencyProbeRates: readonly number[];
  readonly bundleLoads: number;
}

const FULL: Plan = {
  cpu: { samples: 21, sampleMillis: 250 },
  database: { 100: 30, 10000: 7 },
  databaseWithRtt: { 100: 10, 10000: 3 },
  rttDelayMs: 1,
  producer: { nodeMessages: 200_000, javaMessages: 1_000_000, repetitions: 3 },
  latencySeconds: 20,
  latencyProbeRates: [20_000, 40_000],
  bundleLoads: 15,
};

const QUICK: Plan = {
  cpu: { samples: 7, sampleMillis: 100 },
  database: { 100: 10, 10000: 3 },
  databaseWithRtt: { 100: 5, 10000: 1 },
  rttDelayMs: 1,
  producer: { nodeMessages: 60_000, javaMessages: 300_000, repetitions: 1 },
  latencySeconds: 4,
  latencyProbeRates: [],
  bundleLoads: 5,
};

const RATES = [100, 1_000, 10_000] as const;
const WINDOWS_MS = [500, 2_000] as const;
const COST_RATES = [100, 1_000] as const;
const GROUP_ID = 'bench-aggregator';
const RESULTS_DIR = path.join(__dirname, 'results');

function parseArgs(argv: readonly string[]): { quick: boolean; only: Set<SectionName> } {
  let quick = false;
  let only = new Set<SectionName>(SECTIONS);
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg.startsWith('--only=')) {
      const names = arg.slice('--only='.length).split(',');
      const unknown = names.filter((name) => !(SECTIONS as readonly string[]).includes(name));
      if (unknown.length > 0)
        throw new Error(`Unknown section(s) ${unknown.join(', ')}; known: ${SECTIONS.join(', ')}`);
      only = new Set(names as SectionName[]);
    } else {
      throw new Error(
        `Unknown argument ${arg}. Usage: npm run bench [-- --quick] [--only=${SECTIONS.join(',')}]`,
      );
    }
  }
  return { quick, only };
}

function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    nodeVersion: process.version,
    platform: `${os.platform()} ${os.release()}`,
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
  };
}

async function main(): Promise<void> {
  const { quick, only } = parseArgs(process.argv.slice(2));
  const plan = quick ? QUICK : FULL;
  const started = Date.now();
  const date = new Date().toISOString();
  const machine = machineInfo();
  const sections: Sections = {};
  const errors: Record<string, string> = {};
  const timings: Record<string, number> = {};
  progress(`${quick ? 'quick' : 'full'} run: ${[...only].join(', ')}`);

  const run = async (name: SectionName, work: () => Promise<void>): Promise<void> => {
    if (!only.has(name)) return;
    const began = Date.now();
    progress(`${name}...`);
    try {
      await work();
    } catch (error) {
      errors[name] = error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
      progress(`${name} failed: ${error instanceof Error ? error.stack : String(error)}`);
    } finally {
      timings[name] = Math.round((Date.now() - began) / 100) / 10;
    }
  };

  // First, while nothing else runs in this process.
  await run('cpu', async () => {
    sections.cpu = await measureAggregatorCpu({ batchSizes: [100, 1_000, 10_000], ...plan.cpu });
  });

  const needsDatabase = only.has('database') || only.has('latency');
  const needsKafka = only.has('producer') || only.has('latency');
  const database = needsDatabase ? await createBenchDatabase() : undefined;
  const topics = needsKafka ? new BenchTopics() : undefined;
  let aggregatorHandler: MskHandler | undefined;
  try {
    if (database !== undefined) {
      process.env.DATABASE_URL = database.url;
      process.env.CONSUMER_GROUP_ID = GROUP_ID;
      // The handler module reads its environment when it is loaded.
      const aggregator = await import('../lambda/aggregator/index.js');
      aggregatorHandler = (event) => aggregator.handler(event);
    }
    if (needsKafka) {
      await startBroker();
    }

    await run('database', async () => {
      if (database === undefined || aggregatorHandler === undefined) throw new Error('No database');
      sections.database = await measureAggregatorDatabase({
        url: database.url,
        handler: aggregatorHandler,
        topic: 'bench-database',
        repetitions: plan.database,
      });
      const url = new URL(database.url);
      const proxy = await startDelayProxy(url.hostname, Number(url.port || 5432), plan.rttDelayMs);
      const proxied = new URL(database.url);
      proxied.port = String(proxy.port);
      const viaProxy = new Database({ connectionString: proxied.toString(), max: 1 });
      try {
        const loopbackRoundTripMs = await measureRoundTripMs(database.url);
        const roundTripMs = await measureRoundTripMs(proxied.toString());
        // The handler's pool is bound to DATABASE_URL, so the delayed run calls the batch path it wraps.
        const batches = await measureAggregatorDatabase({
          url: proxied.toString(),
          handler: (event) => processBatch(viaProxy, event, { consumerGroupId: GROUP_ID }),
          topic: 'bench-database-rtt',
          repetitions: plan.databaseWithRtt,
        });
        sections.databaseWithRtt = { roundTripMs, loopbackRoundTripMs, batches };
      } finally {
        await viaProxy.end();
        await proxy.close();
      }
    });

    await run('producer', async () => {
      if (topics === undefined) throw new Error('No Kafka');
      const topic = await topics.create('throughput');
      useLocalKafkaEnvironment(topic);
      stdoutMeter.start();
      try {
        sections.producer = await measureProducer({ topic, ...plan.producer });
      } finally {
        stdoutMeter.stop();
      }
    });

    await run('latency', async () => {
      if (topics === undefined || aggregatorHandler === undefined) throw new Error('No Kafka or database');
      const cdkContext = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')) as {
        context: { batchSize: number };
      };
      useLocalKafkaEnvironment('unused');
      stdoutMeter.start();
      try {
        const common = {
          handler: aggregatorHandler,
          topics,
          groupId: GROUP_ID,
          batchSize: cdkContext.context.batchSize,
          seconds: plan.latencySeconds,
        };
        const grid = await measureLatency({ ...common, rates: RATES, windowsMs: WINDOWS_MS });
        const probes =
          plan.latencyProbeRates.length === 0
            ? []
            : await measureLatency({ ...common, rates: plan.latencyProbeRates, windowsMs: [WINDOWS_MS[0]] });
        sections.latency = [...grid, ...probes];
      } finally {
        stdoutMeter.stop();
      }
    });
  } finally {
    await topics?.deleteAll().catch((error: unknown) => progress(`Deleting bench topics failed: ${error}`));
    await database
      ?.drop()
      .catch((error: unknown) => progress(`Dropping the bench database failed: ${error}`));
  }

  await run('bundles', async () => {
    sections.bundles = await measureBundles({ loads: plan.bundleLoads });
  });

  await run('cost', async () => {
    const db = sections.database;
    const cpu = sections.cpu;
    const producer = sections.producer;
    if (db === undefined || cpu === undefined || producer === undefined) {
      throw new Error('The cost model needs the cpu, database and producer measurements of the same run');
    }
    const inventory = synthesizeDefaultDeployment();
    const prices = loadPrices();
    const cpu10k = cpu.find((result) => result.records === 10_000) ?? cpu[cpu.length - 1];
    const measured = {
      aggregator: db,
      eventParseMicrosPerRecord: cpu10k === undefined ? 0 : cpu10k.eventParseMicrosPerEvent / cpu10k.records,
      producerCpuSecondsPerMessage: producer.variants.handlerGzip.cpuSecondsPerMillion / 1e6,
      producerLogBytesPerInvocation: producer.logBytesPerHandlerInvocation,
    };
    const rates = COST_RATES.map((rate) => costAtRate(rate, inventory, prices, measured));
    const checks = priceChecks(prices);
    const { config: _config, ...deployment } = inventory;
    sections.cost = {
      rates,
      notes: [
        `Deployment: ${inventory.brokerCount} × ${inventory.brokerInstanceType} (${inventory.brokerVolumeGiB} GiB each), ` +
          `${inventory.dbInstanceClass} with ${inventory.dbAllocatedStorageGiB} GiB gp3, ${inventory.interfaceEndpoints} interface endpoints ` +
          `in ${inventory.interfaceEndpointAzs / Math.max(1, inventory.interfaceEndpoints)} AZs, ${inventory.secrets} secrets, ${inventory.kmsKeys} KMS keys, ` +
          `${inventory.alarms} alarms, ${inventory.dashboards} dashboard, no NAT gateway; producer ${inventory.config.producerMemoryMb} MB ` +
          `paced ${inventory.config.producerDurationSeconds} s per ${inventory.scheduleExpression}, aggregator ${inventory.config.aggregatorMemoryMb} MB, ` +
          `mapping batch ${inventory.mappingBatchSize} / window ${inventory.mappingWindowSeconds} s (on-demand pollers: no charge).`,
        `Transactions per month = rate × ${inventory.config.producerDurationSeconds} s × producer runs per month (${prices.hoursPerMonth} h).`,
        'Lambda: an aggregator invocation gets min(batch size, rate × window) records; its duration is the CPU measured ' +
          'here for that many records (handler + the runtime parsing the event, interpolated between 100 and 10,000) × ' +
          `${ASSUMPTIONS.lambdaMbPerVcpu} MB / memory (Lambda's vCPU share), plus the database time measured locally, plus ` +
          `${ASSUMPTIONS.rdsRoundTripMs} ms per statement for the VPC round trip; Arm GB-seconds at the configured memory. ` +
          "The producer's paced run lasts its configured duration unless its measured CPU per message, scaled the same way, needs longer.",
        `Logs: the bytes the functions printed per invocation here, plus ${ASSUMPTIONS.lambdaPlatformLogBytes} bytes of Lambda platform lines, plus ` +
          `${ASSUMPTIONS.vendedLogsGbPerMonth} GB/month of flow, broker and PostgreSQL logs (assumed).`,
        `Spark-on-EMR comparison: ${ASSUMPTIONS.original.description}`,
        `Prices: ${checks.confirmed} of ${checks.confirmed + checks.unconfirmed.length} confirmed against public pages on ${prices.dateRead}; ` +
          `not confirmed: ${checks.unconfirmed.join(', ')}. No free tier applied.`,
      ],
      details: {
        deployment,
        assumptions: ASSUMPTIONS,
        measured,
        priceTableDate: prices.dateRead,
        priceChecks: checks,
      },
    };
  });

  const durationSeconds = Math.round((Date.now() - started) / 1000);
  const complete = SECTIONS.every((name) => only.has(name));
  const mode = quick ? 'quick' : 'full';
  const meta = { date, mode, machine, durationSeconds, errors };
  const json = buildJson(sections, { ...meta, timings, partial: !complete });
  const markdown = renderMarkdown(sections, meta);
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  // A partial run must not overwrite the full results that the README shows.
  const base = complete ? 'latest' : 'partial';
  const suffix = complete ? '' : '.tmp';
  fs.writeFileSync(path.join(RESULTS_DIR, `${base}.json${suffix}`), `${JSON.stringify(json, null, 2)}\n`);
  fs.writeFileSync(path.join(RESULTS_DIR, `${base}.md${suffix}`), markdown);
  if (sections.latency !== undefined) {
    fs.writeFileSync(
      path.join(RESULTS_DIR, complete ? 'latency.svg' : 'latency.svg.tmp'),
      latencyChartSvg(
        sections.latency.filter((result) => (RATES as readonly number[]).includes(result.rate)),
        `End-to-end latency, ${mode} run ${date.slice(0, 10)} (${machine.cores} cores)`,
      ),
    );
  }
  process.stdout.write(markdown);
  progress(
    `done in ${durationSeconds} s (${Object.entries(timings)
      .map(([name, seconds]) => `${name} ${seconds} s`)
      .join(', ')}); wrote bench/results/${base}.json${suffix}`,
  );
  if (Object.keys(errors).length > 0) process.exitCode = 1;
}

function buildJson(
  s: Sections,
  meta: {
    date: string;
    mode: string;
    machine: MachineInfo;
    durationSeconds: number;
    errors: Record<string, string>;
    timings: Record<string, number>;
    partial: boolean;
  },
): Record<string, unknown> {
  const keyed = <T extends { records: number }, V>(list: readonly T[] | undefined, pick: (item: T) => V) =>
    list === undefined
      ? undefined
      : Object.fromEntries(list.map((item) => [String(item.records), pick(item)]));
  const latency =
    s.latency === undefined
      ? undefined
      : Object.fromEntries(
          RATES.map((rate) => [
            String(rate),
            Object.fromEntries(
              (s.latency ?? [])
                .filter((result) => result.rate === rate)
                .map((result) => [`${result.windowMs}ms`, { p50Ms: result.p50Ms, p99Ms: result.p99Ms }]),
            ),
          ]),
        );
  const highestRateHeld =
    s.latency === undefined
      ? undefined
      : Object.fromEntries(
          WINDOWS_MS.map((windowMs) => {
            const held = (s.latency ?? [])
              .filter((r) => r.windowMs === windowMs && r.held)
              .map((r) => r.rate);
            return [`${windowMs}ms`, held.length > 0 ? Math.max(...held) : null];
          }),
        );
  const bundle = (name: string) => s.bundles?.find((result) => result.name === name);
  const db10k = s.database?.find((result) => result.records === 10_000);
  const rtt10k = s.databaseWithRtt?.batches.find((result) => result.records === 10_000);
  return {
    schemaVersion: 1,
    date: meta.date,
    mode: meta.mode,
    partial: meta.partial,
    machine: meta.machine,
    durationSeconds: meta.durationSeconds,
    sectionSeconds: meta.timings,
    errors: meta.errors,
    targets: evaluateTargets(s),
    aggregator: {
      cpuRatioToFloor: keyed(s.cpu, (r) => r.ratioToFloor),
      roundTripsPerInvocation: keyed(s.database, (r) => r.statements),
      speedupVsRowByRow10000: db10k?.speedup,
      speedupVsRowByRow10000WithRtt:
        rtt10k === undefined
          ? undefined
          : { roundTripMs: s.databaseWithRtt?.roundTripMs, speedup: rtt10k.speedup },
      cpu: s.cpu,
      database: s.database,
      databaseWithRtt: s.databaseWithRtt,
    },
    producer:
      s.producer === undefined
        ? undefined
        : {
            messagesPerSecond: s.producer.variants.handlerGzip.messagesPerSecond,
            mbPerSecond: s.producer.variants.handlerGzip.mbPerSecond,
            cpuSecondsPerMillion: s.producer.variants.handlerGzip.cpuSecondsPerMillion,
            note:
              'The handler always compresses with gzip; the no-compression figures come from its send path ' +
              '(produce() with the same kafkajs producer configuration) with compression replaced.',
            ...s.producer,
          },
    latency,
    latencyHighestRateHeld: highestRateHeld,
    latencyRuns: s.latency,
    bundles:
      s.bundles === undefined
        ? undefined
        : {
            aggregatorBytes: bundle('aggregator')?.bytes,
            producerBytes: bundle('producer')?.bytes,
            functions: s.bundles,
          },
    costPerMillionUsd:
      s.cost === undefined
        ? undefined
        : Object.fromEntries(s.cost.rates.map((r) => [String(r.rate), r.perMillionUsd])),
    originalCostPerMillionUsd:
      s.cost === undefined
        ? undefined
        : Object.fromEntries(s.cost.rates.map((r) => [String(r.rate), r.original.perMillionUsd])),
    cost: s.cost,
  };
}

main()
  .catch((error: unknown) => {
    progress(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exitCode = 1;
  })
  .finally(() => {
    // The aggregator module keeps a pool and the producer module a Kafka client; nothing is left to wait for.
    setTimeout(() => process.exit(), 100).unref();
  });
