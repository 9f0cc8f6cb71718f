/**
 * `herald migrate`: opens the configured database and applies the numbered migrations it has
 * not seen yet, then says which ones it applied. The server migrates on start as well; this
 * command is for deploys that migrate first and start processes after.
 */
import type { Command } from "commander";
import { migrateDatabase } from "../../engine/migrate-database.js";
import { isHeraldError } from "../../errors.js";
import { DEFAULT_DATABASE_URL } from "../../store/open-store.js";
import { CliError } from "../output.js";

export function registerMigrateCommand(program: Command): void {
  program
    .command("migrate")
    .description("apply database migrations to the configured store")
    .option("--database-url <url>", `sqlite:<path> or postgres://... (env HERALD_DATABASE_URL; default ${DEFAULT_DATABASE_URL})`)
    .option("--format <format>", "table or json", "table")
    .action(async (flags: { databaseUrl?: string; format: string }) => {
      const url = flags.databaseUrl ?? process.env.HERALD_DATABASE_URL ?? DEFAULT_DATABASE_URL;
      const report = await migrateDatabase(url).catch((error: unknown) => {
        throw isHeraldError(error) ? new CliError(error.message) : error;
      });
      if (flags.format === "json") return console.log(JSON.stringify(report, null, 2));
      const what = report.applied.length === 0 ? "already up to date" : `applied ${report.applied.join(", ")}`;
      console.log(`${report.database}: ${what} (${report.alreadyApplied + report.applied.length} migrations in total)`);
    });
}
