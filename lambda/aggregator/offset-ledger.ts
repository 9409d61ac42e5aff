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
 * returns each one's last applied offset (-1: none yet). A no-op DO UPDATE is what takes the row lock and makes
 * RETURNING report existing rows. Rows are locked in one sorted order, so invocations sharing partitions
 * queue instead of deadlocking, and a redelivered batch waits for the first delivery to commit and then sees
 * its offsets.
 */
export async function lockOffsetLedger(
  client: Queryable,
  consumerGroup: string,
  partitions: readonly PartitionRef[],
): Promise<Map<string, number>> {
  const { rows } = await client.query<{ topic: string; partition: number; last_offset: string }>(
    `INSERT INTO consumer_offsets AS ledger (consumer_group, topic, partition)
     SELECT $1, p.topic, p.partition
       FROM unnest($2::text[], $3::int[]) AS p(topic, partition)
      ORDER BY p.topic COLLATE "C", p.partition
     ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET updated_at = ledger.updated_at
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
