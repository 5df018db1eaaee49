/** `hybridc expand`: the resolved models as text, JSON, or one JSON file per model. */
import { join } from "node:path";
import type { ResolvedModel } from "../check/model.ts";
import { expandedJsonText, expandedText } from "../expand.ts";
import { compile } from "../compile.ts";
import { COLOR, COLOR_HELP, EXIT, HELP, UsageError, err, errorsCode, makeDirOrFail, out, pretty, readAll, worst, writeFileOrFail, type Command, type ExitCode, type Invocation } from "./shared.ts";

export const expand: Command = {
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

Exit status: 0 ok, 1 errors, 2 usage error, unreadable file or a DIR that cannot be written.`,
  options: { json: { type: "boolean" }, out: { type: "string", short: "o" }, ...COLOR, help: HELP },
  arity: [1, Infinity],
  run: runExpand,
};

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
  makeDirOrFail(dir);
  for (const { model } of models) {
    const file = join(dir, `${model.name}.json`);
    writeFileOrFail(file, expandedJsonText([model]));
    out(`${file}\n`);
  }
  return EXIT.ok;
}
