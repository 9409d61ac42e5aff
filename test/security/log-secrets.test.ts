import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import type { MSKEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LOCAL_KAFKA_PASSWORD } from '../../local/config';
import { mskEvent } from '../helpers/msk-events';
import { filesUnder, scanFiles, scanText } from './secret-scan';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const LOG_FILE = /\.(log|out)(\.\d+)?$/;

/** Everything written to stdout and stderr while `work` runs (the Powertools logger writes there). */
async function captureOutput(work: () => Promise<unknown>): Promise<string> {
  const chunks: string[] = [];
  const record = (chunk: unknown) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(record);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(record);
  try {
    await work().catch(() => undefined);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return chunks.join('');
}

describe('scanText', () => {
  it('finds a secret written verbatim and password-shaped assignments, naming neither', () => {
    const secret = 'Zq8vLr2wPx7N';
    const text = [
      `{"level":"ERROR","message":"connect failed","detail":"auth ${secret} rejected"}`,
      '{"level":"INFO","config":{"user":"aggregator","password":"hunter22"}}',
      'sasl.password=hunter22',
      'postgres://aggregator:hunter22@db.example:5432/postgres',
    ].join('\n');

    const findings = scanText(text, [secret], 'app.log');

    expect(findings.map((f) => [f.line, f.what])).toEqual([
      [1, 'secret #1 verbatim'],
      [2, 'a JSON "password" field with a value'],
      [3, 'a password setting with a value'],
      [4, 'credentials in a connection URL'],
    ]);
    expect(JSON.stringify(findings)).not.toContain(secret);
  });

  it('accepts placeholders and messages that merely mention passwords', () => {
    const text = [
      '\tssl.key.password = null',
      '\tsasl.jaas.config = [hidden]',
      '{"message":"password authentication failed for user \\"aggregator\\""}',
      '{"password":""}',
      'postgres://aggregator@127.0.0.1:5432/postgres',
      'password.encoder.iterations = 4096',
    ].join('\n');

    expect(scanText(text, ['pipeline-local'])).toEqual([]);
  });
});

/**
 * A server that asks for a cleartext password (so the client sends it), then refuses it as PostgreSQL does
 * (SQLSTATE 28P01); or, when `reset`, drops every connection at once.
 */
async function passwordRefusingPostgres(): Promise<{ port: number; reset: boolean; close(): Promise<void> }> {
  const state = { reset: false };
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    if (state.reset) {
      socket.resetAndDestroy();
      return;
    }
    let stage = 0;
    socket.on('data', () => {
      if (stage === 0) {
        // AuthenticationCleartextPassword
        socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]));
        stage = 1;
        return;
      }
      const fields = Buffer.concat([
        Buffer.from('SFATAL\0'),
        Buffer.from('C28P01\0'),
        Buffer.from('Mpassword authentication failed for user "aggregator"\0'),
        Buffer.from('\0'),
      ]);
      const header = Buffer.alloc(5);
      header.write('E', 0);
      header.writeInt32BE(fields.length + 4, 1);
      socket.end(Buffer.concat([header, fields]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get reset() {
      return state.reset;
    },
    set reset(value: boolean) {
      state.reset = value;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('log lines written on failure paths', () => {
  const databasePassword = randomBytes(18).toString('base64url');
  const kafkaPassword = randomBytes(18).toString('base64url');
  let database: Awaited<ReturnType<typeof passwordRefusingPostgres>>;
  const saved = { ...process.env };

  beforeAll(async () => {
    database = await passwordRefusingPostgres();
  });

  afterEach(() => {
    vi.resetModules();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  afterAll(async () => {
    await database.close();
  });

  it('never contain the aggregator’s database password when PostgreSQL refuses it or goes away', async () => {
    // Prepare
    process.env.DATABASE_URL = `postgres://aggregator:${databasePassword}@127.0.0.1:${database.port}/pipeline`;
    process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    const { handler } = await import('../../lambda/aggregator/index.js');
    const event = mskEvent([
      { partition: 0, offset: 0, value: { branch: 'Kazan', currency: 'RUB', amount: 1 } },
    ]);

    // Act
    database.reset = false;
    const refused = await captureOutput(() => handler(event as MSKEvent));
    database.reset = true;
    const unreachable = await captureOutput(() => handler(event as MSKEvent));

    // Assess: the failures were logged, without the password.
    expect(refused).toContain('password authentication failed');
    expect(unreachable).toContain('Batch not applied');
    expect(scanText(`${refused}\n${unreachable}`, [databasePassword])).toEqual([]);
  });

  it('never contain the SCRAM password when the broker rejects it', async () => {
    // Prepare: the shared test broker, with a password it does not know.
    process.env.KAFKA_PASSWORD = kafkaPassword;
    process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    const { handler, closeProducer } = await import('../../lambda/producer/index.js');

    // Act
    const output = await captureOutput(() => handler({ mode: 'burst', count: 1 }));
    await closeProducer().catch(() => undefined);

    // Assess
    expect(output).toMatch(/SASL|authentication/i);
    expect(scanText(output, [kafkaPassword])).toEqual([]);
  });
});

describe('log files the local runtime and the fault runs wrote', () => {
  it('hold neither the local SCRAM password nor anything password-shaped', () => {
    const files = [
      ...filesUnder(path.join(REPO_ROOT, '.local', 'logs'), LOG_FILE),
      ...filesUnder(path.join(REPO_ROOT, '.local', 'faults'), LOG_FILE),
      ...filesUnder(path.join(REPO_ROOT, '.local', 'kafka', 'logs'), LOG_FILE),
    ];

    const findings = scanFiles(files, [LOCAL_KAFKA_PASSWORD]).map(
      (finding) => `${path.relative(REPO_ROOT, finding.file)}:${finding.line} ${finding.what}`,
    );

    expect(findings).toEqual([]);
  });
});
