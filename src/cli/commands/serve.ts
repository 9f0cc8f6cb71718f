/**
 * `herald serve`: the server (API, delivery workers, dashboard). One flag per SPEC section 5
 * variable, built from load-config's own list so a new variable gets its flag without touching
 * the CLI; a flag wins over its environment variable.
 */
import { Option, type Command } from "commander";
import { CONFIG_VARIABLES, loadConfig, type ConfigOverrides } from "../../config/load-config.js";

export function registerServeCommand(program: Command): void {
  const serve = program.command("serve").description("run the Herald server: HTTP API, delivery workers and dashboard");
  const attributeToVariable = new Map<string, string>();
  for (const variable of CONFIG_VARIABLES) {
    const option = new Option(variable.flag, `${variable.description} (env ${variable.env}; default ${variable.default})`);
    attributeToVariable.set(option.attributeName(), variable.env);
    serve.addOption(option);
  }
  serve.action(async (flags: Record<string, string | boolean | undefined>) => {
    const overrides: ConfigOverrides = {};
    for (const [attribute, env] of attributeToVariable) {
      if (flags[attribute] !== undefined) overrides[env] = flags[attribute];
    }
    const config = loadConfig(process.env, overrides);
    // Loaded only here: the other commands never pay for fastify and the dashboard.
    const { startServer } = await import("../../api/server.js");
    const server = await startServer(config);
    const stopped = new Promise<void>((resolveStop) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          // A second Ctrl-C while draining: the operator wants out now; unfinished deliveries stay due in the store.
          process.stderr.write(`${signal} again: exiting without waiting for in-flight deliveries\n`);
          process.exit(130);
        }
        stopping = true;
        process.stdout.write(`${signal}: draining in-flight deliveries and stopping...\n`);
        server.close().then(resolveStop, (error: unknown) => {
          process.stderr.write(`error while stopping: ${(error as Error).message}\n`);
          process.exitCode = 1;
          resolveStop();
        });
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    // Announced after the signal handlers are in place, so a supervisor that stops us on reading it gets a clean drain.
    process.stdout.write(`Herald listening on ${server.url} (data in ${config.dataDir}; Ctrl-C to stop)\n`);
    await stopped;
  });
}
