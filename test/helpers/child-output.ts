import type { Readable } from 'node:stream';

export interface ChildOutput {
  stdout: string;
  stderr: string;
}

/**
 * Collects a child process's stdout and stderr as text while it runs; with `keepLast`, only that many trailing
 * characters of each, for children that log more than is worth holding.
 */
export function collectOutput(
  child: { readonly stdout: Readable; readonly stderr: Readable },
  keepLast = Number.POSITIVE_INFINITY,
): ChildOutput {
  const output: ChildOutput = { stdout: '', stderr: '' };
  const keep = (text: string): string => (text.length > keepLast ? text.slice(-keepLast) : text);
  child.stdout.on('data', (chunk: Buffer) => {
    output.stdout = keep(output.stdout + chunk.toString());
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output.stderr = keep(output.stderr + chunk.toString());
  });
  return output;
}
