/**
 * Finds what a test left running (graphile-worker fails such tests in an afterEach): timers,
 * child processes, servers and sockets, counted by process.getActiveResourcesInfo(), and the
 * engines and servers test helpers opened and did not close (each helper registers its list
 * with `watchForLeaks`). test/setup/leaks.ts calls these around every test; a test may call
 * them directly (test/setup/leaks.test.ts does, to show a leak is caught).
 */

/**
 * Resource kinds that keep the process alive and that a test opens: setTimeout/setInterval,
 * child processes and listening servers. Unref'd timers are not listed by Node, so library
 * housekeeping timers never count. Sockets are not counted: a keep-alive pool grows and shrinks
 * on its own; a store left open is caught as its unclosed engine instead.
 */
const WATCHED_KINDS = ["Timeout", "ProcessWrap", "TCPServerWrap"] as const;

interface WatchedList {
  what: string;
  live: () => readonly object[];
  detail?: (item: object) => string;
}

const watchedLists: WatchedList[] = [];

/**
 * Registers a helper's list of things still open (e.g. the engines openEngine made that
 * closeEngines has not closed yet); anything a test added to it and left there is a leak.
 */
export function watchForLeaks<T extends object>(what: string, live: () => readonly T[], detail?: (item: T) => string): void {
  watchedLists.push({ what, live, ...(detail ? { detail: detail as (item: object) => string } : {}) });
}

const sharedLists: Array<() => readonly object[]> = [];

/**
 * Registers a helper's list of things a file keeps open across its tests by design and closes in
 * afterAll (storeBackends' stores): never a leak, but while any is open the timers its pool
 * arms are its own, so resource counts are not compared.
 */
export function watchSharedResources(live: () => readonly object[]): void {
  sharedLists.push(live);
}

export interface OpenSnapshot {
  counts: Map<string, number>;
  items: Set<object>;
}

function countWatchedKinds(): Map<string, number> {
  const counts = new Map<string, number>(WATCHED_KINDS.map((kind) => [kind, 0]));
  for (const kind of process.getActiveResourcesInfo()) {
    const count = counts.get(kind);
    if (count !== undefined) counts.set(kind, count + 1);
  }
  return counts;
}

/** What is open now: taken before a test, compared after it. */
export function snapshotOpen(): OpenSnapshot {
  return { counts: countWatchedKinds(), items: new Set(watchedLists.flatMap((list) => list.live())) };
}

function grownKinds(before: OpenSnapshot): string[] {
  const grown: string[] = [];
  for (const [kind, count] of countWatchedKinds()) {
    const was = before.counts.get(kind) ?? 0;
    if (count > was) grown.push(`${count - was} more ${kind} than before the test (${was} -> ${count})`);
  }
  return grown;
}

function unclosedItems(before: OpenSnapshot): string[] {
  const leaks: string[] = [];
  for (const list of watchedLists) {
    for (const item of list.live()) {
      if (before.items.has(item)) continue;
      leaks.push(list.detail ? `${list.what} (${list.detail(item)})` : list.what);
    }
  }
  return leaks;
}

/**
 * What was opened since `before` and is still open: helper-tracked items at once, resource
 * counts only if they stay above `before` for `graceMs` (a server closing or a timer that fires
 * within a few turns of the loop is not a leak). Counts are compared only when no tracked engine
 * or server was open at `before`, and no shared resource is open: one a file shares across its tests keeps
 * timers of its own that come and go with the traffic (pg's pool arms one per idle connection).
 * Empty when nothing leaked.
 */
export async function findLeaks(before: OpenSnapshot, graceMs = 1_000): Promise<string[]> {
  const unclosed = unclosedItems(before);
  if (before.items.size > 0 || sharedLists.some((live) => live().length > 0)) return unclosed;
  const deadline = Date.now() + graceMs;
  let grown = grownKinds(before);
  while (grown.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    grown = grownKinds(before);
  }
  return [...unclosed, ...grown];
}
