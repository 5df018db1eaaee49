/** `hybridc fmt`: canonical text; files change only with --write, and never with syntax errors. */
import { Diagnostics } from "../diag/diagnostic.ts";
import { SourceFile } from "../diag/source.ts";
import type { HybFile } from "../syntax/ast.ts";
import { parse } from "../syntax/index.ts";
import { format } from "../syntax/print.ts";
import { COLOR, COLOR_HELP, EXIT, HELP, PathError, UsageError, err, out, pretty, readAll, worst, writeFileOrFail, type Command, type ExitCode, type Invocation } from "./shared.ts";

export const fmt: Command = {
  help: `Usage: hybridc fmt [options] FILE...

Prints the canonical text of each file. Files are only changed with --write, and never when
they have syntax errors.

Options:
--write                rewrite files whose text changes, and print their paths
--check                print the files that are not formatted; exit 1 if there are any
${COLOR_HELP}
-h, --help             show this help

Exit status: 0 ok, 1 syntax errors (or unformatted files with --check), 2 usage error or a
file that cannot be read or written.`,
  options: { write: { type: "boolean" }, check: { type: "boolean" }, ...COLOR, help: HELP },
  arity: [1, Infinity],
  run: runFmt,
};

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
        // A file that cannot be written (read-only) is reported; the other files are still written.
        try {
          writeFileOrFail(s.path, text);
          out(`${s.path}\n`);
        } catch (e) {
          if (!(e instanceof PathError)) throw e;
          err(`hybridc: ${e.message}\n`);
          result = worst(result, EXIT.usage);
        }
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
