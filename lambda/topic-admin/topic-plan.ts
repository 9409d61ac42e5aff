export interface DesiredTopic {
  readonly topic: string;
  readonly partitions: number;
  readonly replicationFactor: number;
}

export interface CurrentTopic {
  readonly partitions: number;
  readonly replicationFactor: number;
}

/**
 * What to do to reach the desired topic. Partitions only ever grow: Kafka cannot remove partitions, and
 * recreating the topic would delete its data. Nothing changes the replication factor of an existing topic:
 * that needs a partition reassignment, an operator's decision.
 */
export type TopicPlan =
  | { readonly action: 'create'; readonly partitions: number; readonly replicationFactor: number }
  | { readonly action: 'grow'; readonly from: number; readonly to: number }
  | { readonly action: 'keep'; readonly partitions: number; readonly notes: readonly string[] };

export function planTopic(current: CurrentTopic | undefined, desired: DesiredTopic): TopicPlan {
  if (current === undefined) {
    return { action: 'create', partitions: desired.partitions, replicationFactor: desired.replicationFactor };
  }
  const notes: string[] = [];
  if (current.replicationFactor !== desired.replicationFactor) {
    notes.push(
      `Topic ${desired.topic} has replication factor ${current.replicationFactor}, not ${desired.replicationFactor}; ` +
        'an existing topic is never reassigned here',
    );
  }
  if (current.partitions < desired.partitions) {
    return { action: 'grow', from: current.partitions, to: desired.partitions };
  }
  if (current.partitions > desired.partitions) {
    notes.push(
      `Topic ${desired.topic} has ${current.partitions} partitions, more than the ${desired.partitions} asked for; ` +
        'Kafka cannot remove partitions, so it keeps them',
    );
  }
  return { action: 'keep', partitions: current.partitions, notes };
}

/** Kafka's rule for topic names. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

const LIMITS = {
  Partitions: { min: 1, max: 10_000 },
  ReplicationFactor: { min: 1, max: 32 },
} as const;

/**
 * Reads the custom resource's properties. CloudFormation passes every scalar as a string, so counts arrive as
 * "3"; they are accepted as integers or decimal integer strings and anything else is rejected by name.
 */
export function parseTopicProperties(
  properties: Record<string, unknown>,
): DesiredTopic & { brokers: string } {
  const { BootstrapBrokers: brokers, Topic: topic } = properties;
  if (typeof brokers !== 'string' || brokers.trim() === '') {
    throw new Error('BootstrapBrokers must be a non-empty comma-separated list of host:port');
  }
  if (typeof topic !== 'string' || !TOPIC_NAME.test(topic) || topic === '.' || topic === '..') {
    throw new Error(
      `Topic must be a Kafka topic name (letters, digits, ".", "_", "-"), got ${JSON.stringify(topic)}`,
    );
  }
  return {
    brokers,
    topic,
    partitions: integerProperty(properties, 'Partitions'),
    replicationFactor: integerProperty(properties, 'ReplicationFactor'),
  };
}

function integerProperty(properties: Record<string, unknown>, name: keyof typeof LIMITS): number {
  const raw = properties[name];
  const value = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
  const { min, max } = LIMITS[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}
