import fs from 'node:fs';
import { isAlive } from './process';

interface OwnerRecord {
  /** The `npm start` process that owns the broker. */
  readonly pid: number;
  readonly brokerPid: number;
}

function readOwner(file: string): OwnerRecord | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<OwnerRecord>;
    return typeof parsed.pid === 'number' && typeof parsed.brokerPid === 'number'
      ? { pid: parsed.pid, brokerPid: parsed.brokerPid }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decides whether this run owns the broker, i.e. must stop it when it stops. It does if it started it, or if
 * the broker is one a previous run started and then died without stopping (hard kill): without this, a kill
 * and a restart would leave that broker running for ever. A broker started some other way (the broker CLI, a
 * test run) is left alone. The owner is recorded in `file`.
 */
export function claimBroker(file: string, broker: { started: boolean; pid?: number }): boolean {
  if (broker.pid === undefined) return false;
  const previous = readOwner(file);
  const orphaned =
    previous !== undefined &&
    previous.brokerPid === broker.pid &&
    previous.pid !== process.pid &&
    !isAlive(previous.pid);
  if (!broker.started && !orphaned) return false;
  fs.writeFileSync(file, `${JSON.stringify({ pid: process.pid, brokerPid: broker.pid })}\n`);
  return true;
}

export function releaseBrokerClaim(file: string): void {
  if (readOwner(file)?.pid === process.pid) fs.rmSync(file, { force: true });
}
