#!/usr/bin/env node
/**
 * The `herald` command (SPEC section 7): seed 003's webhooks:* commands against a running
 * server, plus serve, listen, migrate and bench. Every failure ends here as one line on
 * stderr and a non-zero exit; HERALD_DEBUG=1 adds the stack for bug reports.
 */
import { Command, CommanderError } from "commander";
import { HERALD_VERSION } from "../version.js";
import { registerBenchCommand } from "./commands/bench.js";
import { registerDeliveryCommands } from "./commands/deliveries.js";
import { registerListenCommand } from "./commands/listen.js";
import { registerMigrateCommand } from "./commands/migrate.js";
import { registerServeCommand } from "./commands/serve.js";
import { registerTenantCommands } from "./commands/tenants.js";
import { registerWebhookCommands } from "./commands/webhooks.js";
import { CliError } from "./output.js";

export function makeProgram(): Command {
  const program = new Command("herald")
    .description("Herald: self-hosted webhook delivery. Server, local receiver and management commands.")
    .version(HERALD_VERSION, "-v, --version")
    .exitOverride()
    .configureOutput({
      // Commander puts "Did you mean ...?" on a second line; one line is easier to read in logs and to test.
      outputError: (text, write) => write(text.trimEnd().replace(/\n+/g, " ") + "\n"),
    });
  registerServeCommand(program);
  registerListenCommand(program);
  registerMigrateCommand(program);
  registerBenchCommand(program);
  registerWebhookCommands(program);
  registerDeliveryCommands(program);
  registerTenantCommands(program);
  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = makeProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    return reportError(error);
  }
}

function reportError(error: unknown): number {
  // Commander has already printed its own message (unknown option, missing flag) or the help text.
  if (error instanceof CommanderError) return error.exitCode;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`error: ${message.trim().replace(/\s*\n\s*/g, " ")}\n`);
  if (process.env.HERALD_DEBUG && error instanceof Error && error.stack) process.stderr.write(error.stack + "\n");
  return error instanceof CliError ? error.exitCode : 1;
}

process.exitCode = await runCli(process.argv);
