import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { databaseFromEnvironment, rdsTls, withTransaction } from '../../lambda/shared/database';

/** The first message a PostgreSQL client sends when it wants TLS: length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]);

interface FakeServer {
  readonly port: number;
  /** TLS handshakes the server completed (the client accepted its certificate). */
  readonly handshakes: () => number;
  /** Whether any client sent the SSLRequest before anything else. */
  readonly sslRequests: () => number;
  close(): Promise<void>;
}

/**
 * A server that answers the SSLRequest with "S" and then speaks TLS with the given certificate, like RDS with
 * rds.force_ssl=1, except that its certificate is not from the RDS CAs. After the handshake it hangs up.
 */
async function fakeTlsPostgres(key: string, cert: string): Promise<FakeServer> {
  let handshakes = 0;
  let sslRequests = 0;
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', (first) => {
      if (!first.subarray(0, 8).equals(SSL_REQUEST)) {
        socket.destroy();
        return;
      }
      sslRequests += 1;
      socket.write('S');
      const secure = new tls.TLSSocket(socket, { isServer: true, key, cert });
      secure.on('error', () => undefined);
      secure.once('secure', () => {
        handshakes += 1;
        secure.destroy();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    handshakes: () => handshakes,
    sslRequests: () => sslRequests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const secretsManager = mockClient(SecretsManagerClient);
let certificateDir: string;
let certificate: string;
let server: FakeServer;

beforeAll(async () => {
  // A throwaway self-signed certificate for 127.0.0.1, valid for a day.
  certificateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-rds-'));
  const keyFile = path.join(certificateDir, 'key.pem');
  const certFile = path.join(certificateDir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  certificate = fs.readFileSync(certFile, 'utf8');
  server = await fakeTlsPostgres(fs.readFileSync(keyFile, 'utf8'), certificate);
  process.env.AWS_REGION ??= 'us-east-1';
});

afterEach(() => {
  secretsManager.reset();
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(certificateDir, { recursive: true, force: true });
});

async function connectError(ssl: ConstructorParameters<typeof Client>[0]): Promise<Error> {
  const client = new Client({
    host: '127.0.0.1',
    port: server.port,
    user: 'aggregator',
    database: 'postgres',
    connectionTimeoutMillis: 5_000,
    ...(ssl as object),
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    return error as Error;
  } finally {
    await client.end().catch(() => undefined);
  }
  throw new Error('connected to a server that only hangs up');
}

describe('the aggregator’s PostgreSQL TLS', () => {
  it('requires a verified certificate from the RDS certificate authorities', () => {
    const config = rdsTls() as tls.ConnectionOptions;

    expect(config.rejectUnauthorized).toBe(true);
    const authorities = String(config.ca).match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    expect(authorities.length).toBeGreaterThan(10);
    expect(String(config.ca)).not.toContain(certificate.trim());
  });

  it('refuses a server whose certificate the RDS authorities did not issue', async () => {
    const handshakesBefore = server.handshakes();

    const error = await connectError({ ssl: rdsTls() });

    expect(error.message).toMatch(/self[- ]signed certificate|unable to verify|unable to get local issuer/i);
    expect(server.handshakes()).toBe(handshakesBefore);
  });

  it('completes the handshake with the same server once its certificate is trusted (the control case)', async () => {
    const handshakesBefore = server.handshakes();

    const error = await connectError({ ssl: { ca: certificate, rejectUnauthorized: true } });

    expect(error.message).not.toMatch(/certificate|verify/i);
    expect(server.handshakes()).toBe(handshakesBefore + 1);
  });

  it('applies that verification on the function’s own path: the RDS secret named by DB_SECRET_ARN', async () => {
    // Prepare
    const secretId = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:aggregator-tls-test';
    secretsManager.on(GetSecretValueCommand, { SecretId: secretId }).resolves({
      SecretString: JSON.stringify({
        host: '127.0.0.1',
        port: server.port,
        dbname: 'postgres',
        username: 'aggregator',
        password: 'generated-by-secrets-manager',
      }),
    });
    const saved = { url: process.env.DATABASE_URL, arn: process.env.DB_SECRET_ARN };
    delete process.env.DATABASE_URL;
    process.env.DB_SECRET_ARN = secretId;
    const requestsBefore = server.sslRequests();
    const database = databaseFromEnvironment('transaction-aggregator');

    try {
      // Act
      const attempt = withTransaction(database, async () => undefined);

      // Assess
      await expect(attempt).rejects.toThrow(
        /self[- ]signed certificate|unable to verify|unable to get local issuer/i,
      );
      expect(server.sslRequests()).toBe(requestsBefore + 1);
    } finally {
      await database.end();
      if (saved.url === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved.url;
      if (saved.arn === undefined) delete process.env.DB_SECRET_ARN;
      else process.env.DB_SECRET_ARN = saved.arn;
    }
  });
});
