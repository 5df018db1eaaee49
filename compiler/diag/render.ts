/**
 * The one renderer of diagnostics: `file:line:col: error[HYB1004]: message`, a code frame
 * with a caret under the exact range, notes with their own frames, and a help line.
 * Also the JSON form for tools and GitHub annotations.
 */
import pc from "picocolors";
import type { Diagnostic } from "./diagnostic.ts";
import type { SourceFile, Span } from "./source.ts";

export interface RenderOptions {
  readonly color?: boolean;
}

type Colors = ReturnType<typeof pc.createColors>;

function location(source: SourceFile, s: Span): string {
  const { line, col } = source.lineCol(s.start);
  return `${source.path}:${line}:${col}`;
}

/** A code frame for one span: the line(s) it covers, carets under the range, and a label. */
function frame(source: SourceFile, s: Span, label: string | undefined, c: Colors, caretColor: (t: string) => string): string[] {
  const start = source.lineCol(s.start);
  // An empty span (a missing token) still gets one caret.
  const endOffset = Math.max(s.start, s.end - 1);
  const end = source.lineCol(endOffset);
  const lastLine = Math.min(end.line, start.line + 2);
  const width = String(lastLine).length;
  const gutter = (n?: number) => c.blue(`${(n === undefined ? "" : String(n)).padStart(width)} | `);
  const out = [c.blue(`${" ".repeat(width)} |`)];
  for (let line = start.line; line <= lastLine; line++) {
    const text = source.lineText(line).replace(/\t/g, " ");
    out.push(gutter(line) + text);
    const from = line === start.line ? start.col : firstNonSpace(text);
    const to = line === end.line ? end.col : Math.max(text.length, from);
    const carets = "^".repeat(Math.max(1, to - from + 1));
    const isLast = line === lastLine;
    out.push(gutter() + " ".repeat(Math.max(0, from - 1)) + caretColor(carets + (isLast && label ? ` ${label}` : "")));
  }
  return out;
}

/** The code frame of one span alone (no header line): for a problem that is not a diagnostic (the bundler plugin's). */
export function codeFrame(source: SourceFile, s: Span, opts: RenderOptions = {}): string {
  const c = pc.createColors(opts.color ?? false);
  return frame(source, s, undefined, c, c.red).join("\n");
}

function firstNonSpace(text: string): number {
  const m = /\S/.exec(text);
  return m ? m.index + 1 : 1;
}

export function renderDiagnostic(d: Diagnostic, opts: RenderOptions = {}): string {
  const c = pc.createColors(opts.color ?? false);
  const sevColor = d.severity === "error" ? c.red : c.yellow;
  const lines: string[] = [];
  lines.push(`${c.bold(location(d.source, d.span))}: ${sevColor(c.bold(`${d.severity}[${d.code}]`))}: ${c.bold(d.message)}`);
  lines.push(...frame(d.source, d.span, d.label, c, sevColor));
  for (const note of d.notes) {
    if (note.span) {
      lines.push(`${c.cyan("note")}: ${note.message}`);
      lines.push(`  --> ${location(d.source, note.span)}`);
      lines.push(...frame(d.source, note.span, undefined, c, c.cyan));
    } else {
      lines.push(`  = ${c.cyan("note")}: ${note.message}`);
    }
  }
  if (d.help) lines.push(`  = ${c.green("help")}: ${d.help}`);
  return lines.join("\n");
}

/** Pretty text for a list of diagnostics, with a summary line. */
export function renderDiagnostics(list: readonly Diagnostic[], opts: RenderOptions = {}): string {
  return list.map((d) => renderDiagnostic(d, opts)).join("\n\n");
}

export function summaryLine(list: readonly Diagnostic[]): string {
  const errors = list.filter((d) => d.severity === "error").length;
  const warnings = list.length - errors;
  const parts = [];
  if (errors) parts.push(`${errors} error${errors === 1 ? "" : "s"}`);
  if (warnings) parts.push(`${warnings} warning${warnings === 1 ? "" : "s"}`);
  return parts.length ? parts.join(", ") : "no problems";
}

export interface JsonPosition {
  readonly line: number;
  readonly col: number;
  readonly offset: number;
}

export interface JsonDiagnostic {
  readonly code: string;
  readonly severity: string;
  readonly message: string;
  readonly file: string;
  readonly start: JsonPosition;
  readonly end: JsonPosition;
  readonly label?: string;
  readonly notes: readonly { message: string; file?: string; start?: JsonPosition; end?: JsonPosition }[];
  readonly help?: string;
}

function pos(source: SourceFile, offset: number): JsonPosition {
  return { ...source.lineCol(offset), offset };
}

/** The JSON form: 1-based line and UTF-16 column, 0-based offsets; `end` is exclusive. */
export function toJson(d: Diagnostic): JsonDiagnostic {
  return {
    code: d.code,
    severity: d.severity,
    message: d.message,
    file: d.source.path,
    start: pos(d.source, d.span.start),
    end: pos(d.source, d.span.end),
    ...(d.label !== undefined ? { label: d.label } : {}),
    notes: d.notes.map((n) =>
      n.span
        ? { message: n.message, file: d.source.path, start: pos(d.source, n.span.start), end: pos(d.source, n.span.end) }
        : { message: n.message },
    ),
    ...(d.help !== undefined ? { help: d.help } : {}),
  };
}

/** GitHub Actions workflow commands (`::error file=...`). */
export function toGithub(d: Diagnostic): string {
  const s = d.source.lineCol(d.span.start);
  const e = d.source.lineCol(Math.max(d.span.start, d.span.end - 1));
  const esc = (t: string) => t.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
  const msg = d.help ? `${d.message} (${d.help})` : d.message;
  return `::${d.severity} file=${d.source.path},line=${s.line},endLine=${e.line},col=${s.col},endColumn=${e.col + 1},title=${d.code}::${esc(msg)}`;
}
