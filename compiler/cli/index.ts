/**
 * The `hybridc` command line. compiler/cli/ is the only code that reads argv, the environment
 * and the file system; everything it shows comes from the compiler's pure functions (compile,
 * the one diagnostic renderer, the expand forms, the formatter, inspect). This file parses
 * arguments and dispatches to one module per command (check, expand, build + inspect, fmt,
 * explain); exit codes:
 *   0 ok (warnings allowed) · 1 errors in the input · 2 usage error · 3 internal error.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import pc from "picocolors";
import { closestNames } from "../check/suggest.ts";
import { build, inspect } from "./build.ts";
import { check } from "./check.ts";
import { explain } from "./explain.ts";
import { expand } from "./expand.ts";
import { fmt } from "./fmt.ts";
import { run } from "./run.ts";
import { EXIT, UsageError, err, print, type Command, type Env, type ExitCode, type Invocation } from "./shared.ts";

export { EXIT } from "./shared.ts";

const COMMANDS = { check, expand, build, inspect, run, fmt, explain } as const satisfies Record<string, Command>;

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

function dispatch(argv: readonly string[]): ExitCode | Promise<ExitCode> {
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

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
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
