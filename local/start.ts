import path from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { MSKEvent } from 'aws-lambda';
import { Pool } from 'pg';
import { optionalEnv } from '../lambda/shared/env';
import { createKafka } from '../lambda/shared/kafka';
import { ensureTopic } from '../lambda/topic-admin/ensure-topic';
import { claimBroker, releaseBrokerClaim } from './broker-ownership';
import { localConfig } from './config';
import { type LocalDatabase, startLocalDatabase } from './database';
import { EventSourceMapping, type PartitionLag } from './event-source-mapping';
import { acquireBrokerLease, releaseBrokerLease, startBroker, stopBroker } from './kafka/broker';
import { type OutputRouter, routeOutputToLogs } from './output';
import { continuousEvent, ProducerSchedule } from './schedule';
import { localRuntimeSettingsFromEnv, parseStartFlags, USAGE } from './settings';
import {
  type AggregatorTotals,
  type DashboardSnapshot,
  formatCount,
  type PositionRow,
  RateMeter,
  renderDashboard,
  renderStatusLine,
  repaint,
} from './view';

const HIDE_CURSOR = '\u001b[?25l';
const SHOW_CURSOR = '\u001b[?25h';
const CLEAR_SCREEN = '\u001b[H\u001b[2J';
/** A stop that takes longer than this is abandoned, so Ctrl-C never hangs. */
const SHUTDOWN_TIMEOUT_MS = 45_000;
const STATUS_LINE_EVERY_MS = 5_000;

