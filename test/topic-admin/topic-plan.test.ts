import { describe, expect, it } from 'vitest';
import { parseTopicProperties, planTopic } from '../../lambda/topic-admin/topic-plan';

const desired = { topic: 'transaction', partitions: 3, replicationFactor: 3 };

describe('planTopic', () => {
  it('creates a missing topic with the desired partitions and replication', () => {
    expect(planTopic(undefined, desired)).toEqual({ action: 'create', partitions: 3, replicationFactor: 3 });
  });

  it('keeps a topic that already matches', () => {
    expect(planTopic({ partitions: 3, replicationFactor: 3 }, desired)).toEqual({
      action: 'keep',
      partitions: 3,
      notes: [],
    });
  });

  it('grows a topic with fewer partitions', () => {
    expect(planTopic({ partitions: 1, replicationFactor: 3 }, desired)).toEqual({
      action: 'grow',
      from: 1,
      to: 3,
    });
  });

  it('never shrinks a topic with more partitions, and says why', () => {
    const plan = planTopic({ partitions: 6, replicationFactor: 3 }, desired);

    expect(plan).toMatchObject({ action: 'keep', partitions: 6 });
    expect(plan.action === 'keep' && plan.notes).toEqual([
      expect.stringMatching(/6 partitions.*cannot remove/),
    ]);
  });

  it('notes a replication factor it will not change, while still growing', () => {
    const grow = planTopic({ partitions: 2, replicationFactor: 2 }, desired);
    const keep = planTopic({ partitions: 3, replicationFactor: 2 }, desired);

    expect(grow).toEqual({ action: 'grow', from: 2, to: 3 });
    expect(keep).toMatchObject({
      action: 'keep',
      notes: [expect.stringMatching(/replication factor 2, not 3/)],
    });
  });
});

describe('parseTopicProperties', () => {
  const valid = {
    BootstrapBrokers: 'b-1:9096,b-2:9096',
    Topic: 'transaction',
    Partitions: '3',
    ReplicationFactor: '2',
  };

  it('accepts the string values CloudFormation passes, and numbers', () => {
    expect(parseTopicProperties(valid)).toEqual({
      brokers: 'b-1:9096,b-2:9096',
      topic: 'transaction',
      partitions: 3,
      replicationFactor: 2,
    });
    expect(parseTopicProperties({ ...valid, Partitions: 12, ReplicationFactor: 3 })).toMatchObject({
      partitions: 12,
      replicationFactor: 3,
    });
  });

  it.each([
    [{ BootstrapBrokers: '' }, /BootstrapBrokers/],
    [{ BootstrapBrokers: undefined }, /BootstrapBrokers/],
    [{ Topic: 'bad topic!' }, /Topic must be a Kafka topic name.*"bad topic!"/],
    [{ Topic: '..' }, /Topic must be/],
    [{ Topic: 'x'.repeat(250) }, /Topic must be/],
    [{ Partitions: '0' }, /Partitions must be an integer from 1/],
    [{ Partitions: '2.5' }, /Partitions must be an integer.*"2.5"/],
    [{ Partitions: 'three' }, /Partitions/],
    [{ ReplicationFactor: -1 }, /ReplicationFactor must be an integer/],
    [{ ReplicationFactor: undefined }, /ReplicationFactor/],
  ])('rejects %o', (override, message) => {
    expect(() => parseTopicProperties({ ...valid, ...override })).toThrow(message);
  });
});
