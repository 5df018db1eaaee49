/**
 * Typed bindings (`hybridc build --emit ts`): consumer files typechecked by the project's tsc
 * against the bindings of a small model. A map of every tensor with its right shape, a record of
 * a checkpoint and a TensorSource typecheck; a misspelled tensor name, a wrong shape, a missing
 * tensor, and a plain record of arrays (which carries no shapes) each fail, at that file. The artifact's
 * fields are literal types. Then the CLI: `--emit ts` writes index.ts beside the manifest, and a
 * rebuild without it removes the stale bindings.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bindingsText } from "../../compiler/bindings/emit.ts";
import { BINDINGS_HEADER } from "../../compiler/bindings/names.ts";
import { build } from "../../compiler/index.ts";
import type { ModelArtifact } from "../../runtime/artifact/types.ts";
import { cliEnv } from "../cli/env.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

const TINY = `model tiny {
  vocab   = 256
  d_model = 32
  ssm     = mamba2(d_state = 8, headdim = 16, chunk = 16)
  attn    = attention(heads = 2)
  layers  = 1 * [ssm, attn]
}
`;

const dir = mkdtempSync(join(tmpdir(), "hybridc-bindings-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let artifact: ModelArtifact;
let text = "";

/** A map literal of every tensor with its shape; `edit` may change one entry's name or shape, or drop it. */
function tensorMap(edit: (name: string, shape: readonly number[]) => [string, readonly number[]] | null = (n, s) => [n, s]): string {
  const entries = artifact.weights.flatMap((w) => {
    const e = edit(w.name, w.shape);
    return e === null ? [] : [`  ${JSON.stringify(e[0])}: { shape: [${e[1].join(", ")}], data: new Float32Array(${e[1].reduce((a, b) => a * b, 1)}) },`];
  });
  return `{\n${entries.join("\n")}\n}`;
}

const CONSUMER_HEAD = `import model, { artifact, load, type Weights } from "./tiny/index.ts";
declare const device: GPUDevice;
`;

interface Tsc {
  readonly code: number | null;
  /** The error lines by file name. */
  readonly errors: Map<string, string[]>;
  readonly output: string;
}

let tsc: Tsc;

beforeAll(async () => {
  const r = build(TINY, { path: "tiny.hyb" });
  expect(r.ok).toBe(true);
  artifact = r.artifacts[0]!;
  text = await bindingsText(artifact);
  mkdirSync(join(dir, "tiny"));
  writeFileSync(join(dir, "tiny", "index.ts"), text);
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ type: "module" })}\n`);
  const weightsName = artifact.weights[1]!.name;
  const consumers: Record<string, string> = {
    "good.ts": `${CONSUMER_HEAD}
// Annotated (or passed inline): a plain \`const\` would widen the shapes to number[].
const map: Weights = ${tensorMap()};
export const viaLoad = load(device, map, { prefillChunk: 16 });
export const viaDefault = model.load(device, map);
export const inline = load(device, ${tensorMap()});
export const viaSource = load(device, { read: (name: string) => new Float32Array(name.length) });
declare const checkpoint: import("hybridc/runtime").Checkpoint;
export const viaCheckpoint = load(device, checkpoint);
export const name: "tiny" = artifact.model;
export const vocab: 256 = artifact.vocab;
export const firstWeight: ${JSON.stringify(artifact.weights[0]!.name)} = artifact.weights[0].name;
export const n: string = model.name;
`,
    "bad-name.ts": `${CONSUMER_HEAD}
export const m = load(device, ${tensorMap((n, s) => [n === weightsName ? n.replace("weight", "wieght") : n, s])});
`,
    "bad-shape.ts": `${CONSUMER_HEAD}
export const m = load(device, ${tensorMap((n, s) => [n, n === weightsName ? s.map((d) => d + 1) : s])});
`,
    "missing.ts": `${CONSUMER_HEAD}
export const m = load(device, ${tensorMap((n, s) => (n === weightsName ? null : [n, s]))});
`,
    "record.ts": `${CONSUMER_HEAD}
