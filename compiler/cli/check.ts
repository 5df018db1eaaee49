/** `hybridc check`: every diagnostic of every file, then a summary line. */
import { compile } from "../compile.ts";
import { summaryLine, toGithub, toJson } from "../diag/render.ts";
import { COLOR, COLOR_HELP, EXIT, HELP, UsageError, errorsCode, out, pretty, readAll, worst, type Command, type ExitCode, type Invocation } from "./shared.ts";

export const check: Command = {
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
};

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
