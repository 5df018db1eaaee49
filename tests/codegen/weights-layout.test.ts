/**
 * The weight layout (compiler/plan/weights.ts) and how requests use it, with values computed by
 * hand: layer grouping under both naming schemes, 64-element offsets, greedy packing of a layer
 * over the binding limit, a tensor alone over the limit, its row windows (256-byte aligned, whole
 * rows), and a selective scan binding its layer's weights once. No GPU needed.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, generateKernel, requestFromGraph } from "../../compiler/codegen/index.ts";
import { compile, programs, type ResolvedModel } from "../../compiler/index.ts";
import { weightArtifacts } from "../../compiler/codegen/artifact.ts";
import { layerGroup, rowWindows, weightLayout } from "../../compiler/plan/weights.ts";

const BIG = { maxStorageBufferBindingSize: 1 << 30 };

describe("layerGroup", () => {
  it("takes the layers.N prefix under both schemes, and null for model tensors", () => {
    expect(layerGroup("backbone.layers.0.mixer.A_log")).toBe("backbone.layers.0");
    expect(layerGroup("backbone.layers.12.norm.weight")).toBe("backbone.layers.12");
    expect(layerGroup("model.layers.3.self_attn.q_proj.weight")).toBe("model.layers.3");
    expect(layerGroup("model.layers.3.feed_forward.up_proj.weight")).toBe("model.layers.3");
    expect(layerGroup("backbone.embeddings.weight")).toBeNull();
    expect(layerGroup("model.final_layernorm.weight")).toBeNull();
    expect(layerGroup("lm_head.weight")).toBeNull();
    expect(layerGroup("backbone.mylayers.1.x")).toBeNull();
  });
});

describe("weightLayout", () => {
  it("puts a layer in one buffer at 64-element offsets and model tensors alone", () => {
    const l = weightLayout(
      [
        { name: "backbone.embeddings.weight", shape: [10, 8], dtype: "f32" },
        { name: "backbone.layers.0.norm.weight", shape: [8], dtype: "f32" },
        { name: "backbone.layers.0.mixer.in_proj.weight", shape: [32, 8], dtype: "f32" },
        { name: "backbone.layers.0.mixer.D", shape: [16], dtype: "f32" },
        { name: "backbone.layers.1.norm.weight", shape: [8], dtype: "f32" },
        { name: "backbone.layers.10.norm.weight", shape: [8], dtype: "f32" },
        { name: "backbone.norm_f.weight", shape: [8], dtype: "f32" },
      ],
      BIG,
    );
    expect(l.buffers.map((b) => [b.key, b.elements])).toEqual([
      ["weight:backbone.embeddings.weight", 80],
      ["weight:backbone.layers.0", 336], // 0..8, 64..320, 320..336
      ["weight:backbone.layers.1", 8],
      ["weight:backbone.layers.10", 8],
      ["weight:backbone.norm_f.weight", 8],
    ]);
    expect(l.of("backbone.layers.0.norm.weight")).toMatchObject({ key: "weight:backbone.layers.0", offset: 0, elements: 8 });
    expect(l.of("backbone.layers.0.mixer.in_proj.weight")).toMatchObject({ key: "weight:backbone.layers.0", offset: 64, elements: 256 });
    expect(l.of("backbone.layers.0.mixer.D")).toMatchObject({ key: "weight:backbone.layers.0", offset: 320, elements: 16 });
    expect(l.of("backbone.embeddings.weight")).toMatchObject({ key: "weight:backbone.embeddings.weight", offset: 0, elements: 80 });
    expect(l.of("nope")).toBeUndefined();
  });

  it("groups jamba names by layer, whatever the sublayer", () => {
    const l = weightLayout(
      [
        { name: "model.embed_tokens.weight", shape: [5, 4], dtype: "f32" },
        { name: "model.layers.0.input_layernorm.weight", shape: [4], dtype: "f32" },
        { name: "model.layers.0.self_attn.q_proj.weight", shape: [4, 4], dtype: "f32" },
        { name: "model.layers.0.pre_ff_layernorm.weight", shape: [4], dtype: "f32" },
        { name: "model.layers.0.feed_forward.up_proj.weight", shape: [65], dtype: "f32" },
        { name: "model.final_layernorm.weight", shape: [4], dtype: "f32" },
        { name: "lm_head.weight", shape: [5, 4], dtype: "f32" },
      ],
      BIG,
    );
    expect(l.buffers.map((b) => b.key)).toEqual(["weight:model.embed_tokens.weight", "weight:model.layers.0", "weight:model.final_layernorm.weight", "weight:lm_head.weight"]);
    const layer = l.buffers[1]!;
    expect(layer.tensors.map((t) => t.offset)).toEqual([0, 64, 128, 192]);
    expect(layer.elements).toBe(192 + 65);
  });

  it("aligns f16 tensors at 256 bytes (128 elements) and starts a new buffer where the storage dtype changes", () => {
    const l = weightLayout(
      [
        { name: "m.layers.0.a", shape: [100], dtype: "f16" }, // 0..100
        { name: "m.layers.0.b", shape: [10], dtype: "f16" }, //  128..138 (256 bytes)
        { name: "m.layers.0.c", shape: [10], dtype: "f32" }, //  another dtype: next buffer, 0..10
        { name: "m.layers.0.d", shape: [600], dtype: "f16" }, // 1200 bytes: over 1024, alone
      ],
      { maxStorageBufferBindingSize: 1024 },
    );
    // A tensor alone gets its buffer when it is met; the open part of the layer when it closes.
    expect(l.buffers.map((b) => [b.key, b.dtype, b.elements])).toEqual([
      ["weight:m.layers.0", "f16", 138],
      ["weight:m.layers.0.d", "f16", 600],
      ["weight:m.layers.0#1", "f32", 10],
    ]);
    expect(l.of("m.layers.0.b")).toMatchObject({ key: "weight:m.layers.0", offset: 128 });
    // 600 f16 rows of 1 element are 1200 bytes; windows of 512 elements (1024 bytes) then the rest.
    expect(rowWindows([600], "f16", 1024)).toEqual([
      { offset: 0, elements: 512 },
      { offset: 512, elements: 88 },
    ]);
  });

  it("packs a layer over the limit greedily, and a tensor over it alone", () => {
    // Limit 1024 bytes = 256 f32.
    const l = weightLayout(
      [
        { name: "m.layers.0.a", shape: [100], dtype: "f32" }, // 0..100
        { name: "m.layers.0.b", shape: [100], dtype: "f32" }, // 128..228
        { name: "m.layers.0.c", shape: [50], dtype: "f32" }, //  256 + 50 > 256: next buffer, 0..50
        { name: "m.layers.0.d", shape: [300], dtype: "f32" }, // 1200 bytes: alone
        { name: "m.layers.0.e", shape: [10], dtype: "f32" }, //  64..74 after c
      ],
      { maxStorageBufferBindingSize: 1024 },
    );
    expect(l.of("m.layers.0.a")).toMatchObject({ key: "weight:m.layers.0", offset: 0 });
    expect(l.of("m.layers.0.b")).toMatchObject({ key: "weight:m.layers.0", offset: 128 });
    expect(l.of("m.layers.0.c")).toMatchObject({ key: "weight:m.layers.0#1", offset: 0 });
    expect(l.of("m.layers.0.d")).toMatchObject({ key: "weight:m.layers.0.d", offset: 0, elements: 300 });
    expect(l.of("m.layers.0.e")).toMatchObject({ key: "weight:m.layers.0#1", offset: 64 });
    const sizes = Object.fromEntries(l.buffers.map((b) => [b.key, b.elements]));
    expect(sizes).toEqual({ "weight:m.layers.0": 228, "weight:m.layers.0.d": 300, "weight:m.layers.0#1": 74 });
  });
});

describe("rowWindows", () => {
  it("is one window when the tensor fits", () => {
    expect(rowWindows([4, 3], "f32", 1024)).toEqual([{ offset: 0, elements: 12 }]);
  });

  it("splits 97 rows of 16 under 4 KiB into 64 + 33 rows", () => {
    // 64 bytes a row; 4 rows = 256 bytes is the alignment step; 4096 / 256 = 16 steps = 64 rows.
    expect(rowWindows([97, 16], "f32", 4096)).toEqual([
      { offset: 0, elements: 1024 },
      { offset: 1024, elements: 528 },
    ]);
  });

  it("keeps odd rows whole and offsets 256-byte aligned; the last window is whole vec4s", () => {
    // Rows of 5 f32 = 20 bytes: 64 rows (1280 bytes) is the smallest aligned step; 2600 bytes hold 2 steps.
    const w = rowWindows([301, 5], "f32", 2600);
    expect(w).toEqual([
      { offset: 0, elements: 640 },
      { offset: 640, elements: 640 },
      { offset: 1280, elements: 228 }, // 45 rows = 225, rounded up to 228
    ]);
    for (const x of w) expect((4 * x.offset) % 256).toBe(0);
  });

  it("splits a mamba-130m LM head (50280 x 768 f32) under 128 MiB", () => {
    // 3072 bytes a row (a multiple of 256): floor(134217728 / 3072) = 43690 rows.
    expect(rowWindows([50280, 768], "f32", 134217728)).toEqual([
      { offset: 0, elements: 43690 * 768 },
      { offset: 43690 * 768, elements: 6590 * 768 },
    ]);
  });

  it("refuses rows that cannot be windowed", () => {
    expect(() => rowWindows([10, 3], "f32", 64)).toThrow(/cannot be split/);
  });
});

function model(text: string): ResolvedModel {
  const r = compile(text);
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.models[0]!;
}

describe("requests against a layout", () => {
  const m = model(`model tiny {
  vocab = 97
  d_model = 16
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  layers = [ssm, ssm]
}`);

  it("every layer tensor is at a multiple of 64 in its layer's buffer, without overlap", () => {
    const l = weightLayout(weightArtifacts(m), DEFAULT_LIMITS);
    expect(l.buffers.length).toBe(2 + 2); // embedding, 2 layers, final norm (tied)
    for (const b of l.buffers) {
      let end = 0;
      for (const t of b.tensors) {
        expect(t.offset % 64).toBe(0);
        expect(t.offset).toBeGreaterThanOrEqual(end);
        end = t.offset + t.shape.reduce((a, c) => a * c, 1);
      }
      expect(b.elements).toBe(end);
    }
    expect(l.buffers.flatMap((b) => b.tensors.map((t) => t.name)).sort()).toEqual(m.weights.map((w) => w.name).sort());
  });

  it("the selective scan binds its layer's weights once, at their offsets", () => {
    const layout = weightLayout(weightArtifacts(m), DEFAULT_LIMITS);
    const g = programs(m).prefill;
    const scan = g.nodes.find((n) => n.op === "selective_scan")!;
    const req = requestFromGraph(g, scan.id, { weights: layout });
    const nameOf = (id: number): string => {
      const n = g.nodes[id]!;
      return n.op === "weight" ? n.attrs.name : "";
    };
    const weights = req.inputs.filter((v) => v.buffer.role === "weight" && v.buffer.key.startsWith("weight:"));
    expect(weights.length).toBeGreaterThanOrEqual(3);
    const layer = layerGroup(nameOf(weights[0]!.base.node))!;
    for (const v of weights) {
      const name = nameOf(v.base.node);
      expect(v.buffer.key).toBe(`weight:${layer}`);
      expect(v.baseOffset).toBe(layout.of(name)!.offset);
      expect(v.offset % 4).toBe(0);
    }
    const spec = generateKernel(req, DEFAULT_LIMITS);
    expect(spec.bindings.filter((b) => b.access !== "uniform" && b.buffer === `weight:${layer}`)).toHaveLength(1);
    const without = generateKernel(requestFromGraph(g, scan.id), { ...DEFAULT_LIMITS, maxStorageBuffersPerShaderStage: 16 });
    const storage = (s: typeof spec) => s.bindings.filter((b) => b.access !== "uniform").length;
    expect(storage(spec)).toBeLessThan(storage(without));
    expect(storage(spec)).toBeLessThanOrEqual(8);
  });

  it("an embedding over the limit is bound as row windows of one buffer", () => {
    // 97 x 16 f32 = 6208 bytes > 4096: windows of 64 and 33 rows.
    const limits = { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: 4096 };
    const layout = weightLayout(weightArtifacts(m), limits);
    const g = programs(m).prefill;
    const emb = g.nodes.find((n) => n.op === "embedding")!;
    const spec = generateKernel(requestFromGraph(g, emb.id, { weights: layout }), limits);
    const windows = spec.bindings.flatMap((b) => (b.access !== "uniform" && b.window ? [{ buffer: b.buffer, ...b.window }] : []));
    expect(windows).toEqual([
      { buffer: "weight:backbone.embeddings.weight", offset: 0, elements: 1024, of: "table" },
      { buffer: "weight:backbone.embeddings.weight", offset: 1024, elements: 528, of: "table" },
    ]);
    expect(spec.wgsl).toContain("fn table_at(i: u32)");
  });
});
