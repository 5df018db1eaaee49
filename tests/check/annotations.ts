/**
 * Expected diagnostics written next to the offending line of a fixture:
 *
 *   ssm = mamba1(d_stat = 16)   //~ HYB1004@16 unknown argument `d_stat` || did you mean `d_state`?
 *
 * means: one diagnostic with code HYB1004 whose span starts on this line (at column 16 when
 * `@16` is given), whose message contains "unknown argument `d_stat`", and (after `||`) whose
 * help contains "did you mean `d_state`?". `//~^` points at the line above (`//~^^` two up).
 * Several annotations may share a line. Matching is exact: no diagnostic may be left over and
 * no annotation unmatched.
 */
import type { Diagnostic } from "../../compiler/index.ts";

export interface Expected {
  readonly line: number;
  readonly code: string;
  readonly col?: number;
  readonly message: string;
  readonly help?: string;
  /** Where the annotation itself sits, for failure messages. */
  readonly at: string;
}

const ANNOTATION = /^(\^*)\s+(HYB\d{4})(?:@(\d+))?\s*(.*)$/;

export function parseAnnotations(text: string, file: string): Expected[] {
  const out: Expected[] = [];
  text.split(/\r?\n/).forEach((lineText, i) => {
    const parts = lineText.split("//~").slice(1);
    for (const part of parts) {
      const m = ANNOTATION.exec(part.trimEnd());
      if (!m) throw new Error(`${file}:${i + 1}: malformed annotation \`//~${part}\``);
      const [, carets = "", code = "", col, rest = ""] = m;
      const [message = "", help] = rest.split("||").map((s) => s.trim());
      out.push({
        line: i + 1 - carets.length,
        code,
        ...(col !== undefined ? { col: Number(col) } : {}),
        message,
        ...(help !== undefined ? { help } : {}),
        at: `${file}:${i + 1}`,
      });
    }
  });
  return out;
}

function matches(d: Diagnostic, e: Expected): boolean {
  const { line, col } = d.source.lineCol(d.span.start);
  return (
    d.code === e.code &&
    line === e.line &&
    (e.col === undefined || col === e.col) &&
    d.message.includes(e.message) &&
    (e.help === undefined || (d.help ?? "").includes(e.help))
  );
}

export function show(d: Diagnostic): string {
  const { line, col } = d.source.lineCol(d.span.start);
  return `${d.source.path}:${line}:${col} ${d.code} ${d.message}${d.help ? ` || ${d.help}` : ""}`;
}

/** Pair diagnostics with annotations; returns what is left on each side. */
export function compare(actual: readonly Diagnostic[], expected: readonly Expected[]): { unexpected: string[]; missing: string[] } {
  const left = [...actual];
  const missing: string[] = [];
  for (const e of expected) {
    const i = left.findIndex((d) => matches(d, e));
    if (i < 0) missing.push(`${e.at}: ${e.code}${e.col !== undefined ? `@${e.col}` : ""} on line ${e.line} "${e.message}"${e.help !== undefined ? ` || "${e.help}"` : ""}`);
    else left.splice(i, 1);
  }
  return { unexpected: left.map(show), missing };
}
