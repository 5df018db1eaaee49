/**
 * The `hybridc` command line. compiler/cli/ is the only code that reads argv, the environment
 * and the file system; everything it shows comes from the compiler's pure functions (compile,
 * the one diagnostic renderer, the expand forms, the formatter, inspect). This file parses
 * arguments and dispatches to one module per command (check, expand, build + inspect, run, fmt,
 * explain), loaded on demand; exit codes:
 *   0 ok (warnings allowed) · 1 errors in the input · 2 usage error · 3 internal error.
 */
import { statSync } from "node:fs";
import { parseArgs } from "node:util";
import pc from "picocolors";
import { closestNames } from "../check/suggest.ts";
import { VERSION } from "../version.ts";
import { EXIT, PathError, UsageError, err, print, takeInterrupt, type Command, type Env, type ExitCode, type Invocation } from "./shared.ts";

export { EXIT } from "./shared.ts";

interface LazyCommand {
  /** One line for the tool's help, which loads no command module (`hybridc --help` stays fast). */
  readonly summary: string;
  /** The command's module, loaded only when the command runs or shows its help. */
  readonly load: () => Promise<Command>;
}

// Each command module is loaded on demand: `hybridc --version` and `--help` load none, `check`
// loads the front end only (no codegen, no runtime).
const COMMANDS = {
  check: { summary: "report the diagnostics of each file", load: async () => (await import("./check.ts")).check },
  expand: { summary: "print the resolved models: layers, parameter count, weight tensors", load: async () => (await import("./expand.ts")).expand },
  build: {
    summary: "compile each model to its prefill and decode programs: WGSL kernels + manifest (-o DIR), or IR",
    load: async () => (await import("./build.ts")).build,
  },
  inspect: { summary: "print the cost of each model: dispatches, scratch bytes, bytes per decode token", load: async () => (await import("./build.ts")).inspect },
  run: { summary: "generate text with a model on the GPU (random or checkpoint weights)", load: async () => (await import("./run.ts")).run },
  import: { summary: "write the .hyb spec of a Hugging Face config.json (Mamba, Jamba, Bamba, Nemotron-H, ...)", load: async () => (await import("./import.ts")).importCommand },
  fmt: { summary: "print files in canonical layout (--write to rewrite them)", load: async () => (await import("./fmt.ts")).fmt },
  explain: { summary: "explain a diagnostic code, e.g. hybridc explain HYB1004", load: async () => (await import("./explain.ts")).explain },
} as const satisfies Record<string, LazyCommand>;

type CommandName = keyof typeof COMMANDS;

const TOOL_HELP = `hybridc - compiles .hyb specs of hybrid SSM/attention sequence models

Usage: hybridc FILE.hyb... [-o DIR]       check, then write each model's build and typed bindings (generated/ beside the file)
       hybridc <command> [options] FILE...

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
    if (e instanceof PathError) {
      err(`hybridc: ${e.message}\n`);
      return EXIT.usage;
    }
    reportInternalError(e, env);
    return EXIT.internal;
  }
}

/**
 * The process entry (bin/hybridc.js): run, then exit explicitly (a GPU instance would keep Node
 * alive), but only once stdout and stderr have drained.
 */
export async function runCli(): Promise<never> {
  // `hybridc expand x.hyb | head`: a closed pipe is not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(EXIT.ok);
    reportInternalError(e, process.env);
    void exitFlushed(EXIT.internal);
  });
  process.on("uncaughtException", (e) => {
    reportInternalError(e, process.env);
    void exitFlushed(EXIT.internal);
  });
  process.on("SIGINT", () => {
    if (takeInterrupt()) return;
    err("hybridc: interrupted\n");
    void exitFlushed(EXIT.errors);
  });
  return exitFlushed(await main(process.argv.slice(2)));
}

/**
 * process.exit drops what a stream still holds: a write to a pipe is asynchronous in Node, and
 * `hybridc build --emit ir | slow-reader` lost everything past the pipe's 64 KiB. An empty write
 * calls back once every earlier write on its stream has been handed to the OS (or has failed).
 */
async function exitFlushed(code: ExitCode): Promise<never> {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}

function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableEnded) resolve();
    else stream.write("", () => resolve());
  });
}

function reportInternalError(e: unknown, env: Env): void {
  const message = (e instanceof Error ? e.message : String(e)).replace(/^internal compiler error: /, "");
  err(`hybridc: internal error: ${message}\nThis is a bug in hybridc: please report this with the input file and the command line.\n`);
  if (env["HYBRIDC_DEBUG"] === "1" && e instanceof Error && e.stack) err(`${e.stack}\n`);
  else err("(set HYBRIDC_DEBUG=1 to see the stack trace)\n");
}

async function dispatch(argv: readonly string[]): Promise<ExitCode> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    err(`${TOOL_HELP}\n`);
    return EXIT.usage;
  }
  if (first === "-h" || first === "--help") return print(TOOL_HELP);
  if (first === "-v" || first === "--version") return print(`hybridc ${VERSION}`);
  if (first === "help") {
    if (rest[0] === undefined) return print(TOOL_HELP);
    return print((await COMMANDS[commandName(rest[0])].load()).help);
  }
  if (first.startsWith("-")) throw new UsageError(`unknown option '${first}' (options go after the command)`);
  // `hybridc model.hyb`, as `tsc file.ts`: a spec file where the command would be builds it.
  if (!Object.hasOwn(COMMANDS, first) && isSpecPath(first)) {
    const command = (await import("./build.ts")).compileFiles;
    const inv = parseInvocation(undefined, command, argv);
    if (inv.values["help"]) return print(command.help);
    return command.run(inv);
  }
  const name = commandName(first);
  const command: Command = await COMMANDS[name].load();
  const inv = parseInvocation(name, command, rest);
  if (inv.values["help"]) return print(command.help);
  const [min, max] = command.arity;
  if (inv.files.length < min) throw new UsageError(name === "explain" ? "missing diagnostic code" : "missing FILE argument", name);
  if (inv.files.length > max) throw new UsageError(`unexpected argument '${inv.files[max]}'`, name);
  return command.run(inv);
}

/** A word that names a spec rather than a command: a `.hyb` file, or any file that exists. */
function isSpecPath(word: string): boolean {
  if (word.endsWith(".hyb")) return true;
  try {
    return statSync(word).isFile();
  } catch {
    return false;
  }
}

function commandName(word: string): CommandName {
  if (Object.hasOwn(COMMANDS, word)) return word as CommandName;
  const near = closestNames(word, Object.keys(COMMANDS));
  throw new UsageError(`unknown command '${word}'${near.length ? `; did you mean '${near[0]}'?` : ""}`);
}

function parseInvocation(name: CommandName | undefined, command: Command, args: readonly string[]): Invocation {
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
