/**
 * README.md's "A five-minute tour", run as written. The test reads README.md when it runs, takes
 * the ```sh blocks between "## A five-minute tour" and the next "## " heading, and runs their
 * lines in a fresh temp folder, the way a reader with several terminals would. Nothing of the
 * tour is copied here: change a command in the README and this test runs the new one.
 *
 * How the README is read (the whole interpretation; anything else that mentions a terminal fails
 * the test as "cannot interpret" instead of being skipped):
 * - Lines ending in `\` continue on the next line. Comment lines are dropped, except
 *   `# terminal N` (at a block's start or on a line of its own), which says the following lines
 *   run in terminal N.
 * - A block that does not start with a marker runs in the terminal the prose before it names
 *   ("In terminal 2, ..." or "in a fourth terminal"), else in the terminal the previous block
 *   ended in.
 * - Prose cues, acted on where they stand between blocks:
 *   "Restart terminal N without `--flag`": terminal N's last long-running command is run again
 *   minus `--flag` and its value; "Terminal N shows ... `a` and `b`.": waits (bounded) until
 *   terminal N's output holds each backquoted text; "Three terminals": the introduction.
 * - `npm install` is skipped (node_modules is installed). `alias herald="node $PWD/<path>"`
 *   defines `herald` as a shell function running node on <path> in this repository.
 * - `herald serve` and `herald listen` are long-running: each runs in the background in its own
 *   process group, replaces (stops, then starts) whatever runs in its terminal already — the
 *   README's Ctrl-C — and counts as started once it prints "listening". Every other line runs in
 *   the foreground: a block's consecutive foreground lines of one terminal run as one bash script
 *   under `set -euo pipefail`, each line must exit 0, and the variables a line assigns
 *   (`WEBHOOK_ID=$(...)`) are carried into that terminal's later scripts.
 * - The README's ports (8080 for the server, 9095 and 9096 for receivers) are replaced in every
 *   command by free ports picked now; a `herald serve` without `--port` gets PORT in its
 *   environment (README's configuration table: PORT, default 8080).
 * - curl gets a config file (CURL_HOME) that only adds `--write-out` of the HTTP status, since
 *   curl exits 0 on a 4xx and the tour's curl must answer 2xx.
 *
 * HERALD_TOUR_README=<file> runs another copy of the README (to check that a broken command fails).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { expect, it } from "vitest";

const REPO_ROOT = resolve(import.meta.dirname, "../..");
const README = process.env.HERALD_TOUR_README ?? join(REPO_ROOT, "README.md");
const SECTION = "## A five-minute tour";
const README_PORTS = ["8080", "9095", "9096"] as const;
const LONG_RUNNING = /^(?:[A-Za-z_]\w*=\S*\s+)*herald\s+(serve|listen)\b/;
const LINE_MARK = "@@herald-tour-line";

// ---------------------------------------------------------------------------------------------
// Reading the README into steps.

type Step =
  | { kind: "define-herald"; cliPath: string }
  | { kind: "run"; terminal: number; command: string; block: number }
  | { kind: "restart"; terminal: number; withoutFlag: string }
  | { kind: "expect-output"; terminal: number; texts: string[] };

/** The tour section split into prose chunks and ```sh blocks (logical lines), in README order. */
function readTourSection(markdown: string): Array<{ prose: string } | { block: string[] }> {
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => line.trim() === SECTION);
  if (start < 0) throw new Error(`${README} has no "${SECTION}" heading`);
  const parts: Array<{ prose: string } | { block: string[] }> = [];
  let prose: string[] = [];
  for (let i = start + 1; i < lines.length && !lines[i]!.startsWith("## "); i++) {
    const fence = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!fence) {
      prose.push(lines[i]!);
      continue;
    }
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith("```"); i++) body.push(lines[i]!);
    if (fence[1] !== "sh") continue; // another language's block is neither prose nor a command
    parts.push({ prose: prose.join(" ") }, { block: joinContinuations(body) });
    prose = [];
  }
  parts.push({ prose: prose.join(" ") });
  if (!parts.some((part) => "block" in part)) throw new Error(`"${SECTION}" in ${README} has no \`\`\`sh blocks`);
  return parts;
}

function joinContinuations(lines: string[]): string[] {
  const joined: string[] = [];
  let pending = "";
  for (const line of lines) {
    if (!line.trimStart().startsWith("#") && line.endsWith("\\")) pending += line.slice(0, -1);
    else {
      joined.push(pending + line);
      pending = "";
    }
  }
  if (pending) joined.push(pending);
  return joined;
}

const ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth"];

/** The cues of one prose chunk: a terminal for the next block, and steps to take where the prose stands. */
function readProse(prose: string): { terminal?: number; steps: Step[] } {
  const text = prose.replace(/\s+/g, " ");
  let rest = text;
  const found: Array<{ at: number; step?: Step; terminal?: number }> = [];
  const take = (pattern: RegExp, use: (match: RegExpExecArray) => { step?: Step; terminal?: number }) => {
    for (const match of rest.matchAll(new RegExp(pattern, "gi"))) {
      found.push({ at: match.index, ...use(match as RegExpExecArray) });
      rest = rest.slice(0, match.index) + " ".repeat(match[0].length) + rest.slice(match.index + match[0].length);
    }
  };
  take(/\bRestart terminal (\d+) without `(--[\w-]+)`/, (m) => ({ step: { kind: "restart", terminal: Number(m[1]), withoutFlag: m[2]! } }));
  take(/\bTerminal (\d+) shows\b(.*?)\.(?=\s|$)/, (m) => {
    const texts = [...m[2]!.matchAll(/`([^`]+)`/g)].map((quoted) => quoted[1]!);
    if (texts.length === 0) throw new Error(`cannot interpret the README's "${m[0]}": no \`quoted\` output to wait for`);
    return { step: { kind: "expect-output", terminal: Number(m[1]), texts } };
  });
  take(/\bin terminal (\d+)\b/, (m) => ({ terminal: Number(m[1]) }));
  take(new RegExp(`\\bin a (${ORDINALS.join("|")}) terminal\\b`), (m) => ({ terminal: ORDINALS.indexOf(m[1]!.toLowerCase()) + 1 }));
  take(/\b\w+ terminals\b/, () => ({})); // "Three terminals (a fourth at the end) in the same folder": the introduction
  const leftover = /[^.:]*\bterminal\b[^.:]*/i.exec(rest);
  if (leftover) throw new Error(`cannot interpret the README's tour prose about a terminal: "${leftover[0].trim()}" (teach test/readme/tour.test.ts this cue)`);
  found.sort((a, b) => a.at - b.at);
  const terminals = [...new Set(found.flatMap((cue) => (cue.terminal === undefined ? [] : [cue.terminal])))];
  if (terminals.length > 1) throw new Error(`cannot interpret the README's tour prose: it names terminals ${terminals.join(" and ")} for one block: "${text.trim()}"`);
  return { ...(terminals[0] === undefined ? {} : { terminal: terminals[0] }), steps: found.flatMap((cue) => (cue.step ? [cue.step] : [])) };
}

