/** Command-line options of `npm run bench` / `herald bench`: which scenarios, which store, and every size. */
import { parseArgs } from "node:util";

export const SCENARIO_NAMES = ["ceiling", "throughput", "peers", "latency", "ingest", "isolation", "backlog", "scale-out"] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface BenchOptions {
  scenarios: ScenarioName[];
  quick: boolean;
  json: boolean;
  store: "sqlite" | "postgres";
  /** Requests per concurrency level in the ceiling scenario. */
  ceilingRequests: number;
  /** Deliveries per fan-out case in the throughput scenario (events = deliveries / fan-out). */
  deliveries: number;
  fanouts: number[];
  /** Deliveries in the backlog that Herald, BullMQ and pg-boss each drain in the peers scenario. */
  peerDeliveries: number;
  latencyRate: number;
  latencySeconds: number;
  ingestRequests: number;
  ingestConcurrency: number;
  ingestBatchSize: number;
  isolationWebhooks: number;
  /** Events in each isolation run; each fans out to every webhook. */
  isolationEvents: number;
  /** The request timeout of the hanging webhooks. */
  hangTimeoutMs: number;
  backlogSmall: number;
  backlogLarge: number;
  backlogFanout: number;
  /** Deliveries in the backlog that 1, 2 and 3 worker processes each drain in the scale-out scenario (PostgreSQL). */
  scaleOutDeliveries: number;
  /** No wait in any scenario lasts longer than this. */
  scenarioTimeoutMs: number;
}

const FULL: Omit<BenchOptions, "scenarios" | "quick" | "json" | "store"> = {
  ceilingRequests: 50_000,
  deliveries: 100_000,
  fanouts: [1, 10, 100],
  peerDeliveries: 50_000,
  latencyRate: 1_000,
  latencySeconds: 30,
  ingestRequests: 20_000,
  ingestConcurrency: 50,
  ingestBatchSize: 100,
  isolationWebhooks: 20,
  isolationEvents: 5_000,
  hangTimeoutMs: 2_000,
  backlogSmall: 10_000,
  backlogLarge: 1_000_000,
  backlogFanout: 10,
  scaleOutDeliveries: 20_000,
  scenarioTimeoutMs: 900_000,
};

/** Sizes for a whole run under a minute on two cores. */
const QUICK: typeof FULL = {
  ...FULL,
  ceilingRequests: 2_000,
  deliveries: 5_000,
  peerDeliveries: 5_000,
  latencySeconds: 5,
  ingestRequests: 2_000,
  isolationEvents: 300,
  hangTimeoutMs: 1_000,
  backlogSmall: 2_000,
  backlogLarge: 20_000,
  scaleOutDeliveries: 3_000,
  scenarioTimeoutMs: 60_000,
};

export const USAGE = `usage: bench [scenario ...] [--quick] [--json] [--store sqlite|postgres] [sizes]
scenarios: ${SCENARIO_NAMES.join(", ")} (default: all; the ceiling always runs, as every rate is a ratio to it)
sizes: --ceiling-requests N --deliveries N --fanouts 1,10,100 --peer-deliveries N --latency-rate N --latency-seconds N
       --ingest-requests N --ingest-concurrency N --ingest-batch-size N --isolation-webhooks N --isolation-events N
       --hang-timeout-ms N --backlog-small N --backlog-large N --backlog-fanout N --scale-out-deliveries N --scenario-timeout-ms N`;

const NUMBER_FLAGS = {
  "ceiling-requests": "ceilingRequests",
  deliveries: "deliveries",
  "peer-deliveries": "peerDeliveries",
  "latency-rate": "latencyRate",
  "latency-seconds": "latencySeconds",
  "ingest-requests": "ingestRequests",
  "ingest-concurrency": "ingestConcurrency",
  "ingest-batch-size": "ingestBatchSize",
  "isolation-webhooks": "isolationWebhooks",
  "isolation-events": "isolationEvents",
  "hang-timeout-ms": "hangTimeoutMs",
  "backlog-small": "backlogSmall",
  "backlog-large": "backlogLarge",
  "backlog-fanout": "backlogFanout",
  "scale-out-deliveries": "scaleOutDeliveries",
  "scenario-timeout-ms": "scenarioTimeoutMs",
} as const satisfies Record<string, keyof typeof FULL>;

export class UsageError extends Error {
  /** True for --help: the usage was asked for, not a mistake. */
  constructor(message: string, readonly requested = false) {
    super(message);
  }
}

function positiveNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--${flag}: expected a positive number, got ${JSON.stringify(text)}`);
  return value;
}

export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      quick: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      store: { type: "string", default: "sqlite" },
      fanouts: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
      ...Object.fromEntries(Object.keys(NUMBER_FLAGS).map((flag) => [flag, { type: "string" as const }])),
    },
  });
  if (values.help) throw new UsageError(USAGE, true);
  const unknown = positionals.filter((name) => !(SCENARIO_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new UsageError(`unknown scenario ${unknown.join(", ")}; choose from ${SCENARIO_NAMES.join(", ")}`);
  const store = values.store;
  if (store !== "sqlite" && store !== "postgres") throw new UsageError(`--store: expected sqlite or postgres, got ${JSON.stringify(store)}`);
  const quick = values.quick === true;
  const options: BenchOptions = {
    ...(quick ? QUICK : FULL),
    scenarios: positionals.length === 0 ? [...SCENARIO_NAMES] : (positionals as ScenarioName[]),
    quick,
    json: values.json === true,
    store,
  };
  for (const [flag, key] of Object.entries(NUMBER_FLAGS)) {
    const text = (values as Record<string, unknown>)[flag];
    if (typeof text === "string") options[key] = Math.round(positiveNumber(flag, text));
  }
  if (typeof values.fanouts === "string") {
    options.fanouts = values.fanouts.split(",").map((part) => Math.round(positiveNumber("fanouts", part)));
  }
  return options;
}
