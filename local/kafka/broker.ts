import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { type LocalConfig, localConfig } from '../config';
import { isAlive } from '../process';

const LOCAL_HOST = '127.0.0.1';
const MAVEN_PROJECT_DIR = __dirname;
const JAR_DIR = path.join(MAVEN_PROJECT_DIR, 'target', 'lib');
// Records which pom the jars in target/lib came from, so a version bump refetches instead of mixing jars.
const JARS_MARKER = path.join(MAVEN_PROJECT_DIR, 'target', 'jars.sha256');
const MIN_JAVA_MAJOR = 17;
const BROKER_MAIN_CLASS = 'kafka.Kafka';
const STORAGE_TOOL_MAIN_CLASS = 'kafka.tools.StorageTool';
const DEFAULT_START_TIMEOUT_MS = 90_000;
const DEFAULT_STOP_GRACE_MS = 30_000;
const START_LOCK_TIMEOUT_MS = 180_000;
const LOG_TAIL_LINES = 40;

export interface BrokerPaths {
  readonly root: string;
  /** Kafka's log.dirs: partitions, metadata log, meta.properties and the .lock file. */
  readonly dataDir: string;
  /** server.log and friends. */
  readonly logDir: string;
  readonly configFile: string;
  readonly log4jFile: string;
  readonly toolsLog4jFile: string;
  readonly pidFile: string;
  /** The JVM's own stdout and stderr (start-up failures that happen before log4j is up). */
  readonly outFile: string;
  /** Hash of the SCRAM user the storage was formatted with. */
  readonly credentialsFile: string;
  /** One file per process (named by pid) currently relying on the broker. */
  readonly leaseDir: string;
  readonly startLockFile: string;
}

export interface BrokerHandle {
  readonly brokers: readonly string[];
  /** This call started a broker process (as opposed to using an external or an already running one). */
  readonly started: boolean;
  readonly pid?: number;
}

export interface BrokerStatus {
  readonly running: boolean;
  readonly healthy: boolean;
  readonly pids: readonly number[];
  readonly brokers: readonly string[];
}

export function brokerPaths(config: LocalConfig = localConfig): BrokerPaths {
  const root = path.join(config.dataDir, 'kafka');
  return {
    root,
    dataDir: path.join(root, 'data'),
    logDir: path.join(root, 'logs'),
    configFile: path.join(root, 'server.properties'),
    log4jFile: path.join(root, 'log4j.properties'),
    toolsLog4jFile: path.join(root, 'tools-log4j.properties'),
    pidFile: path.join(root, 'broker.pid'),
    outFile: path.join(root, 'logs', 'broker.out'),
    credentialsFile: path.join(root, 'credentials.sha256'),
    leaseDir: path.join(root, 'leases'),
    startLockFile: path.join(root, 'start.lock'),
  };
}

function javaCommand(): string {
  const javaHome = process.env.JAVA_HOME;
  return javaHome ? path.join(javaHome, 'bin', 'java') : 'java';
}