export const m = load(device, { ${artifact.weights.map((w) => `${JSON.stringify(w.name)}: new Float32Array(1)`).join(", ")} });
`,
  };
  for (const [file, src] of Object.entries(consumers)) writeFileSync(join(dir, file), src);
  // The project's own settings (strict, NodeNext, the `hybridc/runtime` path to the sources).
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ extends: join(ROOT, "tsconfig.json"), compilerOptions: { noEmit: true }, include: Object.keys(consumers) }, null, 2));
  const t = spawnSync(process.execPath, [TSC, "-p", dir, "--pretty", "false"], { encoding: "utf8", timeout: 240_000 });
  const errors = new Map<string, string[]>();
  let last: string[] | undefined;
  for (const line of t.stdout.split("\n")) {
    const m = /^(?:.*[\\/])?([\w-]+\.ts)\(\d+,\d+\): error (TS\d+: .*)$/.exec(line);
    if (m) {
      last = errors.get(m[1]!) ?? [];
      errors.set(m[1]!, last);
      last.push(m[2]!);
    } else if (last && /^\s/.test(line)) {
      last[last.length - 1] += `\n${line.trim()}`; // the elaboration under an error
    }
  }
  tsc = { code: t.status, errors, output: t.stdout + t.stderr };
}, 300_000);

describe("typed bindings under tsc", () => {
  it("are types and data: the artifact as const, a Weights type of every tensor and shape, a load that calls loadModel", () => {
    expect(text.startsWith(BINDINGS_HEADER)).toBe(true);
    expect(text).toContain("} as const satisfies ModelArtifact;");
    for (const w of artifact.weights) expect(text).toContain(`readonly ${JSON.stringify(w.name)}: readonly [${w.shape.join(", ")}];`);
    expect(text).toContain("export type Weights = ShapedWeights<WeightShapes>;");
    expect(text).toContain("return loadModel(device, artifact, weights, options);");
    // No logic but that call: outside the artifact's data (whose WGSL has its own), one function of one statement.
    const code = text.slice(0, text.indexOf("export const artifact")) + text.slice(text.indexOf("} as const satisfies ModelArtifact;"));
    expect(code.match(/\bfunction\b/g)).toHaveLength(1);
    expect(code.match(/\breturn\b/g)).toHaveLength(1);
    expect(code).not.toMatch(/\b(if|for|while|switch|new|await)\b/);
    // Every kernel's WGSL is in it.
    for (const k of [...artifact.prefill.call, ...artifact.decode.call]) expect(text).toContain(k.wgsl.split("\n")[0]!);
  });

  it("a consumer with every tensor and its shape, a record, a source or a checkpoint typechecks; literal types flow", () => {
    expect(tsc.errors.get("good.ts") ?? [], tsc.output).toEqual([]);
    // The bindings themselves and the runtime typecheck too: no error outside the bad consumers.
    expect([...tsc.errors.keys()].sort(), tsc.output).toEqual(["bad-name.ts", "bad-shape.ts", "missing.ts", "record.ts"]);
    expect(tsc.code).toBe(2);
  });

  it.each([
    ["bad-name.ts", "a misspelled tensor name", (n: string) => `TS2353: Object literal may only specify known properties, and '"${n.replace("weight", "wieght")}"' does not exist`],
    ["bad-shape.ts", "a wrong shape", () => "is not assignable to type"],
    ["missing.ts", "a missing tensor", (n: string) => `Property '"${n}"' is missing`],
    ["record.ts", "a plain record (it carries no shapes: loadModel takes it, untyped)", () => "is missing the following properties from type 'Tensor<readonly ["],
  ])("%s: %s is a tsc error", (file, _what, expected) => {
    const errs = tsc.errors.get(file) ?? [];
    expect(errs.length, tsc.output).toBeGreaterThan(0);
    expect(errs.join("\n")).toContain(expected(artifact.weights[1]!.name));
  });
});

describe("hybridc build --emit ts", () => {
  const hybridc = (args: string[]) => spawnSync(process.execPath, [join(ROOT, "bin", "hybridc.js"), ...args], { cwd: dir, env: cliEnv(), encoding: "utf8" });

  it("writes index.ts beside the manifest and WGSL, the same text as bindingsText; a rebuild without it removes it", () => {
    writeFileSync(join(dir, "tiny.hyb"), TINY);
    const r = hybridc(["build", "tiny.hyb", "-o", "out", "--emit", "ts"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${join("out", "tiny", "manifest.json")}\n${join("out", "tiny", "index.ts")}\n`);
    expect(readFileSync(join(dir, "out", "tiny", "index.ts"), "utf8")).toBe(text);
    expect(existsSync(join(dir, "out", "tiny", "prefill"))).toBe(true);
    const again = hybridc(["build", "tiny.hyb", "-o", "out"]);
    expect(again.status).toBe(0);
    expect(existsSync(join(dir, "out", "tiny", "index.ts"))).toBe(false);
    expect(existsSync(join(dir, "out", "tiny", "manifest.json"))).toBe(true);
  });

  it("--emit ts needs -o; an unknown --emit names the kinds", () => {
    const r = hybridc(["build", "tiny.hyb", "--emit", "ts"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--emit ts writes files: give the output directory with -o DIR");
    const u = hybridc(["tiny.hyb", "--emit", "js"]);
    expect(u.status).toBe(2);
    expect(u.stderr).toContain("unknown --emit 'js' (expected ts or wgsl)");
  });
});
