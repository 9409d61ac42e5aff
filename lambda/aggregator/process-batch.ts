import { randomUUID } from 'node:crypto';
import { type ConnectionSource, withTransaction } from '../shared/database';
import { BatchAggregator, netByCurrency } from './aggregate';
import { decodeMskEvent, type KafkaRecord, type UndecodableRecord } from './decode';
import { lockOffsetLedger, type PartitionRef, partitionKey } from './offset-ledger';
import { isRejection, REJECTION_CODES, type RejectionCode, type Validation, validateValue } from './validate';
import { type LedgerAdvance, type RejectedRecord, writeBatch } from './write-batch';

export interface ProcessBatchOptions {
  /** Key of the offset ledger; equals the event source mapping's consumer group id. */
  readonly consumerGroupId: string;
  /** @default a random UUID */
  readonly batchId?: string;
  /** Stored as transaction_flow.curr_time. @default now */
  readonly batchTime?: Date;
}

export interface BatchResult {
  readonly batchId: string;
  /** Records applied by this invocation. */
  readonly accepted: number;
  /** Records stored in rejected_transactions by this invocation. */
  readonly rejected: number;
  /** Records at or below the ledger offset: already applied by an earlier delivery. */
  readonly deduplicated: number;
  /** Entries without a usable topic, partition or offset; nothing can be recorded for them. */
  readonly undecodable: readonly UndecodableRecord[];
  readonly partitions: number;
  /** Accepted cents per currency in this invocation. */
  readonly netCentsByCurrency: ReadonlyMap<string, bigint>;
  readonly rejectedByCode: Readonly<Partial<Record<RejectionCode, number>>>;
  /** Kafka timestamp of the oldest record applied, for end-to-end latency. */
  readonly oldestRecordTime: number | undefined;
}

interface PartitionItems extends PartitionRef {
  /** `"<topic>-<partition>"` */
  readonly source: string;
  readonly records: KafkaRecord[];
}

/**
 * Applies one MSK event exactly once. Kafka delivers to Lambda at least once (a batch is redelivered when the
 * function fails or times out after writing), so the offset ledger decides what is new: in one transaction
 * the batch's ledger rows are locked, records at or below their offsets are skipped, and the rest is written
 * together with the advanced offsets. Round trips are constant: BEGIN, lock, write, COMMIT. The ledger relies
 * on what the event source mapping guarantees: a partition's batches arrive in offset order (a repeated or
 * overlapping batch is fine, an older batch after a newer one would be taken for a replay).
 */
export async function processBatch(
  database: ConnectionSource,
  event: unknown,
  options: ProcessBatchOptions,
): Promise<BatchResult> {
  const batchId = options.batchId ?? randomUUID();
  const batchTime = options.batchTime ?? new Date();
  const { records, undecodable } = decodeMskEvent(event);
  const partitions = groupByPartition(records);

  const empty: BatchResult = {
    batchId,
    accepted: 0,
    rejected: 0,
    deduplicated: 0,
    undecodable,
    partitions: partitions.length,
    netCentsByCurrency: new Map(),
    rejectedByCode: {},
    oldestRecordTime: undefined,
  };
  if (partitions.length === 0) return empty;

  return withTransaction(database, async (client) => {
    const ledger = await lockOffsetLedger(client, options.consumerGroupId, partitions);
    const aggregator = new BatchAggregator();
    const rejected: RejectedRecord[] = [];
    const advances: LedgerAdvance[] = [];
    const rejectedByCode: Partial<Record<RejectionCode, number>> = {};
    let accepted = 0;
    let deduplicated = 0;
    let oldestRecordTime: number | undefined;

    // Validation runs here, after the ledger says what is new, so a redelivered batch costs no parsing, and
    // each record's parsed value is garbage as soon as it has been added.
    for (const { topic, partition, source, records: partitionRecords } of partitions) {
      const applied = ledger.get(source) ?? -1;
      let highest = applied;
      for (const record of partitionRecords) {
        // Sorted by offset, so this also drops an offset repeated within the event.
        if (record.offset <= highest) {
          deduplicated++;
          continue;
        }
        highest = record.offset;
        const { malformed } = record;
        const validation: Validation =
          malformed === undefined
            ? validateValue(record.value)
            : { code: REJECTION_CODES.malformedRecord, reason: malformed };
        if (isRejection(validation)) {
          rejected.push({ record, rejection: validation });
          rejectedByCode[validation.code] = (rejectedByCode[validation.code] ?? 0) + 1;
          continue;
        }
        aggregator.add(record, validation, source);
        accepted++;
        const time = record.timestamp;
        if (time !== undefined && (oldestRecordTime === undefined || time < oldestRecordTime)) {
          oldestRecordTime = time;
        }
      }
      if (highest > applied) advances.push({ topic, partition, lastOffset: highest });
    }

    if (advances.length === 0) return { ...empty, deduplicated };

    const totals = aggregator.totals();
    await writeBatch(client, {
      batchId,
      batchTime,
      consumerGroup: options.consumerGroupId,
      totals,
      rejected,
      advances,
    });
    return {
      ...empty,
      accepted,
      rejected: rejected.length,
      deduplicated,
      netCentsByCurrency: netByCurrency(totals),
      rejectedByCode,
      oldestRecordTime,
    };
  });
}

/** One entry per partition, sorted by topic then partition, each with its records sorted by offset. */
function groupByPartition(records: readonly KafkaRecord[]): PartitionItems[] {
  const byKey = new Map<string, PartitionItems>();
  let group: PartitionItems | undefined;
  for (const record of records) {
    // The event lists records partition by partition: the previous record's group is almost always right.
    if (group === undefined || group.partition !== record.partition || group.topic !== record.topic) {
      const source = partitionKey(record.topic, record.partition);
      group = byKey.get(source);
      if (group === undefined) {
        group = { topic: record.topic, partition: record.partition, source, records: [] };
        byKey.set(source, group);
      }
    }
    group.records.push(record);
  }
  const groups = [...byKey.values()];
  for (const partitionGroup of groups) {
    if (!isSortedByOffset(partitionGroup.records)) partitionGroup.records.sort((a, b) => a.offset - b.offset);
  }
  return groups.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}

function isSortedByOffset(records: readonly KafkaRecord[]): boolean {
  for (let i = 1; i < records.length; i++) {
    if ((records[i] as KafkaRecord).offset < (records[i - 1] as KafkaRecord).offset) return false;
  }
  return true;
}
