/**
 * The optimizer: passes in the order they run, each a pure Graph -> Graph function in its own
 * file. `optimize` runs them top to bottom; `after` sees the graph after each (`--dump-after`).
 */
import type { Graph } from "../ir/graph.ts";
import { dce } from "./dce.ts";
import { fuseSelectiveScan } from "./fuse-selective-scan.ts";
import type { Pass } from "./pass.ts";

export type { Pass } from "./pass.ts";
export { dce, fuseSelectiveScan };

export const PASSES: readonly Pass[] = [dce, fuseSelectiveScan];

export interface OptimizeOptions {
  /** false for `--no-fuse`: run only the passes that are not fusions. Default true. */
  readonly fuse?: boolean;
  /** Called with the graph after each pass (`--dump-after PASS`). */
  readonly after?: (pass: Pass, g: Graph) => void;
}

export function optimize(g: Graph, options: OptimizeOptions = {}): Graph {
  let out = g;
  for (const pass of PASSES) {
    if (pass.fusion && options.fuse === false) continue;
    out = pass.run(out);
    options.after?.(pass, out);
  }
  return out;
}
