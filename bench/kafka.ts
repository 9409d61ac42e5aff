import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { ensureTopic } from '../lambda/topic-admin/ensure-topic';
import { localConfig } from '../local/config';
import { BENCH_PARTITIONS } from './events';

/**
 * The environment the functions read, pointed at the local broker (SASL/SCRAM without TLS, the documented local
 * credentials). Set before the handler modules are imported: they read it at load time.
 */
export function useLocalKafkaEnvironment(topic: string): void {
  process.env.KAFKA_TOPIC = topic;
  process.env.KAFKA_TLS = 'false';
  process.env.KAFKA_USERNAME = localConfig.kafka.username;
  process.env.KAFKA_PASSWORD = localConfig.kafka.password;
}

export function benchTopicName(purpose: string): string {
  return `bench-${purpose}-${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
}

export function adminKafka(): Kafka {
  const { brokers, username, password, tls } = localConfig.kafka;
  return new Kafka({
    clientId: 'bench-admin',
    brokers: [...brokers],
    ssl: tls,
    sasl: { mechanism: 'scram-sha-512', username, password },
    logLevel: logLevel.NOTHING,
  });
}

/** Topics the bench created, deleted at the end so the shared broker does not fill up. */
export class BenchTopics {
  private readonly created: string[] = [];
  private readonly admin = adminKafka().admin();
  private connected = false;

  async create(purpose: string): Promise<string> {
    if (!this.connected) {
      await this.admin.connect();
      this.connected = true;
    }
    const topic = benchTopicName(purpose);
    await ensureTopic(this.admin, { topic, partitions: BENCH_PARTITIONS, replicationFactor: 1 });
    this.created.push(topic);
    return topic;
  }

  async deleteAll(): Promise<void> {
    if (!this.connected) return;
    try {
      if (this.created.length > 0) await this.admin.deleteTopics({ topics: this.created, timeout: 30_000 });
    } finally {
      await this.admin.disconnect();
      this.connected = false;
    }
  }
}
