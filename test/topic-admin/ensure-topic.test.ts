import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it, vi } from 'vitest';
import { describeTopic, ensureTopic } from '../../lambda/topic-admin/ensure-topic';
import { FakeAdmin } from './fake-admin';

const desired = { topic: 'transaction', partitions: 3, replicationFactor: 2 };

function spyLogger() {
  const logger = new Logger({ serviceName: 'topic-admin-test', logLevel: 'SILENT' });
  return { logger, info: vi.spyOn(logger, 'info'), warn: vi.spyOn(logger, 'warn') };
}

describe('ensureTopic', () => {
  it('creates a missing topic and is a no-op the second time', async () => {
    // Prepare
    const admin = new FakeAdmin();

    // Act
    const first = await ensureTopic(admin, desired);
    const second = await ensureTopic(admin, desired);

    // Assess
    expect(first).toEqual({ topic: 'transaction', partitions: 3, action: 'create' });
    expect(second).toEqual({ topic: 'transaction', partitions: 3, action: 'keep' });
    expect(admin.topics.get('transaction')).toEqual({ partitions: 3, replicationFactor: 2 });
    expect(admin.createTopics).toHaveBeenCalledTimes(1);
    expect(admin.createTopics).toHaveBeenCalledWith(
      expect.objectContaining({
        topics: [{ topic: 'transaction', numPartitions: 3, replicationFactor: 2 }],
        waitForLeaders: true,
      }),
    );
    expect(admin.createPartitions).not.toHaveBeenCalled();
  });

  it('grows a topic that has fewer partitions', async () => {
    const admin = new FakeAdmin();
    admin.topics.set('transaction', { partitions: 1, replicationFactor: 2 });

    const result = await ensureTopic(admin, desired);

    expect(result).toEqual({ topic: 'transaction', partitions: 3, action: 'grow' });
    expect(admin.createPartitions).toHaveBeenCalledWith(
      expect.objectContaining({ topicPartitions: [{ topic: 'transaction', count: 3 }] }),
    );
    expect(admin.topics.get('transaction')?.partitions).toBe(3);
  });

  it('leaves a larger topic alone and warns instead of shrinking it', async () => {
    const admin = new FakeAdmin();
    admin.topics.set('transaction', { partitions: 6, replicationFactor: 2 });
    const { logger, warn } = spyLogger();

    const result = await ensureTopic(admin, desired, logger);

    expect(result).toEqual({ topic: 'transaction', partitions: 6, action: 'keep' });
    expect(admin.topics.get('transaction')?.partitions).toBe(6);
    expect(admin.createTopics).not.toHaveBeenCalled();
    expect(admin.createPartitions).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/cannot remove partitions/), {
      topic: 'transaction',
    });
  });

  it('re-plans when another client creates the topic first', async () => {
    const admin = new FakeAdmin();
    admin.beforeWrite = () => admin.topics.set('transaction', { partitions: 1, replicationFactor: 2 });

    const result = await ensureTopic(admin, desired);

    expect(result).toEqual({ topic: 'transaction', partitions: 3, action: 'grow' });
    expect(admin.topics.get('transaction')?.partitions).toBe(3);
  });

  it('accepts a topic another client grew first', async () => {
    const admin = new FakeAdmin();
    admin.topics.set('transaction', { partitions: 1, replicationFactor: 2 });
    admin.beforeWrite = () => admin.topics.set('transaction', { partitions: 4, replicationFactor: 2 });

    const result = await ensureTopic(admin, desired);

    expect(result).toEqual({ topic: 'transaction', partitions: 4, action: 'keep' });
  });

  it('passes on a failure to grow that no other client explains', async () => {
    const admin = new FakeAdmin();
    admin.topics.set('transaction', { partitions: 1, replicationFactor: 2 });
    admin.createPartitions.mockRejectedValueOnce(new Error('POLICY_VIOLATION'));

    await expect(ensureTopic(admin, desired)).rejects.toThrow('POLICY_VIOLATION');
    expect(admin.topics.get('transaction')?.partitions).toBe(1);
  });

  it('gives up when the broker keeps saying the topic exists but never lists it', async () => {
    const admin = new FakeAdmin();
    admin.createTopics.mockResolvedValue(false);

    await expect(ensureTopic(admin, desired)).rejects.toThrow(/does not list it \(tried 3 times\)/);
  });
});

describe('describeTopic', () => {
  it('reads partitions and replication of a listed topic without asking for a missing one', async () => {
    const admin = new FakeAdmin();
    admin.topics.set('transaction', { partitions: 3, replicationFactor: 3 });

    expect(await describeTopic(admin, 'transaction')).toEqual({ partitions: 3, replicationFactor: 3 });
    expect(await describeTopic(admin, 'missing')).toBeUndefined();
    expect(admin.fetchTopicMetadata).toHaveBeenCalledTimes(1);
  });
});
