/**
 * Swallows what the functions print to stdout (Powertools JSON logs and EMF metrics) while counting it: on AWS
 * those bytes are CloudWatch Logs ingestion, a cost term. The bench's own progress goes to stderr.
 */
export class StdoutMeter {
  bytes = 0;
  lines = 0;
  private original: typeof process.stdout.write | undefined;

  start(): void {
    if (this.original !== undefined) return;
    const original = process.stdout.write;
    this.original = original;
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      this.bytes += Buffer.byteLength(text);
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.lines++;
      const callback = rest.find((arg): arg is () => void => typeof arg === 'function');
      if (callback !== undefined) process.nextTick(callback);
      return true;
    }) as typeof process.stdout.write;
  }

  stop(): void {
    if (this.original === undefined) return;
    process.stdout.write = this.original;
    this.original = undefined;
  }

  reset(): void {
    this.bytes = 0;
    this.lines = 0;
  }
}

export const stdoutMeter = new StdoutMeter();

export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
