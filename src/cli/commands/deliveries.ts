/**
 * Seed 003's testing, monitoring and delivery commands: webhooks:test, :deliveries, :stats,
 * :trigger and :retry, plus deliveries:info for one delivery's attempts.
 */
import type { Command } from "commander";
import {
  checkId, choice, clientFrom, parseJson, parseJsonObject, parsePositiveInteger, withServerOptions, type CommonFlags,
} from "../command-options.js";
import { CliError, formatDuration, formatPercent, formatTime, formatValue, renderFields, renderTable } from "../output.js";
import { listAll, print } from "./webhooks.js";

/** A delivery as the API returns it; only the fields the tables read are typed. */
export interface DeliveryView {
  id: string;
  eventId?: string;
  webhookId: string;
  eventType?: string;
  /** The delivery's state: pending, in_flight, succeeded, failed or cancelled. */
  status: string;
  attemptCount?: number;
  nextAttemptAt?: unknown;
  lastStatus?: number | null;
  lastError?: string | null;
  createdAt?: unknown;
  completedAt?: unknown;
  attempts?: AttemptView[];
}

interface AttemptView {
  attemptNumber: number;
  request?: { method?: string; url?: string };
  startedAt?: unknown;
  durationMs?: number;
  response?: { status: number } | null;
  errorClass?: string | null;
  errorMessage?: string | null;
}

interface TestResultView {
  success: boolean;
  delivery: DeliveryView;
  attempt: AttemptView | null;
}

interface StatsView {
  total_deliveries?: number;
  successful_deliveries?: number;
  failed_deliveries?: number;
  failure_rate?: number;
  total_attempts?: number;
  failed_attempts?: number;
  average_duration?: number | null;
  p95_duration?: number | null;
  last_delivery?: unknown;
  last_success?: unknown;
  last_failure?: unknown;
}

const DELIVERY_STATES = ["pending", "in_flight", "succeeded", "failed", "cancelled"] as const;

export function registerDeliveryCommands(program: Command): void {
  withServerOptions(program.command("webhooks:test").description("send a sample event to one webhook"))
    .argument("<webhook-id>")
    .action(async (id: string, flags: CommonFlags) => {
      const answer = await clientFrom(flags).request<TestResultView>("POST", `/v1/webhooks/${checkId("webhook-id", id)}/test`);
      print(flags, answer, () => describeTestResult(answer));
      // A test that reached the receiver but was refused is a failed check, as for `curl --fail`.
      if (!answer.success && answer.attempt !== null) process.exitCode = 1;
    });

  withServerOptions(program.command("webhooks:deliveries").description("show a webhook's delivery history, newest first"))
    .argument("<webhook-id>")
    .option("--limit <n>", "how many deliveries to show", "50")
    .option("--status <state>", `only deliveries in this state: ${DELIVERY_STATES.join(", ")}`)
    .action(async (id: string, flags: CommonFlags & { limit: string; status?: string }) => {
      const limit = parsePositiveInteger("--limit", flags.limit, 1000);
      const status = flags.status === undefined ? undefined : choice("--status", flags.status, DELIVERY_STATES);
      const deliveries = await listAll<DeliveryView>(
        clientFrom(flags),
        `/v1/webhooks/${checkId("webhook-id", id)}/deliveries`,
        { limit, status },
        limit,
      );
      print(flags, deliveries, () => deliveryTable(deliveries));
    });

  withServerOptions(program.command("webhooks:stats").description("show a webhook's delivery statistics"))
    .argument("<webhook-id>")
    .action(async (id: string, flags: CommonFlags) => {
      const stats = await clientFrom(flags).request<StatsView>("GET", `/v1/webhooks/${checkId("webhook-id", id)}/stats`);
      print(flags, stats, () => statsFields(stats));
    });

  withServerOptions(program.command("webhooks:trigger").description("send an event to every webhook subscribed to its type"), { tenant: true })
    .requiredOption("--event <type>", 'the event type, e.g. "custom" or "agent.started"')
    .option("--data <json>", `the event's data as JSON, e.g. '{"message":"test"}'`, "{}")
    .option("--metadata <json>", `metadata as a JSON object, e.g. '{"source":"cli"}'`)
    .option("--id <uuid>", "the event's id (a UUID): the same id within the server's idempotency window (default 24 h) is accepted once and not delivered again")
    .option("--idempotency-key <key>", "any string with the same effect as --id, sent as the Idempotency-Key header")
    .action(async (flags: CommonFlags & { event: string; data: string; metadata?: string; id?: string; idempotencyKey?: string }) => {
      const body: Record<string, unknown> = { type: flags.event, data: parseJson("--data", flags.data, `'{"message":"test"}'`) };
      if (flags.metadata !== undefined) body.metadata = parseJsonObject("--metadata", flags.metadata, `'{"source":"cli"}'`);
      if (flags.id !== undefined) body.id = flags.id;
      const client = clientFrom(flags, { tenant: true });
      if (client.connection.tenant !== undefined) body.tenantId = client.connection.tenant;
      const headers: Record<string, string> = flags.idempotencyKey === undefined ? {} : { "idempotency-key": flags.idempotencyKey };
      const answer = await client.request<{ id: string; deliveries?: unknown; duplicate?: boolean }>("POST", "/v1/events", { body, headers });
      print(flags, answer, () => {
        if (answer.duplicate) return `Event ${answer.id} was accepted earlier (same id or idempotency key): not delivered again`;
        const deliveries = Array.isArray(answer.deliveries) ? answer.deliveries : [];
        const count = typeof answer.deliveries === "number" ? answer.deliveries : deliveries.length;
        const ids = deliveries.map((d) => (typeof d === "string" ? d : String((d as { id?: unknown }).id))).join(", ");
        return `Event ${answer.id} accepted: ${count} deliver${count === 1 ? "y" : "ies"}${ids ? ` (${ids})` : ""}`;
      });
    });

  withServerOptions(program.command("webhooks:retry").description("deliver a finished delivery again now"))
    .requiredOption("--webhook <webhook-id>", "the webhook the delivery belongs to")
    .requiredOption("--delivery <delivery-id>", "the delivery to retry")
    .action(async (flags: CommonFlags & { webhook: string; delivery: string }) => {
      const client = clientFrom(flags);
      const path = `/v1/deliveries/${checkId("--delivery", flags.delivery)}`;
      checkId("--webhook", flags.webhook);
      // The API retries by delivery id alone; checking the pair catches a pasted wrong id before it re-sends anything.
      const current = await client.request<DeliveryView>("GET", path);
      if (current.webhookId !== flags.webhook) {
        throw new CliError(`delivery ${flags.delivery} belongs to webhook ${current.webhookId}, not ${flags.webhook}`);
      }
      const delivery = await client.request<DeliveryView>("POST", `${path}/retry`);
      print(flags, delivery, () => `Delivery ${delivery.id} queued for retry (status ${delivery.status})`);
    });

  withServerOptions(program.command("deliveries:info").description("show one delivery with every attempt"))
    .argument("<delivery-id>")
    .action(async (id: string, flags: CommonFlags) => {
      const delivery = await clientFrom(flags).request<DeliveryView>("GET", `/v1/deliveries/${checkId("delivery-id", id)}`);
      print(flags, delivery, () => deliveryDetails(delivery));
    });
}

