/**
 * The kernel description and the runtime: WGSL binding declarations are exactly the BindingSpec
 * list, views of one buffer share a binding, state is bound once for in-place updates, grids
 * fold under the per-dimension limit, and every failure (WGSL error, validation error, device
 * loss) surfaces as a specific error instead of a wrong result or a hang.
 */
import { describe, expect, it } from "vitest";
import {
  CodegenError,
  DEFAULT_LIMITS,
  foldGrid,
  generateKernel,
  requestFromGraph,
  uniformData,
  workgroupCount,
  type KernelLimits,
  type KernelSpec,
  type StorageBindingSpec,
} from "../../compiler/codegen/index.ts";
import { DeviceLostError, GpuError, GpuRuntime, KernelCompileError } from "../../runtime/device.ts";
import { getDevice } from "../gpu/device.ts";
import { convGraph, linearGraph, scanGraph, type TestGraph } from "./graphs.ts";
import { runNode, runtime } from "./harness.ts";

const LIMITS16: KernelLimits = { ...DEFAULT_LIMITS, maxStorageBuffersPerShaderStage: 16 };

function spec(tg: TestGraph, limits = LIMITS16): KernelSpec {
  return generateKernel(requestFromGraph(tg.graph, tg.node), limits);
}

const SAMPLES: readonly [string, TestGraph][] = [
  ["linear", linearGraph({ S: "L", K: 16, outs: [33], plain: true })],
  ["fused_linear qkv", linearGraph({ S: "L", K: 16, outs: [12, 8, 8], prologue: "rmsnorm", bias: true, residual: false })],
  ["fused_linear swiglu decode", linearGraph({ S: 1, K: 18, outs: [10, 10], prologue: "layernorm", activation: "swiglu", residual: true })],
  ["conv1d_silu", convGraph({ S: "L", C: 32, W: 4, bias: true, sliced: true })],
  ["conv1d_silu_update", convGraph({ S: 1, C: 30, W: 4, bias: false })],
  ["selective_scan", scanGraph({ S: "L", Di: 36, N: 16, R: 4, innerNorms: true })],
  ["selective_state_update", scanGraph({ S: 1, Di: 36, N: 64, R: 3 })],
];

/** `@group/@binding` declarations as written in the module. */
function declaredBindings(code: string) {
  const re = /^@group\((\d+)\) @binding\((\d+)\) var<(?:storage, (read|read_write)|(uniform))> (\w+): (?:array<(.+)>|(\w+));$/gm;
  return [...code.matchAll(re)].map((m) => ({
    group: Number(m[1]),
    binding: Number(m[2]),
    access: m[3] ?? m[4],
    name: m[5],
    elem: m[6] ?? m[7],
  }));
}

