import path from 'node:path';
import { parseArgs } from 'node:util';
import { runFaults } from '../../test/faults/harness';

const USAGE = `Usage: npm run test:faults -- [--records N] [--rounds N] [--seed N]

Sends N transactions (about 1 % malformed) through a separate local Kafka broker, the local event source mapping
and the aggregator into a fresh PostgreSQL database while injecting each kind of fault --rounds times, then
checks the tables against independently computed totals. Needs PostgreSQL on 127.0.0.1:5432 (trust auth) and
Java 17+. Logs are kept under .local/faults/. Exits non-zero if anything is off.`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '200000' },
      rounds: { type: 'string', default: '4' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const records = Number(values.records);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(records) || records < 1000 || !Number.isInteger(rounds) || rounds < 1) {
    console.error(USAGE);
    return 2;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = path.resolve(__dirname, '..', '..', '.local', 'faults', `run-${stamp}`);
  const report = await runFaults({
    records,
    rounds,
    ...(values.seed === undefined ? {} : { seed: Number(values.seed) }),
    logDir,
    say: (line) => console.error(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`),
  });
  for (const problem of report.problems) console.error(`PROBLEM: ${problem}`);
  console.error(
    `logs: ${path.relative(process.cwd(), logDir)}; took ${(report.durationMs / 1000).toFixed(1)} s`,
  );
  console.log(report.line);
  return report.problems.length === 0 && report.differenceCents === 0n ? 0 : 1;
}

const began = Date.now();
main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  },
);
