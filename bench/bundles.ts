import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { median, round } from './stats';

const REPO_ROOT = path.resolve(__dirname, '..');

export interface BundleOptions {
  /** Fresh processes per function and mode. */
  readonly loads: number;
}

export interface BundleResult {
  readonly name: string;
  readonly bytes: number;
  readonly sourceMapBytes: number;
  /**
   * Median time of `require(bundle)` in a fresh `node` process, as the runtime loads it at a cold start: the
   * bundle, the AWS SDK modules it requires, and its module-scope initialisation.
   */
  readonly loadMs: number;
  /** The same with `--enable-source-maps`, which the functions set in NODE_OPTIONS. */
  readonly loadWithSourceMapsMs: number;
}

/** The function entries (`lambda/<name>/index.ts`) present in the repository. */
export function functionNames(): string[] {
  return fs
    .readdirSync(path.join(REPO_ROOT, 'lambda'))
    .filter((name) => fs.existsSync(path.join(REPO_ROOT, 'lambda', name, 'index.ts')))
    .sort();
}

/**
 * The build settings of lib/constructs/pipeline-function.ts (NodejsFunction bundling): bundle, minify, CommonJS
 * for Node.js 24, the AWS SDK left to the runtime, source maps without the sources.
 */
export async function bundleFunction(name: string, outDir: string): Promise<{ file: string; map: string }> {
  const outfile = path.join(outDir, name, 'index.js');
  const result = await build({
    entryPoints: [path.join(REPO_ROOT, 'lambda', name, 'index.ts')],
    outfile,
    bundle: true,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    external: ['@aws-sdk/*'],
    logLevel: 'silent',
  });
  if (result.errors.length > 0) throw new Error(`Bundling ${name} failed: ${result.errors[0]?.text}`);
  return { file: outfile, map: `${outfile}.map` };
}

/**
 * Enough environment for each function's module scope to initialise without reaching any service: what is read
 * at load time must be present, nothing is connected until the handler runs.
 */
const LOAD_ENVIRONMENT: Record<string, string> = {
  DATABASE_URL: 'postgres://bench@127.0.0.1:1/bench',
  DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench',
  AGGREGATOR_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-aggregator',
  KAFKA_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_bench',
  AWS_REGION: 'us-east-1',
  POWERTOOLS_SERVICE_NAME: 'bench',
};

function loadOnce(file: string, sourceMaps: boolean): number {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6));`;
  const result = spawnSync(
    process.execPath,
    [...(sourceMaps ? ['--enable-source-maps'] : []), '-e', script],
    {
      // The AWS SDK is left out of the bundles because the runtime provides it; here it comes from node_modules.
      env: {
        PATH: process.env.PATH ?? '',
        NODE_PATH: path.join(REPO_ROOT, 'node_modules'),
        ...LOAD_ENVIRONMENT,
      },
      encoding: 'utf8',
    },
  );
  if (result.status !== 0) throw new Error(`Loading ${file} failed: ${result.stderr}`);
  return Number(result.stdout.trim());
}

/** Bundle size of every function as deployed and its module load time in fresh processes. */
export async function measureBundles(options: BundleOptions): Promise<BundleResult[]> {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-bundles-'));
  try {
    const results: BundleResult[] = [];
    for (const name of functionNames()) {
      const { file, map } = await bundleFunction(name, outDir);
      const plain: number[] = [];
      const withMaps: number[] = [];
      loadOnce(file, false);
      for (let i = 0; i < options.loads; i++) {
        plain.push(loadOnce(file, false));
        withMaps.push(loadOnce(file, true));
      }
      results.push({
        name,
        bytes: fs.statSync(file).size,
        sourceMapBytes: fs.statSync(map).size,
        loadMs: round(median(plain), 3),
        loadWithSourceMapsMs: round(median(withMaps), 3),
      });
    }
    return results;
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
}
