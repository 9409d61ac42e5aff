import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The functions write JSON logs and EMF metrics to stdout, as they must on Lambda. Locally that would tear the
 * terminal view apart, so while the pipeline runs everything written to stdout/stderr goes to a log file
 * instead, chosen by the channel the writing code runs in (a handler invocation runs in its function's
 * channel; anything else lands in `local.log`). Only the view writes to the terminal.
 */
export interface OutputRouter {
  readonly dir: string;
  /** Writes to the real terminal, bypassing the log files. */
  terminal(text: string): void;
  /** Runs `work` (and everything it awaits) with its output going to `<channel>.log`. */
  inChannel<T>(channel: string, work: () => Promise<T>): Promise<T>;
  /** Puts stdout and stderr back and closes the files. */
  restore(): Promise<void>;
}

const DEFAULT_CHANNEL = 'local';
/** A log past this size is moved to `<name>.log.1` (replacing the previous one) when a run first writes to it. */
const ROTATE_BYTES = 20 * 1024 * 1024;

function rotateIfLarge(file: string): void {
  try {
    if (fs.statSync(file).size > ROTATE_BYTES) fs.renameSync(file, `${file}.1`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

export function routeOutputToLogs(dir: string): OutputRouter {
  fs.mkdirSync(dir, { recursive: true });
  const channel = new AsyncLocalStorage<string>();
  const files = new Map<string, fs.WriteStream>();
  const fileFor = (name: string): fs.WriteStream => {
    let stream = files.get(name);
    if (stream === undefined) {
      const file = path.join(dir, `${name}.log`);
      rotateIfLarge(file);
      stream = fs.createWriteStream(file, { flags: 'a' });
      files.set(name, stream);
    }
    return stream;
  };

  const stdoutWrite = process.stdout.write;
  const stderrWrite = process.stderr.write;
  const toLog = (chunk: unknown, encodingOrCallback?: unknown, callback?: unknown): boolean => {
    const done = typeof encodingOrCallback === 'function' ? encodingOrCallback : callback;
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array);
    fileFor(channel.getStore() ?? DEFAULT_CHANNEL).write(text);
    if (typeof done === 'function') process.nextTick(done as () => void);
    return true;
  };
  process.stdout.write = toLog as typeof process.stdout.write;
  process.stderr.write = toLog as typeof process.stderr.write;

  return {
    dir,
    terminal(text) {
      stdoutWrite.call(process.stdout, text);
    },
    inChannel(name, work) {
      return channel.run(name, work);
    },
    async restore() {
      process.stdout.write = stdoutWrite;
      process.stderr.write = stderrWrite;
      await Promise.all(
        [...files.values()].map((stream) => new Promise<void>((resolve) => stream.end(() => resolve()))),
      );
      files.clear();
    },
  };
}