function describeTestResult(answer: TestResultView): string {
  const { delivery, attempt } = answer;
  if (attempt === null) {
    return `Test delivery ${delivery.id} queued (status ${delivery.status}) but not attempted yet: the webhook is paused or no worker took it in time`;
  }
  const outcome = attempt.response ? `HTTP ${attempt.response.status}` : `${formatValue(attempt.errorClass)}: ${formatValue(attempt.errorMessage)}`;
  return [
    `Test ${answer.success ? "succeeded" : "FAILED"}: ${outcome} in ${formatDuration(attempt.durationMs)}`,
    renderFields([
      ["Delivery", delivery.id],
      ["Event", `${formatValue(delivery.eventType)} (${formatValue(delivery.eventId)})`],
      ["Status", delivery.status],
      ["Request", `${formatValue(attempt.request?.method)} ${formatValue(attempt.request?.url)}`],
    ]),
  ].join("\n");
}

export function deliveryTable(deliveries: readonly DeliveryView[]): string {
  return renderTable(
    deliveries,
    [
      { header: "id", value: (d) => d.id },
      { header: "event", value: (d) => formatValue(d.eventType) },
      { header: "status", value: (d) => d.status },
      { header: "attempts", value: (d) => formatValue(d.attemptCount) },
      { header: "last status", value: (d) => formatValue(d.lastStatus) },
      { header: "created", value: (d) => formatTime(d.createdAt) },
      { header: "error", value: (d) => formatValue(d.lastError) },
    ],
    "No deliveries.",
  );
}

function statsFields(stats: StatsView): string {
  return renderFields([
    ["Total deliveries", formatValue(stats.total_deliveries)],
    ["Successful", formatValue(stats.successful_deliveries)],
    ["Failed deliveries", formatValue(stats.failed_deliveries)],
    ["Failure rate", formatPercent(stats.failure_rate)],
    // Attempts count requests: a delivery retried once and then answered 2xx has one failed attempt and no failed delivery.
    ["Total attempts", formatValue(stats.total_attempts)],
    ["Failed attempts", formatValue(stats.failed_attempts)],
    ["Average duration", formatDuration(stats.average_duration)],
    ["p95 duration", formatDuration(stats.p95_duration)],
    ["Last delivery", formatTime(stats.last_delivery)],
    ["Last success", formatTime(stats.last_success)],
    ["Last failed attempt", formatTime(stats.last_failure)],
  ]);
}

function deliveryDetails(delivery: DeliveryView): string {
  const head = renderFields([
    ["ID", delivery.id],
    ["Webhook", delivery.webhookId],
    ["Event", `${formatValue(delivery.eventType)} (${formatValue(delivery.eventId)})`],
    ["Status", delivery.status],
    ["Attempts", formatValue(delivery.attemptCount)],
    ["Next attempt", formatTime(delivery.nextAttemptAt)],
    ["Created", formatTime(delivery.createdAt)],
    ["Completed", formatTime(delivery.completedAt)],
  ]);
  const attempts = renderTable(
    delivery.attempts ?? [],
    [
      { header: "#", value: (a) => String(a.attemptNumber) },
      { header: "started", value: (a) => formatTime(a.startedAt) },
      { header: "duration", value: (a) => formatDuration(a.durationMs) },
      { header: "status", value: (a) => formatValue(a.response?.status) },
      { header: "error", value: (a) => (a.errorClass ? `${a.errorClass}: ${formatValue(a.errorMessage)}` : "-") },
    ],
    "No attempts yet.",
  );
  return `${head}\n\n${attempts}`;
}
