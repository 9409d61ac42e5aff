import type { ITopicConfig, ITopicMetadata, ITopicPartitionConfig } from 'kafkajs';
import { vi } from 'vitest';
import type { TopicAdmin } from '../../lambda/topic-admin/ensure-topic';

/**
 * An in-memory cluster with kafkajs's admin semantics: `createTopics` resolves false for an existing topic,
 * `createPartitions` rejects a count that does not grow the topic, and `beforeWrite` lets a test play another
 * client racing this one.
 */
export class FakeAdmin implements TopicAdmin {
  readonly topics = new Map<string, { partitions: number; replicationFactor: number }>();
  beforeWrite: (() => void) | undefined;

  readonly listTopics = vi.fn(async () => [...this.topics.keys()]);

  readonly fetchTopicMetadata = vi.fn(async (options?: { topics: string[] }) => {
    const topics: ITopicMetadata[] = (options?.topics ?? [...this.topics.keys()]).map((name) => {
      const topic = this.topics.get(name);
      if (topic === undefined) throw new Error(`This server does not host this topic-partition: ${name}`);
      return {
        name,
        partitions: Array.from({ length: topic.partitions }, (_, partitionId) => ({
          partitionErrorCode: 0,
          partitionId,
          leader: 1,
          replicas: Array.from({ length: topic.replicationFactor }, (_, i) => i + 1),
          isr: Array.from({ length: topic.replicationFactor }, (_, i) => i + 1),
          offlineReplicas: [],
        })),
      };
    });
    return { topics };
  });

  readonly createTopics = vi.fn(async (options: { topics: ITopicConfig[] }) => {
    this.takeTurn();
    let created = false;
    for (const { topic, numPartitions, replicationFactor } of options.topics) {
      if (this.topics.has(topic)) continue;
      this.topics.set(topic, { partitions: numPartitions ?? 1, replicationFactor: replicationFactor ?? 1 });
      created = true;
    }
    return created;
  });

  readonly createPartitions = vi.fn(async (options: { topicPartitions: ITopicPartitionConfig[] }) => {
    this.takeTurn();
    for (const { topic, count } of options.topicPartitions) {
      const current = this.topics.get(topic);
      if (current === undefined) throw new Error(`Unknown topic ${topic}`);
      if (count <= current.partitions) {
        throw new Error(
          `Topic currently has ${current.partitions} partitions, which is higher than ${count}`,
        );
      }
      current.partitions = count;
    }
    return true;
  });

  private takeTurn(): void {
    const racer = this.beforeWrite;
    this.beforeWrite = undefined;
    racer?.();
  }
}
