/**
 * Runs the built `herald` binary as a subprocess, the way a user does, against a real server
 * started in-process with startServer on port 0 in a temp data folder (its store on the
 * project's backend: serverDatabaseUrl). The CLI finds that
 * server through the data folder's server.json and default-tenant.key, as on a real machine.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, statSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadConfig } from "../../src/config/load-config.js";
import { startServer, type RunningServer } from "../../src/api/server.js";
import { dropServerDatabase, serverDatabaseUrl } from "../helpers/backends.js";
import { watchForLeaks } from "../setup/leak-detector.js";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
export const CLI_BIN = join(REPO_ROOT, "dist/cli/main.js");

/** The suite runs the compiled CLI; stale JavaScript would test old code, so refuse it plainly. */
export function assertCliBuilt(): void {
  let built: number;
  try {
    built = statSync(CLI_BIN).mtimeMs;
  } catch {
    throw new Error(`${CLI_BIN} is missing: run \`npx tsc -p .\` first (npm test does)`);
  }
  const sources = [...listTs(join(REPO_ROOT, "src/cli")), ...listTs(join(REPO_ROOT, "src/receiver"))];
  const newest = Math.max(...sources.map((file) => statSync(file).mtimeMs));
  if (newest > built) throw new Error("dist/cli is older than src/cli: run `npx tsc -p .` first (npm test does)");
}

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => join(entry.parentPath, entry.name));
}

export interface TestServer {
  server: RunningServer;
  dataDir: string;
  close(): Promise<void>;
}

export async function startTestServer(): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "herald-cli-"));
  const config = loadConfig({
    HERALD_DATA_DIR: dataDir,
    HERALD_DATABASE_URL: await serverDatabaseUrl(dataDir),
    PORT: "0",
    HERALD_ALLOW_PRIVATE_TARGETS: "true",
    HERALD_LOG_LEVEL: "silent",
  });
  const server = await startServer(config, { print: () => {}, dispatch: { pollIntervalMs: 20 } });
  const running: TestServer = {
    server,
    dataDir,
    async close() {
      runningServers.delete(running);
      await server.close();
      await dropServerDatabase(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  runningServers.add(running);
  return running;
}

const runningServers = new Set<TestServer>();
watchForLeaks("a Herald server from test/cli/cli-harness.ts that was not closed", () => [...runningServers]);

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a subprocess starts from: nothing of the developer's own Herald settings leaks in. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith("HERALD_") || name === "FORCE_COLOR") delete env[name];
  delete env.NO_COLOR;
  return { ...env, ...extra };
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rejectRun(new Error(`herald ${args.join(" ")} did not finish within 20 s\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, 20_000);
    child.on("error", rejectRun);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/** util-linux `script`, which runs a command on a pseudo-terminal: the only way to test a TTY prompt from a test. */
export const hasScriptCommand = spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;

/** Runs the CLI on a pseudo-terminal, typing `input`; stdout holds everything the terminal showed. */
export function runCliOnTerminal(args: string[], input: string, env: Record<string, string>): Promise<CliResult> {
  const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, CLI_BIN, ...args].map(quote).join(" ");
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], { env: cleanEnv(env), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", rejectRun);
    child.on("close", (code) => resolveRun({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Runs a command that must succeed and returns its stdout; a failure shows what the CLI said. */
export async function cliOk(args: string[], env: Record<string, string>): Promise<string> {
  const result = await runCli(args, env);
  if (result.code !== 0) throw new Error(`herald ${args.join(" ")} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result.stdout;
}

export async function cliJson<T>(args: string[], env: Record<string, string>): Promise<T> {
  return JSON.parse(await cliOk([...args, "--format", "json"], env)) as T;
}

/** A long-running CLI process (listen, serve): its output so far, a wait for a line, and a stop. */
export interface CliProcess {
  child: ChildProcess;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(): Promise<number | null>;
}

export function spawnCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [CLI_BIN, ...args], { env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of [...listeners]) listener();
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  const exited = new Promise<number | null>((resolveExit) =>
    child.on("close", (code, signal) => {
      if (signal) output += `[killed by ${signal}]\n`;
      resolveExit(code);
    }),
  );
  return {
    child,
    output: () => output,
    waitForOutput(pattern, timeoutMs = 10_000) {
      return new Promise((resolveWait, rejectWait) => {
        const check = () => {
          const match = output.match(pattern);
          if (!match) return false;
          listeners.delete(check);
          clearTimeout(timer);
          resolveWait(match);
          return true;
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          rejectWait(new Error(`no output matching ${pattern} within ${timeoutMs} ms; output so far:\n${output}`));
        }, timeoutMs);
        if (!check()) listeners.add(check);
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** The rule for every failure path: non-zero exit, exactly one line on stderr, no stack trace. */
export function expectOneLineError(result: CliResult): string {
  const lines = result.stderr.split("\n").filter((line) => line.length > 0);
  if (result.code === 0 || lines.length !== 1 || /\n\s+at /.test(result.stderr) || !lines[0]!.startsWith("error: ")) {
    throw new Error(`expected a non-zero exit and one "error: ..." line; got exit ${result.code}\nstderr: ${result.stderr}\nstdout: ${result.stdout}`);
  }
  return lines[0]!;
}
