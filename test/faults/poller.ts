import { Logger } from '@aws-lambda-powertools/logger';
import type { MSKEvent } from 'aws-lambda';
import { intEnv, stringEnv } from '../../lambda/shared/env';
import { createKafka, kafkaBrokersFromEnv } from '../../lambda/shared/kafka';
import { DEFAULT_CONSUMER_GROUP_ID } from '../../lambda/shared/transaction';
import { EventSourceMapping } from '../../local/event-source-mapping';
import type { ChildMessage, ParentMessage } from './protocol';

/**
 * The poller the fault runner starts, kills and restarts: the local event source mapping driving the real
 * aggregator handler, configured entirely by the environment the runner passes (the same variables the
 * function reads on AWS, plus FAULT_* knobs). It runs as its own process so that it can be SIGKILLed.
 */

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function main(): Promise<void> {
  // The handler reads its configuration when loaded, so it is loaded after the environment is final.
  const { handler } = await import('../../lambda/aggregator/index.js');
  const timeoutMs = intEnv('FAULT_INVOCATION_TIMEOUT_MS', 3_000, { min: 100, max: 900_000 });
  const topic = stringEnv('KAFKA_TOPIC', 'transaction');
  const groupId = stringEnv('CONSUMER_GROUP_ID', DEFAULT_CONSUMER_GROUP_ID);
  const brokers = kafkaBrokersFromEnv();
  const logger = new Logger({ serviceName: 'fault-poller' });

  /**
   * Lambda gives up on an invocation at its timeout and the mapping retries the batch. The local mapping has
   * no timeout of its own, so it is applied here: the handler's promise is abandoned, not cancelled, which is
   * the harder case for the ledger (the abandoned invocation may still commit while the retry runs).
   */
  const invoke = async (event: MSKEvent): Promise<unknown> => {
    let timedOut = false;
    const running = handler(event).then(
      (result) => {
        void send({
          type: 'result',
          accepted: result.accepted,
          rejected: result.rejected,
          deduplicated: result.deduplicated,
          late: timedOut,
        });
        return result;
      },
      (error: unknown) => {
        void send({ type: 'invoke-failed', message: errorMessage(error) });
        throw error;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        void send({ type: 'timed-out', afterMs: timeoutMs });
        reject(new Error(`Invocation timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([running, deadline]);
    } finally {
      clearTimeout(timer);
    }
  };

  let crashArmed = false;
  const kafka = await createKafka({ brokers, clientId: 'fault-poller', logger });
  const mapping = new EventSourceMapping({
    kafka,
    topic,
    groupId,
    brokers,
    handler: invoke,
    batching: {
      batchSize: intEnv('FAULT_BATCH_SIZE', 500, { min: 1, max: 10_000 }),
      windowMs: intEnv('FAULT_BATCH_WINDOW_MS', 250, { min: 0, max: 300_000 }),
    },
    retry: { baseMs: 200, maxMs: 2_000 },
    afterInvoke: async () => {
      if (!crashArmed) return;
      crashArmed = false;
      await send({ type: 'in-commit-window' });
      // The database has committed and the offsets have not: wait here for the SIGKILL.
      await new Promise<never>(() => undefined);
    },
  });

  process.on('message', (message: ParentMessage) => {
    if (message.type === 'arm-crash') crashArmed = true;
    if (message.type === 'stop') {
      mapping.stop().then(
        async () => {
          const stats = mapping.stats();
          await send({
            type: 'stopped',
            batches: stats.batches,
            failedInvocations: stats.failedInvocations,
            commitFailures: stats.commitFailures,
          });
          process.exit(0);
        },
        (error: unknown) => {
          logger.error('Stopping the mapping failed', error as Error);
          process.exit(1);
        },
      );
    }
  });
  // A runner that dies must not leave a poller consuming behind it.
  process.on('disconnect', () => process.exit(0));

  await mapping.start();
  await send({ type: 'ready' });
}

main().catch((error: unknown) => {
  process.stderr.write(`fault poller failed: ${errorMessage(error)}\n`);
  process.exit(1);
});