function planTour(markdown: string): Step[] {
  const steps: Step[] = [];
  let terminal: number | undefined;
  let proseTerminal: number | undefined;
  let blockNumber = 0;
  for (const part of readTourSection(markdown)) {
    if ("prose" in part) {
      const cues = readProse(part.prose);
      steps.push(...cues.steps);
      proseTerminal = cues.terminal;
      continue;
    }
    blockNumber++;
    const firstMarker = /^#\s*terminal\s+(\d+)\b/i.exec(part.block.find((line) => line.trim() !== "") ?? "");
    if (firstMarker && proseTerminal !== undefined && Number(firstMarker[1]) !== proseTerminal) {
      throw new Error(`cannot interpret the README's tour: the prose says terminal ${proseTerminal} but block ${blockNumber} is marked terminal ${firstMarker[1]}`);
    }
    terminal = proseTerminal ?? terminal;
    proseTerminal = undefined;
    for (const raw of part.block) {
      const line = raw.trim();
      const marker = /^#\s*terminal\s+(\d+)\b/i.exec(line);
      if (marker) terminal = Number(marker[1]);
      if (line === "" || line.startsWith("#")) continue;
      if (/^npm (install|i|ci)\b/.test(line)) continue; // node_modules is installed already
      const alias = /^alias herald=(["']?)node \$PWD\/(\S+?)\1$/.exec(line);
      if (alias) {
        steps.push({ kind: "define-herald", cliPath: join(REPO_ROOT, alias[2]!) });
        continue;
      }
      if (line.startsWith("alias ")) throw new Error(`cannot interpret the README's alias line: ${line}`);
      if (terminal === undefined) throw new Error(`the README's tour runs "${line}" before saying which terminal it runs in`);
      steps.push({ kind: "run", terminal, command: line, block: blockNumber });
    }
  }
  return steps;
}

// ---------------------------------------------------------------------------------------------
// Running the steps.

interface ForegroundRun {
  /** Order among all runs and starts. */
  seq: number;
  terminal: number;
  command: string;
  output: string;
}

interface Background {
  seq: number;
  terminal: number;
  /** The README's text, before the ports are replaced. */
  command: string;
  child: ChildProcess;
  output(): string;
  exited: Promise<void>;
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((ok, fail) => {
      const server = createServer();
      server.once("error", fail);
      server.listen(0, "127.0.0.1", () => ok(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports;
}

const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

async function poll(what: string, check: () => boolean, describe: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${describe()}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

class Tour {
  readonly runs: ForegroundRun[] = [];
  /** Every long-running process started, in order, stopped ones included (their output stays readable). */
  readonly started: Background[] = [];
  private readonly running = new Map<number, Background>();
  private readonly variables = new Map<number, string>();
  private cliPath: string | undefined;
  private seq = 0;

  constructor(
    private readonly cwd: string,
    private readonly ports: Map<string, string>,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  withPorts(command: string): string {
    return command.replace(new RegExp(`\\b(${[...this.ports.keys()].join("|")})\\b`, "g"), (port) => this.ports.get(port)!);
  }

  port(readmePort: string): string {
    return this.ports.get(readmePort)!;
  }

  async run(steps: Step[]): Promise<void> {
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      if (step.kind === "define-herald") {
        if (!existsSync(step.cliPath)) throw new Error(`the README's alias runs ${step.cliPath}, which does not exist: run \`npx tsc -p tsconfig.json\``);
        this.cliPath = step.cliPath;
      } else if (step.kind === "restart") {
        const last = [...this.started].reverse().find((started) => started.terminal === step.terminal);
        if (!last) throw new Error(`cannot interpret "Restart terminal ${step.terminal}": nothing was started in terminal ${step.terminal}`);
        const flag = new RegExp(`\\s+${step.withoutFlag}(?:=\\S+|\\s+(?!-)\\S+)?(?=\\s|$)`);
        if (!flag.test(last.command)) throw new Error(`cannot interpret "Restart terminal ${step.terminal} without ${step.withoutFlag}": its command has no ${step.withoutFlag}: ${last.command}`);
        await this.startBackground(step.terminal, last.command.replace(flag, ""));
      } else if (step.kind === "expect-output") {
        const shown = this.running.get(step.terminal);
        if (!shown) throw new Error(`the README says what terminal ${step.terminal} shows, but nothing runs there`);
        await poll(`terminal ${step.terminal} to show ${step.texts.map((text) => `"${text}"`).join(" and ")}, as the README says`,
          () => step.texts.every((text) => shown.output().includes(text)), () => `terminal ${step.terminal} (${shown.command}):\n${shown.output()}`);
      } else if (LONG_RUNNING.test(step.command)) {
        await this.startBackground(step.terminal, step.command);
      } else {
        // This line and the next foreground lines of the same block and terminal: one script.
        const group = [step];
        for (let next = steps[i + 1]; next?.kind === "run" && next.block === step.block && next.terminal === step.terminal && !LONG_RUNNING.test(next.command); next = steps[i + 1]) {
          group.push(next);
          i++;
        }
        await this.runForeground(step.terminal, group.map((line) => line.command));
      }
    }
  }

  private prelude(terminal: number): string {
    if (!this.cliPath) throw new Error("the README's tour runs herald before its `alias herald=...` line");
    return [
      "set -euo pipefail",
      "exec 2>&1",
      `herald() { node ${shellQuote(this.cliPath)} "$@"; }`,
      this.variables.get(terminal) ?? "",
    ].join("\n");
  }

  /** bash in its own process group (stopping it stops the node under it too); fd 3 carries the variables back. */
  private spawnShell(script: string, extraEnv: Record<string, string>, variablesPipe: boolean): ChildProcess {
    return spawn("bash", ["-c", script], {
      cwd: this.cwd,
      env: { ...this.env, ...extraEnv },
      detached: true,
      stdio: ["ignore", "pipe", "pipe", ...(variablesPipe ? ["pipe" as const] : [])],
    });
  }

  private async runForeground(terminal: number, commands: string[]): Promise<void> {
    const assigned = [...new Set(commands.flatMap((command) => /^([A-Za-z_]\w*)=/.exec(command)?.[1] ?? []))];
    const script = [
      this.prelude(terminal),
      ...commands.flatMap((command, n) => [`printf '\\n%s\\n' '${LINE_MARK} ${n}@@'`, this.withPorts(command)]),
      ...(assigned.length > 0 ? [`{ declare -p ${assigned.join(" ")} 2>/dev/null || true; } >&3`] : []),
    ].join("\n");
    const child = this.spawnShell(script, {}, true);
    let output = "";
    let declared = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (chunk: Buffer) => (declared += chunk.toString()));
    const timer = setTimeout(() => killGroup(child, "SIGKILL"), 45_000);
    const code = await new Promise<number | null>((done) => child.on("close", (exitCode) => done(exitCode)));
    clearTimeout(timer);
    const pieces = output.split(new RegExp(`\\n?${LINE_MARK} (\\d+)@@\\n`));
    // pieces: [before the first mark, "0", output of line 0, "1", output of line 1, ...]
    const outputs = new Map<number, string>();
    for (let k = 1; k < pieces.length; k += 2) outputs.set(Number(pieces[k]), pieces[k + 1] ?? "");
    const reached = Math.max(-1, ...outputs.keys());
    for (let n = 0; n <= reached && n < commands.length; n++) {
      this.runs.push({ seq: this.seq++, terminal, command: commands[n]!, output: outputs.get(n) ?? "" });
    }
    if (code !== 0) {
      const failed = reached < 0 ? "(before its first line)" : commands[reached];
      throw new Error(`terminal ${terminal}: the README's line\n  ${failed}\nexited ${code ?? "by a signal"}; its output:\n${reached < 0 ? output : outputs.get(reached)}`);
    }
    if (declared) this.variables.set(terminal, `${this.variables.get(terminal) ?? ""}\n${declared}`);
  }

  private async startBackground(terminal: number, command: string): Promise<void> {
    const previous = this.running.get(terminal);
    if (previous) await stop(previous); // the README's Ctrl-C
    const extraEnv: Record<string, string> = {};
    if (/\bherald\s+serve\b/.test(command) && !/--port\b/.test(command)) extraEnv.PORT = this.port("8080");
    const child = this.spawnShell(`${this.prelude(terminal)}\n${this.withPorts(command)}`, extraEnv, false);
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    let closed = false;
    const exited = new Promise<void>((done) => child.on("close", () => {
      closed = true;
      done();
    }));
    const background: Background = { seq: this.seq++, terminal, command, child, output: () => output, exited };
    this.started.push(background);
    this.running.set(terminal, background);
    await poll(`terminal ${terminal}'s "${command}" to print "listening"`, () => {
      if (closed) throw new Error(`terminal ${terminal}'s "${command}" exited before listening:\n${output}`);
      return /listening/.test(output);
    }, () => output, 20_000);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.values()].map(stop));
    this.running.clear();
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

/** SIGTERM to the process group (bash and the node under it), SIGKILL if it is not gone in 10 s. */
async function stop(background: Background): Promise<void> {
  if (background.child.exitCode === null && background.child.signalCode === null) killGroup(background.child, "SIGTERM");
  const timer = setTimeout(() => killGroup(background.child, "SIGKILL"), 10_000);
  await background.exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------

/** The rows of a CLI table (columns two or more spaces apart) whose header line starts with `first`. */
function table(output: string, first: string): Array<Record<string, string>> {
  const lines = output.split("\n");
  const start = lines.findIndex((line) => line.startsWith(first));
  if (start < 0) return [];
  const header = lines[start]!.trim().split(/\s{2,}/);
  const rows: Array<Record<string, string>> = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === "") break;
    const cells = line.trim().split(/\s{2,}/);
    rows.push(Object.fromEntries(header.map((name, k) => [name, cells[k] ?? ""])));
  }
  return rows;
}

it("runs README.md's five-minute tour as written: delivery, signature check, retries, manual retry, Identus curl", async () => {
  const steps = planTour(readFileSync(README, "utf8"));
  const root = mkdtempSync(join(tmpdir(), "herald-tour-"));
  const cwd = join(root, "tour");
  const curlHome = join(root, "curl");
  mkdirSync(cwd);
  mkdirSync(curlHome);
  writeFileSync(join(curlHome, ".curlrc"), 'write-out = "\\n[herald-tour curl: HTTP %{http_code}]\\n"\n');

  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith("HERALD_") || ["PORT", "HOST", "FORCE_COLOR"].includes(name)) delete env[name];
  Object.assign(env, { NO_COLOR: "1", CURL_HOME: curlHome, PATH: `${dirname(process.execPath)}:${env.PATH ?? ""}` });

  const ports = await freePorts(README_PORTS.length);
  const tour = new Tour(cwd, new Map(README_PORTS.map((port, k) => [port, String(ports[k])])), env);
  try {
    await tour.run(steps);

    const ran = (pattern: RegExp, after = -1) => tour.runs.filter((run) => run.seq > after && pattern.test(run.command));
    const receivers = tour.started.filter((started) => /\bherald\s+listen\b/.test(started.command));
    const on = (readmePort: string) => receivers.filter((receiver) => new RegExp(`\\blisten\\s+${readmePort}\\b`).test(receiver.command));
    const eventId = (run: ForegroundRun | undefined) => /^Event (\S+) accepted/m.exec(run?.output ?? "")?.[1];
    const hasBody = (receiver: Background, event: string | undefined) => receiver.output().includes(`"id": "${event}"`);

    // Terminal 2 runs a receiver on 9095, then one answering 500, then one without --status.
    const [first, failing, restarted] = on("9095");
    expect(first && failing && restarted, `three receivers on 9095: ${receivers.map((r) => r.command).join(" | ")}`).toBeTruthy();
    expect(failing!.command).toMatch(/--status 500\b/);
    expect(restarted!.command).not.toMatch(/--status/);

    // The first trigger reaches the first receiver, signed, and is answered 200.
    const firstTrigger = ran(/^herald webhooks:trigger\b/)[0];
    const firstEvent = eventId(firstTrigger);
    expect(firstEvent, firstTrigger?.output).toBeDefined();
    expect(hasBody(first!, firstEvent), first!.output()).toBe(true);
    expect(first!.output()).toContain("signature ok: standard-webhooks");
    expect(first!.output()).toMatch(/^answered 200$/m);

    // Behind the --status 500 receiver, the next deliveries listing shows a failed delivery after 3 attempts.
    expect(failing!.output()).toMatch(/^answered 500$/m);
    const listing = ran(/\bherald webhooks:deliveries\b/, failing!.seq).find((run) => !/--format/.test(run.command));
    const failed = table(listing?.output ?? "", "ID ").find((row) => row.STATUS === "failed");
    expect(failed, `a failed delivery in:\n${listing?.output}`).toBeDefined();
    expect(failed!.ATTEMPTS).toBe("3");

    // The manual retry: attempts 1-3 answered 500, attempt 4 answered 200.
    const info = ran(/^herald deliveries:info\b/, restarted!.seq)[0]?.output ?? "";
    expect(info).toMatch(/^Attempts:\s+4$/m);
    expect(info).toMatch(/^Status:\s+succeeded$/m);
    expect(table(info, "#").map((row) => [row["#"], row.STATUS]), info).toEqual([["1", "500"], ["2", "500"], ["3", "500"], ["4", "200"]]);

    // The Identus curl registers a webhook (2xx, with its id); the next event reaches the receiver on the port that replaced 9096.
    const curl = ran(/^curl\b/)[0];
    expect(curl?.output).toMatch(/\[herald-tour curl: HTTP 2\d\d\]/);
    const curlBody = /^\{.*\}$/m.exec(curl!.output)?.[0];
    expect(curlBody, curl!.output).toBeDefined();
    expect((JSON.parse(curlBody!) as { id?: unknown }).id, curlBody).toEqual(expect.stringMatching(/\S/));
    const [identusReceiver] = on("9096");
    expect(identusReceiver, "terminal 4 runs a receiver on 9096").toBeDefined();
    const lastTrigger = ran(/^herald webhooks:trigger\b/, curl!.seq)[0];
    const lastEvent = eventId(lastTrigger);
    expect(lastEvent, lastTrigger?.output).toBeDefined();
    await poll(`event ${lastEvent} to reach both receivers ("one event reaches both receivers")`,
      () => [identusReceiver!, restarted!].every((receiver) => hasBody(receiver, lastEvent)),
      () => `terminal 4:\n${identusReceiver!.output()}\nterminal 2:\n${restarted!.output()}`);
    await poll("the Identus receiver to answer 200", () => /^answered 200$/m.test(identusReceiver!.output()), () => identusReceiver!.output());

    for (const receiver of receivers) expect(receiver.output(), receiver.command).not.toContain("signature FAILED");
  } finally {
    await tour.stopAll();
    rmSync(root, { recursive: true, force: true });
  }
}, 90_000);
