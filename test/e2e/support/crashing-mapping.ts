import { writeSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { requireEnv } from '../../../lambda/shared/env';
import { createKafka, kafkaBrokersFromEnv } from '../../../lambda/shared/kafka';
import { EventSourceMapping } from '../../../local/event-source-mapping';
import { offsetsToCommit } from '../../../local/msk-event';

/**
 * The local event source mapping with the real aggregator, in a process of its own that kills itself with
 * SIGKILL right after the aggregator has committed its N-th batch to the database and before the mapping
 * commits the batch's offsets to Kafka: the crash window that at-least-once delivery leaves open. Each handled
 * batch is reported on stdout as one JSON line, written synchronously so the last one survives the kill.
 */
async function main(): Promise<void> {
  const crashAfter = Number(requireEnv('CRASH_AFTER_BATCHES'));
  const aggregator = await import('../../../lambda/aggregator/index.js');
  const brokers = kafkaBrokersFromEnv();
  const kafka = await createKafka({
    brokers,
    clientId: 'crashing-mapping',
    logger: new Logger({ serviceName: 'crashing-mapping', logLevel: 'SILENT' }),
  });
  let batches = 0;
  const mapping = new EventSourceMapping({
    kafka,
    topic: requireEnv('KAFKA_TOPIC'),
    groupId: requireEnv('CONSUMER_GROUP_ID'),
    brokers,
    batching: { batchSize: Number(requireEnv('BATCH_SIZE')), windowMs: 200 },
    handler: aggregator.handler,
    afterInvoke: (event, result) => {
      batches += 1;
      writeSync(1, `${JSON.stringify({ batch: batches, result, commits: offsetsToCommit(event) })}\n`);
      if (batches >= crashAfter) process.kill(process.pid, 'SIGKILL');
    },
  });
  await mapping.start();
}

main().catch((error: unknown) => {
  writeSync(2, `${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
