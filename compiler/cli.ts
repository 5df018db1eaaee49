/**
 * The `hybridc` command line: the only module that reads argv, the environment and the file
 * system. Everything it shows comes from the compiler's pure functions (compile, the one
 * diagnostic renderer, the expand forms, the formatter); this file only parses arguments,
 * reads and writes files, and picks exit codes:
 *   0 ok (warnings allowed) · 1 errors in the input · 2 usage error · 3 internal error.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import pc from "picocolors";
import { closestNames } from "./check/suggest.ts";
import type { ResolvedModel } from "./check/model.ts";
import { CODES, isDiagCode } from "./diag/codes.ts";
import { Diagnostics, type Diagnostic } from "./diag/diagnostic.ts";
import { renderDiagnostic, summaryLine, toGithub, toJson } from "./diag/render.ts";
import { SourceFile } from "./diag/source.ts";
import { expandedJsonText, expandedText } from "./expand.ts";
import { compile, programs, stateSlots } from "./index.ts";
import { inspectJsonText, inspectModel, inspectText } from "./inspect.ts";
import { bindLength } from "./ir/bind-length.ts";
import type { Graph } from "./ir/graph.ts";
import { printGraph } from "./ir/print.ts";
import { PASSES } from "./passes/index.ts";
import type { HybFile } from "./syntax/ast.ts";
import { parse } from "./syntax/index.ts";
import { format } from "./syntax/print.ts";

export const EXIT = { ok: 0, errors: 1, usage: 2, internal: 3 } as const;
type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A mistake in the command line itself; printed as `hybridc: message` with a pointer to --help. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: CommandName,
  ) {
    super(message);
  }
}

type Env = Readonly<Record<string, string | undefined>>;
type Options = NonNullable<ParseArgsConfig["options"]>;
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

interface Invocation {
  readonly values: Values;
  readonly files: readonly string[];
  /** `--color` / `--no-color`, the last one given winning; else picocolors' detection. */
  readonly color: boolean;
}

interface Command {
  /** One line for the tool's help. */
  readonly summary: string;
  readonly help: string;
  readonly options: Options;
  /** How many positionals: [min, max]. */
  readonly arity: readonly [number, number];
  readonly run: (inv: Invocation) => ExitCode;
}

const out = (text: string): void => void process.stdout.write(text);
const err = (text: string): void => void process.stderr.write(text);

const HELP = { type: "boolean", short: "h" } as const;
const COLOR = { color: { type: "boolean" }, "no-color": { type: "boolean" } } as const;
const COLOR_HELP = `  --color, --no-color    force colors on or off (default: on for a terminal; NO_COLOR and FORCE_COLOR are honoured)`;