function javaMajorVersion(): number {
  const result = spawnSync(javaCommand(), ['-version'], { encoding: 'utf8' });
  if (result.error) {
    throw new Error(
      `The local Kafka broker needs Java ${MIN_JAVA_MAJOR}+, but "${javaCommand()}" could not be run ` +
        `(${result.error.message}). Install a JDK, e.g. apt-get install -y openjdk-17-jdk-headless.`,
    );
  }
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${result.stderr}${result.stdout}`);
  if (!match?.[1]) {
    throw new Error(`Cannot tell the Java version from "java -version": ${result.stderr.trim()}`);
  }
  const first = Number(match[1]);
  // Java 8 and older report themselves as 1.x.
  return first === 1 ? Number(match[2]) : first;
}

/** Fails with a message naming the missing tool unless Java 17+ is on the PATH (or under JAVA_HOME). */
export function checkJava(): void {
  const major = javaMajorVersion();
  if (major < MIN_JAVA_MAJOR) {
    throw new Error(
      `The local Kafka broker needs Java ${MIN_JAVA_MAJOR}+, found Java ${major}. ` +
        'Install a newer JDK, e.g. apt-get install -y openjdk-17-jdk-headless.',
    );
  }
}

function pomHash(): string {
  return createHash('sha256')
    .update(fs.readFileSync(path.join(MAVEN_PROJECT_DIR, 'pom.xml')))
    .digest('hex');
}

function jarsAreCurrent(): boolean {
  try {
    // The marker alone is not enough: the jars can be deleted while the marker stays.
    const hasJars = fs
      .readdirSync(JAR_DIR)
      .some((name) => name.startsWith('kafka_') && name.endsWith('.jar'));
    return hasJars && fs.readFileSync(JARS_MARKER, 'utf8').trim() === pomHash();
  } catch {
    return false;
  }
}

/**
 * Makes sure the Kafka jars pinned in local/kafka/pom.xml are in local/kafka/target/lib, running Maven when they
 * are missing or were fetched for another version of the pom. Needs network access to Maven Central only then.
 */
export function ensureJars(): string {
  checkJava();
  if (jarsAreCurrent()) return JAR_DIR;
  fs.rmSync(JAR_DIR, { recursive: true, force: true });
  const started = Date.now();
  console.error('Fetching the Kafka jars with Maven (local/kafka/pom.xml)...');
  // Maven's output is kept for the error message only: with -q a successful run prints nothing useful.
  const result = spawnSync('mvn', ['-q', '-B', 'package'], {
    cwd: MAVEN_PROJECT_DIR,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.error) {
    throw new Error(
      `Fetching the Kafka jars needs Maven, but "mvn" could not be run (${result.error.message}). ` +
        'Install it, e.g. apt-get install -y maven.',
    );
  }
  if (result.status !== 0) {
    const output = stripVTControlCharacters(`${result.stdout}${result.stderr}`).trim();
    throw new Error(
      `"mvn -q -B package" in ${MAVEN_PROJECT_DIR} failed with exit code ${result.status}:\n${output}`,
    );
  }
  fs.writeFileSync(JARS_MARKER, `${pomHash()}\n`);
  console.error(`Kafka jars ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return JAR_DIR;
}

