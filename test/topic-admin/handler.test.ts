import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeAdmin } from './fake-admin';

const cluster = vi.hoisted(() => ({
  admin: undefined as unknown,
  connectErrors: [] as Error[],
}));

vi.mock('../../lambda/shared/kafka', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../lambda/shared/kafka')>();
  return {
    ...actual,
    createKafka: vi.fn(async () => ({
      admin: () => {
        const admin = cluster.admin as FakeAdmin & {
          connect: () => Promise<void>;
          disconnect: () => Promise<void>;
        };
        const error = cluster.connectErrors.shift();
        admin.connect = vi.fn(async () => {
          if (error !== undefined) throw error;
        });
        admin.disconnect = vi.fn(async () => undefined);
        return admin;
      },
    })),
  };
});

type Handler = typeof import('../../lambda/topic-admin/index')['handler'];
let handler: Handler;
let createKafka: ReturnType<typeof vi.mocked<typeof import('../../lambda/shared/kafka')['createKafka']>>;

beforeAll(async () => {
  // The function's logger reads its level when the module loads.
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  handler = (await import('../../lambda/topic-admin/index.js')).handler;
  createKafka = vi.mocked((await import('../../lambda/shared/kafka.js')).createKafka);
});

const PROPERTIES = {
  ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider',
  BootstrapBrokers: 'b-1.msk:9096,b-2.msk:9096',
  Topic: 'transaction',
  Partitions: '3',
  ReplicationFactor: '2',
};

function event(
  requestType: 'Create' | 'Update' | 'Delete',
  properties: Record<string, string> = PROPERTIES,
): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: PROPERTIES.ServiceToken,
    ResponseURL: 'https://cloudformation-custom-resource-response.example/',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/pipeline/1',
    RequestId: 'request-1',
    LogicalResourceId: 'TransactionTopic',
    ResourceType: 'Custom::KafkaTopic',
    ResourceProperties: properties as typeof PROPERTIES,
  };
  if (requestType === 'Create') return { ...common, RequestType: 'Create' };
  if (requestType === 'Update') {
    return {
      ...common,
      RequestType: 'Update',
      PhysicalResourceId: 'transaction',
      OldResourceProperties: PROPERTIES,
    };
  }
  return { ...common, RequestType: 'Delete', PhysicalResourceId: 'transaction' };
}

let admin: FakeAdmin;

beforeEach(() => {
  vi.clearAllMocks();
  admin = new FakeAdmin();
  cluster.admin = admin;
  cluster.connectErrors = [];
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(() => {
  vi.unstubAllEnvs();
});

describe('topic-admin onEvent', () => {
  it('creates the topic on Create and returns its name and partitions', async () => {
    const response = await handler(event('Create'));

    expect(response).toEqual({
      PhysicalResourceId: 'transaction',
      Data: { Topic: 'transaction', Partitions: 3 },
    });
    expect(admin.topics.get('transaction')).toEqual({ partitions: 3, replicationFactor: 2 });
    expect(createKafka).toHaveBeenCalledWith(
      expect.objectContaining({ brokers: ['b-1.msk:9096', 'b-2.msk:9096'], forceFetchSecret: false }),
    );
  });

  it('grows the topic on Update and reports the larger count when asked for fewer', async () => {
    admin.topics.set('transaction', { partitions: 3, replicationFactor: 2 });

    const grown = await handler(event('Update', { ...PROPERTIES, Partitions: '6' }));
    const kept = await handler(event('Update', { ...PROPERTIES, Partitions: '2' }));

    expect(grown.Data).toEqual({ Topic: 'transaction', Partitions: 6 });
    expect(kept.Data).toEqual({ Topic: 'transaction', Partitions: 6 });
    expect(admin.topics.get('transaction')?.partitions).toBe(6);
  });

  it('keeps the topic and its data on Delete without touching the cluster', async () => {
    admin.topics.set('transaction', { partitions: 3, replicationFactor: 2 });

    const response = await handler(event('Delete'));

    expect(response).toEqual({ PhysicalResourceId: 'transaction' });
    expect(createKafka).not.toHaveBeenCalled();
    expect(admin.topics.has('transaction')).toBe(true);
  });

  it('fails the deploy with a clear message on bad properties', async () => {
    await expect(handler(event('Create', { ...PROPERTIES, Partitions: 'many' }))).rejects.toThrow(
      /Partitions must be an integer/,
    );
    expect(createKafka).not.toHaveBeenCalled();
  });

  it('retries while the SCRAM secret is not yet accepted, then re-reads it', async () => {
    // Prepare
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const refused = new Error('SASL SCRAM SHA512 authentication failed');
    refused.name = 'KafkaJSSASLAuthenticationError';
    cluster.connectErrors = [refused];

    // Act
    const pending = handler(event('Create'), { getRemainingTimeInMillis: () => 300_000 });
    await vi.runAllTimersAsync();
    const response = await pending;

    // Assess
    expect(response.PhysicalResourceId).toBe('transaction');
    expect(createKafka.mock.calls.map(([options]) => options.forceFetchSecret)).toEqual([false, true]);
  });

  it('reports a connection failure at once when too little time is left for another attempt', async () => {
    const unreachable = new Error('Connection error: connect ECONNREFUSED 10.0.1.5:9096');
    unreachable.name = 'KafkaJSConnectionError';
    cluster.connectErrors = [unreachable];

    await expect(handler(event('Create'), { getRemainingTimeInMillis: () => 60_000 })).rejects.toThrow(
      /ECONNREFUSED/,
    );
    expect(createKafka).toHaveBeenCalledTimes(1);
  });

  it('does not retry an error the cluster will repeat', async () => {
    admin.createTopics.mockRejectedValueOnce(new Error('INVALID_REPLICATION_FACTOR'));

    await expect(handler(event('Create'))).rejects.toThrow('INVALID_REPLICATION_FACTOR');
    expect(createKafka).toHaveBeenCalledTimes(1);
  });
});
