import { partitionKey } from '../lambda/aggregator/offset-ledger';
import type { MskEvent, MskRecord } from './msk-record';

export interface EventSource {
  /** The cluster ARN on AWS; a recognisable local stand-in here. */
  readonly eventSourceArn: string;
  readonly brokers: readonly string[];
}

export const LOCAL_EVENT_SOURCE_ARN = 'arn:aws:kafka:local:000000000000:cluster/local/local-kraft';

/** Groups records under `"<topic>-<partition>"`, keeping each partition's records in offset order. */
export function groupRecords(records: readonly MskRecord[]): Record<string, MskRecord[]> {
  const groups: Record<string, MskRecord[]> = {};
  for (const record of records) {
    const key = partitionKey(record.topic, record.partition);
    const group = groups[key];
    if (group === undefined) {
      groups[key] = [record];
    } else {
      group.push(record);
    }
  }
  for (const group of Object.values(groups)) {
    group.sort((a, b) => a.offset - b.offset);
  }
  return groups;
}

export function buildMskEvent(records: readonly MskRecord[], source: EventSource): MskEvent {
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: source.eventSourceArn,
    bootstrapServers: source.brokers.join(','),
    records: groupRecords(records),
  };
}

export interface PartitionCommit {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read: one past the last record handled, as Kafka expects it committed. */
  readonly offset: string;
}

/** The offsets to commit once an event has been handled: per partition, the highest offset plus one. */
export function offsetsToCommit(event: MskEvent): PartitionCommit[] {
  const commits: PartitionCommit[] = [];
  for (const records of Object.values(event.records)) {
    const first = records[0];
    if (first === undefined) continue;
    const last = records.reduce((max, record) => Math.max(max, record.offset), first.offset);
    commits.push({ topic: first.topic, partition: first.partition, offset: String(last + 1) });
  }
  return commits;
}

export function recordCount(event: MskEvent): number {
  return Object.values(event.records).reduce((sum, records) => sum + records.length, 0);
}
