/**
 * How `herald serve` shows its log: pino's JSON lines where a program reads stdout (a supervisor,
 * a log shipper, a pipe), one readable line per event where a person does (a terminal).
 * HERALD_LOG_FORMAT (or --log-format) json or pretty forces either; auto, the default, decides
 * by whether stdout is a terminal.
 */
import { destination, type DestinationStream } from "pino";
import pretty from "pino-pretty";
import { configError } from "../errors.js";

export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
export type LogFormat = "json" | "pretty";

/** pino's own fields, shown by pino-pretty as the time and level or not at all. */
const PINO_FIELDS = new Set(["level", "time", "pid", "hostname", "msg", "err"]);

/** The format for `value` (the flag's or HERALD_LOG_FORMAT's); a bad one fails the start with one line naming the variable, as loadConfig's do. */
export function resolveLogFormat(value: string | undefined, stdout: { isTTY?: boolean }): LogFormat {
  const text = value === undefined || value.trim() === "" ? "auto" : value.trim();
  if (!(LOG_FORMATS as readonly string[]).includes(text)) {
    throw configError("HERALD_LOG_FORMAT", `${JSON.stringify(value)} is not valid; set one of ${LOG_FORMATS.join(", ")}`);
  }
  if (text === "auto") return stdout.isTTY === true ? "pretty" : "json";
  return text as LogFormat;
}

/**
 * Where the log lines go: stdout, written synchronously, so that they keep their order with the
 * lines before them and the last ones are out when a second Ctrl-C exits at once. The volume is
 * small (per-request lines only at debug), so blocking writes cost nothing measurable.
 */
export function logDestination(format: LogFormat, colour: boolean): DestinationStream {
  if (format === "json") return destination({ dest: 1, sync: true });
  return pretty({
    colorize: colour,
    sync: true,
    translateTime: "SYS:yyyy-mm-dd HH:MM:ss.l",
    // pino-pretty would print the fields as JSON after the message and an error's stack on lines
    // of its own; readableLine puts both on the event's line. The stack is in the JSON format.
    hideObject: true,
    messageFormat: (log) => readableLine(log),
  });
}

/**
 * An event as one line: its message, its error's type, message and code, then `key=value` for
 * each field the message does not already show (`herald listening on <url>` needs no url=).
 */
export function readableLine(log: Record<string, unknown>): string {
  const message = typeof log.msg === "string" ? log.msg : log.msg === undefined ? "" : JSON.stringify(log.msg);
  let line = message;
  const err = log.err;
  if (typeof err === "object" && err !== null) {
    const { type, message: errorMessage, code } = err as { type?: unknown; message?: unknown; code?: unknown };
    const described = `${typeof type === "string" ? type : "Error"}: ${String(errorMessage ?? "")}${typeof code === "string" ? ` (${code})` : ""}`;
    // logger.error(error) makes the error's own message the event's.
    line = message === "" || message === errorMessage ? described : `${message}: ${described}`;
  }
  for (const [key, value] of Object.entries(log)) {
    if (PINO_FIELDS.has(key) || value === undefined) continue;
    const text = typeof value === "string" ? value : JSON.stringify(value);
    if (typeof value === "string" && message.includes(value)) continue;
    line += ` ${key}=${typeof value === "string" && /[\s"]/.test(value) ? JSON.stringify(value) : text}`;
  }
  return line.replace(/\s*\n\s*/g, " ");
}
