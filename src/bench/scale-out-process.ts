/**
 * One worker of the scale-out scenario, in a process of its own (`fork`): opens the shared
 * PostgreSQL schema, runs a Herald engine's worker when told to start, and stops (in-flight
 * requests finished, attempts committed) when told to stop. It reports only that it is ready
 * and that it stopped; the parent counts deliveries in the database and at the receiver.
 */
import { createHerald, type Herald } from "../herald.js";
import { makeSecretBox, parseMasterKey } from "../secrets/secret-box.js";
import { PostgresStore } from "../store/postgres/postgres-store.js";

export interface ScaleOutWorkerConfig {
  connectionString: string;
  schema: string;
  secretKey: string;
}

export type ScaleOutCommand = { type: "start" } | { type: "stop" };
export type ScaleOutReport = { type: "ready" } | { type: "stopped"; errors: string[] } | { type: "failed"; message: string };

async function openWorker(config: ScaleOutWorkerConfig, errors: string[]): Promise<Herald> {
  const store = await PostgresStore.open({
    connectionString: config.connectionString,
    schema: config.schema,
    secretBox: makeSecretBox(parseMasterKey(config.secretKey, "bench")),
  });
  return createHerald({
    store,
    allowPrivateTargets: true,
    onError: (error, where) => {
      if (errors.length < 20) errors.push(`${where}: ${error instanceof Error ? error.message : String(error)}`);
    },
  });
}

function report(message: ScaleOutReport, exitCode?: number): void {
  process.send?.(message, () => {
    if (exitCode !== undefined) process.exit(exitCode);
  });
}

if (process.send !== undefined && process.env.HERALD_BENCH_SCALE_OUT === "1") {
  const config = JSON.parse(process.env.HERALD_BENCH_SCALE_OUT_CONFIG ?? "{}") as ScaleOutWorkerConfig;
  const errors: string[] = [];
  const failed = (error: unknown) => report({ type: "failed", message: error instanceof Error ? (error.stack ?? error.message) : String(error) }, 1);
  openWorker(config, errors).then((herald) => {
    process.on("message", (command: ScaleOutCommand) => {
      if (command.type === "start") herald.start().catch(failed);
      else herald.close().then(() => report({ type: "stopped", errors }, 0), failed);
    });
    report({ type: "ready" });
  }, failed);
  process.on("disconnect", () => process.exit(0));
}
