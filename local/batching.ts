import { partitionKey } from '../lambda/aggregator/offset-ledger';
import type { MskRecord } from './msk-record';

/** The event source mapping settings that decide when records are handed to the function. */
export interface BatchingPolicy {
  /** `BatchSize`: the most records in one invocation. */
  readonly batchSize: number;
  /** `MaximumBatchingWindowInSeconds`, in milliseconds: how long the first buffered record may wait. */
  readonly windowMs: number;
  /** The invocation payload limit; the event envelope needs a little room on top of the records. */
  readonly maxPayloadBytes: number;
}

/** Lambda's synchronous invocation limit is 6 MB; the headroom covers the envelope and partition keys. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024 - 64 * 1024;

export const DEFAULT_BATCHING: BatchingPolicy = {
  batchSize: 100,
  windowMs: 2_000,
  maxPayloadBytes: MAX_PAYLOAD_BYTES,
};

export function validateBatchingPolicy(policy: BatchingPolicy): BatchingPolicy {
  if (!Number.isInteger(policy.batchSize) || policy.batchSize < 1 || policy.batchSize > 10_000) {
    throw new Error(`Batch size must be an integer from 1 to 10000, got ${policy.batchSize}`);
  }
  if (!Number.isFinite(policy.windowMs) || policy.windowMs < 0 || policy.windowMs > 300_000) {
    throw new Error(`Batching window must be from 0 to 300000 ms, got ${policy.windowMs}`);
  }
  if (!Number.isInteger(policy.maxPayloadBytes) || policy.maxPayloadBytes < 1) {
    throw new Error(`Maximum payload must be a positive number of bytes, got ${policy.maxPayloadBytes}`);
  }
  return policy;
}

/** A record's share of the serialised event: its JSON plus the separating comma. */
export function recordBytes(record: MskRecord): number {
  return Buffer.byteLength(JSON.stringify(record)) + 1;
}

export type FlushDecision = { readonly flush: true } | { readonly flush: false; readonly waitMs?: number };

interface BufferedRecord {
  readonly record: MskRecord;
  readonly bytes: number;
  readonly receivedAt: number;
}

/**
 * Records fetched but not yet handed to the function. Kafka may deliver a record twice to the poller (a
 * re-fetch after a rebalance resets the fetch position to the committed offset); such repeats are dropped
 * here so one event never carries the same offset twice.
 */
export class RecordBuffer {
  private records: BufferedRecord[] = [];
  private readonly nextOffsets = new Map<string, number>();
  private totalBytes = 0;

  get size(): number {
    return this.records.length;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Adds a record unless it was already buffered or handed out; returns whether it was added. */
  push(record: MskRecord, receivedAt: number): boolean {
    const key = partitionKey(record.topic, record.partition);
    const next = this.nextOffsets.get(key);
    if (next !== undefined && record.offset < next) return false;
    this.nextOffsets.set(key, record.offset + 1);
    const bytes = recordBytes(record);
    this.records.push({ record, bytes, receivedAt });
    this.totalBytes += bytes;
    return true;
  }

  /** Flush when the batch is full, the payload limit is reached, or the oldest record has waited the window. */
  decide(policy: BatchingPolicy, now: number): FlushDecision {
    const oldest = this.records[0];
    if (oldest === undefined) return { flush: false };
    if (this.records.length >= policy.batchSize || this.totalBytes >= policy.maxPayloadBytes) {
      return { flush: true };
    }
    const waitMs = oldest.receivedAt + policy.windowMs - now;
    return waitMs <= 0 ? { flush: true } : { flush: false, waitMs };
  }

  /**
   * Removes and returns the oldest records that fit in one invocation: at most `batchSize`, within the payload
   * limit, and always at least one so that an oversized record cannot stall its partition.
   */
  take(policy: BatchingPolicy): MskRecord[] {
    let count = 0;
    let bytes = 0;
    for (const buffered of this.records) {
      if (count >= policy.batchSize) break;
      if (count > 0 && bytes + buffered.bytes > policy.maxPayloadBytes) break;
      count += 1;
      bytes += buffered.bytes;
    }
    const taken = this.records.slice(0, count);
    this.records = this.records.slice(count);
    this.totalBytes -= bytes;
    return taken.map((buffered) => buffered.record);
  }

  /**
   * After a rebalance: drops records of partitions this consumer no longer owns and forgets their positions,
   * so that a later assignment starts from the committed offset again.
   */
  retainPartitions(assigned: ReadonlySet<string>): void {
    this.records = this.records.filter((buffered) =>
      assigned.has(partitionKey(buffered.record.topic, buffered.record.partition)),
    );
    this.totalBytes = this.records.reduce((sum, buffered) => sum + buffered.bytes, 0);
    for (const key of [...this.nextOffsets.keys()]) {
      if (!assigned.has(key)) this.nextOffsets.delete(key);
    }
  }
}

/** Exponential backoff between retries of a failed batch: base, 2×base, 4×base, … capped at `maxMs`. */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  if (attempt < 1) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
}
