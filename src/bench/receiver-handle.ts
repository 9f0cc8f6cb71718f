/** The parent's side of receiver-process.ts: starts it, resets and reads its counters, collects receipts. */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { HANG_PREFIX, type ReceiverCommand, type ReceiverReport } from "./receiver-process.js";

export interface ReceiverSnapshot {
  received: number;
  hung: number;
  rssBytes: number;
}

export interface Receiver {
  readonly port: number;
  /** A healthy path (`hang` false) or one the receiver never answers. */
  url(name: string, hang?: boolean): string;
  /** Zeroes the counters; with `recordReceipts`, every request's webhook-id and arrival time is sent to `onReceipt`. */
  reset(recordReceipts?: boolean): Promise<void>;
  snapshot(): Promise<ReceiverSnapshot>;
  onReceipt: ((eventId: string, receivedAt: number) => void) | null;
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
const REPLY_TIMEOUT_MS = 10_000;

export async function startReceiver(): Promise<Receiver> {
  const child: ChildProcess = fork(fileURLToPath(new URL("./receiver-process.js", import.meta.url)), [], {
    env: { ...process.env, HERALD_BENCH_RECEIVER: "1" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    // A profile of the benchmark (--cpu-prof) is of Herald, not of the receiver.
    execArgv: [],
  });
  let seq = 0;
  const waiting = new Map<number, (snapshot: ReceiverSnapshot) => void>();

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("receiver did not start within 10 s")), START_TIMEOUT_MS);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`receiver exited with code ${code} before listening`)));
    child.on("message", (report: ReceiverReport) => {
      if (report.type === "listening") {
        clearTimeout(timer);
        resolve(report.port);
      }
    });
  });
  child.removeAllListeners("exit");

  const receiver: Receiver = {
    port,
    onReceipt: null,
    url: (name, hang = false) => `http://127.0.0.1:${port}${hang ? HANG_PREFIX : "/"}${name}`,
    async reset(recordReceipts = false) {
      await request({ type: "reset", recordReceipts, seq: ++seq });
    },
    snapshot: () => request({ type: "snapshot", seq: ++seq }),
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.send({ type: "close" } satisfies ReceiverCommand);
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };

  child.on("message", (report: ReceiverReport) => {
    if (report.type === "receipts") {
      const onReceipt = receiver.onReceipt;
      if (onReceipt === null) return;
      for (let i = 0; i < report.ids.length; i++) onReceipt(report.ids[i]!, report.receivedAt[i]!);
    } else if (report.type === "snapshot") {
      waiting.get(report.seq)?.({ received: report.received, hung: report.hung, rssBytes: report.rssBytes });
      waiting.delete(report.seq);
    }
  });

  function request(command: Extract<ReceiverCommand, { seq: number }>): Promise<ReceiverSnapshot> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(command.seq);
        reject(new Error(`receiver did not answer ${command.type} within 10 s`));
      }, REPLY_TIMEOUT_MS);
      waiting.set(command.seq, (snapshot) => {
        clearTimeout(timer);
        resolve(snapshot);
      });
      child.send(command);
    });
  }

  return receiver;
}