const COMMANDS = {
  check: {
    summary: "report the diagnostics of each file",
    help: `Usage: hybridc check [options] FILE...

Parses and checks each .hyb file and prints every diagnostic, then a summary line.

Options:
  --reporter NAME        pretty (default) | json ({"diagnostics":[...]}) | github (workflow commands)
${COLOR_HELP}
  -h, --help             show this help

Exit status: 0 no errors (warnings allowed), 1 errors, 2 usage error or unreadable file.`,
    options: { reporter: { type: "string", default: "pretty" }, ...COLOR, help: HELP },
    arity: [1, Infinity],
    run: runCheck,
  },
  expand: {
    summary: "print the resolved models: layers, parameter count, weight tensors",
    help: `Usage: hybridc expand [options] FILE...

Prints each model of the files as the checker resolves it: its name, parameter count, the
numbered layer list and every weight tensor with its shape. Diagnostics go to stderr; nothing
is printed or written when a file has errors.

Options:
  --json                 print {"models":[{"name","layers","parameters","weights"}]}
  -o, --out DIR          write DIR/<model>.json per model (the --json form, one model each),
                         creating DIR, and print only the paths written
${COLOR_HELP}
  -h, --help             show this help

Exit status: 0 ok, 1 errors, 2 usage error or unreadable file.`,
    options: { json: { type: "boolean" }, out: { type: "string", short: "o" }, ...COLOR, help: HELP },
    arity: [1, Infinity],
    run: runExpand,
  },
  build: {
    summary: "compile each model to its optimized prefill and decode programs (--emit ir)",
    help: `Usage: hybridc build [options] FILE...

Lowers each model of the files to its two programs, prefill (L tokens) and decode (one token),
runs the optimizer and prints the result in the stable IR text form. Diagnostics go to stderr;
nothing is printed when a file has errors.

Options:
  --emit KIND            ir (default): the optimized IR. (wgsl is not implemented yet)
  --dump-after PASS      print the programs as they are after PASS instead
                         (passes, in order: ${PASSES.map((p) => p.name).join(", ")})
  --no-fuse              skip the fusion passes (the primitive-op programs, after DCE)
  --length N             bind the sequence length L to N in the printed prefill program
${COLOR_HELP}
  -h, --help             show this help

Exit status: 0 ok, 1 errors, 2 usage error or unreadable file.`,
    options: { emit: { type: "string", default: "ir" }, "dump-after": { type: "string" }, "no-fuse": { type: "boolean" }, length: { type: "string" }, ...COLOR, help: HELP },
    arity: [1, Infinity],
    run: runBuild,
  },
  inspect: {
    summary: "print the cost of each model: dispatches, scratch bytes, bytes per decode token",
    help: `Usage: hybridc inspect [options] FILE...

Compiles each model and prints, from its buffer plan:
  prefill  at length L: the number of dispatches and the scratch bytes (buffers reused by liveness)
  decode   one token at position T = L: the number of dispatches and the bytes it moves:
           weightBytes (each weight read once; an embedding lookup reads one row),
           stateBytes (conv/SSM state read and written, KV rows written and the valid rows
           read), movedBytes (weights + state + every intermediate written and read back)
  kernels  the decode program's kernels, in dispatch order
Views (reshape, projection slices) and constants computed from weights alone (such as
A = -exp(A_log), evaluated once at load time) launch no kernel.

Options:
  --json                 print {"models":[{"name","prefill":{"length","dispatches","scratchBytes"},
                         "decode":{"dispatches","weightBytes","stateBytes","movedBytes"},
                         "kernels":[{"name","op"}]}]} on one line; kernels are the decode program's
  --length N             prefill length and decode position T (default 1024)
  --no-fuse              compile without the fusion passes
${COLOR_HELP}
  -h, --help             show this help

Exit status: 0 ok, 1 errors, 2 usage error or unreadable file.`,
    options: { json: { type: "boolean" }, length: { type: "string", default: "1024" }, "no-fuse": { type: "boolean" }, ...COLOR, help: HELP },
    arity: [1, Infinity],
    run: runInspect,
  },
  fmt: {
    summary: "print files in canonical layout (--write to rewrite them)",
    help: `Usage: hybridc fmt [options] FILE...

Prints the canonical text of each file. Files are only changed with --write, and never when
they have syntax errors.

Options:
  --write                rewrite files whose text changes, and print their paths
  --check                print the files that are not formatted; exit 1 if there are any
${COLOR_HELP}
  -h, --help             show this help

Exit status: 0 ok, 1 syntax errors (or unformatted files with --check), 2 usage error.`,
    options: { write: { type: "boolean" }, check: { type: "boolean" }, ...COLOR, help: HELP },
    arity: [1, Infinity],
    run: runFmt,
  },
  explain: {
    summary: "explain a diagnostic code, e.g. hybridc explain HYB1004",
    help: `Usage: hybridc explain CODE

Prints the catalogue entry of a diagnostic code: its title, severity and explanation.
CODE may be written HYB1004, hyb1004 or 1004.

Options:
  -h, --help             show this help

Exit status: 0 ok, 2 unknown code.`,
    options: { help: HELP },
    arity: [1, 1],
    run: runExplain,
  },
} as const satisfies Record<string, Command>;

type CommandName = keyof typeof COMMANDS;

const TOOL_HELP = `hybridc - compiles .hyb specs of hybrid SSM/attention sequence models

Usage: hybridc <command> [options] FILE...

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(9)}${c.summary}`)
  .join("\n")}

Options:
  -h, --help     show this help; \`hybridc <command> --help\` for a command
  -v, --version  print the version

Exit status: 0 ok (warnings allowed), 1 errors in the input, 2 usage error, 3 internal error.`;

/** Runs one command line; never throws, never exits. */
export async function main(argv: readonly string[], env: Env = process.env): Promise<ExitCode> {
  try {
    if (env["HYBRIDC_FAULT"] === "internal") throw new Error("fault injected by HYBRIDC_FAULT=internal");
    // `await`, so a command that becomes async still has its rejections caught here.
    return await dispatch(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`hybridc: ${e.message}\n${e.command ? `Run 'hybridc ${e.command} --help' for usage.` : "Run 'hybridc --help' for usage."}\n`);
      return EXIT.usage;
    }
    reportInternalError(e, env);
    return EXIT.internal;
  }
}

