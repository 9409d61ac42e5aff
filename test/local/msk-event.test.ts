import { describe, expect, it } from 'vitest';
import { buildMskEvent, groupRecords, offsetsToCommit, recordCount } from '../../local/msk-event';
import type { MskRecord } from '../../local/msk-record';

function record(topic: string, partition: number, offset: number): MskRecord {
  return {
    topic,
    partition,
    offset,
    timestamp: 1_700_000_000_000 + offset,
    timestampType: 'CREATE_TIME',
    key: Buffer.from('SPB').toString('base64'),
    value: Buffer.from(`{"n":${offset}}`).toString('base64'),
    headers: [],
  };
}

describe('groupRecords', () => {
  it('groups by "<topic>-<partition>" and orders each group by offset', () => {
    // Prepare
    const records = [record('tx', 1, 7), record('tx', 0, 3), record('tx', 1, 5), record('other', 0, 1)];

    // Act
    const groups = groupRecords(records);

    // Assess
    expect(Object.keys(groups).sort()).toEqual(['other-0', 'tx-0', 'tx-1']);
    expect(groups['tx-1']?.map((r) => r.offset)).toEqual([5, 7]);
    expect(groups['tx-0']?.map((r) => r.offset)).toEqual([3]);
  });

  it('keeps partitions of a topic whose name ends in a number apart', () => {
    const groups = groupRecords([record('tx-1', 0, 0), record('tx', 10, 0)]);
    expect(Object.keys(groups).sort()).toEqual(['tx-1-0', 'tx-10']);
  });
});

describe('buildMskEvent', () => {
  it('has the MSK envelope and carries several partitions', () => {
    const event = buildMskEvent([record('tx', 0, 1), record('tx', 2, 9)], {
      eventSourceArn: 'arn:aws:kafka:local:000000000000:cluster/x/y',
      brokers: ['127.0.0.1:9092', '127.0.0.1:9094'],
    });
    expect(event.eventSource).toBe('aws:kafka');
    expect(event.eventSourceArn).toBe('arn:aws:kafka:local:000000000000:cluster/x/y');
    expect(event.bootstrapServers).toBe('127.0.0.1:9092,127.0.0.1:9094');
    expect(Object.keys(event.records).sort()).toEqual(['tx-0', 'tx-2']);
    expect(recordCount(event)).toBe(2);
  });
});

describe('offsetsToCommit', () => {
  it('commits one past the highest offset of every partition in the event', () => {
    const event = buildMskEvent([record('tx', 0, 4), record('tx', 0, 6), record('tx', 1, 0)], {
      eventSourceArn: 'arn',
      brokers: ['b:1'],
    });
    expect(offsetsToCommit(event)).toEqual(
      expect.arrayContaining([
        { topic: 'tx', partition: 0, offset: '7' },
        { topic: 'tx', partition: 1, offset: '1' },
      ]),
    );
    expect(offsetsToCommit(event)).toHaveLength(2);
  });
});
