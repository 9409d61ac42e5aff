import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../bin/config';
import { cdkJsonContext } from './synth';

function configWith(overrides: Record<string, unknown>) {
  const context = { ...cdkJsonContext(), ...overrides };
  return loadConfig((key) => context[key]);
}

describe('loadConfig', () => {
  it('turns the cdk.json defaults into the documented pipeline configuration', () => {
    const config = configWith({});

    expect(config).toMatchObject({
      stackName: 'TransactionPipeline',
      topic: 'transaction',
      partitions: 3,
      kafkaVersion: '3.8.x',
      brokerInstanceType: 'kafka.t3.small',
      brokerCount: 2,
      dbInstanceType: 'db.t4g.micro',
      postgresVersion: '17',
      backupRetentionDays: 7,
      deletionProtection: true,
      removalPolicy: 'snapshot',
      natGateways: 0,
      consumerGroupId: 'transaction-aggregator',
      batchSize: 1000,
      batchingWindowSeconds: 2,
      provisionedPollers: undefined,
      scheduleRateMinutes: 1,
      producerRate: 100,
      producerDurationSeconds: 50,
      producerReservedConcurrency: 1,
      producerBranches: undefined,
      producerAmountMin: undefined,
      logRetention: RetentionDays.ONE_MONTH,
      offsetLagThreshold: 1000,
      alarmEmail: undefined,
      bastion: false,
    });
  });

  it('accepts the string forms that `cdk -c key=value` passes', () => {
    const config = configWith({
      batchSize: '500',
      deletionProtection: 'false',
      provisionedPollers: '1-4',
      producerReservedConcurrency: 'off',
      producerBranches: 'Kazan, Moscow',
      producerCurrencies: 'RUB,CNY',
      producerAmountMin: '-50',
      producerAmountMax: '50',
      logRetentionDays: '7',
      alarmEmail: 'ops@example.com',
    });

    expect(config.batchSize).toBe(500);
    expect(config.deletionProtection).toBe(false);
    expect(config.provisionedPollers).toEqual({ minimumPollers: 1, maximumPollers: 4 });
    expect(config.producerReservedConcurrency).toBeUndefined();
    expect(config.producerBranches).toEqual(['Kazan', 'Moscow']);
    expect(config.producerCurrencies).toEqual(['RUB', 'CNY']);
    expect([config.producerAmountMin, config.producerAmountMax]).toEqual([-50, 50]);
    expect(config.logRetention).toBe(RetentionDays.ONE_WEEK);
    expect(config.alarmEmail).toBe('ops@example.com');
  });

  it('accepts provisioned pollers as an object from cdk.json', () => {
    const config = configWith({ provisionedPollers: { minimumPollers: 2, maximumPollers: 10 } });

    expect(config.provisionedPollers).toEqual({ minimumPollers: 2, maximumPollers: 10 });
  });

  it.each([
    ['batchSize', 'abc', 'Invalid context "batchSize": must be an integer from 1 to 10000, got "abc"'],
    ['batchSize', 0, 'Invalid context "batchSize": must be an integer from 1 to 10000, got 0'],
    ['batchSize', 10_001, '"batchSize": must be an integer from 1 to 10000'],
    ['batchingWindowSeconds', 2.5, '"batchingWindowSeconds": must be an integer from 0 to 300, got 2.5'],
    ['partitions', '', '"partitions": must be an integer from 1 to 1000, got ""'],
    [
      'logRetentionDays',
      10,
      '"logRetentionDays": must be one of the CloudWatch Logs retention periods 1, 3, 5, 7',
    ],
    ['logRetentionDays', 9999, '"logRetentionDays": must be one of the CloudWatch Logs retention periods'],
    [
      'removalPolicy',
      'delete',
      '"removalPolicy": must be one of "snapshot", "retain", "destroy", got "delete"',
    ],
    ['deletionProtection', 'yes', '"deletionProtection": must be true or false, got "yes"'],
    ['bastion', 1, '"bastion": must be true or false, got 1'],
    ['natGateways', 3, '"natGateways": must be an integer from 0 to 2, got 3'],
    ['kafkaVersion', '3.6.0', '"kafkaVersion": must be one of "3.8.x", "3.9.x"'],
    ['brokerInstanceType', 't3.small', '"brokerInstanceType": must be an MSK broker type'],
    ['dbInstanceType', 'db.t4g', '"dbInstanceType": must be an RDS instance class'],
    ['postgresVersion', '15', '"postgresVersion": must be one of "16", "17", got "15"'],
    ['topic', 'bad topic', '"topic": must be a Kafka topic name'],
    ['topic', '..', '"topic": must be a Kafka topic name'],
    ['consumerGroupId', 'a b', '"consumerGroupId": must be a consumer group id'],
    ['stackName', 'my--stack', '"stackName": must be 2 to 40 letters, digits and single hyphens'],
    ['stackName', '1stack', '"stackName": must be 2 to 40'],
    ['alarmEmail', 'not-an-address', '"alarmEmail": must be empty (no subscription) or an e-mail address'],
    ['provisionedPollers', '5-2', '"provisionedPollers": must be "off", "MIN-MAX"'],
    ['provisionedPollers', { minimumPollers: 0, maximumPollers: 2 }, '"provisionedPollers": must be "off"'],
    [
      'producerReservedConcurrency',
      0,
      '"producerReservedConcurrency": must be "off" or an integer from 1 to 1000',
    ],
    ['producerCurrencies', 'rub,USD', '"producerCurrencies": must be empty'],
    ['producerRate', -1, '"producerRate": must be an integer from 1 to 100000, got -1'],
    [
      'dbMaxAllocatedStorageGiB',
      10,
      '"dbMaxAllocatedStorageGiB": must be an integer from 20 to 65536, got 10',
    ],
    [
      'offsetLagThreshold',
      undefined,
      '"offsetLagThreshold": must be an integer from 1 to 1000000000, got nothing',
    ],
  ])('rejects %s = %j, naming the key and what is allowed', (key, value, message) => {
    expect(() => configWith({ [key]: value })).toThrow(message);
  });

  it('rejects KRaft versions on kafka.t3.small brokers, which cannot run KRaft', () => {
    expect(() => configWith({ kafkaVersion: '3.9.x.kraft' })).toThrow(
      'Invalid context "kafkaVersion": must be a ZooKeeper-mode version (3.8.x, 3.9.x) because brokerInstanceType ' +
        'kafka.t3.small cannot run KRaft, got "3.9.x.kraft"',
    );
    expect(
      configWith({ kafkaVersion: '3.9.x.kraft', brokerInstanceType: 'kafka.m7g.large' }).kafkaVersion,
    ).toBe('3.9.x.kraft');
  });

  it('requires the broker count to be a multiple of the two Availability Zones', () => {
    expect(() => configWith({ brokerCount: 3 })).toThrow(
      'Invalid context "brokerCount": must be a multiple of the 2 Availability Zones the cluster spans, got 3',
    );
    expect(configWith({ brokerCount: 4 }).brokerCount).toBe(4);
  });

  it('keeps a paced producer run shorter than its schedule period and its timeout', () => {
    expect(() => configWith({ producerDurationSeconds: 51 })).toThrow(
      '"producerDurationSeconds": must be an integer from 1 to 50, got 51',
    );
    expect(configWith({ scheduleRateMinutes: 5, producerDurationSeconds: 55 }).producerDurationSeconds).toBe(
      55,
    );
    expect(() => configWith({ scheduleRateMinutes: 5, producerDurationSeconds: 56 })).toThrow(
      '"producerDurationSeconds": must be an integer from 1 to 55',
    );
  });

  it('requires both ends of the producer amount range, in order', () => {
    expect(() => configWith({ producerAmountMin: -10 })).toThrow(
      '"producerAmountMax": must be set together with producerAmountMin',
    );
    expect(() => configWith({ producerAmountMin: 10, producerAmountMax: 10 })).toThrow(
      '"producerAmountMax": must be greater than producerAmountMin (10), got 10',
    );
  });
});
