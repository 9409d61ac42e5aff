import fs from 'node:fs';

/**
 * Whether a process with this pid exists. EPERM means it exists but belongs to someone else. A child that
 * exited but was not reaped yet (a zombie) still answers signal 0, so on Linux its state is read as well.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return true;
  }
}
