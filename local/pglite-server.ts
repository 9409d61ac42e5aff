import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketHandler, type PGLiteSocketHandlerOptions } from '@electric-sql/pglite-socket';

/** Backend message type of ReadyForQuery; its one-byte body is the transaction status. */
const READY_FOR_QUERY = 0x5a;
const STATUS_IDLE = 0x49;
const TERMINATE = 0x58;
const SYNC_MESSAGE = new Uint8Array([0x53, 0, 0, 0, 4]);

function simpleQueryMessage(sql: string): Uint8Array {
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const message = Buffer.alloc(5 + text.length);
  message.writeUInt8(0x51, 0);
  message.writeInt32BE(4 + text.length, 1);
  text.copy(message, 5);
  return message;
}

/**
 * Follows the backend's replies across chunks and remembers whether the last complete message was
 * ReadyForQuery with status idle: the only point at which the session is free for another client.
 */
export class ReadyForQueryTracker {
  private header: number[] = [];
  private remaining = 0;
  private type = 0;
  private lastType = 0;
  private lastStatus = 0;

  feed(data: Uint8Array): void {
    let index = 0;
    while (index < data.length) {
      if (this.remaining === 0) {
        this.header.push(data[index] ?? 0);
        index += 1;
        if (this.header.length === 5) {
          const [type = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0] = this.header;
          this.type = type;
          this.remaining = ((b1 << 24) | (b2 << 16) | (b3 << 8) | b4) - 4;
          this.header = [];
          if (this.remaining <= 0) this.complete(0);
        }
        continue;
      }
      const take = Math.min(this.remaining, data.length - index);
      const lastByte = data[index + take - 1] ?? 0;
      index += take;
      this.remaining -= take;
      if (this.remaining === 0) this.complete(lastByte);
    }
  }

  /** True when the session is idle outside a transaction and outside an extended-protocol exchange. */
  get idle(): boolean {
    return this.lastType === READY_FOR_QUERY && this.lastStatus === STATUS_IDLE && this.remaining === 0;
  }

  private complete(lastByte: number): void {
    this.lastType = this.type;
    this.lastStatus = this.type === READY_FOR_QUERY ? lastByte : 0;
  }
}

interface PendingMessage {
  readonly handlerId: number;
  readonly message: Uint8Array;
  readonly onData: (data: Uint8Array) => void;
  readonly resolve: (bytes: number) => void;
  readonly reject: (error: Error) => void;
}

/**
 * PGlite is one PostgreSQL backend, so every client shares one session. pglite-socket's own queue interleaves
 * clients message by message and keeps a client exclusive only inside an explicit transaction; between Parse
 * and Sync of the extended protocol (every parameterised `pg` query) another client's message can replace the
 * unnamed statement or portal ("portal "" cannot be run"). This queue keeps one client exclusive from its first
 * message until the backend is idle again (ReadyForQuery 'I'), which serialises whole queries and transactions.
 */
export class SessionQueue {
  private pending: PendingMessage[] = [];
  private owner: number | undefined;
  private executing: number | undefined;
  private readonly disconnected = new Set<number>();
  private draining = false;

