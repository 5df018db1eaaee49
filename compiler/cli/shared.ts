/**
 * What every command shares: exit codes, the invocation a command receives, usage errors,
 * output streams, reading spec files (a missing or binary file is a reason, not a crash) and
 * writing output files (a path the file system refuses is a PathError, not a crash).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { ParseArgsConfig } from "node:util";
import type { Diagnostic } from "../diag/diagnostic.ts";
import type { ScanAlgorithm } from "../passes/index.ts";
import { scanOf, type Target } from "../build.ts";
import { renderDiagnostic } from "../diag/render.ts";

export const EXIT = { ok: 0, errors: 1, usage: 2, internal: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A mistake in the command line itself; printed as `hybridc: message` with a pointer to --help. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

/**
 * A path given on the command line (or under one) that the file system refuses: printed as one
 * line, `hybridc: cannot write PATH: reason`, exit code 2.
 */
export class PathError extends Error {
  constructor(
    readonly verb: "read" | "write" | "create directory",
    readonly path: string,
    readonly reason: string,
  ) {
    super(`cannot ${verb} ${path}: ${reason}`);
  }
}

export type Env = Readonly<Record<string, string | undefined>>;
type Options = NonNullable<ParseArgsConfig["options"]>;
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Invocation {
  readonly values: Values;
  readonly files: readonly string[];
  /** `--color` / `--no-color`, the last one given winning; else picocolors' detection. */
  readonly color: boolean;
}

/** A command's module; its one-line summary is in the COMMANDS table of index.ts, which loads it. */
export interface Command {
  readonly help: string;
  readonly options: Options;
  /** How many positionals: [min, max]. */
  readonly arity: readonly [number, number];
  /** Async for commands that wait on the GPU (`run`). */
  readonly run: (inv: Invocation) => ExitCode | Promise<ExitCode>;
}

export const out = (text: string): void => void process.stdout.write(text);
export const err = (text: string): void => void process.stderr.write(text);

export function print(text: string): ExitCode {
  out(`${text}\n`);
  return EXIT.ok;
}

export const HELP = { type: "boolean", short: "h" } as const;
export const COLOR = { color: { type: "boolean" }, "no-color": { type: "boolean" } } as const;
export const COLOR_HELP = `  --color, --no-color    force colors on or off (default: on for a terminal; NO_COLOR and FORCE_COLOR are honoured)`;

type Read = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: string };

const ERRNO_REASONS: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EISDIR: "is a directory, not a file",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTDIR: "a part of the path is not a directory",
  EEXIST: "it exists and is not a directory",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "file name too long",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EBUSY: "the file is busy",
  EMFILE: "too many open files",
};

export function isErrno(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string";
}

/** Why a file-system call failed, in words (`permission denied`); Node's own message for a rare code. */
export function fsReason(e: NodeJS.ErrnoException): string {
  return ERRNO_REASONS[e.code!] ?? e.message;
}

/**
 * Runs a file-system call on `path`; an errno error (EACCES, ENOTDIR, EISDIR, ENOSPC, ...)
 * becomes a PathError naming `path` and the reason. Anything else is a bug and propagates.
 */
export function onPath<T>(verb: PathError["verb"], path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isErrno(e)) throw new PathError(verb, path, fsReason(e));
    throw e;
  }
}

/** writeFileSync, a refusal of the file system being a PathError. */
export function writeFileOrFail(path: string, data: string | Uint8Array): void {
  onPath("write", path, () => writeFileSync(path, data));
}

/** mkdirSync(path, { recursive: true }), a refusal of the file system being a PathError. */
export function makeDirOrFail(path: string): void {
  onPath("create directory", path, () => mkdirSync(path, { recursive: true }));
}

/** Reads a spec as UTF-8 text; a missing, unreadable or binary file is a reason, not an exception. */
function readSpec(file: string): Read {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    if (!isErrno(e)) throw e;
    return { ok: false, reason: fsReason(e) };
  }
  if (bytes.includes(0)) return { ok: false, reason: "binary file (it contains NUL bytes), not .hyb text" };
  try {
    return { ok: true, text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { ok: false, reason: "not valid UTF-8 text" };
  }
}

/** Reads every file, reporting the unreadable ones; returns the readable ones and the exit code so far. */
export function readAll(files: readonly string[]): { sources: { path: string; text: string }[]; code: ExitCode } {
  const sources = [];
  let code: ExitCode = EXIT.ok;
  for (const path of files) {
    const r = readSpec(path);
    if (r.ok) sources.push({ path, text: r.text });
    else {
      err(`hybridc: cannot read ${path}: ${r.reason}\n`);
      code = EXIT.usage;
    }
  }
  return { sources, code };
}

export function worst(a: ExitCode, b: ExitCode): ExitCode {
  return a > b ? a : b;
}

export function errorsCode(diags: readonly Diagnostic[]): ExitCode {
  return diags.some((d) => d.severity === "error") ? EXIT.errors : EXIT.ok;
}

export function pretty(diags: readonly Diagnostic[], color: boolean): string {
  return diags.map((d) => `${renderDiagnostic(d, { color })}\n\n`).join("");
}

/**
 * Ctrl-C. By default (runCli) it prints `hybridc: interrupted` and exits 1, in every command and
 * from the first moment the CLI runs; a command doing long work (run) takes it over while it
 * works, to stop that work cleanly instead. The handler fires once: a second Ctrl-C gets the default.
 */
let interruptHandler: (() => void) | null = null;

/** Route the next Ctrl-C to `handler` until the returned function is called. */
export function onInterrupt(handler: () => void): () => void {
  interruptHandler = handler;
  return () => {
    if (interruptHandler === handler) interruptHandler = null;
  };
}

/** Give a Ctrl-C to the command's handler; false when there is none (the default applies). */
export function takeInterrupt(): boolean {
  const h = interruptHandler;
  if (h === null) return false;
  interruptHandler = null;
  h();
  return true;
}

/** `--scan ALGO` as build options (none when absent: sequential). */
/** `--target cpu|gpu` (commands that have it); absent: {} (the build's default, cpu). */
export function targetOption(inv: Invocation, command: string | undefined): { target?: Target } {
  const target = inv.values["target"] as string | undefined;
  if (target === undefined) return {};
  if (target !== "cpu" && target !== "gpu") throw new UsageError(`unknown --target '${target}' (expected cpu or gpu)`, command);
  return { target };
}

/** `--scan ALGO`; absent: the target's (`--target gpu`: chunked-parallel), else {} (sequential). */
export function scanOption(inv: Invocation, command: string | undefined): { scan?: ScanAlgorithm } {
  const scan = inv.values["scan"] as string | undefined;
  if (scan === undefined) {
    const { target } = targetOption(inv, command);
    return target === undefined ? {} : { scan: scanOf(target) };
  }
  if (scan !== "sequential" && scan !== "chunked-parallel") throw new UsageError(`unknown --scan '${scan}' (expected sequential or chunked-parallel)`, command);
  return { scan };
}
