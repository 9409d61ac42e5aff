import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { defaultGeneratorDeps, generateMessages } from '../lambda/producer/generate';
import { AGGREGATOR_METRICS, PRODUCER_METRICS } from '../lambda/shared/metric-names';
import { DEFAULT_AMOUNT_RANGE, DEFAULT_BRANCHES, DEFAULT_CURRENCIES } from '../lambda/shared/transaction';
import type { DeploymentInventory } from './deployment';
import { benchEvent } from './events';
import { round } from './stats';

interface PriceItem {
  readonly price: number;
  readonly unit: string;
  readonly source: string;
  readonly dateRead: string;
  readonly check: { readonly status: 'official' | 'third-party' | 'unconfirmed' };
}

export interface PriceTable {
  readonly region: string;
  readonly hoursPerMonth: number;
  readonly dateRead: string;
  readonly items: Readonly<Record<string, PriceItem>>;
}

export function loadPrices(): PriceTable {
  return JSON.parse(fs.readFileSync(path.join(__dirname, 'prices.json'), 'utf8')) as PriceTable;
}

/** Measured figures the model scales from. */
export interface CostMeasurements {
  /** Aggregator handler against PostgreSQL, per batch size: wall and CPU ms, statements. */
  readonly aggregator: readonly {
    readonly records: number;
    readonly handlerMs: number;
    readonly handlerCpuMs: number;
    readonly statements: number;
    readonly logBytesPerInvocation: number;
  }[];
  /** JSON.parse of the event by the runtime, per record, microseconds. */
  readonly eventParseMicrosPerRecord: number;
  /** Producer CPU per message (handler, gzip), seconds. */
  readonly producerCpuSecondsPerMessage: number;
  readonly producerLogBytesPerInvocation: number;
}

/**
 * Assumptions that no measurement here can provide, stated so they can be challenged. Each is small next to the
 * fixed monthly cost, which dominates.
 */
export const ASSUMPTIONS = {
  /** AWS documents 1,769 MB as one vCPU; below it a function gets that share of a core. */
  lambdaMbPerVcpu: 1769,
  /** A Graviton core of the Lambda fleet taken as fast as one core of the bench machine. */
  lambdaCoreSpeedVsBenchCore: 1,
  /** Lambda to RDS in the same VPC, per statement, on top of the server time measured locally. */
  rdsRoundTripMs: 0.5,
  /** START, END and REPORT lines Lambda writes per invocation. */
  lambdaPlatformLogBytes: 400,
  /** Connection reuse and the last acknowledgements after a paced producer run. */
  producerTailSeconds: 0.3,
  /** VPC flow logs (all traffic, low volume), MSK broker logs and PostgreSQL logs together. */
  vendedLogsGbPerMonth: 1.5,
  /** Secret reads (cold starts, the mapping's pollers, rotation) and the KMS decrypts behind them. */
  secretsApiCallsPerMonth: 10_000,
  /** Brokers and clients spread over two AZs: half of all produce and fetch traffic crosses an AZ. */
  crossAzShare: 0.5,
  /** Parameters and results of one aggregator invocation's statements. */
  databaseBytesPerInvocation: 4_096,
  original: {
    description:
      'Spark Structured Streaming on EMR (1 master + 2 core m5.xlarge, 24/7, 2-second micro-batches), Kafka ' +
      '(broker and ZooKeeper on one m5.large with 100 GiB gp3) and the same RDS db.t4g.micro; the producer ' +
      'script runs on the Kafka host. Monitoring, logs and data transfer left out (all in one AZ), which ' +
      'favours the original.',
    emrInstances: 3,
    /** EMR's default EBS for m5.xlarge: two 32 GiB gp2 volumes per instance. */
    emrEbsGiBPerInstance: 64,
    kafkaInstances: 1,
    kafkaEbsGiB: 100,
  },
} as const;

export interface CostLine {
  readonly item: string;
  readonly monthlyUsd: number;
  readonly basis: string;
}

export interface RateCost {
  readonly rate: number;
  readonly messagesPerMonth: number;
  readonly monthlyUsd: number;
  readonly perMillionUsd: number;
  readonly lines: readonly CostLine[];
  readonly aggregator: {
    readonly recordsPerInvocation: number;
    readonly invocationsPerMonth: number;
    readonly modeledDurationMs: number;
  };
  readonly producer: {
    readonly modeledDurationSeconds: number;
    /** Share of the function's vCPU the paced run keeps busy; above 1 the run overruns its duration. */
    readonly cpuUtilization: number;
  };
  readonly original: {
    readonly monthlyUsd: number;
    readonly perMillionUsd: number;
    readonly lines: readonly CostLine[];
  };
}

