/**
 * "Did you mean ...?" for misspelled names: the candidates at the smallest edit distance,
 * if that distance is small for the length of the name (rustc's rule: at most a third, here
 * also at most MAX_EDITS).
 *
 * The search is bounded so that hostile input cannot make it slow: a candidate whose length
 * differs from the name's by more than the allowed distance is skipped without comparing; the
 * distance is a banded Levenshtein that gives up past the allowed distance, O(k * n) instead of
 * O(n * m) (two 1,000,000-character names cost about 2 * 10^7 steps, not 10^12); and a
 * `NameSuggester` shared by many lookups (every unknown name of a model) stops suggesting once it
 * has spent SUGGEST_BUDGET steps, so a file with tens of thousands of unknown names is not
 * quadratic: the later names simply get no suggestion.
 */

/** The most edits a suggestion may be away, whatever the length of the name. */
export const MAX_EDITS = 8;

/** Character comparisons one suggester may spend over all its lookups (tens of milliseconds). */
export const SUGGEST_BUDGET = 20_000_000;

/** Did-you-mean over one candidate list, for many lookups, within a shared budget of work. */
export class NameSuggester {
  private readonly candidates: readonly string[];
  private budget: number;

  constructor(candidates: Iterable<string>, budget = SUGGEST_BUDGET) {
    this.candidates = [...new Set(candidates)];
    this.budget = budget;
  }

  /** The closest candidates (ties kept, in candidate order, at most 3), or [] when none is close. */
  closest(name: string): string[] {
    const limit = Math.min(MAX_EDITS, Math.max(1, Math.floor(name.length / 3)));
    const lower = name.toLowerCase();
    let best = Infinity;
    let out: string[] = [];
    for (const c of this.candidates) {
      if (this.budget <= 0) return [];
      if (c === name || Math.abs(c.length - name.length) > Math.min(limit, best)) continue;
      // A case-only difference or one swap of neighbours counts as one edit whatever the length.
      this.budget -= name.length + 1;
      const d = c.length === name.length && (c.toLowerCase() === lower || isSwap(name, c)) ? 1 : this.distance(name, c, Math.min(limit, best));
      if (d > limit || d > best) continue;
      if (d < best) {
        best = d;
        out = [];
      }
      out.push(c);
    }
    if (out.length > 0) return out.slice(0, 3);
    // `chunk_size` for `chunk`: one name extends the other.
    const extended: string[] = [];
    for (const c of this.candidates) {
      if (extended.length === 3 || this.budget <= 0) break;
      if (Math.min(c.length, name.length) < 4 || c === name) continue;
      this.budget -= Math.min(c.length, name.length) + 1;
      if (name.startsWith(c) || c.startsWith(name)) extended.push(c);
    }
    return extended;
  }

  /** `did you mean \`d_state\`?`, or undefined when nothing is close. */
  didYouMean(name: string): string | undefined {
    const names = this.closest(name);
    return names.length === 0 ? undefined : `did you mean ${orList(names.map(code))}?`;
  }

  private distance(a: string, b: string, k: number): number {
    this.budget -= (2 * k + 1) * Math.min(a.length, b.length);
    return boundedDistance(a, b, k);
  }
}

/** The closest candidates (ties kept, in candidate order), or [] when none is close. */
export function closestNames(name: string, candidates: Iterable<string>): string[] {
  return new NameSuggester(candidates).closest(name);
}

/** `did you mean \`d_state\`?`, or undefined when nothing is close. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  return new NameSuggester(candidates).didYouMean(name);
}

/** Two rows of the distance table, reused by every call (grown when a longer name comes). */
let rows: [Int32Array, Int32Array] = [new Int32Array(64), new Int32Array(64)];

/**
 * The Levenshtein distance of `a` and `b` when it is at most `k`, else `k + 1`. Common prefix
 * and suffix are stripped, then only the band of cells within `k` of the diagonal is computed,
 * and the computation stops at the first row whose every cell exceeds `k`: O(k * min(|a|, |b|)).
 */
export function boundedDistance(a: string, b: string, k: number): number {
  if (a.length > b.length) [a, b] = [b, a];
  if (b.length - a.length > k) return k + 1;
  let start = 0;
  while (start < a.length && a.charCodeAt(start) === b.charCodeAt(start)) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && a.charCodeAt(endA - 1) === b.charCodeAt(endB - 1)) {
    endA--;
    endB--;
  }
  const n = endA - start;
  const m = endB - start;
  if (n === 0) return m <= k ? m : k + 1;
  const far = k + 1;
  // Row i holds the distances of a[0..i) to b[0..j) for j within k of i; cells outside are `far`.
  if (rows[0].length <= m) rows = [new Int32Array(2 * m + 2), new Int32Array(2 * m + 2)];
  let [prev, cur] = rows;
  for (let j = 0; j <= m; j++) prev[j] = j <= k ? j : far;
  for (let i = 1; i <= n; i++) {
    const lo = Math.max(1, i - k);
    const hi = Math.min(m, i + k);
    cur[lo - 1] = lo === 1 ? (i <= k ? i : far) : far;
    let rowMin = cur[lo - 1]!;
    const ca = a.charCodeAt(start + i - 1);
    for (let j = lo; j <= hi; j++) {
      const sub = prev[j - 1]! + (ca === b.charCodeAt(start + j - 1) ? 0 : 1);
      const v = Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1, far);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (hi < m) cur[hi + 1] = far;
    if (rowMin > k) return far;
    [prev, cur] = [cur, prev];
  }
  return Math.min(prev[m]!, far);
}

/** `mpl` / `mlp`: one swap of adjacent characters (Levenshtein counts it as two edits). */
function isSwap(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i + 1 < a.length && a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
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
