import { PGlite } from '@electric-sql/pglite';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteServer, ReadyForQueryTracker } from '../../local/pglite-server';

function message(type: string, body: number[]): number[] {
  const length = body.length + 4;
  return [
    type.charCodeAt(0),
    length >>> 24,
    (length >>> 16) & 255,
    (length >>> 8) & 255,
    length & 255,
    ...body,
  ];
}

describe('ReadyForQueryTracker', () => {
  const commandComplete = message('C', [...Buffer.from('INSERT 0 1\0')]);
  const readyIdle = message('Z', ['I'.charCodeAt(0)]);
  const readyInTransaction = message('Z', ['T'.charCodeAt(0)]);

  it('is idle only after ReadyForQuery with status I', () => {
    const idle = new ReadyForQueryTracker();
    idle.feed(Uint8Array.from([...commandComplete, ...readyIdle]));
    expect(idle.idle).toBe(true);

    const inTransaction = new ReadyForQueryTracker();
    inTransaction.feed(Uint8Array.from([...commandComplete, ...readyInTransaction]));
    expect(inTransaction.idle).toBe(false);

    const parseComplete = new ReadyForQueryTracker();
    parseComplete.feed(Uint8Array.from(message('1', [])));
    expect(parseComplete.idle).toBe(false);
  });

  it('follows messages split across chunks at any byte', () => {
    const bytes = [...commandComplete, ...readyIdle];
    for (let cut = 1; cut < bytes.length; cut += 1) {
      const tracker = new ReadyForQueryTracker();
      tracker.feed(Uint8Array.from(bytes.slice(0, cut)));
      expect(tracker.idle).toBe(false);
      tracker.feed(Uint8Array.from(bytes.slice(cut)));
      expect(tracker.idle).toBe(true);
    }
  });

  it('is not fooled by a row whose data looks like ReadyForQuery', () => {
    const tracker = new ReadyForQueryTracker();
    tracker.feed(Uint8Array.from(message('D', [0, 1, 0, 0, 0, 6, ...readyIdle])));
    expect(tracker.idle).toBe(false);
  });
});

describe('PgliteServer', () => {
  let db: PGlite;
  let server: PgliteServer;
  const clients: Client[] = [];

  async function connect(): Promise<Client> {
    const client = new Client({ connectionString: server.url() });
    await client.connect();
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    db = await PGlite.create();
    server = new PgliteServer({ db });
    await server.start();
    const setup = await connect();
    await setup.query('CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL)');
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    await server.stop();
    await db.close();
  });

  it('serves concurrent clients mixing parameterised queries and transactions without interference', async () => {
    // Prepare
    const [a, b, c] = await Promise.all([connect(), connect(), connect()]);
    const writeAndRead = async (client: Client, base: number) => {
      for (let i = 0; i < 60; i += 1) {
        await client.query('INSERT INTO items (id, label) VALUES ($1, $2)', [base + i, `p${base + i}`]);
        const { rows } = await client.query('SELECT label FROM items WHERE id = $1', [base + i]);
        expect(rows[0]?.label).toBe(`p${base + i}`);
      }
    };
    const transactions = async (client: Client, base: number) => {
      for (let i = 0; i < 20; i += 1) {
        await client.query('BEGIN');
        await client.query('INSERT INTO items (id, label) VALUES ($1, $2)', [base + i, 'tx']);
        await client.query('UPDATE items SET label = $2 WHERE id = $1', [base + i, `t${base + i}`]);
        await client.query('COMMIT');
      }
    };

    // Act
    await Promise.all([writeAndRead(a, 1_000), writeAndRead(b, 2_000), transactions(c, 3_000)]);

    // Assess
    const { rows } = await a.query(
      "SELECT count(*)::int AS n FROM items WHERE label LIKE 'p%' OR label LIKE 't%'",
    );
    expect(rows[0]?.n).toBe(140);
  });

  it('rolls back the transaction of a client that vanishes and lets the others continue', async () => {
    // Prepare
    const doomed = await connect();
    doomed.on('error', () => undefined);
    const survivor = await connect();
    await doomed.query('BEGIN');
    await doomed.query('INSERT INTO items (id, label) VALUES ($1, $2)', [9_000, 'uncommitted']);

    // Act
    (doomed as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const { rows } = await survivor.query('SELECT count(*)::int AS n FROM items WHERE id = $1', [9_000]);

    // Assess
    expect(rows[0]?.n).toBe(0);
    expect(db.isInTransaction()).toBe(false);
  });

  it('rolls back an open transaction when a client ends its session', async () => {
    const leaving = new Client({ connectionString: server.url() });
    await leaving.connect();
    await leaving.query('BEGIN');
    await leaving.query('INSERT INTO items (id, label) VALUES ($1, $2)', [9_001, 'uncommitted']);
    await leaving.end();
    const other = await connect();
    const { rows } = await other.query('SELECT count(*)::int AS n FROM items WHERE id = $1', [9_001]);
    expect(rows[0]?.n).toBe(0);
  });
});
