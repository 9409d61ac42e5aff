import { applyMigrationsTo } from '../lambda/shared/migrations';

/** `npm run db:migrate`: applies migrations/*.sql to DATABASE_URL (the local runtime's database, a dev RDS). */
async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === '') {
    console.error(
      'DATABASE_URL is not set. Example: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run db:migrate',
    );
    process.exitCode = 2;
    return;
  }
  const target = new URL(url);
  const { applied, alreadyApplied } = await applyMigrationsTo(url);
  const where = `${target.host}${target.pathname}`;
  if (applied.length === 0) {
    console.log(`${where}: schema up to date (${alreadyApplied.length} migrations already applied)`);
  } else {
    console.log(`${where}: applied ${applied.join(', ')}`);
  }
}

main().catch((error: unknown) => {
  console.error(`Migration failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
