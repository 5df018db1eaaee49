/**
 * Every module of compiler/ loads on its own, and compiler/ + runtime/ have no import cycle.
 *
 * In a cycle the module imported first runs last, so under Node a module in the loop that reads
 * its binding at load time fails ("Cannot access 'X' before initialization"); which entry trips
 * it depends on the order, and importing through index.ts hides it. Vite's module runner, which
 * runs these tests, does not even throw: the binding reads as undefined (the old
 * kernels -> fused -> mamba -> kernels loop left KERNELS without the Mamba kernels). So the
 * graph check is the guard; the per-module imports show each module loads alone.
 */
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Every .ts file under `dir`, as a path relative to the repository root, sorted. */
function modulesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)))
    .sort();
}

// Only a whole `import type` / `export type` statement is erased. Under verbatimModuleSyntax
// `import { type A } from "./x.ts"` stays as `import {} from "./x.ts"`: it reads no binding, but
// it still runs x.ts first, and that order is what makes a cycle read a binding too early.
const STATEMENT = /^(?:import|export)\s+(type\s+)?(?:[^;"()=]*?\s+from\s+)?"([^"]+)";/gms;

/** The modules `file` makes Node evaluate before itself (relative imports and re-exports). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const deps: string[] = [];
  for (const [, typeOnly, spec] of text.matchAll(STATEMENT)) {
    if (typeOnly === undefined && spec!.startsWith(".")) deps.push(relative(ROOT, resolve(ROOT, dirname(file), spec!)));
  }
  return deps;
}

/** One cycle per back edge found by a depth-first walk, each as `a -> b -> ... -> a`. */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (m: string): void => {
    state.set(m, "open");
    stack.push(m);
    for (const d of graph.get(m) ?? []) {
      if (state.get(d) === "open") cycles.push([...stack.slice(stack.indexOf(d)), d].join(" -> "));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(m, "done");
  };
  for (const m of graph.keys()) if (!state.has(m)) visit(m);
  return cycles;
}

describe("import graph", () => {
  it("has no import cycle among compiler/ and runtime/", () => {
    const files = [...modulesUnder("compiler"), ...modulesUnder("runtime")];
    const graph = new Map(files.map((f) => [f, runtimeImports(f)]));
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get("compiler/interp/index.ts")).toContain("compiler/interp/kernels.ts"); // the parser sees imports
    for (const [f, deps] of graph) for (const d of deps) expect(graph.has(d), `${f} imports ${d}, which is not a module here`).toBe(true);
    expect(findCycles(graph), "import cycles (break each by moving the shared part into its own module)").toEqual([]);
  });
});

describe("every compiler module imported first, in a fresh registry", () => {
  it.each(modulesUnder("compiler"))("%s", async (file) => {
    vi.resetModules();
    const mod = (await import(/* @vite-ignore */ join(ROOT, file))) as Record<string, unknown>;
    // A module of types only (check/model.ts) has nothing at run time.
    const declaresValues = /^export\s+(?!type\s|interface\s|declare\s)/m.test(readFileSync(join(ROOT, file), "utf8"));
    expect(Object.keys(mod).length > 0, `${file}: runtime exports ${Object.keys(mod).join(", ") || "none"}`).toBe(declaresValues);
  });
});
