import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BatchingPolicy,
  RecordBuffer,
  recordBytes,
  retryDelayMs,
  validateBatchingPolicy,
} from '../../local/batching';
import type { MskRecord } from '../../local/msk-record';

function record(partition: number, offset: number, valueBytes = 8): MskRecord {
  return {
    topic: 'tx',
    partition,
    offset,
    timestamp: 0,
    timestampType: 'CREATE_TIME',
    value: Buffer.alloc(valueBytes, 1).toString('base64'),
    headers: [],
  };
}

const policy: BatchingPolicy = { batchSize: 3, windowMs: 1_000, maxPayloadBytes: 1_000_000 };

describe('RecordBuffer.decide', () => {
  it('waits for records when empty', () => {
    expect(new RecordBuffer().decide(policy, 0)).toEqual({ flush: false });
  });

  it('waits out the rest of the window measured from the oldest record', () => {
    const buffer = new RecordBuffer();
    buffer.push(record(0, 0), 100);
    buffer.push(record(0, 1), 900);
    expect(buffer.decide(policy, 600)).toEqual({ flush: false, waitMs: 500 });
    expect(buffer.decide(policy, 1_100)).toEqual({ flush: true });
  });

  it('flushes at once when the batch size is reached', () => {
    const buffer = new RecordBuffer();
    for (let offset = 0; offset < 3; offset += 1) buffer.push(record(offset % 2, offset), 0);
    expect(buffer.decide(policy, 0)).toEqual({ flush: true });
  });

  it('flushes at once when the payload limit is reached', () => {
    const buffer = new RecordBuffer();
    const big = record(0, 0, 600);
    buffer.push(big, 0);
    expect(buffer.decide({ ...policy, maxPayloadBytes: recordBytes(big) }, 0)).toEqual({ flush: true });
  });

  it('flushes immediately with a zero window', () => {
    const buffer = new RecordBuffer();
    buffer.push(record(0, 0), 5);
    expect(buffer.decide({ ...policy, windowMs: 0 }, 5)).toEqual({ flush: true });
  });
});

describe('RecordBuffer.take', () => {
  it('takes at most the batch size, oldest first, across partitions', () => {
    const buffer = new RecordBuffer();
    buffer.push(record(0, 10), 0);
    buffer.push(record(1, 20), 1);
    buffer.push(record(0, 11), 2);
    buffer.push(record(2, 30), 3);
    const batch = buffer.take(policy);
    expect(batch.map((r) => [r.partition, r.offset])).toEqual([
      [0, 10],
      [1, 20],
      [0, 11],
    ]);
    expect(buffer.size).toBe(1);
    expect(buffer.take(policy).map((r) => r.offset)).toEqual([30]);
    expect(buffer.size).toBe(0);
    expect(buffer.bytes).toBe(0);
  });

  it('stops before the payload limit but always takes at least one record', () => {
    const buffer = new RecordBuffer();
    const first = record(0, 0, 300);
    buffer.push(first, 0);
    buffer.push(record(0, 1, 300), 0);
    const tight = { ...policy, maxPayloadBytes: recordBytes(first) + 10 };
    expect(buffer.take(tight).map((r) => r.offset)).toEqual([0]);
    expect(buffer.take({ ...policy, maxPayloadBytes: 1 }).map((r) => r.offset)).toEqual([1]);
  });

  it('never loses, duplicates or reorders records within a partition', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(3), { maxLength: 200 }),
        fc.integer({ min: 1, max: 50 }),
        (partitions, batchSize) => {
          const buffer = new RecordBuffer();
          const nextOffset = [0, 0, 0, 0];
          for (const partition of partitions) {
            buffer.push(record(partition, nextOffset[partition] ?? 0), 0);
            nextOffset[partition] = (nextOffset[partition] ?? 0) + 1;
          }
          const seen: MskRecord[] = [];
          while (buffer.size > 0) {
            const batch = buffer.take({ ...policy, batchSize });
            expect(batch.length).toBeGreaterThan(0);
            expect(batch.length).toBeLessThanOrEqual(batchSize);
            seen.push(...batch);
          }
          expect(seen).toHaveLength(partitions.length);
          for (let partition = 0; partition < 4; partition += 1) {
            const offsets = seen.filter((r) => r.partition === partition).map((r) => r.offset);
            expect(offsets).toEqual([...Array(nextOffset[partition]).keys()]);
          }
        },
      ),
    );
  });
});

describe('RecordBuffer.push', () => {
  it('drops a re-fetched record it has already buffered or handed out', () => {
    const buffer = new RecordBuffer();
    expect(buffer.push(record(0, 5), 0)).toBe(true);
    buffer.take(policy);
    expect(buffer.push(record(0, 5), 0)).toBe(false);
    expect(buffer.push(record(0, 4), 0)).toBe(false);
    expect(buffer.push(record(0, 6), 0)).toBe(true);
    expect(buffer.push(record(1, 0), 0)).toBe(true);
  });

  it('forgets revoked partitions on rebalance and keeps the others', () => {
    const buffer = new RecordBuffer();
    buffer.push(record(0, 1), 0);
    buffer.push(record(1, 1), 0);
    buffer.retainPartitions(new Set(['tx-1']));
    expect(buffer.bytes).toBe(recordBytes(record(1, 1)));
    expect(buffer.take(policy)).toEqual([record(1, 1)]);
    expect(buffer.push(record(0, 1), 0)).toBe(true);
    expect(buffer.push(record(1, 1), 0)).toBe(false);
  });
});

describe('retryDelayMs', () => {
  it('doubles from the base up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => retryDelayMs(attempt, 250, 5_000))).toEqual([
      250, 500, 1_000, 2_000, 4_000, 5_000,
    ]);
    expect(retryDelayMs(1_000, 250, 5_000)).toBe(5_000);
  });
});

describe('validateBatchingPolicy', () => {
  it('rejects settings the mapping cannot honour', () => {
    expect(() => validateBatchingPolicy({ ...policy, batchSize: 0 })).toThrow(/Batch size/);
    expect(() => validateBatchingPolicy({ ...policy, windowMs: -1 })).toThrow(/Batching window/);
    expect(() => validateBatchingPolicy({ ...policy, maxPayloadBytes: 0 })).toThrow(/payload/);
    expect(validateBatchingPolicy(policy)).toBe(policy);
  });
});
