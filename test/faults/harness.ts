import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Admin, Kafka, logLevel, type Producer } from 'kafkajs';
import { Client, escapeIdentifier, Pool } from 'pg';
import { applyMigrations, ensureAggregatorRole } from '../../lambda/shared/migrations';
import { LOCAL_KAFKA_USERNAME, type LocalConfig } from '../../local/config';
import { brokerPaths, startBroker, stopBroker } from '../../local/kafka/broker';
import { freePort } from '../helpers/free-port';
import { centsText } from '../helpers/transactions';
import { filesUnder, type SecretFinding, scanFiles } from '../security/secret-scan';
import type { ChildMessage, ParentMessage } from './protocol';
import { RecordSource } from './records';
import { TcpProxy } from './tcp-proxy';

export const FAULT_KINDS = [
  'poller-kill',
  'db-terminate',
  'db-outage',
  'broker-restart',
  'redelivery',
  'handler-timeout',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRunOptions {
  /** Records to send, about 1 % of them malformed. */
  readonly records: number;
  /** How many times each kind of fault is injected. */
  readonly rounds: number;
  readonly kinds?: readonly FaultKind[];
  readonly seed?: number;
  /** Where the poller, producer and broker logs of this run are kept (and scanned for secrets). */
  readonly logDir: string;
  /** How long PostgreSQL stays unreachable in a db-outage. @default 3000 */
  readonly outageMs?: number;
  /** The invocation timeout the poller applies. @default 2500 */
  readonly invocationTimeoutMs?: number;
  /** How far (records per partition) a redelivery seeks the consumer group back. @default 1500 */
  readonly redeliverRecords?: number;
  /** Production rate in records per second. @default enough for a fault about every 2 s of production */
  readonly rate?: number;
  /** Longest wait for the pipeline to make progress again after a fault, and for the final drain. */
  readonly recoveryTimeoutMs?: number;
  /** PostgreSQL server (trust authentication, a superuser). @default TEST_POSTGRES_URL or 127.0.0.1:5432 */
  readonly adminUrl?: string;
  readonly say?: (line: string) => void;
}

export interface FaultObservation {
  readonly kind: FaultKind;
  /** From the start of the fault until records were being applied again. */
  readonly recoveryMs: number;
  readonly detail: string;
}

export interface FaultRunReport {
  readonly injected: Readonly<Record<FaultKind, number>>;
  readonly sent: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly duplicatesSuppressed: number;
  /** Sum over every (branch, currency) of |expected − stored| cents, in positions and in batch sums. */
  readonly differenceCents: bigint;
  /** Everything that does not hold; empty when the run passed. */
  readonly problems: readonly string[];
  readonly observations: readonly FaultObservation[];
  readonly secretFindings: readonly SecretFinding[];
  readonly durationMs: number;
  /** The one-line summary, in the documented format. */
  readonly line: string;
}

const TOPIC = 'transaction';
const PARTITIONS = 3;
const AGGREGATOR_APPLICATION = 'transaction-aggregator';
const POLLER_ENTRY = path.join(__dirname, 'poller.ts');
const REPO_ROOT = path.resolve(__dirname, '..', '..');

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** A SCRAM-safe random secret: letters and digits only (the broker's JAAS line has no escaping). */
function randomSecret(): string {
  return randomBytes(24)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 24);
}

/** Run directories (`ci-…`, `run-…`) beyond the newest `keep` are removed, so the logs do not pile up. */
function pruneOldRuns(parent: string, keep: number): void {
  if (!fs.existsSync(parent)) return;
  const runs = fs
    .readdirSync(parent, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && /^(ci|run)-/.test(entry.name))
    .map((entry) => path.join(parent, entry.name))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  for (const old of runs.slice(keep)) fs.rmSync(old, { recursive: true, force: true });
}

/** Totals across every poller process of the run, from the messages they send. */
class PollerCounters extends EventEmitter {
  accepted = 0;
  rejected = 0;
  deduplicated = 0;
  failedInvocations = 0;
  timeouts = 0;
  lateResults = 0;
  results = 0;

  record(message: ChildMessage): void {
    if (message.type === 'result') {
      this.results += 1;
      this.accepted += message.accepted;
      this.rejected += message.rejected;
      this.deduplicated += message.deduplicated;
      if (message.late) this.lateResults += 1;
    } else if (message.type === 'invoke-failed') {
      this.failedInvocations += 1;
    } else if (message.type === 'timed-out') {
      this.timeouts += 1;
    }
    this.emit('message', message);
  }

  next<T extends ChildMessage['type']>(
    type: T,
    timeoutMs: number,
    matches: (message: Extract<ChildMessage, { type: T }>) => boolean = () => true,
  ): Promise<Extract<ChildMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('message', listener);
        reject(new Error(`No "${type}" from the poller within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (message: ChildMessage) => {
        if (message.type !== type) return;
        const typed = message as Extract<ChildMessage, { type: T }>;
        if (!matches(typed)) return;
        clearTimeout(timer);
        this.off('message', listener);
        resolve(typed);
      };
      this.on('message', listener);
    });
  }
}

/** The poller child process: started, stopped cleanly or SIGKILLed by the faults. */
class Poller {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  starts = 0;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
    private readonly counters: PollerCounters,
  ) {}

  async start(): Promise<void> {
    const out = fs.openSync(this.logFile, 'a');
    try {
      const ready = this.counters.next('ready', 60_000);
      const child = fork(POLLER_ENTRY, [], {
        execArgv: ['--import', 'tsx'],
        env: this.env,
        stdio: ['ignore', out, out, 'ipc'],
        cwd: REPO_ROOT,
      });
      this.child = child;
      this.starts += 1;
      child.on('message', (message: ChildMessage) => this.counters.record(message));
      this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
      const failed = this.exited.then(() => {
        throw new Error(`The poller exited before it was ready (see ${this.logFile})`);
      });
      await Promise.race([ready, failed]);
    } finally {
      fs.closeSync(out);
    }
  }

  send(message: ParentMessage): void {
    this.child?.send(message);
  }

  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    const stopped = this.counters.next('stopped', 60_000);
    this.send({ type: 'stop' });
    await stopped;
    await this.exited;
  }

  async dispose(): Promise<void> {
    if (this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      await this.kill();
    }
  }
}

/** Sends the stream at a steady rate, never past the budget the runner has released, pausable. */
class PacedProducer {
  sent = 0;
  budget = 0;
  private paused = false;
  private idle = true;
  private stopped = false;
  private failure: Error | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly source: RecordSource,
    private readonly rate: number,
  ) {}

  private producer: Producer | undefined;

  async start(): Promise<void> {
    await this.connect();
    this.loop = this.run();
  }

  private async connect(): Promise<void> {
    // Idempotent: a retried send cannot write a record twice, so the topic holds exactly what was sent.
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    this.producer = producer;
  }

  private async run(): Promise<void> {
    const began = Date.now();
    while (!this.stopped && this.sent < this.source.total) {
      const room = this.budget - this.sent;
      if (this.paused || room <= 0 || this.producer === undefined) {
        this.idle = true;
        await sleep(20);
        continue;
      }
      this.idle = false;
      const count = Math.min(room, 250);
      const messages = Array.from({ length: count }, () => this.source.next());
      try {
        await this.producer.send({ topic: TOPIC, acks: -1, messages });
      } catch (error) {
        // A send that failed may or may not have been written: the stream is no longer known exactly.
        this.failure = error instanceof Error ? error : new Error(String(error));
        return;
      }
      this.sent += count;
      const ahead = (this.sent / this.rate) * 1000 - (Date.now() - began);
      if (ahead > 0) await sleep(ahead);
    }
    this.idle = true;
  }

  release(records: number): void {
    this.budget = Math.min(this.source.total, this.budget + records);
  }

  check(): void {
    if (this.failure !== undefined) throw new Error(`Producing failed: ${this.failure.message}`);
  }

  /** Stops sending after the send in flight, and disconnects (the broker is about to go away). */
  async pause(): Promise<void> {
    this.paused = true;
    await until('the producer to finish its send', 60_000, async () => (this.idle ? true : undefined));
    await this.producer?.disconnect();
    this.producer = undefined;
  }

  async resume(): Promise<void> {
    await this.connect();
    this.paused = false;
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.producer?.disconnect();
  }
}

interface Environment {
  readonly adminPool: Pool;
  readonly databaseName: string;
  readonly adminDatabaseUrl: string;
  readonly role: string;
  readonly kafkaConfig: LocalConfig;
  readonly proxy: TcpProxy;
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly secrets: readonly string[];
}

function databaseUrl(base: string, database: string, user?: string, password?: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  if (user !== undefined) url.username = user;
  if (password !== undefined) url.password = password;
  return url.toString();
}

/** Records applied so far according to the offset ledger. */
async function appliedRecords(pool: Pool, groupId: string): Promise<number> {
  const { rows } = await pool.query<{ applied: string }>(
    'SELECT coalesce(sum(last_offset + 1), 0)::text AS applied FROM consumer_offsets WHERE consumer_group = $1',
    [groupId],
  );
  return Number(rows[0]?.applied ?? 0);
}

/**
 * Sends `records` transactions through a separate local broker, the local event source mapping (in a child
 * process) and the real aggregator handler into a fresh PostgreSQL database, injecting every kind of fault
 * `rounds` times, then checks the tables against totals computed independently from what was sent.
 */
export async function runFaults(options: FaultRunOptions): Promise<FaultRunReport> {
  const began = Date.now();
  const say = options.say ?? (() => undefined);
  const kinds = options.kinds ?? FAULT_KINDS;
  const seed = options.seed ?? 20_240_601;
  const outageMs = options.outageMs ?? 3_000;
  const invocationTimeoutMs = options.invocationTimeoutMs ?? 2_500;
  const redeliverRecords = options.redeliverRecords ?? 1_500;
  const recoveryTimeoutMs = options.recoveryTimeoutMs ?? 90_000;
  const adminUrl =
    options.adminUrl ?? process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const groupId = `fault-aggregator-${randomBytes(3).toString('hex')}`;

  const plan: FaultKind[] = [];
  {
    let state = seed;
    for (let round = 0; round < options.rounds; round++) {
      const order = [...kinds];
      for (let i = order.length - 1; i > 0; i--) {
        state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
        const j = state % (i + 1);
        [order[i], order[j]] = [order[j] as FaultKind, order[i] as FaultKind];
      }
      plan.push(...order);
    }
  }
  const chunk = Math.max(1, Math.floor(options.records / (plan.length + 1)));
  const rate = options.rate ?? Math.max(200, chunk / 2);

  pruneOldRuns(path.dirname(options.logDir), 9);
  fs.mkdirSync(options.logDir, { recursive: true });
  const pollerLog = path.join(options.logDir, 'poller.log');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fault-run-'));
  const cleanup: (() => Promise<unknown>)[] = [];
  const problems: string[] = [];
  const observations: FaultObservation[] = [];
  const injected = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
  const counters = new PollerCounters();
  const source = new RecordSource(options.records, PARTITIONS, seed);

  try {
    // PostgreSQL: a fresh database and a least-privilege aggregator role with a generated password.
    const databaseName = `faults_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    const role = `fault_aggregator_${randomBytes(3).toString('hex')}`;
    const dbPassword = randomSecret();
    const kafkaPassword = randomSecret();
    const superuser = new Client({ connectionString: adminUrl });
    await superuser.connect();
    await superuser.query(`CREATE DATABASE ${escapeIdentifier(databaseName)}`);
    await superuser.end();
    cleanup.push(async () => {
      const client = new Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(databaseName)} WITH (FORCE)`);
        await client.query(`DROP ROLE IF EXISTS ${escapeIdentifier(role)}`);
      } finally {
        await client.end();
      }
    });
    const adminDatabaseUrl = databaseUrl(adminUrl, databaseName);
    const adminPool = new Pool({ connectionString: adminDatabaseUrl, max: 4 });
    adminPool.on('error', () => undefined);
    cleanup.push(() => adminPool.end());
    {
      const client = await adminPool.connect();
      try {
        await applyMigrations(client);
        await ensureAggregatorRole(client, { username: role, password: dbPassword });
      } finally {
        client.release();
      }
    }

    const target = new URL(adminUrl);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.start();
    cleanup.push(() => proxy.close());

    // Kafka: a broker of this run's own (own data dir, ports and SCRAM password), so restarting it disturbs
    // no other test run.
    const [port, controllerPort] = [await freePort(), await freePort()];
    const kafkaConfig: LocalConfig = {
      dataDir,
      kafka: {
        brokers: [`127.0.0.1:${port}`],
        external: false,
        username: LOCAL_KAFKA_USERNAME,
        password: kafkaPassword,
        topic: TOPIC,
        tls: false,
        port,
        controllerPort,
      },
    };
    say(`starting a separate Kafka broker on 127.0.0.1:${port}`);
    cleanup.push(() => stopBroker({ config: kafkaConfig, graceMs: 10_000 }));
    await startBroker({ config: kafkaConfig });
    const kafka = new Kafka({
      clientId: 'fault-runner',
      brokers: [...kafkaConfig.kafka.brokers],
      ssl: false,
      sasl: { mechanism: 'scram-sha-512', username: LOCAL_KAFKA_USERNAME, password: kafkaPassword },
      logLevel: logLevel.NOTHING,
      retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 8 },
    });
    const admin = kafka.admin();
    await admin.connect();
    cleanup.push(() => admin.disconnect());
    await admin.createTopics({
      topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1 }],
      waitForLeaders: true,
    });

    const env: Environment = {
      adminPool,
      databaseName,
      adminDatabaseUrl,
      role,
      kafkaConfig,
      proxy,
      kafka,
      admin,
      secrets: [dbPassword, kafkaPassword],
    };

    const poller = new Poller(
      {
        ...process.env,
        DATABASE_URL: databaseUrl(`postgres://127.0.0.1:${proxy.port}`, databaseName, role, dbPassword),
        DB_POOL_MAX: '2',
        CONSUMER_GROUP_ID: groupId,
        KAFKA_BROKERS: kafkaConfig.kafka.brokers.join(','),
        KAFKA_USERNAME: LOCAL_KAFKA_USERNAME,
        KAFKA_PASSWORD: kafkaPassword,
        KAFKA_TLS: 'false',
        KAFKA_TOPIC: TOPIC,
        FAULT_INVOCATION_TIMEOUT_MS: String(invocationTimeoutMs),
        POWERTOOLS_LOG_LEVEL: 'INFO',
        POWERTOOLS_DEV: 'false',
      },
      pollerLog,
      counters,
    );
    cleanup.push(() => poller.dispose());
    await poller.start();

    const producer = new PacedProducer(kafka, source, rate);
    await producer.start();
    cleanup.push(() => producer.close());

    say(`sending ${options.records} records at ${Math.round(rate)}/s with ${plan.length} faults`);
    for (const [index, kind] of plan.entries()) {
      producer.release(chunk);
      // Midway through the chunk: records are flowing when the fault strikes.
      const startedAt = producer.budget - Math.ceil(chunk / 2);
      await until('the producer to reach the fault point', recoveryTimeoutMs, async () => {
        producer.check();
        return producer.sent >= startedAt ? true : undefined;
      });
      const sentBefore = producer.sent;
      const faultStart = Date.now();
      const detail = await inject(kind, {
        env,
        poller,
        producer,
        counters,
        groupId,
        outageMs,
        redeliverRecords,
      });
      injected[kind] += 1;
      // Recovered: everything sent before the fault is applied.
      await until(`recovery from ${kind}`, recoveryTimeoutMs, async () => {
        producer.check();
        return (await appliedRecords(adminPool, groupId)) >= sentBefore ? true : undefined;
      });
      const recoveryMs = Date.now() - faultStart;
      observations.push({ kind, recoveryMs, detail });
      say(
        `fault ${index + 1}/${plan.length} ${kind}: ${detail}; recovered in ${(recoveryMs / 1000).toFixed(1)} s`,
      );
    }
    producer.release(options.records);
    await until('the producer to send everything', recoveryTimeoutMs * 4, async () => {
      producer.check();
      return producer.sent >= options.records ? true : undefined;
    });
    await producer.close();

    say('all records sent; waiting for the pipeline to drain');
    await until('the pipeline to drain', recoveryTimeoutMs, async () => {
      if ((await appliedRecords(adminPool, groupId)) < options.records) return undefined;
      const [high, committed] = await Promise.all([
        admin.fetchTopicOffsets(TOPIC),
        admin.fetchOffsets({ groupId, topics: [TOPIC] }),
      ]);
      const committedBy = new Map(
        (committed[0]?.partitions ?? []).map((entry) => [entry.partition, Number(entry.offset)]),
      );
      return high.every((p) => committedBy.get(p.partition) === Number(p.high)) ? true : undefined;
    });
    await poller.stop();

    const verification = await verify(env, source, groupId, options.records);
    problems.push(...verification.problems);

    if (counters.timeouts < injected['handler-timeout']) {
      problems.push(
        `${injected['handler-timeout']} handler timeouts injected, ${counters.timeouts} observed`,
      );
    }
    if (injected['poller-kill'] + injected.redelivery > 0 && counters.deduplicated === 0) {
      problems.push('records were redelivered but no duplicate was reported as suppressed');
    }
    // Invocations report what they applied; more than is stored means two of them claimed the same records.
    // Less is possible: a connection lost during COMMIT fails an invocation whose batch did commit.
    if (counters.accepted > verification.accepted) {
      problems.push(
        `invocations reported ${counters.accepted} records applied, ${verification.accepted} are stored`,
      );
    }

    // The broker's logs go with the run's logs, so that they are kept and scanned with them.
    fs.cpSync(brokerPaths(kafkaConfig).logDir, path.join(options.logDir, 'broker'), { recursive: true });
    const secretFindings = scanFiles(filesUnder(options.logDir, /\.(log|out)(\.\d+)?$/), env.secrets);
    for (const finding of secretFindings) {
      problems.push(
        `secret in logs: ${finding.what} at ${path.relative(REPO_ROOT, finding.file)}:${finding.line}`,
      );
    }

    const durationMs = Date.now() - began;
    const report = {
      injected,
      sent: producer.sent,
      accepted: verification.accepted,
      rejected: verification.rejected,
      duplicatesSuppressed: counters.deduplicated,
      differenceCents: verification.differenceCents,
      problems,
      observations,
      secretFindings,
      durationMs,
    };
    return { ...report, line: summaryLine(report) };
  } finally {
    for (const step of cleanup.reverse()) {
      await step().catch((error: unknown) => say(`cleanup: ${(error as Error).message}`));
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

interface InjectionContext {
  readonly env: Environment;
  readonly poller: Poller;
  readonly producer: PacedProducer;
  readonly counters: PollerCounters;
  readonly groupId: string;
  readonly outageMs: number;
  readonly redeliverRecords: number;
}

async function inject(kind: FaultKind, context: InjectionContext): Promise<string> {
  switch (kind) {
    case 'poller-kill':
      return killPollerInCommitWindow(context);
    case 'db-terminate':
      return terminateBackendMidTransaction(context);
    case 'db-outage':
      return cutDatabase(context);
    case 'broker-restart':
      return restartBroker(context);
    case 'redelivery':
      return seekBack(context);
    case 'handler-timeout':
      return holdLedgerPastTimeout(context);
  }
}

async function killPollerInCommitWindow({ poller, counters }: InjectionContext): Promise<string> {
  const inWindow = counters.next('in-commit-window', 60_000);
  poller.send({ type: 'arm-crash' });
  await inWindow;
  const deduplicatedBefore = counters.deduplicated;
  await poller.kill();
  await poller.start();
  // The batch committed to the database but not to Kafka comes back to the new poller.
  await until('the killed batch to be redelivered', 60_000, async () =>
    counters.deduplicated > deduplicatedBefore ? true : undefined,
  );
  return `SIGKILL after the database commit; ${counters.deduplicated - deduplicatedBefore} redelivered records suppressed`;
}

/** Aggregator sessions of this run waiting for a lock, i.e. inside a transaction that cannot finish yet. */
async function blockedAggregatorBackends(env: Environment): Promise<number[]> {
  const { rows } = await env.adminPool.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity
      WHERE datname = $1 AND usename = $2 AND application_name = $3 AND wait_event_type = 'Lock'`,
    [env.databaseName, env.role, AGGREGATOR_APPLICATION],
  );
  return rows.map((row) => row.pid);
}

/**
 * Holds the position rows, so the aggregator's next batch stops inside its write (ledger locked, flow rows
 * inserted, nothing committed), then kills that backend from another session.
 */
async function terminateBackendMidTransaction({ env, counters }: InjectionContext): Promise<string> {
  const locker = new Client({ connectionString: env.adminDatabaseUrl });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM open_currency_position FOR UPDATE');
    const pids = await until('an aggregator transaction blocked in its write', 60_000, async () => {
      const blocked = await blockedAggregatorBackends(env);
      return blocked.length > 0 ? blocked : undefined;
    });
    const failed = counters.next('invoke-failed', 30_000);
    await env.adminPool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
    await locker.query('ROLLBACK');
    const failure = await failed;
    return `pg_terminate_backend of ${pids.length} session(s) mid-transaction; invocation failed with "${failure.message}"`;
  } finally {
    await locker.end().catch(() => undefined);
  }
}

async function cutDatabase({ env, counters, outageMs }: InjectionContext): Promise<string> {
  const failuresBefore = counters.failedInvocations;
  const open = env.proxy.openConnections;
  env.proxy.cut();
  await sleep(outageMs);
  env.proxy.restore();
  const failed = counters.failedInvocations - failuresBefore;
  // Records were flowing, so an outage that failed no invocation was not felt: the fault did not happen.
  if (failed === 0) throw new Error(`PostgreSQL was unreachable for ${outageMs} ms but no invocation failed`);
  return `PostgreSQL unreachable for ${outageMs} ms (${open} connection(s) reset); ${failed} invocation(s) failed meanwhile`;
}

async function restartBroker({ env, producer }: InjectionContext): Promise<string> {
  await producer.pause();
  const began = Date.now();
  await stopBroker({ config: env.kafkaConfig, graceMs: 15_000 });
  await startBroker({ config: env.kafkaConfig });
  const downMs = Date.now() - began;
  await producer.resume();
  return `broker down for ${(downMs / 1000).toFixed(1)} s (stop and start)`;
}

async function seekBack({
  env,
  poller,
  counters,
  groupId,
  redeliverRecords,
}: InjectionContext): Promise<string> {
  await poller.stop();
  const [committed] = await env.admin.fetchOffsets({ groupId, topics: [TOPIC] });
  const partitions = (committed?.partitions ?? []).map((entry) => ({
    partition: entry.partition,
    offset: String(Math.max(0, Number(entry.offset) - redeliverRecords)),
  }));
  const rewound = (committed?.partitions ?? []).reduce(
    (sum, entry, i) => sum + Number(entry.offset) - Number(partitions[i]?.offset ?? entry.offset),
    0,
  );
  // The group must be empty for its offsets to be set; the stopped member has left it.
  await until('the consumer group to accept new offsets', 30_000, async () => {
    try {
      await env.admin.setOffsets({ groupId, topic: TOPIC, partitions });
      return true;
    } catch {
      return undefined;
    }
  });
  const deduplicatedBefore = counters.deduplicated;
  await poller.start();
  await until('the old range to be redelivered', 60_000, async () =>
    counters.deduplicated - deduplicatedBefore >= rewound ? true : undefined,
  );
  return `group seeked back ${rewound} records; ${counters.deduplicated - deduplicatedBefore} suppressed as duplicates`;
}

/** Holds the ledger rows so that the next invocation outlives its timeout; releases them once it has. */
async function holdLedgerPastTimeout({ env, counters, groupId }: InjectionContext): Promise<string> {
  const locker = new Client({ connectionString: env.adminDatabaseUrl });
  await locker.connect();
  try {
    const timedOut = counters.next('timed-out', 60_000);
    const late = counters.next('result', 90_000, (message) => message.late);
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM consumer_offsets WHERE consumer_group = $1 FOR UPDATE', [groupId]);
    const timeout = await timedOut;
    await sleep(300);
    await locker.query('ROLLBACK');
    const abandoned = await late;
    return `an invocation exceeded its ${timeout.afterMs} ms timeout and was retried; the abandoned one later applied ${abandoned.accepted} and suppressed ${abandoned.deduplicated}`;
  } finally {
    await locker.end().catch(() => undefined);
  }
}

/** The invariant query of docs/guarantees.md: positions equal the batch sums. It returns no rows when it holds. */
const INVARIANT_QUERY = `SELECT branch_name, currency_code, p.position, f.total
  FROM open_currency_position p
  FULL JOIN (SELECT branch_name, currency_code, sum(batch_value) AS total, sum(record_count) AS records
               FROM transaction_flow GROUP BY 1, 2) f USING (branch_name, currency_code)
 WHERE p.position IS DISTINCT FROM f.total OR p.record_count IS DISTINCT FROM f.records`;

interface Verification {
  readonly accepted: number;
  readonly rejected: number;
  readonly differenceCents: bigint;
  readonly problems: string[];
}

async function verify(
  env: Environment,
  source: RecordSource,
  groupId: string,
  sent: number,
): Promise<Verification> {
  const problems: string[] = [];
  const pool = env.adminPool;
  let difference = 0n;
  const abs = (value: bigint) => (value < 0n ? -value : value);
  const cents = (text: string): bigint => {
    const [whole = '0', fraction = '00'] = text.replace('-', '').split('.');
    const value = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0').slice(0, 2));
    return text.startsWith('-') ? -value : value;
  };

  const positions = await pool.query<{ key: string; position: string; record_count: string }>(
    `SELECT branch_name || '/' || currency_code AS key, position::text, record_count::text FROM open_currency_position`,
  );
  const flows = await pool.query<{ key: string; total: string; records: string }>(
    `SELECT branch_name || '/' || currency_code AS key, sum(batch_value)::text AS total, sum(record_count)::text AS records
       FROM transaction_flow WHERE consumer_group = $1 GROUP BY 1`,
    [groupId],
  );
  for (const [table, rows] of [
    [
      'open_currency_position',
      positions.rows.map((r) => ({ key: r.key, total: r.position, count: r.record_count })),
    ],
    ['transaction_flow', flows.rows.map((r) => ({ key: r.key, total: r.total, count: r.records }))],
  ] as const) {
    const stored = new Map(rows.map((row) => [row.key, row]));
    for (const key of new Set([...stored.keys(), ...source.expected.keys()])) {
      const expected = source.expected.get(key) ?? { cents: 0n, count: 0 };
      const row = stored.get(key);
      const storedCents = row === undefined ? 0n : cents(row.total);
      const storedCount = row === undefined ? 0 : Number(row.count);
      difference += abs(expected.cents - storedCents);
      if (storedCents !== expected.cents || storedCount !== expected.count) {
        problems.push(
          `${table} ${key}: stored ${centsText(storedCents)} over ${storedCount} records, expected ${centsText(expected.cents)} over ${expected.count}`,
        );
      }
    }
  }
  const accepted = positions.rows.reduce((sum, row) => sum + Number(row.record_count), 0);
  const broken = await pool.query(INVARIANT_QUERY);
  if (broken.rows.length > 0) problems.push(`the invariant query returned ${broken.rows.length} rows`);

  const rejectedRows = await pool.query<{ key: string | null; places: string }>(
    `SELECT convert_from(key, 'UTF8') AS key, count(*)::text AS places FROM rejected_transactions GROUP BY 1`,
  );
  const rejected = rejectedRows.rows.reduce((sum, row) => sum + Number(row.places), 0);
  const rejectedKeys = new Set(rejectedRows.rows.map((row) => row.key ?? '<none>'));
  for (const row of rejectedRows.rows) {
    if (Number(row.places) !== 1) problems.push(`rejected record ${row.key} stored ${row.places} times`);
    if (!source.malformedKeys.has(row.key ?? '')) problems.push(`record ${row.key} rejected but was valid`);
  }
  const missing = [...source.malformedKeys].filter((key) => !rejectedKeys.has(key));
  if (missing.length > 0) {
    problems.push(
      `${missing.length} malformed records missing from rejected_transactions, e.g. ${missing[0]}`,
    );
  }

  const high = await env.admin.fetchTopicOffsets(TOPIC);
  const inTopic = high.reduce((sum, p) => sum + Number(p.high), 0);
  if (inTopic !== sent) problems.push(`the topic holds ${inTopic} records, ${sent} were sent`);
  if (accepted + rejected !== sent) {
    problems.push(`accepted ${accepted} + rejected ${rejected} != sent ${sent}`);
  }
  if (accepted !== source.validCount) problems.push(`accepted ${accepted}, expected ${source.validCount}`);
  const applied = await appliedRecords(pool, groupId);
  if (applied !== sent) problems.push(`the offset ledger covers ${applied} records, ${sent} were sent`);
  return { accepted, rejected, differenceCents: difference, problems };
}

function formatDifference(cents: bigint): string {
  if (cents === 0n) return '0';
  return centsText(cents).replace(/\.?0+$/, '');
}

export function summaryLine(report: Omit<FaultRunReport, 'line'>): string {
  const total = Object.values(report.injected).reduce((sum, n) => sum + n, 0);
  const kinds = Object.entries(report.injected)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind}=${n}`)
    .join(', ');
  return (
    `faults: ${total} injected (${kinds}); records: sent ${report.sent}, accepted ${report.accepted}, ` +
    `rejected ${report.rejected}, duplicates suppressed ${report.duplicatesSuppressed}; ` +
    `difference ${formatDifference(report.differenceCents)}`
  );
}
