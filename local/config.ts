import path from 'node:path';
import { boolEnv, intEnv, listEnv, optionalEnv, stringEnv } from '../lambda/shared/env';
import { DEFAULT_TOPIC } from '../lambda/shared/transaction';

/**
 * Documented local-only SCRAM credentials of the local broker. They exist only on this machine's loopback
 * broker; on AWS the producer reads its credentials from the AmazonMSK_ secret instead.
 */
export const LOCAL_KAFKA_USERNAME = 'pipeline';
export const LOCAL_KAFKA_PASSWORD = 'pipeline-local';

const LOCAL_HOST = '127.0.0.1';
const PORT_RANGE = { min: 1024, max: 65535 };

export interface LocalKafkaConfig {
  /** Bootstrap brokers, `host:port` each. */
  readonly brokers: readonly string[];
  /** KAFKA_BROKERS was set: that broker is used as it is and no local broker is started. */
  readonly external: boolean;
  readonly username: string;
  readonly password: string;
  readonly topic: string;
  readonly tls: boolean;
  /** Loopback port of the local broker's SASL/SCRAM client listener. */
  readonly port: number;
  /** Loopback port of the local broker's KRaft controller listener. */
  readonly controllerPort: number;
}

export interface LocalConfig {
  /** Root of everything the local runtime writes (git-ignored). */
  readonly dataDir: string;
  readonly kafka: LocalKafkaConfig;
}

/** Reads the local runtime's settings from the environment, falling back to the documented local defaults. */
export function loadLocalConfig(): LocalConfig {
  const repoRoot = path.resolve(__dirname, '..');
  const port = intEnv('LOCAL_KAFKA_PORT', 9092, PORT_RANGE);
  const controllerPort = intEnv('LOCAL_KAFKA_CONTROLLER_PORT', 9093, PORT_RANGE);
  if (controllerPort === port) {
    throw new Error('LOCAL_KAFKA_PORT and LOCAL_KAFKA_CONTROLLER_PORT must differ');
  }
  const external = optionalEnv('KAFKA_BROKERS') !== undefined;
  return {
    dataDir: path.resolve(repoRoot, stringEnv('LOCAL_DATA_DIR', '.local')),
    kafka: {
      brokers: listEnv('KAFKA_BROKERS', [`${LOCAL_HOST}:${port}`]),
      external,
      username: stringEnv('KAFKA_USERNAME', LOCAL_KAFKA_USERNAME),
      password: stringEnv('KAFKA_PASSWORD', LOCAL_KAFKA_PASSWORD),
      topic: stringEnv('KAFKA_TOPIC', DEFAULT_TOPIC),
      // The local broker listens on loopback without TLS; an external broker may say otherwise.
      tls: boolEnv('KAFKA_TLS', false),
      port,
      controllerPort,
    },
  };
}

export const localConfig: LocalConfig = loadLocalConfig();