type Step = { readonly name: string; readonly run: () => Promise<unknown> };

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function main(): Promise<number> {
  let flags: ReturnType<typeof parseStartFlags>;
  try {
    flags = parseStartFlags(process.argv.slice(2), process.stdout.isTTY === true);
  } catch (error) {
    console.error(`${errorMessage(error)}\n\n${USAGE}`);
    return 2;
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const settings = localRuntimeSettingsFromEnv();
  const { dataDir, kafka } = localConfig;
  const databaseUrl = optionalEnv('DATABASE_URL');

  // The functions read their configuration at module load, so the environment is complete before they load.
  process.env.KAFKA_BROKERS = kafka.brokers.join(',');
  process.env.KAFKA_USERNAME = kafka.username;
  process.env.KAFKA_PASSWORD = kafka.password;
  process.env.KAFKA_TLS = String(kafka.tls);
  process.env.KAFKA_TOPIC = kafka.topic;
  process.env.CONSUMER_GROUP_ID = settings.groupId;

  const logDir = path.join(dataDir, 'logs');
  const output = routeOutputToLogs(logDir);
  const say = (line: string) => output.terminal(`${line}\n`);
  const cleanup: Step[] = [];
  const state: { stopping: boolean; exitCode: number; viewTimer?: NodeJS.Timeout } = {
    stopping: false,
    exitCode: 0,
  };

  let resolveStopped: (code: number) => void = () => undefined;
  const stopped = new Promise<number>((resolve) => {
    resolveStopped = resolve;
  });

  const shutdown = async (reason: string, exitCode: number) => {
    if (state.stopping) return;
    state.stopping = true;
    state.exitCode = exitCode;
    if (state.viewTimer !== undefined) clearInterval(state.viewTimer);
    if (flags.ui) output.terminal(SHOW_CURSOR);
    say(`\n${reason}: stopping…`);
    const watchdog = setTimeout(() => {
      say(`Stop took longer than ${SHUTDOWN_TIMEOUT_MS / 1000} s; exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    watchdog.unref();
    for (const step of cleanup.reverse()) {
      const began = Date.now();
      try {
        await step.run();
        say(`  ${step.name} (${Date.now() - began} ms)`);
      } catch (error) {
        state.exitCode = 1;
        say(`  ${step.name} failed: ${errorMessage(error)}`);
      }
    }
    clearTimeout(watchdog);
    await output.restore();
    resolveStopped(state.exitCode);
  };

  // Ctrl-C reaches every process of the terminal's foreground group, and npm and tsx also relay it to this
  // process: one key press can arrive two or three times. Only a press a while after the first forces an exit.
  let firstInterruptAt = 0;
  process.on('SIGINT', () => {
    if (!state.stopping) {
      firstInterruptAt = Date.now();
      void shutdown('Interrupted', 0);
    } else if (Date.now() - firstInterruptAt > 2_000) {
      say('Second interrupt: exiting without finishing the stop');
      process.exit(130);
    }
  });
  process.on('SIGTERM', () => void shutdown('Terminated', 0));
  process.on('SIGHUP', () => void shutdown('Terminal closed', 0));
  process.on('uncaughtException', (error) => {
    say(`Unexpected error: ${error.stack ?? error.message}`);
    void shutdown('Failed', 1);
  });
  process.on('unhandledRejection', (error) => {
    say(`Unexpected error: ${errorMessage(error)}`);
    void shutdown('Failed', 1);
  });

  try {
    await startPipeline({ flags, settings, output, say, cleanup, databaseUrl, state });
  } catch (error) {
    say(`Could not start the local pipeline: ${errorMessage(error)}`);
    say(`Details in ${logDir}`);
    void shutdown('Start failed', 1);
  }
  return stopped;
}

interface StartContext {
  readonly flags: ReturnType<typeof parseStartFlags>;
  readonly settings: ReturnType<typeof localRuntimeSettingsFromEnv>;
  readonly output: OutputRouter;
  readonly say: (line: string) => void;
  readonly cleanup: Step[];
  readonly databaseUrl: string | undefined;
  readonly state: { stopping: boolean; viewTimer?: NodeJS.Timeout };
}

async function startPipeline(context: StartContext): Promise<void> {
  const { flags, settings, output, say, cleanup, state } = context;
  const { dataDir, kafka } = localConfig;
  const relative = (target: string) => path.relative(process.cwd(), target) || '.';
  const startedAt = new Date();
  let lastError: DashboardSnapshot['lastError'];
  const noteError = (source: string, error: unknown) => {
    lastError = { source, message: errorMessage(error), at: new Date() };
  };

  let kafkaDescription = `${kafka.brokers.join(',')} (KAFKA_BROKERS)`;
  if (!kafka.external) {
    say(`Kafka: starting the local broker (${relative(path.join(dataDir, 'kafka'))})…`);
    acquireBrokerLease();
    const began = Date.now();
    const handle = await startBroker().catch((error: unknown) => {
      releaseBrokerLease();
      throw error;
    });
    const ownerFile = path.join(dataDir, 'broker-owner.json');
    const owned = claimBroker(ownerFile, handle);
    cleanup.push({
      name: owned ? 'Kafka broker stopped' : 'Kafka broker left running (this run did not start it)',
      run: async () => {
        const others = releaseBrokerLease();
        // Another process (a test run) that relies on the broker keeps it running; the claim stays behind, so
        // the next start adopts the broker as it would after a kill.
        if (owned && others.length === 0) {
          await stopBroker({ graceMs: 15_000 });
          releaseBrokerClaim(ownerFile);
        }
      },
    });
    const how = handle.started ? 'started' : owned ? 'adopted from a run that was killed' : 'already running';
    kafkaDescription = `${kafka.brokers.join(',')} (local broker, ${how})`;
    say(`Kafka: ${how} in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  }
  if (state.stopping) return;

  const clientLogger = new Logger({ serviceName: 'local-runtime' });
  const client = await createKafka({
    brokers: kafka.brokers,
    clientId: 'local-runtime',
    logger: clientLogger,
  });
  const admin = client.admin();
  await admin.connect();
  cleanup.push({ name: 'Kafka admin disconnected', run: () => admin.disconnect() });
  // The same code the deploy's custom resource runs: create if missing, grow if short, never shrink.
  const topic = await ensureTopic(
    admin,
    { topic: kafka.topic, partitions: settings.partitions, replicationFactor: 1 },
    clientLogger,
  );
  say(`Topic: ${topic.topic} (${topic.partitions} partitions, ${topic.action})`);

  let database: LocalDatabase | undefined;
  let positionsPool: Pool | undefined;
  if (flags.consumer) {
    say(
      context.databaseUrl === undefined
        ? 'Database: opening PGlite…'
        : 'Database: connecting to DATABASE_URL…',
    );
    database = await startLocalDatabase({ url: context.databaseUrl, dataDir });
    const opened = database;
    cleanup.push({
      name: opened.kind === 'pglite' ? 'PGlite closed' : 'Database connections closed',
      run: () => opened.close(),
    });
    process.env.DATABASE_URL = opened.url;
    const applied = opened.migrations.applied;
    say(
      `Database: ${opened.kind === 'pglite' ? `PGlite in ${relative(opened.dataDir)}` : 'DATABASE_URL'}, ` +
        `migrations ${applied.length > 0 ? `applied ${applied.join(', ')}` : 'up to date'}`,
    );
    positionsPool = new Pool({ connectionString: opened.url, max: 1 });
    positionsPool.on('error', () => undefined);
    const pool = positionsPool;
    cleanup.push({ name: 'View connection closed', run: () => pool.end() });
  }
  if (state.stopping) return;

  let schedule: ProducerSchedule | undefined;
  const producerRate = new RateMeter(10_000);
  const plan =
    settings.producerIntervalSeconds === 0
      ? `${settings.rate}/s, a ${settings.invocationSeconds} s paced run every ${settings.invocationSeconds} s`
      : `every ${settings.producerIntervalSeconds} s`;
  if (flags.producer) {
    const producer = await import('../lambda/producer/index.js');
    schedule = new ProducerSchedule({
      handler: (event) => output.inChannel('producer', () => producer.handler(event)),
      event:
        settings.producerIntervalSeconds === 0
          ? continuousEvent(settings.rate, settings.invocationSeconds)
          : {},
      // Continuous: a new paced run every invocationSeconds. Back to back would run fast, since a paced run
      // sends its last batch one step before its duration is up.
      intervalMs: (settings.producerIntervalSeconds || settings.invocationSeconds) * 1000,
      onError: (error) => noteError('producer', error),
    });
    const started = schedule;
    cleanup.push({ name: 'Producer closed', run: () => producer.closeProducer() });
    cleanup.push({
      name: 'Producer schedule stopped',
      run: async () => {
        // A long scheduled run (50 s in interval mode) is cut short: closing the producer ends its sends.
        if (!(await started.stop(5_000))) say('  (the producer run in progress was cut short)');
      },
    });
    started.start();
    say(`Producer: ${plan}`);
  }

  let mapping: EventSourceMapping | undefined;
  const totals: { -readonly [K in keyof AggregatorTotals]: number } = {
    accepted: 0,
    rejected: 0,
    deduplicated: 0,
  };
  if (flags.consumer) {
    const aggregator = await import('../lambda/aggregator/index.js');
    // Registered before the mapping's stop, so it runs after the last invocation and before the database closes.
    cleanup.push({ name: 'Aggregator connections closed', run: () => aggregator.closeDatabase() });
    const mappingClient = await createKafka({
      brokers: kafka.brokers,
      clientId: 'local-event-source-mapping',
      logger: new Logger({ serviceName: 'event-source-mapping' }),
    });
    mapping = new EventSourceMapping({
      kafka: mappingClient,
      topic: kafka.topic,
      groupId: settings.groupId,
      brokers: kafka.brokers,
      batching: { batchSize: settings.batchSize, windowMs: settings.batchWindowMs },
      handler: (event: MSKEvent) => output.inChannel('aggregator', () => aggregator.handler(event)),
      onResult: (result) => {
        const counts = result as Partial<AggregatorTotals>;
        totals.accepted += counts.accepted ?? 0;
        totals.rejected += counts.rejected ?? 0;
        totals.deduplicated += counts.deduplicated ?? 0;
      },
      onError: (error) => noteError('aggregator', error),
    });
    const started = mapping;
    cleanup.push({ name: 'Event source mapping stopped, consumer disconnected', run: () => started.stop() });
    await started.start();
    say(
      `Mapping: group ${settings.groupId}, batch size ${settings.batchSize}, window ${settings.batchWindowMs} ms`,
    );
  }
  if (state.stopping) return;

  let lag: PartitionLag[] | undefined;
  // The topic's end offsets grow with every acknowledged send, so they give a smooth rate; the producer's own
  // count only moves when an invocation returns.
  let topicRecords: number | undefined;
  let positions: PositionRow[] | undefined;
  let refreshing = false;
  let lastStatusLine = 0;
  const refresh = async () => {
    if (refreshing || state.stopping) return;
    refreshing = true;
    try {
      const [offsetsResult, lagResult, positionResult] = await Promise.allSettled([
        admin.fetchTopicOffsets(kafka.topic),
        mapping?.lag(),
        positionsPool?.query<PositionRow>(
          `SELECT branch_name AS branch, currency_code AS currency, position::text AS position
             FROM open_currency_position ORDER BY branch_name, currency_code`,
        ),
      ]);
      if (offsetsResult.status === 'fulfilled') {
        topicRecords = offsetsResult.value.reduce((sum, partition) => sum + Number(partition.high), 0);
      } else {
        noteError('kafka', offsetsResult.reason);
      }
      if (lagResult.status === 'fulfilled') lag = lagResult.value;
      else noteError('lag', lagResult.reason);
      if (positionResult.status === 'fulfilled') positions = positionResult.value?.rows;
      else noteError('database', positionResult.reason);
      if (state.stopping) return;

      const now = new Date();
      const scheduleStats = schedule?.stats();
      const mappingStats = mapping?.stats();
      const errors = [lastError, mappingStats?.lastError && { source: 'mapping', ...mappingStats.lastError }]
        .filter((error): error is NonNullable<typeof lastError> => error !== undefined)
        .sort((a, b) => b.at.getTime() - a.at.getTime());
      const snapshot: DashboardSnapshot = {
        now,
        startedAt,
        kafka: kafkaDescription,
        topic: `${kafka.topic}: ${topic.partitions} partitions${
          topicRecords === undefined ? '' : `, ${formatCount(topicRecords)} records`
        }`,
        groupId: settings.groupId,
        ...(database === undefined
          ? {}
          : {
              database:
                database.kind === 'pglite'
                  ? `PGlite ${relative(database.dataDir)} served on ${new URL(database.url).host}`
                  : 'DATABASE_URL',
            }),
        logs: `${relative(output.dir)}/{producer,aggregator,local}.log`,
        ...(scheduleStats === undefined
          ? {}
          : {
              producer: {
                stats: scheduleStats,
                ratePerSecond: producerRate.sample(now.getTime(), topicRecords ?? scheduleStats.sent),
                plan,
              },
            }),
        ...(mappingStats === undefined
          ? {}
          : {
              mapping: { stats: mappingStats, totals: { ...totals }, ...(lag === undefined ? {} : { lag }) },
            }),
        ...(positions === undefined ? {} : { positions }),
        ...(errors[0] === undefined ? {} : { lastError: errors[0] }),
      };
      if (context.flags.ui) {
        output.terminal(repaint(renderDashboard(snapshot), process.stdout.columns ?? 120));
      } else if (now.getTime() - lastStatusLine >= STATUS_LINE_EVERY_MS) {
        lastStatusLine = now.getTime();
        output.terminal(`${renderStatusLine(snapshot)}\n`);
      }
    } finally {
      refreshing = false;
    }
  };
  if (flags.ui) output.terminal(HIDE_CURSOR + CLEAR_SCREEN);
  await refresh();
  state.viewTimer = setInterval(() => void refresh(), 1_000);
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
