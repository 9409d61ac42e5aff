import type { ClientBase } from 'pg';

export type Queryable = Pick<ClientBase, 'query'>;

export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

/** Map key for a partition, the same `"<topic>-<partition>"` the MSK event groups records by. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/**
 * Creates any missing ledger rows for the batch's partitions, locks all of them until the transaction ends and
 * returns each one's last applied offset (-1: none yet). The DO UPDATE is what takes the row lock and makes
 * RETURNING report existing rows. Rows are locked in one sorted order, so invocations sharing partitions
 * queue instead of deadlocking, and a redelivered batch waits for the first delivery to commit and then sees
 * its offsets.
 *
 * Rows are kept per consumer group, but the positions and rejected_transactions they guard are not: a record
 * applied under one group id is applied for all. A new group id (a changed mapping) starts at TRIM_HORIZON and
 * would otherwise re-sum everything the topic retains, and switching back to an old id would re-sum what the
 * newer one applied. So a row starts at, and catches up to, the highest offset any group has committed for
 * the partition. This reads the other groups' committed rows without locking them: two mappings with
 * different ids consuming the same partition at the same moment (a mapping replaced while the old one still
 * polls) can both apply a record that neither has committed yet. Stop the old mapping before the new one starts.
 */
export async function lockOffsetLedger(
  client: Queryable,
  consumerGroup: string,
  partitions: readonly PartitionRef[],
): Promise<Map<string, number>> {
  const { rows } = await client.query<{ topic: string; partition: number; last_offset: string }>(
    `INSERT INTO consumer_offsets AS ledger (consumer_group, topic, partition, last_offset)
     SELECT $1, p.topic, p.partition,
            coalesce((SELECT max(other.last_offset) FROM consumer_offsets AS other
                       WHERE other.topic = p.topic AND other.partition = p.partition), -1)
       FROM unnest($2::text[], $3::int[]) AS p(topic, partition)
      ORDER BY p.topic COLLATE "C", p.partition
     ON CONFLICT (consumer_group, topic, partition)
       DO UPDATE SET last_offset = GREATEST(ledger.last_offset, EXCLUDED.last_offset)
     RETURNING topic, partition, last_offset`,
    [consumerGroup, partitions.map((p) => p.topic), partitions.map((p) => p.partition)],
  );
  const ledger = new Map<string, number>();
  for (const row of rows) ledger.set(partitionKey(row.topic, row.partition), Number(row.last_offset));
  if (ledger.size !== partitions.length) {
    throw new Error(`Offset ledger returned ${ledger.size} rows for ${partitions.length} partitions`);
  }
  return ledger;
}
