import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LocalConfig } from '../../local/config';
import {
  brokerPaths,
  brokerStatus,
  isBrokerHealthy,
  startBroker,
  stopBroker,
} from '../../local/kafka/broker';
import { freePort } from '../helpers/free-port';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function waitForExit(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
}

function scratchConfig(port: number, controllerPort: number, dataDir: string): LocalConfig {
  return {
    dataDir,
    kafka: {
      brokers: [`127.0.0.1:${port}`],
      external: false,
      username: 'lifecycle',
      password: randomBytes(12).toString('hex'),
      topic: 'transaction',
      tls: false,
      port,
      controllerPort,
    },
  };
}

// A broker of its own (own data dir, ports and SCRAM user), so killing it cannot disturb the shared test broker.
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-lifecycle-'));
let config: LocalConfig | undefined;

afterAll(async () => {
  if (config) await stopBroker({ config, graceMs: 5_000 });
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('local broker lifecycle', () => {
  it('recovers from a hard kill, adopts an orphan and stops without leaving a process', async () => {
    // Prepare
    const port = await freePort();
    const controllerPort = await freePort();
    config = scratchConfig(port, controllerPort, dataDir);
    const first = await startBroker({ config });
    expect(first).toMatchObject({ started: true, brokers: [`127.0.0.1:${port}`] });
    const firstPid = first.pid ?? -1;

    // Act: kill -9 leaves a pid file and the data dir's .lock behind
    process.kill(firstPid, 'SIGKILL');
    await waitForExit(firstPid);
    const second = await startBroker({ config });

    // Assess
    expect(second.started).toBe(true);
    expect(second.pid).not.toBe(firstPid);
    expect(await isBrokerHealthy(config)).toBe(true);

    // Act: a broker whose pid file is gone is still found by its command line and reused
    fs.rmSync(brokerPaths(config).pidFile);
    const third = await startBroker({ config });

    // Assess
    expect(third).toMatchObject({ started: false, pid: second.pid });

    // Act
    const stopped = await stopBroker({ config });

    // Assess
    expect(stopped).toEqual([second.pid]);
    expect(isAlive(second.pid ?? -1)).toBe(false);
    expect(await brokerStatus(config)).toMatchObject({ running: false, healthy: false, pids: [] });
  });

  it('starts nothing when KAFKA_BROKERS names an external broker', async () => {
    // Prepare
    const external: LocalConfig = {
      dataDir,
      kafka: { ...scratchConfig(1, 2, dataDir).kafka, brokers: ['broker.example:9096'], external: true },
    };

    // Act
    const handle = await startBroker({ config: external });

    // Assess
    expect(handle).toEqual({ brokers: ['broker.example:9096'], started: false });
  });

  it('refuses credentials the storage formatter cannot carry', async () => {
    // Prepare
    const base = scratchConfig(1, 2, dataDir);
    const awkward: LocalConfig = { ...base, kafka: { ...base.kafka, password: 'a,b]' } };

    // Act
    const starting = startBroker({ config: awkward });

    // Assess
    await expect(starting).rejects.toThrow(/KAFKA_PASSWORD for the local broker must be printable ASCII/);
  });
});
