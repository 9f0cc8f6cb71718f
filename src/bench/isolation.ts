/**
 * Isolation: 10% of webhooks point at paths the receiver never answers, so each of their
 * requests holds a slot until the webhook's timeout. The figure is the healthy webhooks'
 * deliveries/s divided by the deliveries/s of the same number of webhooks all healthy: the
 * same events, the same fan-out, only the broken receivers differ. Broken webhooks keep their
 * default retry policy, so their retries compete with healthy work as they would in production.
 */
import { round, rateFigure, type ScenarioOutcome } from "./figures.js";
import { heraldConcurrency, openHeraldUnderTest, type BenchContext } from "./herald-under-test.js";

export const ISOLATION_TARGET_RATIO = 0.9;
const HANGING_SHARE = 0.1;

interface IsolationRun {
  healthyDeliveries: number;
  seconds: number;
  timeouts: number;
}

async function measureHealthyDrain(context: BenchContext, hanging: number): Promise<IsolationRun> {
  const { options, receiver } = context;
  const inputs = Array.from({ length: options.isolationWebhooks }, (_, i) => ({
    url: receiver.url(`iso/${i}`, i < hanging),
    timeoutMs: options.hangTimeoutMs,
  }));
  const target = await openHeraldUnderTest(context, inputs);
  try {
    const healthyDeliveries = options.isolationEvents * (options.isolationWebhooks - hanging);
    await target.queueEvents(options.isolationEvents);
    await receiver.reset();
    const started = performance.now();
    await target.herald.start();
    await target.waitForSuccesses(healthyDeliveries);
    const seconds = (performance.now() - started) / 1000;
    const timeouts = target.attempts.failed;
    return { healthyDeliveries, seconds, timeouts };
  } finally {
    // close() waits for the hung requests in flight to time out: at most hangTimeoutMs.
    await target.close();
  }
}

export async function runIsolation(context: BenchContext): Promise<ScenarioOutcome> {
  const { options } = context;
  const hanging = Math.max(1, Math.round(options.isolationWebhooks * HANGING_SHARE));
  const healthy = options.isolationWebhooks - hanging;
  if (healthy < 1) throw new Error("isolation: --isolation-webhooks must be at least 2");
  context.log(`isolation: ${options.isolationEvents} events x ${options.isolationWebhooks} webhooks, all healthy`);
  const baseline = await measureHealthyDrain(context, 0);
  context.log(`isolation: the same with ${hanging} webhooks hanging until their ${options.hangTimeoutMs} ms timeout`);
  const broken = await measureHealthyDrain(context, hanging);

  const concurrency = heraldConcurrency(options.isolationWebhooks);
  const allHealthyRate = context.ceiling.rate(baseline.healthyDeliveries, baseline.seconds, concurrency);
  const healthyRate = context.ceiling.rate(broken.healthyDeliveries, broken.seconds, concurrency);
  const ratio = round(healthyRate.perSecond / allHealthyRate.perSecond, 3);
  const met = ratio >= ISOLATION_TARGET_RATIO;
  return {
    json: {
      webhooks: options.isolationWebhooks,
      hangingWebhooks: hanging,
      events: options.isolationEvents,
      hangTimeoutMs: options.hangTimeoutMs,
      allHealthy: { deliveries: baseline.healthyDeliveries, seconds: round(baseline.seconds, 3), deliveriesPerSecond: allHealthyRate },
      withHanging: {
        healthyDeliveries: broken.healthyDeliveries,
        seconds: round(broken.seconds, 3),
        timedOutAttempts: broken.timeouts,
        healthyDeliveriesPerSecond: healthyRate,
      },
      healthyRatio: ratio,
      target: { goal: `>= ${ISOLATION_TARGET_RATIO} of all-healthy`, met },
    },
    figures: [
      rateFigure(`deliveries/s, ${options.isolationWebhooks} healthy webhooks`, allHealthyRate, "deliv/s"),
      rateFigure(`healthy deliveries/s, ${hanging} of ${options.isolationWebhooks} hanging`, healthyRate, "deliv/s"),
      { name: "healthy / all-healthy", value: ratio, unit: "ratio", target: { goal: `>= ${ISOLATION_TARGET_RATIO}`, met } },
    ],
  };
}
