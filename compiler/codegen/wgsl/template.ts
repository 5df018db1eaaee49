/**
 * The `wgsl` tagged template: WGSL text stitched from fragments, with every number typed.
 *
 *   wgsl`let y = x * ${f32(0.5)} + b[${u32(3)}];`   ->  "let y = x * 0.5 + b[3u];"
 *
 * A bare JS number is refused: `1` could mean an f32, a u32 or an i32, and WGSL would read an
 * untyped `1 / 2` as integer division. So numbers go through `f32()` (always written with a
 * decimal point or an exponent: `1.0`, `1e-7`), `u32()` (`3u`) or `i32()` (`-3i`). Fragments may
 * be strings, literals, nested arrays (joined with nothing) or false/null/undefined (omitted),
 * so `${cond && wgsl`...`}` adds an optional piece. Negative literals are parenthesized, so
 * `a - ${f32(-1)}` never becomes `a --1.0`.
 */
import { InternalCompilerError } from "../../diag/diagnostic.ts";

/** A typed numeric literal; only the constructors below make one. */
export class Lit {
  private constructor(readonly text: string) {}

  static make(text: string): Lit {
    return new Lit(text);
  }

  toString(): string {
    return this.text;
  }
}

export type Fragment = string | Lit | false | null | undefined | readonly Fragment[];

/** An f32 literal: finite, and always with a `.` or an exponent. */
export function f32(x: number): Lit {
  if (!Number.isFinite(x)) throw new InternalCompilerError(`wgsl: f32 literal ${x} is not finite`);
  if (Object.is(x, -0)) return Lit.make("(-0.0)");
  let s = String(x);
  if (!/[.e]/.test(s)) s += ".0";
  return Lit.make(x < 0 ? `(${s})` : s);
}

/** A u32 literal with its suffix. */
export function u32(x: number): Lit {
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new InternalCompilerError(`wgsl: ${x} is not a u32`);
  return Lit.make(`${x}u`);
}

/** An i32 literal with its suffix. */
export function i32(x: number): Lit {
  if (!Number.isInteger(x) || x < -(2 ** 31) || x >= 2 ** 31) throw new InternalCompilerError(`wgsl: ${x} is not an i32`);
  return Lit.make(x < 0 ? `(${x}i)` : `${x}i`);
}

function render(f: Fragment): string {
  if (f === false || f === null || f === undefined) return "";
  if (typeof f === "string") return f;
  if (f instanceof Lit) return f.text;
  if (Array.isArray(f)) return f.map(render).join("");
  // A number (or anything else) slipped through the types: refuse rather than guess its type.
  throw new InternalCompilerError(`wgsl: untyped value ${String(f)} in a template; wrap it in f32(), u32() or i32()`);
}

export function wgsl(strings: TemplateStringsArray, ...parts: readonly Fragment[]): string {
  let out = strings[0]!;
  for (let i = 0; i < parts.length; i++) out += render(parts[i]!) + strings[i + 1]!;
  return out;
}

/** Lines joined with newlines, each indented by `indent` spaces; empty fragments are dropped. */
export function lines(fragments: readonly Fragment[], indent = 0): string {
  const text = fragments
    .map(render)
    .filter((s) => s !== "")
    .join("\n");
  // Unindented, splitting into lines and joining them again would give the same text.
  if (indent === 0) return text;
  const pad = " ".repeat(indent);
  return text
    .split("\n")
    .map((l) => (l === "" ? l : pad + l))
    .join("\n");
}