/** The process entry (bin/hybridc.js): run, then exit explicitly (a GPU instance would keep Node alive). */
export async function runCli(): Promise<never> {
  // `hybridc expand x.hyb | head`: a closed pipe is not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(EXIT.ok);
    reportInternalError(e, process.env);
    process.exit(EXIT.internal);
  });
  process.on("uncaughtException", (e) => {
    reportInternalError(e, process.env);
    process.exit(EXIT.internal);
  });
  process.exit(await main(process.argv.slice(2)));
}

function reportInternalError(e: unknown, env: Env): void {
  const message = (e instanceof Error ? e.message : String(e)).replace(/^internal compiler error: /, "");
  err(`hybridc: internal error: ${message}\nThis is a bug in hybridc: please report this with the input file and the command line.\n`);
  if (env["HYBRIDC_DEBUG"] === "1" && e instanceof Error && e.stack) err(`${e.stack}\n`);
  else err("(set HYBRIDC_DEBUG=1 to see the stack trace)\n");
}

function dispatch(argv: readonly string[]): ExitCode {
  const [first, ...rest] = argv;
  if (first === undefined) {
    err(`${TOOL_HELP}\n`);
    return EXIT.usage;
  }
  if (first === "-h" || first === "--help") return print(TOOL_HELP);
  if (first === "-v" || first === "--version") return print(version());
  if (first === "help") {
    if (rest[0] === undefined) return print(TOOL_HELP);
    return print(COMMANDS[commandName(rest[0])].help);
  }
  if (first.startsWith("-")) throw new UsageError(`unknown option '${first}' (options go after the command)`);
  const name = commandName(first);
  const command: Command = COMMANDS[name];
  const inv = parseInvocation(name, command, rest);
  if (inv.values["help"]) return print(command.help);
  const [min, max] = command.arity;
  if (inv.files.length < min) throw new UsageError(name === "explain" ? "missing diagnostic code" : "missing FILE argument", name);
  if (inv.files.length > max) throw new UsageError(`unexpected argument '${inv.files[max]}'`, name);
  return command.run(inv);
}

function print(text: string): ExitCode {
  out(`${text}\n`);
  return EXIT.ok;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return `hybridc ${pkg.version}`;
}

function commandName(word: string): CommandName {
  if (Object.hasOwn(COMMANDS, word)) return word as CommandName;
  const near = closestNames(word, Object.keys(COMMANDS));
  throw new UsageError(`unknown command '${word}'${near.length ? `; did you mean '${near[0]}'?` : ""}`);
}

function parseInvocation(name: CommandName, command: Command, args: readonly string[]): Invocation {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: command.options, strict: true, allowPositionals: true, tokens: true });
  } catch (e) {
    // node:util's messages are good ("Unknown option '--jsn'") but end with advice about `--`.
    const msg = e instanceof Error ? e.message.replace(/\. To specify a positional argument.*$/s, "") : String(e);
    throw new UsageError(msg.charAt(0).toLowerCase() + msg.slice(1), name);
  }
  let color = pc.isColorSupported;
  for (const t of parsed.tokens) {
    if (t.kind === "option" && t.name === "color") color = true;
    if (t.kind === "option" && t.name === "no-color") color = false;
  }
  return { values: parsed.values, files: parsed.positionals, color };
}

// ---------------------------------------------------------------- files

type Read = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: string };

const ERRNO_REASONS: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EISDIR: "is a directory, not a file",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTDIR: "a part of the path is not a directory",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "file name too long",
};

function isErrno(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string";
}

/** Reads a spec as UTF-8 text; a missing, unreadable or binary file is a reason, not an exception. */
function readSpec(file: string): Read {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    if (!isErrno(e)) throw e;
    return { ok: false, reason: ERRNO_REASONS[e.code!] ?? e.message };
  }
  if (bytes.includes(0)) return { ok: false, reason: "binary file (it contains NUL bytes), not .hyb text" };
  try {
    return { ok: true, text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { ok: false, reason: "not valid UTF-8 text" };
  }
}

