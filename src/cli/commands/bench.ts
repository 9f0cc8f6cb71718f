/**
 * `herald bench`: hands its arguments to the benchmark harness (src/bench/main.ts). Loaded on
 * demand so the harness and its receivers cost nothing to the other commands.
 */
import type { Command } from "commander";
import { CliError } from "../output.js";

type RunBench = (argv: string[]) => Promise<{ exitCode: number }>;

export function registerBenchCommand(program: Command): void {
  program
    .command("bench")
    .description("run the delivery benchmark (arguments go to the harness; `herald bench --help` lists them)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .action(async (args: string[]) => {
      const runBench = await loadHarness();
      const { exitCode } = await runBench(args);
      if (exitCode !== 0) process.exitCode = exitCode;
    });
}

async function loadHarness(): Promise<RunBench> {
  try {
    const module = await import("../../bench/main.js");
    return module.runBench;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" && /bench[\\/]main\.js/.test(String((error as Error).message));
    if (missing) throw new CliError("the benchmark harness is not in this build (dist/bench/main.js is missing)");
    throw error;
  }
}
