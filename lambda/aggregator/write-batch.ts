import { centsToDecimal, type GroupTotal } from './aggregate';
import type { KafkaRecord } from './decode';
import type { Queryable } from './offset-ledger';
import { type Rejection, storable } from './validate';

export interface RejectedRecord {
  readonly record: KafkaRecord;
  readonly rejection: Rejection;
}

export interface LedgerAdvance {
  readonly topic: string;
  readonly partition: number;
  readonly lastOffset: number;
}

export interface BatchWrite {
  readonly batchId: string;
  readonly batchTime: Date;
  readonly consumerGroup: string;
  readonly totals: readonly GroupTotal[];
  readonly rejected: readonly RejectedRecord[];
  readonly advances: readonly LedgerAdvance[];
}

export interface BatchWriteCounts {
  readonly flowRows: number;
  readonly positionRows: number;
  readonly rejectedRows: number;
  readonly ledgerRows: number;
}

/**
 * Applies a batch in one statement, whatever its size: per-(branch, currency) rows into transaction_flow, the
 * same sums added to open_currency_position (upserted in sorted key order, so concurrent batches touching the
 * same positions queue rather than deadlock), rejected records (a redelivered one is ignored) and the ledger
 * advance. Sums travel as decimal strings cast to NUMERIC, never as floats. Must run in the transaction that
 * locked the ledger rows (lockOffsetLedger).
 */
export async function writeBatch(client: Queryable, batch: BatchWrite): Promise<BatchWriteCounts> {
  const { totals, rejected, advances } = batch;
  const { rows } = await client.query<{
    flow_rows: number;
    position_rows: number;
    rejected_rows: number;
    ledger_rows: number;
  }>(
    `WITH totals AS (
       SELECT branch, currency, amount, record_count, source_offsets,
              timestamptz 'epoch' + first_ms * interval '1 millisecond' AS first_time,
              timestamptz 'epoch' + last_ms * interval '1 millisecond' AS last_time
         FROM unnest($4::text[], $5::text[], $6::numeric[], $7::int[], $8::jsonb[], $9::bigint[], $10::bigint[])
           AS t(branch, currency, amount, record_count, source_offsets, first_ms, last_ms)
     ), flow AS (
       INSERT INTO transaction_flow (batch_id, curr_time, branch_name, currency_code, batch_value, record_count,
                                     source_offsets, first_record_time, last_record_time, consumer_group)
       SELECT $1, $2, branch, currency, amount, record_count, source_offsets, first_time, last_time, $3
         FROM totals
       RETURNING 1
     ), positions AS (
       INSERT INTO open_currency_position AS p (branch_name, currency_code, position, record_count, last_batch_id,
                                                updated_at)
       SELECT branch, currency, amount, record_count, $1, now()
         FROM totals
        ORDER BY branch COLLATE "C", currency COLLATE "C"
       ON CONFLICT (branch_name, currency_code) DO UPDATE
         SET position = p.position + EXCLUDED.position,
             record_count = p.record_count + EXCLUDED.record_count,
             last_batch_id = EXCLUDED.last_batch_id,
             updated_at = EXCLUDED.updated_at
       RETURNING 1
     ), rejected AS (
       INSERT INTO rejected_transactions (topic, partition, "offset", record_time, key, value, headers,
                                          reason_code, reason, consumer_group, batch_id)
       SELECT r.topic, r.partition, r.record_offset, timestamptz 'epoch' + r.record_ms * interval '1 millisecond',
              r.key, r.value, r.headers, r.reason_code, r.reason, $3, $1
         FROM unnest($11::text[], $12::int[], $13::bigint[], $14::bigint[], $15::bytea[], $16::bytea[],
                     $17::jsonb[], $18::text[], $19::text[])
           AS r(topic, partition, record_offset, record_ms, key, value, headers, reason_code, reason)
       ON CONFLICT (topic, partition, "offset") DO NOTHING
       RETURNING 1
     ), ledger AS (
       UPDATE consumer_offsets AS l
          SET last_offset = GREATEST(l.last_offset, a.last_offset), updated_at = now()
         FROM unnest($20::text[], $21::int[], $22::bigint[]) AS a(topic, partition, last_offset)
        WHERE l.consumer_group = $3 AND l.topic = a.topic AND l.partition = a.partition
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM flow)::int AS flow_rows,
            (SELECT count(*) FROM positions)::int AS position_rows,
            (SELECT count(*) FROM rejected)::int AS rejected_rows,
            (SELECT count(*) FROM ledger)::int AS ledger_rows`,
    [
      batch.batchId,
      batch.batchTime.toISOString(),
      batch.consumerGroup,
      totals.map((t) => t.branch),
      totals.map((t) => t.currency),
      totals.map((t) => centsToDecimal(t.cents)),
      totals.map((t) => t.recordCount),
      totals.map((t) => JSON.stringify(t.sourceOffsets)),
      totals.map((t) => storableTime(t.firstRecordTime)),
      totals.map((t) => storableTime(t.lastRecordTime)),
      rejected.map((r) => r.record.topic),
      rejected.map((r) => r.record.partition),
      rejected.map((r) => r.record.offset),
      rejected.map((r) => storableTime(r.record.timestamp)),
      rejected.map((r) => r.record.key),
      rejected.map((r) => r.record.value),
      rejected.map((r) => headersJson(r.record)),
      rejected.map((r) => r.rejection.code),
      rejected.map((r) => r.rejection.reason),
      advances.map((a) => a.topic),
      advances.map((a) => a.partition),
      advances.map((a) => a.lastOffset),
    ],
  );
  const counts = rows[0];
  if (counts === undefined) throw new Error('Batch write returned no row');
  if (counts.ledger_rows !== advances.length) {
    // The ledger rows were created and locked earlier in this transaction; a mismatch means they were not.
    throw new Error(`Offset ledger advanced ${counts.ledger_rows} of ${advances.length} partitions`);
  }
  return {
    flowRows: counts.flow_rows,
    positionRows: counts.position_rows,
    rejectedRows: counts.rejected_rows,
    ledgerRows: counts.ledger_rows,
  };
}

/** 9999-12-31T23:59:59.999Z, well inside timestamptz, whose upper end is far beyond what Kafka produces. */
const LATEST_STORABLE_TIME = 253_402_300_799_999;

/**
 * Kafka timestamps travel as epoch milliseconds and become timestamptz in SQL, which is cheaper than
 * formatting dates here. One that cannot be stored (negative, absurdly far) is recorded as unknown.
 */
function storableTime(millis: number | undefined): number | null {
  return millis === undefined || millis < 0 || millis > LATEST_STORABLE_TIME ? null : millis;
}

/**
 * Header values are kept as base64 so that any bytes survive; keys are text in the event already, cleaned of
 * what jsonb cannot hold (NUL, lone surrogates).
 */
function headersJson(record: KafkaRecord): string | null {
  if (record.headers.length === 0) return null;
  return JSON.stringify(
    record.headers.map((header) => ({
      key: storable(header.key),
      value: header.value.toString('base64'),
    })),
  );
}
