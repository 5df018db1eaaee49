/**
 * The plugin's problems in each bundler's own shape, all rendered by compiler/diag/render.ts:
 *   Rollup / Vite   { message, id, loc: { file, line, column (0-based) }, frame }: Vite's overlay and
 *                   terminal show the location and the frame
 *   esbuild         Message { text, location: { file, line, column and length in UTF-8 bytes,
 *                   lineText }, notes }: esbuild prints its own frame from lineText
 *   webpack         one Error whose message is the whole rendered text (webpack keeps only the message)
 * Every form leads with `model.hyb:line:col`, the code (`error[HYB1004]`) and the message.
 */
import type { Diagnostic } from "../diag/diagnostic.ts";
import { codeFrame, renderDiagnostic } from "../diag/render.ts";
import type { SourceFile } from "../diag/source.ts";
import type { PluginProblem } from "./module.ts";

export type Problem = Diagnostic | PluginProblem;

/** One problem, located and rendered. */
export interface Reported {
  readonly severity: "error" | "warning";
  /** The diagnostic code (`HYB1004`); none for a problem of the plugin's own. */
  readonly code: string | undefined;
  /** `model.hyb:3:5: error[HYB1004]: unknown argument ...` */
  readonly header: string;
  /** The code frame, notes and help under the header. */
  readonly body: string;
  readonly line: number;
  /** 1-based, UTF-16 code units. */
  readonly col: number;
  /** UTF-16 code units of the primary span on its first line (at least 1). */
  readonly length: number;
  readonly lineText: string;
}

export function reported(p: Problem): Reported {
  const source: SourceFile = p.source;
  const { line, col } = source.lineCol(p.span.start);
  const lineText = source.lineText(line);
  const end = source.lineCol(Math.max(p.span.start, p.span.end));
  const length = Math.max(1, (end.line === line ? end.col : lineText.length + 1) - col);
  if ("code" in p) {
    const [header = "", ...rest] = renderDiagnostic(p).split("\n");
    return { severity: p.severity, code: p.code, header, body: rest.join("\n"), line, col, length, lineText };
  }
  return { severity: "error", code: undefined, header: `${source.path}:${line}:${col}: error: ${p.message}`, body: codeFrame(source, p.span), line, col, length, lineText };
}

/** The whole text of one problem, as `hybridc check` prints it. */
export const problemText = (r: Reported): string => `${r.header}\n${r.body}`;

/** The text of several: the first in full, then the others. */
export const problemsText = (list: readonly Reported[]): string => list.map(problemText).join("\n\n");

/** A Rollup/Vite error (or warning) object for the first problem, the others in its frame. */
export function rollupProblem(list: readonly Reported[], file: string): { message: string; id: string; plugin: string; loc: { file: string; line: number; column: number }; frame: string; pluginCode?: string } {
  const [first, ...rest] = list;
  if (first === undefined) throw new Error("rollupProblem: no problem to report");
  const more = rest.filter((r) => r.severity === first.severity).length;
  const message = more > 0 ? `${first.header} (and ${more} more)` : first.header;
  const frame = [first.body, ...rest.map(problemText)].join("\n\n");
  return { message, id: file, plugin: "hybridc", loc: { file, line: first.line, column: first.col - 1 }, frame, ...(first.code ? { pluginCode: first.code } : {}) };
}

/** An esbuild Message: columns and lengths in UTF-8 bytes, the line's text for esbuild's own frame. */
export function esbuildMessage(r: Reported, file: string): { text: string; location: { file: string; line: number; column: number; length: number; lineText: string }; notes: { text: string }[] } {
  const bytes = (s: string) => Buffer.byteLength(s, "utf8");
  const column = bytes(r.lineText.slice(0, r.col - 1));
  const length = bytes(r.lineText.slice(r.col - 1, r.col - 1 + r.length));
  const text = r.header.replace(/^[^:]*:\d+:\d+: /, "");
  // Notes and help: the rendered lines under the frame (esbuild draws the frame from lineText).
  const extra = r.body.split("\n").filter((l) => /^(note|  = |  --> )/.test(l)).join("\n");
  return { text, location: { file, line: r.line, column, length: Math.max(1, length), lineText: r.lineText }, notes: extra ? [{ text: extra }] : [] };
}
