import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimBroker, releaseBrokerClaim } from '../../local/broker-ownership';

let dir: string;
let file: string;

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-owner-'));
  file = path.join(dir, 'broker-owner.json');
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('claimBroker', () => {
  it('owns a broker this run started, until released', () => {
    expect(claimBroker(file, { started: true, pid: 4242 })).toBe(true);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ pid: process.pid, brokerPid: 4242 });
    releaseBrokerClaim(file);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('adopts the broker of a run that was killed', () => {
    fs.writeFileSync(file, JSON.stringify({ pid: deadPid(), brokerPid: 4242 }));
    expect(claimBroker(file, { started: false, pid: 4242 })).toBe(true);
  });

  it('leaves alone a broker started otherwise, or owned by a live run, or a different broker process', () => {
    expect(claimBroker(file, { started: false, pid: 4242 })).toBe(false);
    fs.writeFileSync(file, JSON.stringify({ pid: process.ppid, brokerPid: 4242 }));
    expect(claimBroker(file, { started: false, pid: 4242 })).toBe(false);
    fs.writeFileSync(file, JSON.stringify({ pid: deadPid(), brokerPid: 1111 }));
    expect(claimBroker(file, { started: false, pid: 4242 })).toBe(false);
  });

  it('does not release a claim it does not hold', () => {
    fs.writeFileSync(file, JSON.stringify({ pid: process.ppid, brokerPid: 4242 }));
    releaseBrokerClaim(file);
    expect(fs.existsSync(file)).toBe(true);
  });
});
