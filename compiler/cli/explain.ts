/** `hybridc explain CODE`: the catalogue entry of a diagnostic code. */
import { closestNames } from "../check/suggest.ts";
import { CODES, isDiagCode } from "../diag/codes.ts";
import { HELP, UsageError, print, type Command, type ExitCode, type Invocation } from "./shared.ts";

export const explain: Command = {
  help: `Usage: hybridc explain CODE

Prints the catalogue entry of a diagnostic code: its title, severity and explanation.
CODE may be written HYB1004, hyb1004 or 1004.

Options:
-h, --help             show this help

Exit status: 0 ok, 2 unknown code.`,
  options: { help: HELP },
  arity: [1, 1],
  run: runExplain,
};

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
