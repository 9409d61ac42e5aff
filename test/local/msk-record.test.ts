import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { fromKafkaMessage, type MskRecord, toMskHeaders, toMskRecord } from '../../local/msk-record';

/** The record of the documented MSK event sample (AWS Lambda developer guide). */
const documentedRecord: MskRecord = {
  topic: 'transaction',
  partition: 0,
  offset: 15,
  timestamp: 1545084650987,
  timestampType: 'CREATE_TIME',
  key: 'S2F6YW4=',
  value: 'eyJicmFuY2giOiJLYXphbiIsImN1cnJlbmN5IjoiUlVCIiwiYW1vdW50Ijo0Mn0=',
  headers: [{ headerKey: [104, 101, 97, 100, 101, 114, 86, 97, 108, 117, 101] }],
};

function kafkaMessage(overrides: Partial<KafkaMessage> & { batchContext?: object } = {}): KafkaMessage {
  return {
    key: Buffer.from('Kazan'),
    value: Buffer.from('{"branch":"Kazan","currency":"RUB","amount":42}'),
    timestamp: '1545084650987',
    attributes: 0,
    offset: '15',
    headers: { headerKey: Buffer.from('headerValue') },
    ...overrides,
  } as KafkaMessage;
}

describe('toMskRecord', () => {
  it('produces exactly the documented MSK record for the fixture message', () => {
    const record = toMskRecord(fromKafkaMessage('transaction', 0, kafkaMessage()));
    expect(record).toStrictEqual(documentedRecord);
  });

  it('base64-encodes binary keys and values byte for byte', () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80]);
    const record = toMskRecord(fromKafkaMessage('t', 1, kafkaMessage({ key: bytes, value: bytes })));
    expect(Buffer.from(record.value ?? '', 'base64')).toEqual(bytes);
    expect(Buffer.from(record.key ?? '', 'base64')).toEqual(bytes);
  });

  it('leaves out value for a tombstone and key for a keyless record, as Lambda does', () => {
    const record = toMskRecord(fromKafkaMessage('t', 2, kafkaMessage({ key: null, value: null })));
    expect(record).not.toHaveProperty('value');
    expect(record).not.toHaveProperty('key');
    expect(record.offset).toBe(15);
  });

  it('keeps an empty value as an empty string, distinct from a tombstone', () => {
    const record = toMskRecord(fromKafkaMessage('t', 0, kafkaMessage({ value: Buffer.alloc(0) })));
    expect(record.value).toBe('');
  });

  it('reads the batch timestamp type that kafkajs keeps on the message', () => {
    const logAppend = kafkaMessage({ batchContext: { timestampType: 1 } });
    const create = kafkaMessage({ batchContext: { timestampType: 0 } });
    expect(toMskRecord(fromKafkaMessage('t', 0, logAppend)).timestampType).toBe('LOG_APPEND_TIME');
    expect(toMskRecord(fromKafkaMessage('t', 0, create)).timestampType).toBe('CREATE_TIME');
  });

  it('rejects an offset that a JSON number cannot hold exactly', () => {
    const huge = kafkaMessage({ offset: '9007199254740993' });
    expect(() => toMskRecord(fromKafkaMessage('t', 0, huge))).toThrow(/not a safe integer/);
  });
});

describe('toMskHeaders', () => {
  it('emits one single-key object per header value, repeated keys in order', () => {
    const headers = toMskHeaders({ a: Buffer.from('x'), b: [Buffer.from('1'), '2'], c: undefined });
    expect(headers).toStrictEqual([{ a: [120] }, { b: [49] }, { b: [50] }]);
  });

  it('is empty when the record has no headers', () => {
    expect(toMskHeaders(undefined)).toStrictEqual([]);
    expect(toMskHeaders({})).toStrictEqual([]);
  });
});