  constructor(private readonly db: PGlite) {}

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending.push({ handlerId, message, onData, resolve, reject });
      void this.drain();
    });
  }

  clearQueueForHandler(handlerId: number): void {
    const dropped = this.pending.filter((pending) => pending.handlerId === handlerId);
    this.pending = this.pending.filter((pending) => pending.handlerId !== handlerId);
    for (const pending of dropped) pending.reject(new Error('Client disconnected'));
  }

  /** A client that disconnects mid-exchange or mid-transaction must not leave the shared session dirty. */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    if (this.owner !== handlerId && this.executing !== handlerId) return;
    this.disconnected.add(handlerId);
    await this.drain();
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      for (;;) {
        if (this.owner !== undefined && this.disconnected.has(this.owner)) {
          await this.resetSession();
          this.disconnected.delete(this.owner);
          this.owner = undefined;
          continue;
        }
        const index =
          this.owner === undefined
            ? 0
            : this.pending.findIndex((pending) => pending.handlerId === this.owner);
        const next = index < 0 ? undefined : this.pending[index];
        if (next === undefined) return;
        this.pending.splice(index, 1);
        await this.execute(next);
      }
    } finally {
      this.draining = false;
    }
  }

  /** Ends an unfinished extended-protocol exchange (Sync) and rolls back an open transaction. */
  private async resetSession(): Promise<void> {
    // The replies go nowhere: the client is gone. (PGlite's non-streaming execProtocolRaw would send them to
    // the last streaming callback, which belongs to another client.)
    const discard = { onRawData: () => undefined };
    await this.db.runExclusive(async () => {
      await this.db.execProtocolRawStream(SYNC_MESSAGE, discard);
      if (this.db.isInTransaction())
        await this.db.execProtocolRawStream(simpleQueryMessage('ROLLBACK'), discard);
    });
  }

  private async execute(pending: PendingMessage): Promise<void> {
    const tracker = new ReadyForQueryTracker();
    let bytes = 0;
    this.executing = pending.handlerId;
    try {
      await this.db.runExclusive(() =>
        this.db.execProtocolRawStream(pending.message, {
          onRawData: (data) => {
            bytes += data.length;
            tracker.feed(data);
            pending.onData(data);
          },
        }),
      );
    } catch (error) {
      this.owner = pending.handlerId;
      this.disconnected.add(pending.handlerId);
      pending.reject(error instanceof Error ? error : new Error(String(error)));
      return;
    } finally {
      this.executing = undefined;
    }
    this.owner = tracker.idle ? undefined : pending.handlerId;
    if (tracker.idle) this.disconnected.delete(pending.handlerId);
    // A real backend exits on Terminate and rolls back; the shared one must be reset instead.
    if (pending.message[0] === TERMINATE) {
      this.owner = pending.handlerId;
      this.disconnected.add(pending.handlerId);
    }
    pending.resolve(bytes);
  }
}

export interface PgliteServerOptions {
  readonly db: PGlite;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 0 */
  readonly port?: number;
}

/** A PostgreSQL wire-protocol server in front of an in-process PGlite, safe for several `pg` clients at once. */
export class PgliteServer {
  private server: Server | undefined;
  private readonly handlers = new Set<PGLiteSocketHandler>();
  private readonly queue: SessionQueue;
  private address: { host: string; port: number } | undefined;

  constructor(private readonly options: PgliteServerOptions) {
    this.queue = new SessionQueue(options.db);
  }

  async start(): Promise<{ host: string; port: number }> {
    await this.options.db.waitReady;
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    if (bound === null || typeof bound === 'string') throw new Error('The PGlite server has no TCP address');
    this.address = { host, port: bound.port };
    return this.address;
  }

  /** A connection URL for `pg`; PGlite accepts any user and password, and its one database is `postgres`. */
  url(): string {
    if (this.address === undefined) throw new Error('The PGlite server is not started');
    return `postgresql://postgres@${this.address.host}:${this.address.port}/postgres`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all([...this.handlers].map((handler) => handler.detach(true)));
    this.handlers.clear();
    await closed;
  }

  private accept(socket: Socket): void {
    const handler = new PGLiteSocketHandler({
      // The handler only calls enqueue, clearQueueForHandler and clearTransactionIfNeeded on its queue.
      queryQueue: this.queue as unknown as PGLiteSocketHandlerOptions['queryQueue'],
      closeOnDetach: true,
    });
    this.handlers.add(handler);
    const forget = () => this.handlers.delete(handler);
    handler.addEventListener('close', forget);
    handler.addEventListener('error', forget);
    handler.attach(socket).catch(() => {
      forget();
      socket.destroy();
    });
  }
}
