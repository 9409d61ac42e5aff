import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/** Cold starts grow with the code Lambda has to load; the producer is invoked every minute. */
const MAX_BUNDLE_BYTES = 400 * 1024;

describe('producer bundle', () => {
  it('stays under 400 KB minified with the AWS SDK left to the runtime', async () => {
    const result = await build({
      entryPoints: [path.join(__dirname, '../../lambda/producer/index.ts')],
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external: ['@aws-sdk/*'],
      write: false,
      logLevel: 'silent',
    });

    const bytes = result.outputFiles.reduce((sum, file) => sum + file.contents.byteLength, 0);
    expect(result.errors).toEqual([]);
    expect(bytes).toBeGreaterThan(50 * 1024);
    expect(bytes).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
  });
});
