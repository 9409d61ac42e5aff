import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeMskEvent } from '../../lambda/aggregator/decode';
import { mskEvent } from '../helpers/msk-events';

const fixture: unknown = JSON.parse(readFileSync(join(__dirname, '..', 'events', 'msk-event.json'), 'utf8'));

describe('decodeMskEvent', () => {
  it('decodes the documented MSK event: base64 key and value, headers as byte arrays', () => {
    // Act
    const { records, undecodable } = decodeMskEvent(fixture);

    // Assess
    expect(undecodable).toEqual([]);
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record).toMatchObject({
      topic: 'transaction',
      partition: 0,
      offset: 15,
      timestamp: 1545084650987,
    });
    expect(record?.key?.toString('utf8')).toBe('Kazan');
    expect(JSON.parse(record?.value?.toString('utf8') ?? '')).toEqual({
      branch: 'Kazan',
      currency: 'RUB',
      amount: 42,
    });
    expect(record?.headers).toEqual([{ key: 'headerKey', value: Buffer.from('headerValue') }]);
  });

  it('reads every "<topic>-<partition>" group, including topics with dashes', () => {
    // Prepare
    const event = mskEvent([
      { partition: 0, offset: 1, value: { branch: 'SPB' } },
      { partition: 2, offset: 7, value: { branch: 'Kazan' } },
      { topic: 'other-topic', partition: 1, offset: 3, value: 'x' },
    ]);

    // Act
    const { records } = decodeMskEvent(event);

    // Assess
    expect(records.map((r) => `${r.topic}-${r.partition}@${r.offset}`).sort()).toEqual([
      'other-topic-1@3',
      'transaction-0@1',
      'transaction-2@7',
    ]);
  });

  it('keeps bytes exactly, including invalid UTF-8, and maps missing values to null', () => {
    // Prepare
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
    const event = mskEvent([
      { partition: 0, offset: 1, value: bytes, key: null },
      { partition: 0, offset: 2, value: null, key: 'k' },
      { partition: 0, offset: 3, value: '' },
    ]);

    // Act
    const { records } = decodeMskEvent(event);

    // Assess
    expect(records[0]?.value).toEqual(bytes);
    expect(records[0]?.key).toBeNull();
    expect(records[1]?.value).toBeNull();
    expect(records[1]?.key?.toString()).toBe('k');
    expect(records[2]?.value).toEqual(Buffer.alloc(0));
  });

  it('never throws: entries it cannot place are reported, the rest decoded', () => {
    // Prepare
    const event = {
      records: {
        'transaction-0': [
          null,
          'text',
          { topic: 'transaction', partition: 0, value: 'e30=' },
          { topic: 'transaction', partition: 0, offset: -1, value: 'e30=' },
          {
            topic: 'transaction',
            partition: 0,
            offset: 5,
            value: 'e30=',
            headers: [null, { h: 'nope' }, { ok: [1] }],
          },
          { offset: 6, value: 'e30=' },
        ],
        broken: 'not an array',
        nopartition: [{ offset: 1, value: 'e30=' }],
      },
    };

    // Act
    const { records, undecodable } = decodeMskEvent(event);

    // Assess
    expect(records.map((r) => [r.topic, r.partition, r.offset])).toEqual([
      ['transaction', 0, 5],
      ['transaction', 0, 6],
    ]);
    expect(records[0]?.headers).toEqual([{ key: 'ok', value: Buffer.from([1]) }]);
    expect(undecodable.map((u) => u.reason)).toEqual([
      'record is not an object',
      'record is not an object',
      'record has no valid offset',
      'record has no valid offset',
      'record group is not an array',
      'record has no topic',
    ]);
  });

  it('treats a timestamp that is not a safe integer as absent', () => {
    // Prepare: the ledger stores times as bigint milliseconds; 1.5 would fail the batch's write on every retry.
    const entry = (offset: number, timestamp: unknown) => ({
      topic: 'transaction',
      partition: 0,
      offset,
      timestamp,
      value: 'e30=',
    });
    const event = {
      records: {
        'transaction-0': [
          entry(1, 1.5),
          entry(2, 1e300),
          entry(3, -0.5),
          entry(4, Number.MAX_SAFE_INTEGER + 1),
          entry(5, '1700000000000'),
          entry(6, 1_700_000_000_000),
          entry(7, -1),
        ],
      },
    };

    // Act
    const { records, undecodable } = decodeMskEvent(event);

    // Assess
    expect(undecodable).toEqual([]);
    expect(records.map((r) => r.timestamp)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      1_700_000_000_000,
      -1,
    ]);
  });

  it('keeps a record with an unusable topic or partition under its group, marked malformed', () => {
    // Prepare
    const event = {
      records: {
        'transaction-0': [
          { topic: 'trans\u0000action', partition: 0, offset: 1, value: 'e30=' },
          { topic: 'transaction', partition: 1.5, offset: 2, value: 'e30=' },
          { topic: 'a'.repeat(250), partition: -1, offset: 3, value: 'e30=' },
          { topic: 'transaction', partition: 0, offset: 4, value: 'e30=' },
          { topic: '..', offset: 5, value: 'e30=' },
        ],
      },
    };

    // Act
    const { records, undecodable } = decodeMskEvent(event);

    // Assess
    expect(undecodable).toEqual([]);
    expect(records.map((r) => [r.topic, r.partition, r.offset, r.malformed])).toEqual([
      [
        'transaction',
        0,
        1,
        'record topic "trans\\u0000action" is not a valid Kafka topic name; kept under transaction-0',
      ],
      ['transaction', 0, 2, 'record partition 1.5 is not valid; kept under transaction-0'],
      [
        'transaction',
        0,
        3,
        'record topic (a string of 250 characters) is not a valid Kafka topic name and partition -1 is not ' +
          'valid; kept under transaction-0',
      ],
      ['transaction', 0, 4, undefined],
      ['transaction', 0, 5, 'record topic ".." is not a valid Kafka topic name; kept under transaction-0'],
    ]);
    for (const record of records) expect(record.malformed ?? '').not.toContain('\u0000');
  });

  it('reports a record that neither it nor its group can key as undecodable', () => {
    // Prepare
    const event = {
      records: {
        'bad\u0000topic-0': [
          { topic: 'bad\u0000topic', partition: 0, offset: 1, value: 'e30=' },
          { offset: 2, value: 'e30=' },
          { topic: 'fine', partition: 0, offset: 3, value: 'e30=' },
        ],
        'no-partition-x': [{ topic: 'fine', partition: 'zero', offset: 4, value: 'e30=' }],
      },
    };

    // Act
    const { records, undecodable } = decodeMskEvent(event);

    // Assess
    expect(records.map((r) => [r.topic, r.partition, r.offset, r.malformed])).toEqual([
      ['fine', 0, 3, undefined],
    ]);
    expect(undecodable).toEqual([
      {
        source: 'bad\u0000topic-0',
        index: 0,
        reason: 'record topic "bad\\u0000topic" is not a valid Kafka topic name',
      },
      { source: 'bad\u0000topic-0', index: 1, reason: 'record has no topic' },
      { source: 'no-partition-x', index: 0, reason: 'record partition "zero" is not valid' },
    ]);
  });

  it('returns nothing for events without records', () => {
    expect(decodeMskEvent(undefined)).toEqual({ records: [], undecodable: [] });
    expect(decodeMskEvent({ records: null })).toEqual({ records: [], undecodable: [] });
    expect(decodeMskEvent({ eventSource: 'aws:kafka', records: {} })).toEqual({
      records: [],
      undecodable: [],
    });
  });
});
