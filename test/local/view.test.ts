import { describe, expect, it } from 'vitest';
import {
  type DashboardSnapshot,
  formatAmount,
  formatDuration,
  lagSummary,
  positionTable,
  RateMeter,
  renderDashboard,
  renderStatusLine,
  repaint,
} from '../../local/view';

const snapshot: DashboardSnapshot = {
  now: new Date('2025-01-01T10:01:05Z'),
  startedAt: new Date('2025-01-01T10:00:00Z'),
  kafka: '127.0.0.1:9092 (local broker)',
  topic: 'transaction',
  groupId: 'transaction-aggregator',
  database: 'PGlite .local/pglite',
  logs: '.local/logs',
  producer: {
    stats: { invocations: 32, failedInvocations: 0, sent: 6_400, failed: 0, bytes: 512_000 },
    ratePerSecond: 99.96,
    plan: '2 s paced, back to back',
  },
  mapping: {
    stats: {
      state: 'running',
      batches: 64,
      records: 6_350,
      failedInvocations: 1,
      commitFailures: 0,
      buffered: 12,
    },
    totals: { accepted: 6_300, rejected: 40, deduplicated: 10 },
    lag: [
      { partition: 0, high: 2_100, committed: 2_090, lag: 10 },
      { partition: 1, high: 2_150, committed: 2_150, lag: 0 },
      { partition: 2, high: 2_150, committed: 2_110, lag: 40 },
    ],
  },
  positions: [
    { branch: 'Kazan', currency: 'EUR', position: '-1234567.5' },
    { branch: 'Kazan', currency: 'RUB', position: '42.00' },
    { branch: 'SPB', currency: 'RUB', position: '0.10' },
  ],
  lastError: { source: 'aggregator', message: 'connection reset', at: new Date('2025-01-01T10:00:30Z') },
};

describe('formatting', () => {
  it('groups NUMERIC strings exactly, without floats', () => {
    expect(formatAmount('-1234567.5')).toBe('-1,234,567.50');
    expect(formatAmount('12345678901234567890.07')).toBe('12,345,678,901,234,567,890.07');
    expect(formatAmount('0')).toBe('0.00');
    expect(formatAmount('not a number')).toBe('not a number');
  });

  it('formats uptime as hh:mm:ss', () => {
    expect(formatDuration(3_725_999)).toBe('01:02:05');
  });

  it('summarises lag per partition with the total', () => {
    expect(lagSummary(snapshot.mapping?.lag)).toBe('p0 10   p1 0   p2 40   (total 50)');
    expect(lagSummary(undefined)).toBe('n/a');
  });
});

describe('positionTable', () => {
  it('puts branches in rows and currencies in columns, with a dash where nothing was accepted', () => {
    const [header, kazan, spb] = positionTable(snapshot.positions ?? []);
    expect(header?.split(/\s+/).filter(Boolean)).toEqual(['Branch', 'EUR', 'RUB']);
    expect(kazan?.split(/\s+/).filter(Boolean)).toEqual(['Kazan', '-1,234,567.50', '42.00']);
    expect(spb?.split(/\s+/).filter(Boolean)).toEqual(['SPB', '-', '0.10']);
  });

  it('says so when there is nothing yet', () => {
    expect(positionTable([])).toEqual(['  (no accepted transactions yet)']);
  });
});

describe('renderDashboard', () => {
  it('shows every figure the operator watches', () => {
    const text = renderDashboard(snapshot).join('\n');
    expect(text).toContain('up 00:01:05');
    expect(text).toContain('sent 6,400   rate 100.0 msg/s');
    expect(text).toContain('batches 64   records 6,350   failed invocations 1   buffered 12   running');
    expect(text).toContain('accepted 6,300   rejected 40   deduplicated 10');
    expect(text).toContain('Lag        p0 10   p1 0   p2 40   (total 50)');
    expect(text).toContain('Open currency position');
    expect(text).toContain('Last error 10:00:30 aggregator: connection reset');
  });

  it('leaves out the parts a producer-only run does not have', () => {
    const { mapping: _mapping, positions: _positions, database: _database, ...producerOnly } = snapshot;
    const text = renderDashboard(producerOnly).join('\n');
    expect(text).not.toContain('Mapping');
    expect(text).not.toContain('Open currency position');
    expect(text).toContain('Producer');
  });
});

describe('renderStatusLine', () => {
  it('is one line of key=value pairs', () => {
    const line = renderStatusLine(snapshot);
    expect(line).not.toContain('\n');
    expect(line).toContain('sent=6400 rate=100.0/s');
    expect(line).toContain('accepted=6300 rejected=40 deduplicated=10 lag=50');
  });
});

describe('repaint', () => {
  it('homes the cursor, clears each line and below, and clips to the terminal width', () => {
    const output = repaint(['short', 'x'.repeat(30)], 10);
    expect(output.startsWith('\u001b[H')).toBe(true);
    expect(output.endsWith('\u001b[J')).toBe(true);
    expect(output).toContain('short\u001b[K');
    expect(output).toContain(`${'x'.repeat(9)}…\u001b[K`);
  });
});

describe('RateMeter', () => {
  it('averages over the window and forgets older samples', () => {
    const meter = new RateMeter(10_000);
    expect(meter.sample(0, 0)).toBe(0);
    expect(meter.sample(2_000, 200)).toBe(100);
    expect(meter.sample(4_000, 400)).toBe(100);
    // Nothing sent for 10 s: the old samples leave the window and the rate falls to zero.
    meter.sample(12_000, 400);
    expect(meter.sample(14_500, 400)).toBe(0);
  });
});
