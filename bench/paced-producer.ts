import { closeProducer, handler } from '../lambda/producer/index';

/**
 * The producer handler in its own process, as on AWS where it runs apart from the aggregator: one paced
 * invocation of BENCH_RATE messages a second for BENCH_COUNT messages. Prints its result as the last line.
 */
async function main(): Promise<void> {
  const rate = Number(process.env.BENCH_RATE);
  const count = Number(process.env.BENCH_COUNT);
  try {
    const result = await handler({ mode: 'paced', rate, count });
    process.stdout.write(`\nBENCH_RESULT ${JSON.stringify(result)}\n`);
  } finally {
    await closeProducer();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
