import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cdkJsonContext, synthPipeline } from './synth';

/**
 * For every context key: values of the wrong type, and values of the right type but out of range. Each must fail
 * synthesis with a message naming the key. config.test.ts checks the exact wording for a selection of keys;
 * this table covers every key, so a key added to cdk.json without validation fails here.
 */
const INVALID: Readonly<Record<string, { readonly wrongType: unknown[]; readonly outOfRange: unknown[] }>> = {
  stackName: { wrongType: [42, true], outOfRange: ['x', 'a'.repeat(41), 'ends-', 'under_score'] },
  topic: { wrongType: [7, ['transaction']], outOfRange: ['', 'a'.repeat(250), 'tx/1', '.'] },
  partitions: { wrongType: ['three', 1.5, true], outOfRange: [0, 1001, -3] },
  kafkaVersion: { wrongType: [3.8, null], outOfRange: ['2.8.1', '3.7.x', '3.8.X'] },
  brokerInstanceType: { wrongType: [5, {}], outOfRange: ['m5.large', 'kafka.m5', 'KAFKA.M5.LARGE'] },
  brokerCount: { wrongType: ['two', 2.5], outOfRange: [0, 1, 32] },
  brokerVolumeGiB: { wrongType: ['20GB', false], outOfRange: [0, 16_385] },
  mskEnhancedMonitoring: { wrongType: [1, true], outOfRange: ['PER_TOPIC', 'default'] },
  postgresVersion: { wrongType: [17, 16.4], outOfRange: ['14', '18', '17.2'] },
  dbInstanceType: { wrongType: [null, 3], outOfRange: ['t4g.micro', 'db.t4g', 'db..micro'] },
  dbAllocatedStorageGiB: { wrongType: ['big', [20]], outOfRange: [19, 65_537] },
  dbMaxAllocatedStorageGiB: { wrongType: [[], '1TB'], outOfRange: [19, 65_537] },
  multiAz: { wrongType: ['yes', 1, null], outOfRange: [] },
  backupRetentionDays: { wrongType: ['week', 7.5], outOfRange: [0, 36] },
  deletionProtection: { wrongType: ['on', 0], outOfRange: [] },
  removalPolicy: { wrongType: [true, 1], outOfRange: ['delete', 'SNAPSHOT'] },
  iamAuthentication: { wrongType: ['no', {}], outOfRange: [] },
  natGateways: { wrongType: ['one', 0.5], outOfRange: [-1, 3] },
  consumerGroupId: { wrongType: [12, false], outOfRange: ['', 'x'.repeat(201), 'group#1'] },
  batchSize: { wrongType: ['lots', 100.5], outOfRange: [-1, 10_001] },
  batchingWindowSeconds: { wrongType: ['2s', 2.5], outOfRange: [-1, 301] },
  provisionedPollers: {
    wrongType: [5, true, ['1', '2']],
    outOfRange: [
      '0-2',
      '5-2',
      '1-2001',
      '201-300',
      { minimumPollers: 2 },
      { minimumPollers: 3, maximumPollers: 2 },
    ],
  },
  aggregatorMemoryMb: { wrongType: ['512MB', 512.5], outOfRange: [127, 10_241] },
  aggregatorTimeoutSeconds: { wrongType: ['minute', 60.5], outOfRange: [9, 901] },
  scheduleEnabled: { wrongType: ['enabled', 1], outOfRange: [] },
  scheduleRateMinutes: { wrongType: ['1m', 1.5], outOfRange: [0, 1441] },
  producerRate: { wrongType: ['fast', 10.5], outOfRange: [0, 100_001] },
  producerDurationSeconds: { wrongType: ['long', 30.5], outOfRange: [0, 51] },
  producerReservedConcurrency: { wrongType: ['none', true, 1.5], outOfRange: [0, 1001] },
  producerMemoryMb: { wrongType: ['x', 256.5], outOfRange: [64, 10_241] },
  producerBranches: { wrongType: [42, { Kazan: true }], outOfRange: [',Kazan', [' Kazan'], ['Kazan', '']] },
  producerCurrencies: { wrongType: [5, { RUB: 1 }], outOfRange: ['RUBL', 'RUB,usd', ['EU']] },
  producerAmountMin: { wrongType: ['low', 1.5, true], outOfRange: [-1_000_001, 1_000_001] },
  producerAmountMax: { wrongType: ['high', 2.5, false], outOfRange: [-1_000_001, 1_000_001] },
  logRetentionDays: { wrongType: ['month', 30.5], outOfRange: [2, 4000, 0] },
  offsetLagThreshold: { wrongType: ['many', 10.5], outOfRange: [0, 1_000_000_001] },
  alarmEmail: {
    wrongType: [5, ['ops@example.com']],
    outOfRange: ['ops@', 'ops example.com', '@example.com'],
  },
  bastion: { wrongType: ['true-ish', 1], outOfRange: [] },
};

/** The pipeline's own keys in cdk.json (the rest are CDK feature flags). */
function pipelineKeys(): string[] {
  return Object.keys(cdkJsonContext()).filter((key) => !key.startsWith('@') && !key.includes(':'));
}

const CASES = Object.entries(INVALID).flatMap(([key, { wrongType, outOfRange }]) => [
  ...wrongType.map((value) => [key, 'of the wrong type', value] as const),
  ...outOfRange.map((value) => [key, 'out of range', value] as const),
]);

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('configuration validation at synth time', () => {
  it('has invalid values for every key in cdk.json, of the wrong type and, unless boolean, out of range', () => {
    expect(Object.keys(INVALID).sort()).toEqual(pipelineKeys().sort());
    for (const [key, { wrongType, outOfRange }] of Object.entries(INVALID)) {
      expect(wrongType.length, key).toBeGreaterThan(0);
      if (typeof cdkJsonContext()[key] !== 'boolean') expect(outOfRange.length, key).toBeGreaterThan(0);
    }
  });

  it.each(CASES)('fails for %s %s: %j', (key, _kind, value) => {
    // Amount bounds are checked as a pair; the other end is set so that only this value is wrong.
    const partner =
      key === 'producerAmountMin'
        ? { producerAmountMax: 1_000_000 }
        : key === 'producerAmountMax'
          ? { producerAmountMin: -1_000_000 }
          : {};

    expect(() => synthPipeline({ ...partner, [key]: value })).toThrow(
      new RegExp(`^Invalid context "${escapeRegExp(key)}": .+, got .+`),
    );
  });

  it('accepts the cdk.json defaults, so each failure above is caused by its one value', () => {
    const synth = synthPipeline();
    synth.dispose();

    expect(synth.synthError).toBeUndefined();
  });

  it('stops `cdk synth -c` with the message and a non-zero exit code', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'config-synth-'));
    try {
      const result = spawnSync(
        path.join(__dirname, '..', '..', 'node_modules', '.bin', 'cdk'),
        ['synth', '--no-notices', '-o', outdir, '-c', 'aggregatorTimeoutSeconds=901'],
        { cwd: path.join(__dirname, '..', '..'), encoding: 'utf8', timeout: 60_000 },
      );

      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain(
        'Invalid context "aggregatorTimeoutSeconds": must be an integer from 10 to 900, got "901"',
      );
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
