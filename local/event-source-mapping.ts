import type { MSKEvent } from 'aws-lambda';
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { partitionKey } from '../lambda/aggregator/offset-ledger';
import {
  type BatchingPolicy,
  DEFAULT_BATCHING,
  RecordBuffer,
  retryDelayMs,
  validateBatchingPolicy,
} from './batching';
import { buildMskEvent, LOCAL_EVENT_SOURCE_ARN, offsetsToCommit, recordCount } from './msk-event';
import { fromKafkaMessage, type MskEvent, toMskRecord } from './msk-record';

export type MskHandler = (event: MSKEvent) => Promise<unknown>;

export interface EventSourceMappingOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  /** The consumer group; the aggregator's offset ledger is keyed by the same id (`CONSUMER_GROUP_ID`). */
  readonly groupId: string;
  /** Reported to the function as `bootstrapServers`, as MSK does. */
  readonly brokers: readonly string[];
  readonly handler: MskHandler;
  /** @default DEFAULT_BATCHING (100 records, 2 s window, 6 MB payload) */
  readonly batching?: Partial<BatchingPolicy>;
  /** Where a group without committed offsets starts. @default 'TRIM_HORIZON' */
  readonly startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /** @default LOCAL_EVENT_SOURCE_ARN */
  readonly eventSourceArn?: string;
  /** Backoff between retries of a failed batch. @default { baseMs: 500, maxMs: 10_000 } */
  readonly retry?: { readonly baseMs: number; readonly maxMs: number };
  /**
   * Fetched records held in memory before fetching pauses; a failing function must not make the poller read
   * the whole topic into memory. @default 10 × batch size
   */
  readonly maxBufferedRecords?: number;
  /**
   * Kafka's session timeout. Short, so that after a hard kill the next start is not held up waiting for the
   * dead member to be expelled from the group. @default 6_000 (the broker's minimum)
   */
  readonly sessionTimeoutMs?: number;
  /**
   * Like the function timeout on AWS: an invocation still running after this counts as failed and the batch is
   * retried. (Unlike on AWS the late invocation is not killed; the function's idempotency covers it finishing.)
   * @default 60_000
   */
  readonly invocationTimeoutMs?: number;
  /** Called with each successful result, before the offsets are committed. */
  readonly onResult?: (result: unknown, event: MskEvent) => void;
  /** Called with each failed invocation; the batch is retried after a backoff. */
  readonly onError?: (error: unknown, attempt: number) => void;
  /**
   * Runs after the function succeeded and before the offsets are committed: the window in which a crash makes
   * Kafka deliver the same records again. Throwing here counts as a failed invocation.
   */
  readonly afterInvoke?: (event: MskEvent, result: unknown) => void | Promise<void>;
}

export interface MappingStats {
  readonly state: 'created' | 'running' | 'retrying' | 'stopping' | 'stopped';
  /** Successful invocations. */
  readonly batches: number;
  /** Records in successful invocations (a redelivered record counts again, as on AWS). */
  readonly records: number;
  readonly failedInvocations: number;
  readonly commitFailures: number;
  readonly buffered: number;
  readonly lastError?: { readonly message: string; readonly at: Date };
  readonly lastBatchAt?: Date;
}

export interface PartitionLag {
  readonly partition: number;
  readonly high: number;
  /** The group's committed offset; the partition's low watermark when nothing is committed yet. */
  readonly committed: number;
  readonly lag: number;
}

/** Resolves when notified or after `ms`, whichever comes first. */
class Wakeup {
  private waiters: Array<() => void> = [];

