import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../../local/process';

describe('isAlive', () => {
  it('is true for a running process and false once it has exited', async () => {
    // Prepare
    const child = spawn('sleep', ['30']);
    const pid = child.pid as number;
    const running = isAlive(pid);

    // Act
    child.kill('SIGKILL');
    await once(child, 'exit');

    // Assess
    expect(running).toBe(true);
    expect(isAlive(process.pid)).toBe(true);
    expect(isAlive(pid)).toBe(false);
  });

  it('is false for a zombie, which still answers signal 0', async () => {
    // Prepare: the shell starts a short child and execs into sleep, which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30']);
    const [line] = (await once(parent.stdout, 'data')) as [Buffer];
    const zombie = Number(line.toString().trim());
    try {
      let state = '';
      for (let wait = 0; wait < 50 && !state.startsWith('Z'); wait++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        state = readState(zombie);
      }

      // Act
      const alive = isAlive(zombie);

      // Assess
      expect(state).toMatch(/^Z/);
      expect(() => process.kill(zombie, 0)).not.toThrow();
      expect(alive).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

function readState(pid: number): string {
  try {
    return /^\d+ \(.*\) (\S)/.exec(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? '';
  } catch {
    return '';
  }
}
