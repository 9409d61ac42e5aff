import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CompressionTypes, type Producer, type ProducerRecord } from 'kafkajs';
import type { ProducerPlan } from '../lambda/producer/event';
import { generateMessages, generatorConfigFromEnv } from '../lambda/producer/generate';
import { produce } from '../lambda/producer/produce';
import { createTransactionProducer, type SendClient } from '../lambda/producer/send';
import { createKafka } from '../lambda/shared/kafka';
import { localConfig } from '../local/config';
import { kafkaClientProperties, kafkaToolCommand } from '../local/kafka/broker';
import { collectOutput } from '../test/helpers/child-output';
import { progress, stdoutMeter } from './capture';
import { cpuMillisSince, median, round } from './stats';

export interface ProducerOptions {
  readonly topic: string;
  /** Messages per Node.js run. */
  readonly nodeMessages: number;
  /** Messages per Java run: more, because it is faster and its JVM start-up is subtracted. */
  readonly javaMessages: number;
  readonly repetitions: number;
}

export interface ThroughputFigures {
  readonly messagesPerSecond: number;
  /** Value bytes only (the same messages for every variant), 10^6 bytes. */
  readonly mbPerSecond: number;
  readonly cpuSecondsPerMillion: number;
  readonly runs: number;
}

export type Variant = 'handlerGzip' | 'sendPathGzip' | 'sendPathNone' | 'javaGzip' | 'javaNone';

export interface ProducerResult {
  readonly averageValueBytes: number;
  readonly variants: Readonly<Record<Variant, ThroughputFigures>>;
  /** The deployed handler (gzip) against Java's ProducerPerformance with gzip. */
  readonly ratioToJavaPerfTest: number;
  /** The send path without compression against ProducerPerformance without compression. */
  readonly ratioToJavaPerfTestNoCompression: number;
  readonly javaStartupCpuSeconds: number;
  /** What one handler invocation printed (JSON logs, EMF metrics): CloudWatch Logs ingestion on AWS. */
  readonly logBytesPerHandlerInvocation: number;
}

interface Run {
  readonly messages: number;
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** As ProducerPerformance reports it, for the Java runs. */
  readonly reportedPerSecond?: number;
}

const silentLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const noMetrics = { addMetric: () => undefined };

/** The producer's send path with kafkajs's compression replaced: the handler has no switch for it. */
function withCompression(producer: Producer, compression: CompressionTypes): SendClient {
  return { send: (record: ProducerRecord) => producer.send({ ...record, compression }) };
}

async function runNodeSendPath(producer: SendClient, topic: string, messages: number): Promise<Run> {
  const plan: ProducerPlan = { mode: 'burst', total: messages };
  const cpu = process.cpuUsage();
  const result = await produce(plan, {
    producer,
    topic,
    generator: generatorConfigFromEnv(),
    logger: silentLogger,
    metrics: noMetrics,
  });
  if (result.sent !== messages)
    throw new Error(`Sent ${result.sent} of ${messages} (${result.failed} failed)`);
  return { messages, seconds: result.durationMs / 1000, cpuSeconds: cpuMillisSince(cpu) / 1000 };
}

type ProducerHandler = (event: {
  mode: 'burst';
  count: number;
}) => Promise<{ sent: number; durationMs: number }>;

const handlerLogs = { bytes: 0, invocations: 0 };

async function runHandler(handler: ProducerHandler, messages: number): Promise<Run> {
  const cpu = process.cpuUsage();
  const bytesBefore = stdoutMeter.bytes;
  const result = await handler({ mode: 'burst', count: messages });
  handlerLogs.bytes += stdoutMeter.bytes - bytesBefore;
  handlerLogs.invocations += 1;
  if (result.sent !== messages) throw new Error(`The handler sent ${result.sent} of ${messages}`);
  return { messages, seconds: result.durationMs / 1000, cpuSeconds: cpuMillisSince(cpu) / 1000 };
}

interface JavaRun extends Run {
  readonly reportedPerSecond: number;
}

/** ProducerPerformance from the broker's own jars; CPU from GNU time (user + system of the JVM). */
function runJava(
  topic: string,
  messages: number,
  compression: 'gzip' | 'none',
  payloadFile: string,
  propertiesFile: string,
): Promise<JavaRun> {
  const { command, args } = kafkaToolCommand(
    'org.apache.kafka.tools.ProducerPerformance',
    [
      '--topic',
      topic,
      '--num-records',
      String(messages),
      '--throughput',
      '-1',
      '--payload-file',
      payloadFile,
      '--producer-props',
      'acks=all',
      'enable.idempotence=true',
      `compression.type=${compression}`,
      '--producer.config',
      propertiesFile,
    ],
    { heap: '512m' },
  );
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'BENCH_CPU %U %S %e', command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = collectOutput(child);
    child.on('error', reject);
    child.on('close', (code) => {
      const { stdout, stderr } = output;
      const summary = /^(\d+) records sent, ([\d.]+) records\/sec/m.exec(stdout);
      const cpu = /BENCH_CPU ([\d.]+) ([\d.]+) ([\d.]+)/.exec(stderr);
      if (code !== 0 || summary === null || cpu === null) {
        reject(
          new Error(
            `ProducerPerformance failed (exit ${code}):\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`,
          ),
        );
        return;
      }
      const sent = Number(summary[1]);
      const perSecond = Number(summary[2]);
      resolve({
        messages: sent,
        seconds: sent / perSecond,
        cpuSeconds: Number(cpu[1]) + Number(cpu[2]),
        reportedPerSecond: perSecond,
      });
    });
  });
}