  wait(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, Math.max(0, ms));
      const waiters = this.waiters;
      function done(): void {
        if (timer !== undefined) clearTimeout(timer);
        const index = waiters.indexOf(done);
        if (index >= 0) waiters.splice(index, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/**
 * The Lambda event source mapping for Amazon MSK, run locally: a consumer in the function's consumer group
 * polls the topic, batches records by size and window into exactly the event MSK would send, invokes the
 * function, and commits offsets only after it returns. A failed invocation is retried with backoff without
 * committing, so delivery is at-least-once, as on AWS; the function's idempotency makes it exactly-once in
 * effect.
 */
export class EventSourceMapping {
  private readonly policy: BatchingPolicy;
  private readonly buffer = new RecordBuffer();
  private readonly wakeup = new Wakeup();
  private readonly drained = new Wakeup();
  private readonly stopping = new Wakeup();
  private readonly maxBuffered: number;
  private consumer: Consumer | undefined;
  private admin: Admin | undefined;
  private loop: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private state: MappingStats['state'] = 'created';
  private inFlight = false;
  private counters = { batches: 0, records: 0, failedInvocations: 0, commitFailures: 0 };
  private lastError: MappingStats['lastError'];
  private lastBatchAt: Date | undefined;

  constructor(private readonly options: EventSourceMappingOptions) {
    this.policy = validateBatchingPolicy({ ...DEFAULT_BATCHING, ...options.batching });
    this.maxBuffered = options.maxBufferedRecords ?? this.policy.batchSize * 10;
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new Error('The event source mapping can only be started once');
    const { kafka, topic, groupId } = this.options;
    const sessionTimeout = this.options.sessionTimeoutMs ?? 6_000;
    const consumer = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      sessionTimeout,
      heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 5)),
      // Bounds how long a stop waits for an idle fetch to return.
      maxWaitTimeInMs: 1_000,
    });
    const admin = kafka.admin();
    this.consumer = consumer;
    this.admin = admin;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assigned = new Set<string>();
      for (const [assignedTopic, partitions] of Object.entries(payload.memberAssignment)) {
        for (const partition of partitions) assigned.add(partitionKey(assignedTopic, partition));
      }
      this.buffer.retainPartitions(assigned);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => this.recordError(payload.error));
    await admin.connect();
    await consumer.connect();
    await consumer.subscribe({
      topic,
      fromBeginning: (this.options.startingPosition ?? 'TRIM_HORIZON') === 'TRIM_HORIZON',
    });
    // Stopped while connecting (an interrupt during start-up): do not start polling.
    if (this.stopped !== undefined) return;
    this.state = 'running';
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.onFetched(payload),
    });
    this.loop = this.flushLoop().catch((error: unknown) => {
      // A poller whose loop died must not stay in the group holding its partitions.
      this.recordError(error);
      void this.stop();
    });
  }

  /** Finishes the invocation in flight (and commits it), then leaves the group. Safe to call more than once. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.state = 'stopping';
    this.wakeup.notify();
    this.drained.notify();
    this.stopping.notify();
    await this.loop;
    await this.consumer?.disconnect();
    await this.admin?.disconnect();
    this.state = 'stopped';
  }

  stats(): MappingStats {
    return {
      state: this.state,
      ...this.counters,
      buffered: this.buffer.size,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      ...(this.lastBatchAt === undefined ? {} : { lastBatchAt: this.lastBatchAt }),
    };
  }

  /** Offset lag per partition: the high watermark minus the group's committed offset, as `OffsetLag` on AWS. */
  async lag(): Promise<PartitionLag[]> {
    const admin = this.admin;
    if (admin === undefined) throw new Error('The event source mapping is not started');
    const { topic, groupId } = this.options;
    const [topicOffsets, groupOffsets] = await Promise.all([
      admin.fetchTopicOffsets(topic),
      admin.fetchOffsets({ groupId, topics: [topic] }),
    ]);
    const committedByPartition = new Map(
      (groupOffsets.find((entry) => entry.topic === topic)?.partitions ?? []).map((entry) => [
        entry.partition,
        Number(entry.offset),
      ]),
    );
    return topicOffsets
      .map(({ partition, high, low }) => {
        const committedOffset = committedByPartition.get(partition) ?? -1;
        const committed = committedOffset < 0 ? Number(low) : committedOffset;
        return { partition, high: Number(high), committed, lag: Math.max(0, Number(high) - committed) };
      })
      .sort((a, b) => a.partition - b.partition);
  }

  /** Resolves once every record written to the topic so far has been handled and committed. */
  async waitUntilCaughtUp(timeoutMs: number): Promise<PartitionLag[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lag = await this.lag();
      if (lag.every((partition) => partition.lag === 0) && this.buffer.size === 0 && !this.inFlight) {
        return lag;
      }
      if (Date.now() > deadline) {
        const { lastError: _lastError, ...stats } = this.stats();
        const error = this.lastError === undefined ? '' : `; last error: ${this.lastError.message}`;
        throw new Error(
          `Not caught up after ${timeoutMs} ms: lag ${JSON.stringify(lag)}, in flight ${this.inFlight}, ` +
            `${JSON.stringify(stats)}${error}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private async onFetched({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) {
    const receivedAt = Date.now();
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break;
      this.buffer.push(toMskRecord(fromKafkaMessage(batch.topic, batch.partition, message)), receivedAt);
      // Resolving only moves the fetch position on; nothing is committed until the function has returned.
      resolveOffset(message.offset);
    }
    this.wakeup.notify();
    while (this.buffer.size >= this.maxBuffered && isRunning() && this.state === 'running') {
      await heartbeat();
      await this.drained.wait(1_000);
    }
  }

  private async flushLoop(): Promise<void> {
    while (this.isActive()) {
      const decision = this.buffer.decide(this.policy, Date.now());
      if (!decision.flush) {
        await this.wakeup.wait(decision.waitMs);
        continue;
      }
      const event = buildMskEvent(this.buffer.take(this.policy), {
        eventSourceArn: this.options.eventSourceArn ?? LOCAL_EVENT_SOURCE_ARN,
        brokers: this.options.brokers,
      });
      this.drained.notify();
      this.inFlight = true;
      try {
        if (!(await this.invokeUntilSuccess(event))) return;
        await this.commit(event);
      } finally {
        this.inFlight = false;
      }
    }
  }

  private isActive(): boolean {
    return this.state === 'running' || this.state === 'retrying';
  }

  /** Returns false when the mapping was stopped before the batch succeeded: nothing may be committed then. */
  private async invokeUntilSuccess(event: MskEvent): Promise<boolean> {
    const retry = this.options.retry ?? { baseMs: 500, maxMs: 10_000 };
    for (let attempt = 1; ; attempt += 1) {
      try {
        const result = await this.invokeWithTimeout(event);
        await this.options.afterInvoke?.(event, result);
        this.counters.batches += 1;
        this.counters.records += recordCount(event);
        this.lastBatchAt = new Date();
        if (this.state === 'retrying') this.state = 'running';
        this.options.onResult?.(result, event);
        return true;
      } catch (error) {
        this.counters.failedInvocations += 1;
        this.recordError(error);
        this.options.onError?.(error, attempt);
        if (!this.isActive()) return false;
        this.state = 'retrying';
        await this.stopping.wait(retryDelayMs(attempt, retry.baseMs, retry.maxMs));
        if (!this.isActive()) return false;
      }
    }
  }

  private async invokeWithTimeout(event: MskEvent): Promise<unknown> {
    const timeoutMs = this.options.invocationTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Invocation timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      // Lambda leaves out `key`/`value` of keyless records and tombstones; the published type does not.
      return await Promise.race([this.options.handler(event as MSKEvent), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A failed commit loses nothing: the records were handled, and the next commit on the partition covers them.
   * Only a crash before that makes Kafka deliver them again, which the function tolerates.
   */
  private async commit(event: MskEvent): Promise<void> {
    try {
      await this.consumer?.commitOffsets(offsetsToCommit(event));
    } catch (error) {
      this.counters.commitFailures += 1;
      this.recordError(error);
    }
  }

  private recordError(error: unknown): void {
    this.lastError = { message: error instanceof Error ? error.message : String(error), at: new Date() };
  }
}