/** Reads every file, reporting the unreadable ones; returns the readable ones and the exit code so far. */
function readAll(files: readonly string[]): { sources: { path: string; text: string }[]; code: ExitCode } {
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

function worst(a: ExitCode, b: ExitCode): ExitCode {
  return a > b ? a : b;
}

function errorsCode(diags: readonly Diagnostic[]): ExitCode {
  return diags.some((d) => d.severity === "error") ? EXIT.errors : EXIT.ok;
}

function pretty(diags: readonly Diagnostic[], color: boolean): string {
  return diags.map((d) => `${renderDiagnostic(d, { color })}\n\n`).join("");
}

// ---------------------------------------------------------------- check

const REPORTERS = ["pretty", "json", "github"] as const;

function runCheck(inv: Invocation): ExitCode {
  const reporter = inv.values["reporter"] as string;
  if (!(REPORTERS as readonly string[]).includes(reporter)) {
    throw new UsageError(`unknown reporter '${reporter}' (expected ${REPORTERS.join(", ")})`, "check");
  }
  const { sources, code } = readAll(inv.files);
  const diags = sources.flatMap((s) => compile(s.text, { path: s.path }).diagnostics);
  // The summary counts the files read; when none could be read the `cannot read` lines say it all.
  const summary = sources.length === 0 ? "" : `${summaryLine(diags)} in ${sources.length} file${sources.length === 1 ? "" : "s"}\n`;
  if (reporter === "json") out(`${JSON.stringify({ diagnostics: diags.map(toJson) }, null, 2)}\n`);
  else if (reporter === "github") out(diags.map((d) => `${toGithub(d)}\n`).join("") + summary);
  else out(pretty(diags, inv.color) + summary);
  return worst(code, errorsCode(diags));
}

// ---------------------------------------------------------------- expand

function runExpand(inv: Invocation): ExitCode {
  const dir = inv.values["out"] as string | undefined;
  const { sources, code } = readAll(inv.files);
  const models: { model: ResolvedModel; path: string }[] = [];
  let failed: ExitCode = code;
  for (const s of sources) {
    const r = compile(s.text, { path: s.path });
    err(pretty(r.diagnostics, inv.color));
    failed = worst(failed, errorsCode(r.diagnostics));
    models.push(...r.models.map((model) => ({ model, path: s.path })));
  }
  if (failed !== EXIT.ok) return failed;
  if (dir === undefined) {
    const list = models.map((m) => m.model);
    out(inv.values["json"] ? expandedJsonText(list) : expandedText(list));
    return EXIT.ok;
  }
  // One file per model, so two models of one name would overwrite each other.
  const seen = new Map<string, string>();
  for (const { model, path } of models) {
    const other = seen.get(model.name);
    if (other !== undefined) throw new UsageError(`model '${model.name}' is defined in both ${other} and ${path}; -o writes one file per model name`, "expand");
    seen.set(model.name, path);
  }
  mkdirSync(dir, { recursive: true });
  for (const { model } of models) {
    const file = join(dir, `${model.name}.json`);
    writeFileSync(file, expandedJsonText([model]));
    out(`${file}\n`);
  }
  return EXIT.ok;
}

// ---------------------------------------------------------------- build and inspect

interface Compiled {
  readonly model: ResolvedModel;
  readonly source: SourceFile;
}

/** Compiles every file, diagnostics to stderr; the models, or the exit code when any file failed. */
function compileAll(inv: Invocation): { models: Compiled[]; code: ExitCode } {
  const { sources, code } = readAll(inv.files);
  const models: Compiled[] = [];
  let result = code;
  for (const s of sources) {
    const r = compile(s.text, { path: s.path });
    err(pretty(r.diagnostics, inv.color));
    result = worst(result, errorsCode(r.diagnostics));
    models.push(...r.models.map((model) => ({ model, source: r.source })));
  }
  return { models, code: result };
}

/** `--length N`: a positive integer. */
function lengthOption(inv: Invocation, command: CommandName): number | undefined {
  const raw = inv.values["length"] as string | undefined;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || !Number.isSafeInteger(n)) throw new UsageError(`--length must be a positive integer, got '${raw}'`, command);
  return n;
}

/** A length must leave room in the KV cache of every model with attention (decode writes row L). */
function checkFits(length: number, models: readonly Compiled[], command: CommandName): void {
  for (const { model } of models) {
    if (length >= model.context && stateSlots(model).some((s) => s.kind === "k")) {
      throw new UsageError(`--length ${length} does not fit the KV cache of model '${model.name}' (context = ${model.context}); use a length below ${model.context}`, command);
    }
  }
}

