/**
 * "Did you mean ...?" for misspelled names: the candidates at the smallest edit distance,
 * if that distance is small for the length of the name (rustc's rule: at most a third).
 */
import { distance } from "fastest-levenshtein";

/** The closest candidates (ties kept, in candidate order), or [] when none is close. */
export function closestNames(name: string, candidates: Iterable<string>): string[] {
  const limit = Math.max(1, Math.floor(name.length / 3));
  let best = Infinity;
  let out: string[] = [];
  for (const c of new Set(candidates)) {
    if (c === name) continue;
    // A case-only difference counts as one edit whatever the length.
    const d = c.toLowerCase() === name.toLowerCase() || isSwap(name, c) ? 1 : distance(name, c);
    if (d > limit || d > best) continue;
    if (d < best) {
      best = d;
      out = [];
    }
    out.push(c);
  }
  if (out.length > 0) return out.slice(0, 3);
  // `chunk_size` for `chunk`: one name extends the other.
  return [...new Set(candidates)].filter((c) => Math.min(c.length, name.length) >= 4 && (name.startsWith(c) || c.startsWith(name))).slice(0, 3);
}

/** `mpl` / `mlp`: one swap of adjacent characters (Levenshtein counts it as two edits). */
function isSwap(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i + 1 < a.length && a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
}

/** `did you mean \`d_state\`?`, or undefined when nothing is close. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const names = closestNames(name, candidates);
  if (names.length === 0) return undefined;
  return `did you mean ${orList(names.map(code))}?`;
}

/** `x`, `x or y`, `x, y or z`. */
export function orList(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]!}`;
}

/** Wrap a name in backticks for a message. */
export function code(name: string): string {
  return `\`${name}\``;
}