function linear(points: readonly { x: number; y: number }[], x: number): number {
  const sorted = [...points].sort((a, b) => a.x - b.x);
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  if (first === undefined || last === undefined) throw new Error('No points to interpolate');
  if (sorted.length === 1 || first.x === last.x) return first.y;
  const t = (x - first.x) / (last.x - first.x);
  return first.y + t * (last.y - first.y);
}

function scheduleMinutes(expression: string): number {
  const match = /^rate\((\d+) minutes?\)$/.exec(expression);
  if (match === null) throw new Error(`Cannot read the producer schedule ${expression}`);
  return Number(match[1]);
}

/** Bytes per record of the MSK event the pollers send through the Lambda endpoint. */
function eventBytesPerRecord(): number {
  return Buffer.byteLength(JSON.stringify(benchEvent({ records: 1_000 }))) / 1_000;
}

/** gzip-compressed bytes per message for the batch a paced tick (200 ms) sends at `rate`. */
function compressedBytesPerMessage(rate: number): number {
  const count = Math.max(1, Math.round(rate * 0.2));
  const messages = generateMessages(
    count,
    {
      branches: DEFAULT_BRANCHES,
      currencies: DEFAULT_CURRENCIES,
      amountMin: DEFAULT_AMOUNT_RANGE.min,
      amountMax: DEFAULT_AMOUNT_RANGE.max,
    },
    defaultGeneratorDeps,
  );
  const raw = Buffer.from(messages.map((message) => message.key + message.value).join(''));
  // Kafka's record framing (offset delta, timestamp delta, lengths) adds about 10 bytes a record.
  return (gzipSync(raw).length + 10 * count) / count;
}

/**
 * Monthly cost of the default deployment at `rate` messages a second, and per million transactions.
 *
 * Lambda model: an aggregator invocation gets `min(batchSize, rate × window)` records. Its duration on AWS is
 * the CPU measured here for that many records (handler plus the runtime's parse of the event, interpolated
 * between the 100- and 10,000-record measurements) stretched by 1,769 MB / memory (the vCPU share Lambda
 * gives the function), plus the database time measured locally, plus one in-VPC round trip per statement. The
 * producer's paced run lasts its configured duration unless its CPU (measured per message, stretched the same
 * way) needs longer.
 */
