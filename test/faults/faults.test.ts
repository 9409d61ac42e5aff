import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, runFaults } from './harness';

const RECORDS = 20_000;
const ROUNDS = 2;

/**
 * The short variant of `npm run test:faults`: the same runner with fewer records, every fault twice. It starts a
 * broker of its own, so it does not touch the broker the other test files share.
 */
describe('fault injection through the local pipeline', () => {
  it('keeps exactly-once totals through every kind of fault, each injected twice', async () => {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');

    const report = await runFaults({
      records: RECORDS,
      rounds: ROUNDS,
      redeliverRecords: 1_000,
      logDir: path.resolve(__dirname, '..', '..', '.local', 'faults', `ci-${stamp}`),
    });

    console.warn(`${report.line} (${(report.durationMs / 1000).toFixed(1)} s)`);
    expect(report.problems).toEqual([]);
    expect(report.secretFindings).toEqual([]);
    expect(report.differenceCents).toBe(0n);
    for (const kind of FAULT_KINDS) expect(report.injected[kind]).toBe(ROUNDS);
    expect(report.sent).toBe(RECORDS);
    expect(report.accepted + report.rejected).toBe(RECORDS);
    expect(report.rejected).toBeGreaterThan(0);
    expect(report.duplicatesSuppressed).toBeGreaterThan(0);
    expect(report.line).toMatch(
      new RegExp(
        `^faults: ${FAULT_KINDS.length * ROUNDS} injected \\((?:[a-z-]+=\\d+(?:, )?){${FAULT_KINDS.length}}\\); ` +
          `records: sent ${RECORDS}, accepted ${report.accepted}, rejected ${report.rejected}, ` +
          `duplicates suppressed ${report.duplicatesSuppressed}; difference 0$`,
      ),
    );
  }, 240_000);
});
