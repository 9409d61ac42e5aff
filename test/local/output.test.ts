import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { routeOutputToLogs } from '../../local/output';

describe('routeOutputToLogs', () => {
  it("sends a function's Powertools logs to its own file and the rest to local.log", async () => {
    // Prepare
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-logs-'));
    const originalWrite = process.stdout.write;
    const router = routeOutputToLogs(dir);
    let logger: Logger;

    // Act
    try {
      logger = new Logger({ serviceName: 'aggregator' });
      await router.inChannel('aggregator', async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        logger.info('batch written', { accepted: 3 });
      });
      process.stdout.write('outside any invocation\n');
      process.stderr.write(Buffer.from('an error line\n'));
    } finally {
      await router.restore();
    }

    // Assess
    const aggregatorLog = fs.readFileSync(path.join(dir, 'aggregator.log'), 'utf8');
    const entry = JSON.parse(aggregatorLog.trim()) as Record<string, unknown>;
    expect(entry).toMatchObject({ message: 'batch written', accepted: 3, service: 'aggregator' });
    expect(fs.readFileSync(path.join(dir, 'local.log'), 'utf8')).toBe(
      'outside any invocation\nan error line\n',
    );
    expect(process.stdout.write).toBe(originalWrite);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('moves a log that has grown past 20 MB aside before appending to it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-logs-'));
    fs.writeFileSync(path.join(dir, 'local.log'), Buffer.alloc(21 * 1024 * 1024, 0x61));
    const router = routeOutputToLogs(dir);
    try {
      process.stdout.write('fresh\n');
    } finally {
      await router.restore();
    }
    expect(fs.readFileSync(path.join(dir, 'local.log'), 'utf8')).toBe('fresh\n');
    expect(fs.statSync(path.join(dir, 'local.log.1')).size).toBe(21 * 1024 * 1024);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