function runBuild(inv: Invocation): ExitCode {
  const emit = inv.values["emit"] as string;
  if (emit === "wgsl") throw new UsageError("--emit wgsl is not implemented yet; only --emit ir is available", "build");
  if (emit !== "ir") throw new UsageError(`unknown --emit '${emit}' (expected ir)`, "build");
  const fuse = inv.values["no-fuse"] !== true;
  const dumpAfter = inv.values["dump-after"] as string | undefined;
  if (dumpAfter !== undefined) {
    const pass = PASSES.find((p) => p.name === dumpAfter);
    const names = PASSES.map((p) => p.name);
    if (pass === undefined) {
      const near = closestNames(dumpAfter, names);
      throw new UsageError(`unknown pass '${dumpAfter}'${near.length ? `; did you mean '${near[0]}'?` : ""} (passes: ${names.join(", ")})`, "build");
    }
    if (pass.fusion && !fuse) throw new UsageError(`--dump-after ${dumpAfter}: that pass is a fusion, which --no-fuse skips`, "build");
  }
  const length = lengthOption(inv, "build");
  const { models, code } = compileAll(inv);
  if (code !== EXIT.ok) return code;
  if (length !== undefined) checkFits(length, models, "build");
  const texts: string[] = [];
  for (const { model, source } of models) {
    const dumped = new Map<string, Graph>();
    const after = (p: { name: string }, g: Graph): void => void (p.name === dumpAfter && dumped.set(g.name, g));
    const { prefill, decode } = programs(model, { fuse, after });
    for (const g of [prefill, decode]) {
      const shown = dumped.get(g.name) ?? g;
      texts.push(printGraph(length === undefined ? shown : bindLength(shown, length), { source }));
    }
  }
  out(texts.join("\n"));
  return EXIT.ok;
}

function runInspect(inv: Invocation): ExitCode {
  const length = lengthOption(inv, "inspect")!;
  const { models, code } = compileAll(inv);
  if (code !== EXIT.ok) return code;
  checkFits(length, models, "inspect");
  const fuse = inv.values["no-fuse"] !== true;
  const inspected = models.map(({ model }) => inspectModel(model, { length, fuse }));
  out(inv.values["json"] ? inspectJsonText(inspected) : inspectText(inspected));
  return EXIT.ok;
}

// ---------------------------------------------------------------- fmt

function runFmt(inv: Invocation): ExitCode {
  const write = inv.values["write"] === true;
  const checkOnly = inv.values["check"] === true;
  if (write && checkOnly) throw new UsageError("--write and --check cannot be combined", "fmt");
  const { sources, code } = readAll(inv.files);
  let result = code;
  const unformatted: string[] = [];
  for (const s of sources) {
    const source = new SourceFile(s.path, s.text);
    const diags = new Diagnostics(source);
    const ast = parse(diags);
    err(pretty(diags.sorted(), inv.color));
    // A file with syntax errors is never printed or rewritten: its recovered AST is incomplete.
    if (diags.hasErrors) {
      result = worst(result, EXIT.errors);
      continue;
    }
    const text = format(ast, source);
    assertSameMeaning(ast, text, s.path);
    if (checkOnly) {
      if (text !== s.text) unformatted.push(s.path);
    } else if (write) {
      if (text !== s.text) {
        writeFileSync(s.path, text);
        out(`${s.path}\n`);
      }
    } else out(text);
  }
  if (unformatted.length > 0) {
    out(unformatted.map((p) => `${p}\n`).join(""));
    const n = unformatted.length;
    err(`${n} of ${sources.length} file${sources.length === 1 ? "" : "s"} ${n === 1 ? "is" : "are"} not formatted; run 'hybridc fmt --write' on ${n === 1 ? "it" : "them"}\n`);
    result = worst(result, EXIT.errors);
  }
  return result;
}

/** The formatter must not change what a file means: its output parses to the same AST, comments included. */
function assertSameMeaning(before: HybFile, text: string, path: string): void {
  const diags = new Diagnostics(new SourceFile(path, text));
  const after = parse(diags);
  if (diags.hasErrors || astKey(after) !== astKey(before)) {
    throw new Error(`the formatter changed the meaning of ${path}; the file was left unchanged`);
  }
}

function astKey(file: HybFile): string {
  return JSON.stringify(file, (key, value: unknown) => {
    if (key === "span") return undefined;
    // Comments may be re-indented; their words may not change.
    if (key === "text" && typeof value === "string") return value.replace(/\s+/g, " ");
    return value;
  });
}

// ---------------------------------------------------------------- explain

function runExplain(inv: Invocation): ExitCode {
  const word = inv.files[0]!.toUpperCase();
  const code = /^\d{4}$/.test(word) ? `HYB${word}` : word;
  if (!isDiagCode(code)) {
    const near = closestNames(code, Object.keys(CODES));
    throw new UsageError(`unknown diagnostic code '${inv.files[0]}'${near.length ? `; did you mean ${near.join(" or ")}?` : ""}`, "explain");
  }
  const info = CODES[code];
  return print(`${code}: ${info.title}\nseverity: ${info.severity}\n\n${info.explain}`);
}