function assertScramSafe(label: string, value: string): void {
  // The storage formatter's --add-scram syntax and the JAAS line have no escaping for these characters.
  if (!/^[\x21-\x7e]+$/.test(value) || /[,[\]"'=\\;]/.test(value)) {
    throw new Error(
      `${label} for the local broker must be printable ASCII without spaces or any of , [ ] " ' = \\ ;`,
    );
  }
}

function serverProperties(config: LocalConfig, paths: BrokerPaths): string {
  const { port, controllerPort, username, password } = config.kafka;
  return `${[
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${LOCAL_HOST}:${controllerPort}`,
    `listeners=CLIENT://${LOCAL_HOST}:${port},CONTROLLER://${LOCAL_HOST}:${controllerPort}`,
    `advertised.listeners=CLIENT://${LOCAL_HOST}:${port}`,
    'controller.listener.names=CONTROLLER',
    // KRaft controllers cannot authenticate with SCRAM (its credentials live in the metadata they serve), so the
    // controller listener is plaintext and bound to loopback only. Clients and the broker itself use SCRAM.
    'listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=CLIENT',
    'sasl.enabled.mechanisms=SCRAM-SHA-512',
    'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
    `listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${username}" password="${password}";`,
    `log.dirs=${paths.dataDir}`,
    // Topics are created explicitly (as the deploy does on MSK), so a typo in a topic name fails loudly.
    'auto.create.topics.enable=false',
    'num.partitions=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=5',
    // Tests start and stop consumer groups constantly; the default 3 s join delay only slows them down.
    'group.initial.rebalance.delay.ms=0',
    // After a hard kill the controller keeps the dead broker's registration until its session expires (default
    // 9 s), and the restarted broker waits for that; a single local node can afford a shorter session.
    'broker.heartbeat.interval.ms=1000',
    'broker.session.timeout.ms=4000',
    'num.network.threads=2',
    'num.io.threads=4',
    'log.retention.hours=24',
    'log.retention.check.interval.ms=300000',
  ].join('\n')}\n`;
}

function log4jProperties(paths: BrokerPaths): string {
  return `${[
    'log4j.rootLogger=INFO, file',
    'log4j.appender.file=org.apache.log4j.RollingFileAppender',
    `log4j.appender.file.File=${path.join(paths.logDir, 'server.log')}`,
    'log4j.appender.file.MaxFileSize=10MB',
    'log4j.appender.file.MaxBackupIndex=2',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.logger.kafka.request.logger=WARN',
    'log4j.logger.state.change.logger=WARN',
  ].join('\n')}\n`;
}

function toolsLog4jProperties(): string {
  return `${[
    'log4j.rootLogger=WARN, stderr',
    'log4j.appender.stderr=org.apache.log4j.ConsoleAppender',
    'log4j.appender.stderr.Target=System.err',
    'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n',
  ].join('\n')}\n`;
}

function writePrivateFile(file: string, content: string): void {
  // The broker config holds the SCRAM password of the inter-broker login.
  fs.writeFileSync(file, content, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

/** Kafka cluster ids are 16 random bytes in URL-safe base64; Kafka itself never hands out one starting with "-". */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function credentialsHash(config: LocalConfig): string {
  return createHash('sha256').update(`${config.kafka.username}\0${config.kafka.password}`).digest('hex');
}

function javaClasspath(): string {
  return `${JAR_DIR}${path.sep}*`;
}

/**
 * Formats the KRaft storage on first start, bootstrapping the SCRAM user into the metadata log. Storage formatted
 * for other credentials is wiped: the SCRAM user cannot be changed without a running broker to change it with.
 */
function formatStorageIfNeeded(config: LocalConfig, paths: BrokerPaths): void {
  const expected = credentialsHash(config);
  const formatted = fs.existsSync(path.join(paths.dataDir, 'meta.properties'));
  let recorded: string | undefined;
  try {
    recorded = fs.readFileSync(paths.credentialsFile, 'utf8').trim();
  } catch {
    recorded = undefined;
  }
  if (formatted && recorded === expected) return;
  if (formatted) {
    console.error('Local Kafka storage was formatted for other credentials: wiping it and formatting again');
  }
  fs.rmSync(paths.dataDir, { recursive: true, force: true });
  fs.mkdirSync(paths.dataDir, { recursive: true });
  const { username, password } = config.kafka;
  const result = spawnSync(
    javaCommand(),
    [
      '-Xmx256m',
      `-Dlog4j.configuration=file:${paths.toolsLog4jFile}`,
      '-cp',
      javaClasspath(),
      STORAGE_TOOL_MAIN_CLASS,
      'format',
      '--cluster-id',
      newClusterId(),
      '--config',
      paths.configFile,
      '--add-scram',
      `SCRAM-SHA-512=[name=${username},password=${password}]`,
    ],
    { encoding: 'utf8' },
  );
  if (result.error || result.status !== 0) {
    throw new Error(
      `Formatting the local Kafka storage failed (${result.error?.message ?? `exit ${result.status}`}):\n` +
        `${result.stdout}${result.stderr}`,
    );
  }
  writePrivateFile(paths.credentialsFile, `${expected}\n`);
}

/** Broker JVMs started on this data dir: matched by main class and config file on their command line. */
function findBrokerProcesses(paths: BrokerPaths): number[] {
  const result = spawnSync('ps', ['-ww', '-eo', 'pid=,args='], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new Error(`Listing processes with "ps" failed: ${result.error?.message ?? result.stderr}`);
  }
  const pids: number[] = [];
  for (const line of result.stdout.split('\n')) {
    const match = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!match?.[1] || !match[2]) continue;
    const args = match[2];
    if (args.includes(` ${BROKER_MAIN_CLASS} `) && args.endsWith(paths.configFile)) {
      const pid = Number(match[1]);
      if (isAlive(pid)) pids.push(pid);
    }
  }
  return pids;
}

function readPidFile(paths: BrokerPaths): number | undefined {
  try {
    const pid = Number(fs.readFileSync(paths.pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Running broker processes on this data dir; a pid file pointing at anything else is stale and removed. */
function runningBrokers(paths: BrokerPaths): number[] {
  const pids = findBrokerProcesses(paths);
  const recorded = readPidFile(paths);
  if (recorded !== undefined && !pids.includes(recorded)) {
    fs.rmSync(paths.pidFile, { force: true });
  }
  return pids;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function kafkaClient(config: LocalConfig, timeoutMs: number): Kafka {
  const { brokers, username, password, tls } = config.kafka;
  return new Kafka({
    clientId: 'local-broker-check',
    brokers: [...brokers],
    ssl: tls,
    sasl: { mechanism: 'scram-sha-512', username, password },
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
}

/** One authenticated admin round trip: the same thing the pipeline needs from a broker. */
async function checkBroker(config: LocalConfig, timeoutMs: number): Promise<void> {
  const admin = kafkaClient(config, timeoutMs).admin();
  try {
    await admin.connect();
    await admin.listTopics();
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function isBrokerHealthy(
  config: LocalConfig = localConfig,
  timeoutMs = 3_000,
): Promise<boolean> {
  try {
    await checkBroker(config, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

/** A second chance before killing a broker another run may be using: a busy machine can stall one request. */
async function isRunningBrokerHealthy(config: LocalConfig): Promise<boolean> {
  return (await isBrokerHealthy(config, 5_000)) || (await isBrokerHealthy(config, 5_000));
}

function isPortInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOCAL_HOST, port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A killed JVM's other threads may hold its sockets for a moment after the process itself is gone. */
async function isPortStillInUse(port: number, graceMs: number): Promise<boolean> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    if (!(await isPortInUse(port))) return false;
    if (Date.now() >= deadline) return true;
    await sleep(200);
  }
}

function tailLines(file: string, lines: number): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function brokerLogTail(paths: BrokerPaths): string {
  const serverLog = tailLines(path.join(paths.logDir, 'server.log'), LOG_TAIL_LINES);
  const out = tailLines(paths.outFile, LOG_TAIL_LINES);
  return [
    serverLog && `--- ${path.join(paths.logDir, 'server.log')} (tail) ---\n${serverLog}`,
    out && `--- ${paths.outFile} (tail) ---\n${out}`,
  ]
    .filter(Boolean)
    .join('\n');
}

async function waitUntilGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(200);
    alive = alive.filter(isAlive);
  }
  return alive;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function terminate(pids: readonly number[], graceMs: number): Promise<void> {
  for (const pid of pids) signal(pid, 'SIGTERM');
  const stubborn = await waitUntilGone(pids, graceMs);
  for (const pid of stubborn) signal(pid, 'SIGKILL');
  const left = await waitUntilGone(stubborn, 10_000);
  if (left.length > 0) {
    throw new Error(`Kafka broker process(es) ${left.join(', ')} did not exit even after SIGKILL`);
  }
}

/** Serialises concurrent starts on one data dir (two test runs at once, a test run and `broker.ts start`). */
async function withStartLock<T>(paths: BrokerPaths, action: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + START_LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      fs.writeFileSync(paths.startLockFile, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(paths.startLockFile, 'utf8').trim());
      if (!Number.isInteger(holder) || holder <= 0 || !isAlive(holder)) {
        fs.rmSync(paths.startLockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`Timed out waiting for process ${holder} to finish starting the local Kafka broker`);
      }
      await sleep(250);
    }
  }
  try {
    return await action();
  } finally {
    fs.rmSync(paths.startLockFile, { force: true });
  }
}

async function waitUntilReady(
  config: LocalConfig,
  paths: BrokerPaths,
  child: ChildProcess,
  timeoutMs: number,
): Promise<void> {
  let exited: string | undefined;
  child.once('exit', (code, sig) => {
    exited = sig ? `was killed by ${sig}` : `exited with code ${code}`;
  });
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no attempt yet';
  while (Date.now() < deadline) {
    if (exited) break;
    try {
      await checkBroker(config, 2_000);
      return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await sleep(500);
  }
  const reason = exited
    ? `the broker process ${exited}`
    : `the broker did not accept an authenticated connection within ${timeoutMs / 1000} s (last error: ${lastError})`;
  if (!exited && child.pid !== undefined) await terminate([child.pid], 5_000);
  fs.rmSync(paths.pidFile, { force: true });
  throw new Error(`Local Kafka broker failed to start: ${reason}\n${brokerLogTail(paths)}`);
}

function spawnBroker(paths: BrokerPaths): ChildProcess {
  const out = fs.openSync(paths.outFile, 'a');
  try {
    const child = spawn(
      javaCommand(),
      [
        '-Xms256m',
        '-Xmx512m',
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        `-Dkafka.logs.dir=${paths.logDir}`,
        `-Dlog4j.configuration=file:${paths.log4jFile}`,
        '-cp',
        javaClasspath(),
        BROKER_MAIN_CLASS,
        paths.configFile,
      ],
      // Detached into its own process group so the broker outlives a `broker.ts start` CLI call; a run that
      // dies without stopping it leaves an orphan that the next start finds by its command line.
      { detached: true, stdio: ['ignore', out, out] },
    );
    child.unref();
    return child;
  } finally {
    fs.closeSync(out);
  }
}

export interface StartOptions {
  readonly config?: LocalConfig;
  readonly timeoutMs?: number;
}

/**
 * Starts the local KRaft broker (combined broker and controller, SASL/SCRAM-SHA-512 on loopback) and waits until
 * it accepts an authenticated admin connection. A healthy broker already running on the same data dir is reused;
 * an unhealthy or orphaned one is killed first. With KAFKA_BROKERS set nothing is started: that broker is used.
 */
export async function startBroker(options: StartOptions = {}): Promise<BrokerHandle> {
  const config = options.config ?? localConfig;
  const timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  if (config.kafka.external) return { brokers: config.kafka.brokers, started: false };

  assertScramSafe('KAFKA_USERNAME', config.kafka.username);
  assertScramSafe('KAFKA_PASSWORD', config.kafka.password);
  ensureJars();
  const paths = brokerPaths(config);
  fs.mkdirSync(paths.logDir, { recursive: true });
  fs.mkdirSync(paths.leaseDir, { recursive: true });

  return withStartLock(paths, async () => {
    const running = runningBrokers(paths);
    if (running.length === 1 && (await isRunningBrokerHealthy(config))) {
      fs.writeFileSync(paths.pidFile, `${running[0]}\n`);
      return { brokers: config.kafka.brokers, started: false, pid: running[0] };
    }
    if (running.length > 0) {
      console.error(`Stopping leftover local Kafka broker process(es) ${running.join(', ')}`);
      await terminate(running, 10_000);
    }
    fs.rmSync(paths.pidFile, { force: true });

    for (const port of [config.kafka.port, config.kafka.controllerPort]) {
      if (await isPortStillInUse(port, running.length > 0 ? 10_000 : 0)) {
        throw new Error(
          `Port ${LOCAL_HOST}:${port} is taken by a process that is not the local broker on ${paths.root}. ` +
            'Stop it, or set KAFKA_BROKERS (and KAFKA_USERNAME/KAFKA_PASSWORD) to use that broker instead.',
        );
      }
    }

    writePrivateFile(paths.configFile, serverProperties(config, paths));
    fs.writeFileSync(paths.log4jFile, log4jProperties(paths));
    fs.writeFileSync(paths.toolsLog4jFile, toolsLog4jProperties());
    formatStorageIfNeeded(config, paths);
    // Kafka holds an OS lock on this file, which dies with the process; the file itself left by a killed broker is
    // harmless, but removing it makes clear no broker owns the directory now.
    fs.rmSync(path.join(paths.dataDir, '.lock'), { force: true });

    const child = spawnBroker(paths);
    if (child.pid === undefined) {
      throw new Error(`Could not start "${javaCommand()}" for the local Kafka broker`);
    }
    fs.writeFileSync(paths.pidFile, `${child.pid}\n`);
    await waitUntilReady(config, paths, child, timeoutMs);
    return { brokers: config.kafka.brokers, started: true, pid: child.pid };
  });
}

/**
 * The java command line for a Kafka command-line tool from the pinned jars, e.g.
 * `org.apache.kafka.tools.ProducerPerformance` for the benchmarks. Logs warnings and errors to stderr only.
 */
export function kafkaToolCommand(
  mainClass: string,
  args: readonly string[],
  options: { config?: LocalConfig; heap?: string } = {},
): { command: string; args: string[] } {
  ensureJars();
  const paths = brokerPaths(options.config ?? localConfig);
  fs.mkdirSync(paths.root, { recursive: true });
  fs.writeFileSync(paths.toolsLog4jFile, toolsLog4jProperties());
  return {
    command: javaCommand(),
    args: [
      `-Xmx${options.heap ?? '512m'}`,
      `-Dlog4j.configuration=file:${paths.toolsLog4jFile}`,
      '-cp',
      javaClasspath(),
      mainClass,
      ...args,
    ],
  };
}

/**
 * Java client properties (for a tool's --producer.config / --command-config) that reach the configured broker
 * with its SCRAM credentials. Contains the password: write it to a file only under the git-ignored data dir.
 */
export function kafkaClientProperties(config: LocalConfig = localConfig): string {
  const { brokers, username, password, tls } = config.kafka;
  assertScramSafe('KAFKA_USERNAME', username);
  assertScramSafe('KAFKA_PASSWORD', password);
  return `${[
    `bootstrap.servers=${brokers.join(',')}`,
    `security.protocol=${tls ? 'SASL_SSL' : 'SASL_PLAINTEXT'}`,
    'sasl.mechanism=SCRAM-SHA-512',
    `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${username}" password="${password}";`,
  ].join('\n')}\n`;
}

/** Stops every broker process on the data dir: SIGTERM, then SIGKILL after the grace period. */
export async function stopBroker(
  options: { config?: LocalConfig; graceMs?: number } = {},
): Promise<readonly number[]> {
  const config = options.config ?? localConfig;
  const paths = brokerPaths(config);
  if (!fs.existsSync(paths.root)) return [];
  const pids = runningBrokers(paths);
  await terminate(pids, options.graceMs ?? DEFAULT_STOP_GRACE_MS);
  fs.rmSync(paths.pidFile, { force: true });
  return pids;
}

export async function brokerStatus(config: LocalConfig = localConfig): Promise<BrokerStatus> {
  const paths = brokerPaths(config);
  const pids = config.kafka.external || !fs.existsSync(paths.root) ? [] : runningBrokers(paths);
  const healthy = await isBrokerHealthy(config);
  return {
    running: config.kafka.external ? healthy : pids.length > 0,
    healthy,
    pids,
    brokers: config.kafka.brokers,
  };
}

function liveLeases(paths: BrokerPaths): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(paths.leaseDir);
  } catch {
    return [];
  }
  const live: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
      live.push(pid);
    } else {
      fs.rmSync(path.join(paths.leaseDir, name), { force: true });
    }
  }
  return live;
}

/** Marks this process as relying on the local broker, so another test run does not stop it underneath. */
export function acquireBrokerLease(config: LocalConfig = localConfig): void {
  const paths = brokerPaths(config);
  fs.mkdirSync(paths.leaseDir, { recursive: true });
  fs.writeFileSync(path.join(paths.leaseDir, String(process.pid)), '');
}

/** Drops this process's lease; returns the pids of other live processes still relying on the broker. */
export function releaseBrokerLease(config: LocalConfig = localConfig): number[] {
  const paths = brokerPaths(config);
  fs.rmSync(path.join(paths.leaseDir, String(process.pid)), { force: true });
  return liveLeases(paths).filter((pid) => pid !== process.pid);
}

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'jars': {
      const dir = ensureJars();
      console.log(`Kafka jars in ${dir}`);
      return 0;
    }
    case 'start': {
      const began = Date.now();
      const handle = await startBroker();
      const seconds = ((Date.now() - began) / 1000).toFixed(1);
      if (localConfig.kafka.external) {
        console.log(`KAFKA_BROKERS is set: using ${handle.brokers.join(',')}, nothing started`);
      } else if (handle.started) {
        console.log(
          `Local Kafka broker started on ${handle.brokers.join(',')} (pid ${handle.pid}) in ${seconds} s`,
        );
      } else {
        console.log(`Local Kafka broker already running on ${handle.brokers.join(',')} (pid ${handle.pid})`);
      }
      return 0;
    }
    case 'stop': {
      if (localConfig.kafka.external) {
        console.log('KAFKA_BROKERS is set: no local broker to stop');
        return 0;
      }
      const pids = await stopBroker();
      console.log(
        pids.length > 0
          ? `Stopped local Kafka broker (pid ${pids.join(', ')})`
          : 'No local Kafka broker running',
      );
      return 0;
    }
    case 'status': {
      const status = await brokerStatus();
      const where = status.brokers.join(',');
      if (status.healthy) {
        console.log(
          `Kafka broker on ${where} is up${status.pids.length > 0 ? ` (pid ${status.pids.join(', ')})` : ''}`,
        );
        return 0;
      }
      console.log(
        status.running
          ? `Local Kafka broker process ${status.pids.join(', ')} is running but not accepting connections on ${where}`
          : `No Kafka broker reachable on ${where}`,
      );
      return 1;
    }
    default:
      console.error('Usage: tsx local/kafka/broker.ts jars|start|stop|status');
      return 2;
  }
}

if (require.main === module) {
  main(process.argv[2]).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