function figures(runs: readonly Run[], valueBytes: number, startupCpuSeconds = 0): ThroughputFigures {
  const rates = runs.map((run) => run.reportedPerSecond ?? run.messages / run.seconds);
  const cpu = runs.map((run) => (Math.max(0, run.cpuSeconds - startupCpuSeconds) / run.messages) * 1e6);
  const rate = median(rates);
  return {
    messagesPerSecond: Math.round(rate),
    mbPerSecond: round((rate * valueBytes) / 1e6, 3),
    cpuSecondsPerMillion: round(median(cpu), 3),
    runs: runs.length,
  };
}

/**
 * Throughput of the producer to the local broker, each variant run in turn per repetition: the deployed handler
 * in burst mode (gzip, the only setting it has), its send path (produce() with the same kafkajs producer
 * configuration) with gzip and with compression off, and Kafka's ProducerPerformance with gzip and without, all
 * on the same topic with the producer's own messages as payloads.
 */
export async function measureProducer(options: ProducerOptions): Promise<ProducerResult> {
  const { topic } = options;
  const workDir = path.join(localConfig.dataDir, 'bench');
  fs.mkdirSync(workDir, { recursive: true });
  const payloadFile = path.join(workDir, 'payloads.txt');
  const propertiesFile = path.join(workDir, 'client.properties');
  const samples = generateMessages(10_000, generatorConfigFromEnv());
  fs.writeFileSync(payloadFile, `${samples.map((message) => message.value).join('\n')}\n`);
  // Holds the local SCRAM password: only under the git-ignored data dir, owner-readable, removed afterwards.
  fs.writeFileSync(propertiesFile, kafkaClientProperties(), { mode: 0o600 });
  const valueBytes =
    samples.reduce((sum, message) => sum + Buffer.byteLength(message.value), 0) / samples.length;

  const producerModule = await import('../lambda/producer/index.js');
  const handler = producerModule.handler as unknown as ProducerHandler;
  const kafka = await createKafka({ brokers: localConfig.kafka.brokers, clientId: 'bench-send-path' });
  const producer = createTransactionProducer(kafka);
  await producer.connect();
  const gzip = withCompression(producer, CompressionTypes.GZIP);
  const none = withCompression(producer, CompressionTypes.None);

  const runs: Record<Variant, Run[]> = {
    handlerGzip: [],
    sendPathGzip: [],
    sendPathNone: [],
    javaGzip: [],
    javaNone: [],
  };
  const startup: number[] = [];
  try {
    // Connects the handler's producer and warms the JIT; not measured.
    await runHandler(handler, 5_000);
    await runNodeSendPath(gzip, topic, 5_000);
    await runNodeSendPath(none, topic, 5_000);
    const steps: Array<[Variant, () => Promise<Run>]> = [
      ['handlerGzip', () => runHandler(handler, options.nodeMessages)],
      ['sendPathGzip', () => runNodeSendPath(gzip, topic, options.nodeMessages)],
      ['sendPathNone', () => runNodeSendPath(none, topic, options.nodeMessages)],
      ['javaGzip', () => runJava(topic, options.javaMessages, 'gzip', payloadFile, propertiesFile)],
      ['javaNone', () => runJava(topic, options.javaMessages, 'none', payloadFile, propertiesFile)],
    ];
    for (let rep = 0; rep < options.repetitions; rep++) {
      // Start-up, connection and metadata cost of the JVM, subtracted from the Java runs' CPU.
      startup.push((await runJava(topic, 1, 'gzip', payloadFile, propertiesFile)).cpuSeconds);
      // Rotated so no variant always runs first after the JVM start-up above.
      for (let i = 0; i < steps.length; i++) {
        const [variant, run] = steps[(i + rep) % steps.length] as [Variant, () => Promise<Run>];
        const result = await run();
        runs[variant].push(result);
        progress(
          `producer ${variant}: ${Math.round(result.reportedPerSecond ?? result.messages / result.seconds)} msg/s`,
        );
      }
    }
  } finally {
    await producer.disconnect();
    await producerModule.closeProducer();
    fs.rmSync(propertiesFile, { force: true });
    fs.rmSync(payloadFile, { force: true });
  }
  const javaStartup = median(startup);
  const variants = {
    handlerGzip: figures(runs.handlerGzip, valueBytes),
    sendPathGzip: figures(runs.sendPathGzip, valueBytes),
    sendPathNone: figures(runs.sendPathNone, valueBytes),
    javaGzip: figures(runs.javaGzip, valueBytes, javaStartup),
    javaNone: figures(runs.javaNone, valueBytes, javaStartup),
  };
  return {
    averageValueBytes: round(valueBytes),
    variants,
    ratioToJavaPerfTest: round(
      variants.handlerGzip.messagesPerSecond / variants.javaGzip.messagesPerSecond,
      3,
    ),
    ratioToJavaPerfTestNoCompression: round(
      variants.sendPathNone.messagesPerSecond / variants.javaNone.messagesPerSecond,
      3,
    ),
    javaStartupCpuSeconds: round(javaStartup, 3),
    logBytesPerHandlerInvocation: Math.round(handlerLogs.bytes / Math.max(1, handlerLogs.invocations)),
  };
}
