/**
 * CPU profiles of the measured window only. `node --cpu-prof` profiles the whole run —
 * ceiling, queueing and teardown included — which blurs what a drain spends its time on. With
 * HERALD_BENCH_PROFILE_DIR set, each drain is profiled on its own through the inspector and
 * written there as a .cpuprofile (open in Chrome DevTools or speedscope).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Session } from "node:inspector/promises";

export interface ProfileWindow {
  /** Stops profiling and writes the file; resolves to its path, or null when profiling is off. */
  stop(): Promise<string | null>;
}

let written = 0;

export async function startProfileWindow(name: string): Promise<ProfileWindow> {
  const dir = process.env.HERALD_BENCH_PROFILE_DIR;
  if (!dir) return { stop: async () => null };
  await mkdir(dir, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  // 250 µs: fine enough for sub-millisecond work per delivery, coarse enough not to slow it much.
  await session.post("Profiler.setSamplingInterval", { interval: 250 });
  await session.post("Profiler.start");
  return {
    async stop() {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      const path = join(dir, `${String(++written).padStart(2, "0")}-${name}.cpuprofile`);
      await writeFile(path, JSON.stringify(profile));
      return path;
    },
  };
}
