import { CODES, type DiagCode, type Severity } from "./codes.ts";
import type { SourceFile, Span } from "./source.ts";

/** A secondary location: "`ssm` defined here". */
export interface Note {
  readonly message: string;
  readonly span?: Span;
}

export interface Diagnostic {
  readonly code: DiagCode;
  readonly severity: Severity;
  readonly message: string;
  readonly source: SourceFile;
  readonly span: Span;
  /** Short text printed under the caret. */
  readonly label?: string;
  readonly notes: readonly Note[];
  /** One line of advice: "did you mean `d_state`?". */
  readonly help?: string;
}

export interface DiagnosticInit {
  readonly span: Span;
  readonly message: string;
  readonly label?: string;
  readonly notes?: readonly Note[];
  readonly help?: string;
}

/**
 * Collects the diagnostics of one source file. Compiler stages report into it and go on;
 * user errors are never thrown.
 */
export class Diagnostics {
  readonly list: Diagnostic[] = [];

  constructor(readonly source: SourceFile) {}

  report(code: DiagCode, init: DiagnosticInit): void {
    this.list.push({
      code,
      severity: CODES[code].severity,
      message: init.message,
      source: this.source,
      span: init.span,
      ...(init.label !== undefined ? { label: init.label } : {}),
      notes: init.notes ?? [],
      ...(init.help !== undefined ? { help: init.help } : {}),
    });
  }

  get errorCount(): number {
    return this.list.filter((d) => d.severity === "error").length;
  }

  get hasErrors(): boolean {
    return this.list.some((d) => d.severity === "error");
  }

  /** Diagnostics in source order (stable for equal offsets). */
  sorted(): Diagnostic[] {
    return this.list
      .map((d, i) => [d, i] as const)
      .sort((a, b) => a[0].span.start - b[0].span.start || a[1] - b[1])
      .map(([d]) => d);
  }
}

/** Thrown only for broken internal assumptions, never for user errors. */
export class InternalCompilerError extends Error {
  constructor(message: string) {
    super(`internal compiler error: ${message}`);
    this.name = "InternalCompilerError";
  }
}

export function invariant(cond: unknown, message: string): asserts cond {
  if (!cond) throw new InternalCompilerError(message);
}

export function assertNever(x: never, what = "value"): never {
  throw new InternalCompilerError(`unexpected ${what}: ${JSON.stringify(x)}`);
}