export function costAtRate(
  rate: number,
  inventory: DeploymentInventory,
  prices: PriceTable,
  measured: CostMeasurements,
): RateCost {
  const price = (name: string): number => {
    const item = prices.items[name];
    if (item === undefined) throw new Error(`bench/prices.json has no ${name}`);
    return item.price;
  };
  const { config } = inventory;
  const hours = prices.hoursPerMonth;
  const monthSeconds = hours * 3600;
  const periodSeconds = scheduleMinutes(inventory.scheduleExpression) * 60;
  const producerInvocations = monthSeconds / periodSeconds;
  const messagesPerMonth = rate * config.producerDurationSeconds * producerInvocations;
  const a = ASSUMPTIONS;

  // Aggregator
  const recordsPerInvocation = Math.max(
    1,
    Math.min(inventory.mappingBatchSize, rate * inventory.mappingWindowSeconds),
  );
  const aggregatorInvocations = messagesPerMonth / recordsPerInvocation;
  const cpuPoints = measured.aggregator.map((m) => ({ x: m.records, y: m.handlerCpuMs }));
  const waitPoints = measured.aggregator.map((m) => ({
    x: m.records,
    y: Math.max(0, m.handlerMs - m.handlerCpuMs),
  }));
  const statements = Math.max(...measured.aggregator.map((m) => m.statements));
  const cpuMs =
    linear(cpuPoints, recordsPerInvocation) +
    (measured.eventParseMicrosPerRecord * recordsPerInvocation) / 1000;
  const stretch = Math.max(1, a.lambdaMbPerVcpu / config.aggregatorMemoryMb) / a.lambdaCoreSpeedVsBenchCore;
  const aggregatorMs = Math.ceil(
    cpuMs * stretch + linear(waitPoints, recordsPerInvocation) + statements * a.rdsRoundTripMs,
  );
  const aggregatorGbSeconds =
    (config.aggregatorMemoryMb / 1024) * (aggregatorMs / 1000) * aggregatorInvocations;
  const aggregatorLogBytes =
    Math.max(...measured.aggregator.map((m) => m.logBytesPerInvocation)) + a.lambdaPlatformLogBytes;

  // Producer
  const messagesPerRun = rate * config.producerDurationSeconds;
  const producerStretch =
    Math.max(1, a.lambdaMbPerVcpu / config.producerMemoryMb) / a.lambdaCoreSpeedVsBenchCore;
  const producerCpuSeconds = messagesPerRun * measured.producerCpuSecondsPerMessage * producerStretch;
  const producerSeconds =
    Math.max(config.producerDurationSeconds, producerCpuSeconds) + a.producerTailSeconds;
  const producerGbSeconds = (config.producerMemoryMb / 1024) * producerSeconds * producerInvocations;
  const producerLogBytes = measured.producerLogBytesPerInvocation + a.lambdaPlatformLogBytes;

  // Traffic
  const GB = 1e9;
  const endpointGb = (messagesPerMonth * eventBytesPerRecord()) / GB;
  const kafkaGb = (messagesPerMonth * compressedBytesPerMessage(rate)) / GB;
  const crossAzGb =
    a.crossAzShare * (2 * kafkaGb + (aggregatorInvocations * a.databaseBytesPerInvocation) / GB);
  const functionLogsGb =
    (aggregatorInvocations * aggregatorLogBytes + producerInvocations * producerLogBytes) / GB;
  const customMetrics =
    Object.keys(PRODUCER_METRICS).length +
    Object.keys(AGGREGATOR_METRICS).length -
    1 +
    (config.producerCurrencies ?? DEFAULT_CURRENCIES).length;

  if (inventory.natGateways > 0) throw new Error('NAT gateways are not in the price table');
  const lines: CostLine[] = [
    {
      item: 'MSK brokers',
      monthlyUsd: inventory.brokerCount * hours * price('mskBrokerHourKafkaT3Small'),
      basis: `${inventory.brokerCount} × ${inventory.brokerInstanceType} × ${hours} h`,
    },
    {
      item: 'MSK storage',
      monthlyUsd: inventory.brokerCount * inventory.brokerVolumeGiB * price('mskStorageGbMonth'),
      basis: `${inventory.brokerCount} × ${inventory.brokerVolumeGiB} GiB`,
    },
    {
      item: 'RDS instance',
      monthlyUsd: (inventory.dbMultiAz ? 2 : 1) * hours * price('rdsPostgresHourDbT4gMicro'),
      basis: `${inventory.dbInstanceClass}${inventory.dbMultiAz ? ' Multi-AZ' : ' Single-AZ'} × ${hours} h`,
    },
    {
      item: 'RDS storage',
      monthlyUsd: (inventory.dbMultiAz ? 2 : 1) * inventory.dbAllocatedStorageGiB * price('rdsGp3GbMonth'),
      basis: `${inventory.dbAllocatedStorageGiB} GiB gp3 (backups within the free allowance)`,
    },
    {
      item: 'Interface endpoints',
      monthlyUsd: inventory.interfaceEndpointAzs * hours * price('interfaceEndpointHourPerAz'),
      basis: `${inventory.interfaceEndpoints} endpoints × ${inventory.interfaceEndpointAzs / inventory.interfaceEndpoints} AZs × ${hours} h`,
    },
    {
      item: 'Endpoint data',
      monthlyUsd: endpointGb * price('interfaceEndpointDataGb'),
      basis: `${round(endpointGb, 3)} GB of invocation payloads through the Lambda endpoint`,
    },
    {
      item: 'Secrets Manager',
      monthlyUsd:
        inventory.secrets * price('secretsManagerSecretMonth') +
        (a.secretsApiCallsPerMonth / 10_000) * price('secretsManagerPer10kCalls'),
      basis: `${inventory.secrets} secrets, ${a.secretsApiCallsPerMonth} calls`,
    },
    {
      item: 'KMS',
      monthlyUsd:
        inventory.kmsKeys * price('kmsKeyMonth') +
        (a.secretsApiCallsPerMonth / 10_000) * price('kmsPer10kRequests'),
      basis: `${inventory.kmsKeys} customer managed keys`,
    },
    {
      item: 'Lambda aggregator',
      monthlyUsd:
        aggregatorGbSeconds * price('lambdaArmGbSecond') +
        (aggregatorInvocations / 1e6) * price('lambdaPerMillionRequests'),
      basis: `${Math.round(aggregatorInvocations)} × ${aggregatorMs} ms × ${config.aggregatorMemoryMb} MB`,
    },
    {
      item: 'Lambda producer',
      monthlyUsd:
        producerGbSeconds * price('lambdaArmGbSecond') +
        (producerInvocations / 1e6) * price('lambdaPerMillionRequests'),
      basis: `${Math.round(producerInvocations)} × ${round(producerSeconds, 3)} s × ${config.producerMemoryMb} MB`,
    },
    {
      item: 'EventBridge Scheduler',
      monthlyUsd: (producerInvocations / 1e6) * price('schedulerPerMillionInvocations'),
      basis: `${Math.round(producerInvocations)} invocations`,
    },
    {
      item: 'CloudWatch dashboard, alarms, metrics',
      monthlyUsd:
        inventory.dashboards * price('cloudwatchDashboardMonth') +
        inventory.alarms * price('cloudwatchAlarmMonth') +
        customMetrics * price('cloudwatchCustomMetricMonth'),
      basis: `${inventory.dashboards} dashboard, ${inventory.alarms} alarms, ${customMetrics} EMF metrics`,
    },
    {
      item: 'CloudWatch Logs',
      monthlyUsd:
        functionLogsGb * price('cloudwatchLogsIngestGb') +
        a.vendedLogsGbPerMonth * price('cloudwatchVendedLogsGb') +
        (functionLogsGb + a.vendedLogsGbPerMonth) * price('cloudwatchLogsStorageGbMonth'),
      basis: `${round(functionLogsGb, 3)} GB function logs + ${a.vendedLogsGbPerMonth} GB vended, 30-day retention`,
    },
    {
      item: 'Cross-AZ transfer',
      monthlyUsd: crossAzGb * 2 * price('interAzTransferGbEachDirection'),
      basis: `${round(crossAzGb, 3)} GB (gzip produce + fetch, database)`,
    },
  ];
  const monthlyUsd = lines.reduce((sum, line) => sum + line.monthlyUsd, 0);

  const o = a.original;
  const originalLines: CostLine[] = [
    {
      item: 'EMR cluster (EC2 + EMR fee)',
      monthlyUsd: o.emrInstances * hours * (price('ec2HourM5Xlarge') + price('emrUpliftHourM5Xlarge')),
      basis: `${o.emrInstances} × m5.xlarge × ${hours} h`,
    },
    {
      item: 'EMR EBS',
      monthlyUsd: o.emrInstances * o.emrEbsGiBPerInstance * price('ebsGp2GbMonth'),
      basis: `${o.emrInstances} × ${o.emrEbsGiBPerInstance} GiB gp2`,
    },
    {
      item: 'Kafka on EC2',
      monthlyUsd: o.kafkaInstances * hours * price('ec2HourM5Large') + o.kafkaEbsGiB * price('ebsGp3GbMonth'),
      basis: `${o.kafkaInstances} × m5.large + ${o.kafkaEbsGiB} GiB gp3`,
    },
    {
      item: 'RDS instance and storage',
      monthlyUsd:
        hours * price('rdsPostgresHourDbT4gMicro') + inventory.dbAllocatedStorageGiB * price('rdsGp3GbMonth'),
      basis: `${inventory.dbInstanceClass}, ${inventory.dbAllocatedStorageGiB} GiB gp3`,
    },
  ];
  const originalMonthly = originalLines.reduce((sum, line) => sum + line.monthlyUsd, 0);

  const rounded = (list: readonly CostLine[]) =>
    list.map((line) => ({ ...line, monthlyUsd: Math.round(line.monthlyUsd * 100) / 100 }));
  return {
    rate,
    messagesPerMonth: Math.round(messagesPerMonth),
    monthlyUsd: Math.round(monthlyUsd * 100) / 100,
    perMillionUsd: round((monthlyUsd / messagesPerMonth) * 1e6, 3),
    lines: rounded(lines),
    aggregator: {
      recordsPerInvocation,
      invocationsPerMonth: Math.round(aggregatorInvocations),
      modeledDurationMs: aggregatorMs,
    },
    producer: {
      modeledDurationSeconds: round(producerSeconds, 4),
      cpuUtilization: round(producerCpuSeconds / config.producerDurationSeconds, 3),
    },
    original: {
      monthlyUsd: Math.round(originalMonthly * 100) / 100,
      perMillionUsd: round((originalMonthly / messagesPerMonth) * 1e6, 3),
      lines: rounded(originalLines),
    },
  };
}

/** How many prices of the table could be confirmed, and which could not. */
export function priceChecks(prices: PriceTable): { confirmed: number; unconfirmed: string[] } {
  const entries = Object.entries(prices.items);
  return {
    confirmed: entries.filter(([, item]) => item.check.status !== 'unconfirmed').length,
    unconfirmed: entries.filter(([, item]) => item.check.status === 'unconfirmed').map(([name]) => name),
  };
}