describe("kernel description", () => {
  it.each(SAMPLES)("%s: the WGSL declares exactly the BindingSpec list", (_, tg) => {
    const s = spec(tg);
    // The WGSL element type, spelled out: the struct for the uniform, `vec4<T>` for a binding read in lanes of 4.
    const elem = (b: (typeof s.bindings)[number]) => (b.access === "uniform" ? "Params" : b.lanes === 4 ? `vec4<${b.dtype}>` : b.dtype);
    expect(declaredBindings(s.wgsl)).toEqual(s.bindings.map((b) => ({ group: b.group, binding: b.binding, access: b.access, name: b.name, elem: elem(b) })));
    expect(s.wgsl.match(/@binding/g)).toHaveLength(s.bindings.length);
    const struct = /struct Params \{\n((?:  \w+: u32,\n)*)\}/.exec(s.wgsl);
    expect(struct?.[1]?.match(/\w+(?=:)/g) ?? []).toEqual([...s.uniforms.fields]);
    expect(s.bindings.at(-1)?.access === "uniform").toBe(s.uniforms.fields.length > 0);
  });

  it("opens every kernel with its math, operands, thread mapping and spec lines", () => {
    const tg = scanGraph({ S: "L", Di: 36, N: 16, R: 4 });
    const req = requestFromGraph(tg.graph, tg.node, { name: "layers.0.mixer.scan", describeSpan: (sp) => `model.hyb:${sp.start + 1}` });
    const code = generateKernel(req, LIMITS16).wgsl;
    expect(code.startsWith("// kernel layers.0.mixer.scan: selective_scan {innerNormEps=null}\n")).toBe(true);
    for (const part of ["// h[c, :] = exp(delta * A)", "// threads:", "//   invocation: 4 channels cb + m * 16", "//   staged: the dt, B, C rows of 16 tokens"]) expect(code).toContain(part);
    expect(code).toMatch(/^\/\/ {3}B +\[L,16\] at offset 4, strides \[36, 1\] in %\d+#0$/m);
    expect(code).toMatch(/^\/\/ from: model\.hyb:41$/m);
  });

  it("gives views of one buffer one binding and binds in-place state once, read_write", () => {
    const scan = spec(scanGraph({ S: "L", Di: 36, N: 16, R: 4 }));
    const names = scan.bindings.map((b) => b.name);
    expect(names).toContain("dt_B_C");
    expect(names.filter((n) => n === "h")).toHaveLength(1);
    expect(scan.bindings.find((b) => b.name === "h")).toMatchObject({ access: "read_write", role: "state", buffer: "state:layers.0.ssm", dtype: "f32", lanes: 4 });
    const conv = spec(convGraph({ S: "L", C: 32, W: 4, bias: true }));
    expect(conv.bindings.filter((b) => b.access !== "uniform" && b.buffer === "state:layers.0.conv")).toMatchObject([{ name: "state", access: "read_write" }]);
    // Weights are read-only; activations the kernel only reads too.
    expect(scan.bindings.filter((b) => b.access === "read_write").map((b) => b.name)).toEqual(["h", "y"]);
  });

  it("evaluates the grid formula in L and folds it under the per-dimension limit", () => {
    expect(workgroupCount({ lTile: 16, times: 3 }, 1)).toBe(3);
    expect(workgroupCount({ lTile: 16, times: 3 }, 17)).toBe(6);
    expect(workgroupCount({ lTile: null, times: 5 }, 1000)).toBe(5);
    expect(foldGrid(100, 65535)).toEqual([100, 1, 1]);
    expect(foldGrid(40, 7)).toEqual([7, 6, 1]);
    expect(() => foldGrid(50, 7)).toThrow(/50 workgroups exceed 7\^2/);
    expect([...new Uint32Array(uniformData({ fields: ["L", "pos"] }, { L: 67, pos: 5 }))]).toEqual([67, 5, 0, 0]);
  });

  it("refuses a kernel that needs more storage buffers than the adapter allows", () => {
    const tg = scanGraph({ S: "L", Di: 36, N: 16, R: 4 });
    expect(() => spec(tg, DEFAULT_LIMITS)).toThrow(CodegenError);
    expect(() => spec(tg, DEFAULT_LIMITS)).toThrow(/needs 9 storage buffers; the adapter allows 8/);
  });
});

describe("runtime", () => {
  it("runs a folded 2-D grid correctly", async () => {
    const tg = linearGraph({ S: "L", K: 16, outs: [40], prologue: "rmsnorm", residual: true });
    const folded = await runNode(tg.graph, tg.node, tg.feed(67, 3), { runtime: { maxWorkgroupsPerDimension: 8 }, schedule: { wgRows: 1, wgCols: 4 } });
    // 17 row tiles x 3 col blocks = 51 workgroups, launched as an 8 x 7 grid (5 spare ones).
    expect(workgroupCount(folded.spec.dispatch, 67)).toBe(51);
    expect(folded.errors[0]).toBeLessThan(1e-5);
  });

  it("maps a WGSL error to the kernel, line:col and source line", async () => {
    const rt = await runtime();
    const good = spec(convGraph({ S: "L", C: 32, W: 4, bias: true }));
    const bad = { ...good, name: "layers.3.mixer.conv1d", wgsl: good.wgsl.replace("let L = params.L;", "let L: f32 = params.L;") };
    const line = bad.wgsl.split("\n").findIndex((l) => l.includes("let L: f32")) + 1;
    const err = await rt.compile([bad]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelCompileError);
    const e = err as KernelCompileError;
    expect(e.kernel).toBe("layers.3.mixer.conv1d");
    expect(e.messages[0]!.line).toBe(line);
    expect(e.message).toContain(`${line}:${e.messages[0]!.col}:`);
    expect(e.message).toContain("let L: f32 = params.L;");
    expect(e.message).toContain("(from offsets 40-52)");
  });

  it("turns a validation error into a GpuError naming the kernel", async () => {
    const rt = await runtime();
    const s = spec(linearGraph({ S: "L", K: 16, outs: [8], plain: true }));
    const [k] = await rt.compile([s]);
    const one = rt.createBuffer(4096);
    // x and y bound to one buffer: a writable storage binding aliasing a read-only one.
    const buffers = Object.fromEntries(s.bindings.flatMap((b) => (b.access === "uniform" ? [] : [[b.buffer, one]])));
    await expect(rt.run([{ kernel: k!, buffers, L: 4 }])).rejects.toThrow(GpuError);
    await expect(rt.run([{ kernel: k!, buffers, L: 4 }])).rejects.toThrow(/launching layers\.0\.linear: /);
    const small = rt.createBuffer(16);
    const x = s.bindings.find((b): b is StorageBindingSpec => b.name === "x")!;
    await expect(rt.run([{ kernel: k!, buffers: { ...buffers, [x.buffer]: small }, L: 4 }])).rejects.toThrow(/binding x .* needs 256 bytes at L = 4, the buffer has 16/);
    one.destroy();
    small.destroy();
  });

  it("reports device loss as an error, never a hang", async () => {
    await getDevice();
    const adapter = await globalThis.__hybridcGpu!.requestAdapter();
    const device = await adapter!.requestDevice();
    const rt = new GpuRuntime(device);
    const s = spec(linearGraph({ S: "L", K: 16, outs: [8], plain: true }));
    const [k] = await rt.compile([s]);
    const buf = rt.createBuffer(1024);
    device.destroy();
    await device.lost;
    await expect(rt.read(buf)).rejects.toThrow(DeviceLostError);
    await expect(rt.compile([s])).rejects.toThrow(/GPU device lost \(destroyed\)/);
    expect(() => rt.createBuffer(16)).toThrow(DeviceLostError);
    await expect(rt.run([{ kernel: k!, buffers: {}, L: 1 }])).rejects.toThrow(DeviceLostError);
  });
});
