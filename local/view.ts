import type { MappingStats, PartitionLag } from './event-source-mapping';
import type { ScheduleStats } from './schedule';

export interface PositionRow {
  readonly branch: string;
  readonly currency: string;
  /** Exact decimal as PostgreSQL returns NUMERIC: a string. */
  readonly position: string;
}

export interface AggregatorTotals {
  readonly accepted: number;
  readonly rejected: number;
  readonly deduplicated: number;
}

export interface DashboardSnapshot {
  readonly now: Date;
  readonly startedAt: Date;
  readonly kafka: string;
  readonly topic: string;
  readonly groupId: string;
  readonly database?: string;
  readonly logs: string;
  readonly producer?: {
    readonly stats: ScheduleStats;
    readonly ratePerSecond: number;
    readonly plan: string;
  };
  readonly mapping?: {
    readonly stats: MappingStats;
    readonly totals: AggregatorTotals;
    readonly lag?: readonly PartitionLag[];
  };
  readonly positions?: readonly PositionRow[];
  readonly lastError?: { readonly source: string; readonly message: string; readonly at: Date };
}

const number = new Intl.NumberFormat('en-US');

export function formatCount(value: number): string {
  return number.format(value);
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(seconds % 60)}`;
}

/** Groups a NUMERIC string's integer digits in threes without ever going through a float. */
export function formatAmount(value: string): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (match === null) return value;
  const [, sign = '', whole = '0', fraction = ''] = match;
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}${grouped}.${fraction.padEnd(2, '0')}`;
}

/** Branches as rows, currencies as columns, in first-seen order of the sorted query result. */
export function positionTable(rows: readonly PositionRow[]): string[] {
  if (rows.length === 0) return ['  (no accepted transactions yet)'];
  const branches = [...new Set(rows.map((row) => row.branch))];
  const currencies = [...new Set(rows.map((row) => row.currency))];
  const cell = new Map(rows.map((row) => [`${row.branch}\u0000${row.currency}`, formatAmount(row.position)]));
  const branchWidth = Math.max(6, ...branches.map((branch) => branch.length));
  const width = Math.max(10, ...[...cell.values()].map((value) => value.length));
  const header = `  ${'Branch'.padEnd(branchWidth)}  ${currencies.map((c) => c.padStart(width)).join('  ')}`;
  const body = branches.map(
    (branch) =>
      `  ${branch.padEnd(branchWidth)}  ${currencies
        .map((currency) => (cell.get(`${branch}\u0000${currency}`) ?? '-').padStart(width))
        .join('  ')}`,
  );
  return [header, ...body];
}

export function lagSummary(lag: readonly PartitionLag[] | undefined): string {
  if (lag === undefined) return 'n/a';
  const total = lag.reduce((sum, partition) => sum + partition.lag, 0);
  return `${lag.map((partition) => `p${partition.partition} ${formatCount(partition.lag)}`).join('   ')}   (total ${formatCount(total)})`;
}

export function renderDashboard(snapshot: DashboardSnapshot): string[] {
  const lines = [
    `Transaction pipeline, local   up ${formatDuration(snapshot.now.getTime() - snapshot.startedAt.getTime())}   Ctrl-C stops it`,
    '',
    `Kafka      ${snapshot.kafka}`,
    `Topic      ${snapshot.topic}   consumer group ${snapshot.groupId}`,
  ];
  if (snapshot.database !== undefined) lines.push(`Database   ${snapshot.database}`);
  lines.push('');
  const { producer, mapping } = snapshot;
  if (producer !== undefined) {
    const { stats } = producer;
    lines.push(
      `Producer   sent ${formatCount(stats.sent)}   rate ${producer.ratePerSecond.toFixed(1)} msg/s   ` +
        `failed ${formatCount(stats.failed)}   invocations ${formatCount(stats.invocations)} (${producer.plan})`,
    );
  }
  if (mapping !== undefined) {
    const { stats, totals } = mapping;
    lines.push(
      `Mapping    batches ${formatCount(stats.batches)}   records ${formatCount(stats.records)}   ` +
        `failed invocations ${formatCount(stats.failedInvocations)}   buffered ${formatCount(stats.buffered)}   ${stats.state}`,
      `Records    accepted ${formatCount(totals.accepted)}   rejected ${formatCount(totals.rejected)}   ` +
        `deduplicated ${formatCount(totals.deduplicated)}`,
      `Lag        ${lagSummary(mapping.lag)}`,
    );
  }
  if (snapshot.positions !== undefined) {
    lines.push('', 'Open currency position', ...positionTable(snapshot.positions));
  }
  lines.push('');
  const error = snapshot.lastError;
  lines.push(
    error === undefined
      ? 'Last error none'
      : `Last error ${error.at.toISOString().slice(11, 19)} ${error.source}: ${error.message}`,
  );
  lines.push(`Logs       ${snapshot.logs}`);
  return lines;
}

/** One line for logs and non-interactive terminals. */
export function renderStatusLine(snapshot: DashboardSnapshot): string {
  const parts = [snapshot.now.toISOString()];
  if (snapshot.producer !== undefined) {
    parts.push(`sent=${snapshot.producer.stats.sent} rate=${snapshot.producer.ratePerSecond.toFixed(1)}/s`);
  }
  if (snapshot.mapping !== undefined) {
    const { stats, totals, lag } = snapshot.mapping;
    const totalLag = lag?.reduce((sum, partition) => sum + partition.lag, 0);
    parts.push(
      `batches=${stats.batches} records=${stats.records} accepted=${totals.accepted} rejected=${totals.rejected} ` +
        `deduplicated=${totals.deduplicated} lag=${totalLag ?? 'n/a'}`,
    );
  }
  if (snapshot.lastError !== undefined) parts.push(`last_error="${snapshot.lastError.message}"`);
  return parts.join(' ');
}

/** Cursor home, each line cleared to its end, and everything below cleared: a repaint without flicker. */
export function repaint(lines: readonly string[], columns: number): string {
  const clipped = lines.map((line) => (line.length > columns ? `${line.slice(0, columns - 1)}…` : line));
  return `\u001b[H${clipped.map((line) => `${line}\u001b[K`).join('\n')}\n\u001b[J`;
}

/** Messages per second over a sliding window of counter samples. */
export class RateMeter {
  private samples: Array<{ at: number; count: number }> = [];

  constructor(private readonly windowMs: number) {}

  sample(at: number, count: number): number {
    this.samples.push({ at, count });
    while (this.samples.length > 2 && (this.samples[1]?.at ?? at) <= at - this.windowMs) this.samples.shift();
    const first = this.samples[0];
    if (first === undefined || at === first.at) return 0;
    return ((count - first.count) * 1000) / (at - first.at);
  }
}
