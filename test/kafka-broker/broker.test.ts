import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Admin, Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boolEnv, requireEnv } from '../../lambda/shared/env';
import { kafkaClientProperties, kafkaToolCommand } from '../../local/kafka/broker';

// Read from the environment the global setup hands to the workers: this also proves that hand-over works.
const brokers = requireEnv('KAFKA_BROKERS').split(',');
const username = requireEnv('KAFKA_USERNAME');
const password = requireEnv('KAFKA_PASSWORD');
const tls = boolEnv('KAFKA_TLS', true);

function clientConfig(overrides: { password?: string } = {}): KafkaConfig {
  return {
    clientId: 'broker-test',
    brokers,
    ssl: tls,
    sasl: { mechanism: 'scram-sha-512', username, password: overrides.password ?? password },
    connectionTimeout: 5_000,
    retry: { retries: 2, initialRetryTime: 100 },
    logLevel: logLevel.NOTHING,
  };
}

const kafka = new Kafka(clientConfig());
const topic = `broker-test-${randomUUID()}`;
let admin: Admin;

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic, `${topic}-perf`] }).catch(() => undefined);
  await admin.disconnect();
});

describe('Kafka broker for tests and the local pipeline', () => {
  it('accepts SCRAM-SHA-512 clients: messages produced come back from a consumer group', async () => {
    // Prepare
    const sent = ['Kazan', 'SPB', 'Novosibirsk', 'Surgut', 'Kazan'].map((branch, index) => ({
      key: branch,
      value: JSON.stringify({ id: randomUUID(), branch, currency: 'RUB', amount: index - 2 }),
    }));
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    const consumer = kafka.consumer({ groupId: `${topic}-group` });
    const received: { key: string; value: string }[] = [];

    // Act
    await producer.connect();
    await producer.send({ topic, messages: sent });
    await producer.disconnect();
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${received.length} of ${sent.length} messages arrived`)),
          20_000,
        );
        consumer
          .run({
            eachMessage: async ({ message }) => {
              received.push({ key: String(message.key), value: String(message.value) });
              if (received.length === sent.length) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }

    // Assess
    const byValue = (a: { value: string }, b: { value: string }) => a.value.localeCompare(b.value);
    expect(received.sort(byValue)).toEqual([...sent].sort(byValue));
  });

  it('rejects a client with the wrong password', async () => {
    // Prepare
    const intruder = new Kafka({
      ...clientConfig({ password: `${password}-wrong` }),
      retry: { retries: 0 },
    }).admin();

    // Act
    const connecting = intruder.connect();

    // Assess
    await expect(connecting).rejects.toMatchObject({ name: 'KafkaJSSASLAuthenticationError' });
    await intruder.disconnect();
  });

  it('does not create topics on first use', async () => {
    // Prepare
    const missing = `${topic}-never-created`;
    const producer = kafka.producer({
      allowAutoTopicCreation: true,
      retry: { retries: 1, initialRetryTime: 100 },
    });
    await producer.connect();

    // Act
    const sending = producer.send({ topic: missing, messages: [{ value: 'lost?' }] });

    // Assess
    await expect(sending).rejects.toThrow(/does not host this topic-partition/);
    await producer.disconnect();
    expect(await admin.listTopics()).not.toContain(missing);
  });

  it('serves the Java benchmark producer with the same SCRAM credentials', async () => {
    // Prepare
    const records = 300;
    const perfTopic = `${topic}-perf`;
    await admin.createTopics({ topics: [{ topic: perfTopic, numPartitions: 3 }], waitForLeaders: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'producer-perf-'));
    const propertiesFile = path.join(dir, 'client.properties');
    fs.writeFileSync(propertiesFile, kafkaClientProperties(), { mode: 0o600 });
    const { command, args } = kafkaToolCommand(
      'org.apache.kafka.tools.ProducerPerformance',
      ['--topic', perfTopic, '--num-records', String(records), '--record-size', '64', '--throughput', '-1'],
      { heap: '256m' },
    );

    // Act
    let stdout: string;
    try {
      ({ stdout } = await promisify(execFile)(command, [...args, '--producer.config', propertiesFile]));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }

    // Assess
    expect(stdout).toMatch(new RegExp(`^${records} records sent`, 'm'));
    const offsets = await admin.fetchTopicOffsets(perfTopic);
    expect(offsets.reduce((sum, partition) => sum + Number(partition.high), 0)).toBe(records);
  });
});
