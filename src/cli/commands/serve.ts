/**
 * `herald serve`: the server (API, delivery workers, dashboard). One flag per SPEC section 5
 * variable, built from load-config's own list so a new variable gets its flag without touching
 * the CLI; a flag wins over its environment variable. Everything it says goes through one
 * logger (server-log.ts): readable lines on a terminal, JSON lines otherwise.
 */
import { Option, type Command } from "commander";
import type { RunningServer } from "../../api/server.js";
import { CONFIG_VARIABLES, loadConfig, type ConfigOverrides } from "../../config/load-config.js";
import { colourEnabled } from "../output.js";

export function registerServeCommand(program: Command): void {
  const serve = program.command("serve").description("run the Herald server: HTTP API, delivery workers and dashboard");
  const attributeToVariable = new Map<string, string>();
  for (const variable of CONFIG_VARIABLES) {
    const option = new Option(variable.flag, `${variable.description} (env ${variable.env}; default ${variable.default})`);
    attributeToVariable.set(option.attributeName(), variable.env);
    serve.addOption(option);
  }
  // How the log looks, not what the server does, so not in loadConfig's list.
  serve.addOption(new Option("--log-format <format>", "log lines: pretty (one readable line per event), json, or auto (env HERALD_LOG_FORMAT; default auto: pretty on a terminal, else json)"));
  serve.action(async (flags: Record<string, string | boolean | undefined>) => {
    const overrides: ConfigOverrides = {};
    for (const [attribute, env] of attributeToVariable) {
      if (flags[attribute] !== undefined) overrides[env] = flags[attribute];
    }
    const config = loadConfig(process.env, overrides);
    // Loaded only here: the other commands never pay for fastify, pino-pretty and the dashboard.
    const { logDestination, resolveLogFormat } = await import("../server-log.js");
    const format = resolveLogFormat(typeof flags.logFormat === "string" ? flags.logFormat : process.env.HERALD_LOG_FORMAT, process.stdout);
    const { makeServerLogger, startServer } = await import("../../api/server.js");
    const logger = makeServerLogger(config, logDestination(format, colourEnabled(process.stdout)));
    // Generated keys, "listening" and stopping show at any HERALD_LOG_LEVEL: a key missed now is never shown again.
    const notices = logger.child({}, { level: "info" });
    const print = (line: string) => notices.info(line.replace(/^herald: /, "").replace(/\s*\n\s*/g, " "));

    // The handlers are in place before the server listens, so that a supervisor that stops it on
    // reading "listening" gets a clean drain; a signal during start-up stops it once it is up.
    let server: RunningServer | undefined;
    let stopping = false;
    let resolveStop = () => {};
    const stopped = new Promise<void>((resolve) => (resolveStop = resolve));
    const drain = (running: RunningServer) =>
      running.close().then(resolveStop, (error: unknown) => {
        notices.error(`error while stopping: ${(error as Error).message}`);
        process.exitCode = 1;
        resolveStop();
      });
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        // A second Ctrl-C while draining: the operator wants out now; unfinished deliveries stay due in the store.
        notices.warn(`${signal} again: exiting without waiting for in-flight deliveries`);
        process.exit(130);
      }
      stopping = true;
      notices.info(`${signal}: draining in-flight deliveries and stopping...`);
      if (server !== undefined) void drain(server);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    try {
      server = await startServer(config, { logger, notices, print });
      if (stopping) void drain(server);
      await stopped;
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    }
  });
}
