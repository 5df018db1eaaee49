/**
 * A float64 reference written straight from ../shared/reference/semantics.md, one token at a
 * time with plain arrays (never through the IR). Each mixer is a `step` that updates its cache
 * in place, exactly like the official decode paths; a prompt is a loop over its tokens.
 */
import type {
  AttentionConfig,
  BlockConfig,
  Mamba1Config,
  Mamba2Config,
  MlpConfig,
  ResolvedModel,
} from "../../compiler/check/model.ts";
// erf has no JS builtin; the evaluator's is pinned to Python's math.erf in interp-ops.test.ts.
import { erf } from "../../compiler/interp/scalar.ts";
import type { State } from "./fixtures.ts";

type Vec = number[];

const softplus = (x: number): number => (x > 20 ? x : Math.log1p(Math.exp(x)));
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const silu = (x: number): number => x * sigmoid(x);
const sum = (v: Vec): number => v.reduce((a, b) => a + b, 0);

/** y = W x (+ b), W [out, in] row-major. */
function matvec(W: Float64Array, x: Vec, b?: Float64Array): Vec {
  const out = W.length / x.length;
  const y: Vec = [];
  for (let o = 0; o < out; o++) {
    let acc = 0;
    for (let i = 0; i < x.length; i++) acc += W[o * x.length + i]! * x[i]!;
    y.push(acc + (b ? b[o]! : 0));
  }
  return y;
}

/** x / sqrt(mean(x^2) + eps) * w, per consecutive group of `group` channels. */
function rmsnorm(x: Vec, w: Float64Array, eps: number, group = x.length): Vec {
  const y: Vec = [];
  for (let g0 = 0; g0 < x.length; g0 += group) {
    const part = x.slice(g0, g0 + group);
    const r = Math.sqrt(sum(part.map((v) => v * v)) / group + eps);
    part.forEach((v, i) => y.push((v / r) * w[g0 + i]!));
  }
  return y;
}

function layernorm(x: Vec, w: Float64Array, b: Float64Array, eps: number): Vec {
  const mean = sum(x) / x.length;
  const v = sum(x.map((t) => (t - mean) ** 2)) / x.length;
  return x.map((t, i) => ((t - mean) / Math.sqrt(v + eps)) * w[i]! + b[i]!);
}

type LayerCache =
  | { kind: "mamba1"; conv: Vec[]; ssm: Vec[] } // conv[c] = last W raw inputs (oldest first); ssm[c][n]
  | { kind: "mamba2"; conv: Vec[]; ssm: Vec[][] } // ssm[h][p][n]
  | { kind: "attention"; k: Vec[][]; v: Vec[][] } // k[position][kv head][d], after RoPE
  | { kind: "mlp" };

export class Reference {
  private readonly caches: LayerCache[][];
  private position = 0;

  constructor(
    private readonly model: ResolvedModel,
    private readonly weights: Readonly<Record<string, Float64Array>>,
  ) {
    this.caches = model.layers.map((l) => l.sublayers.map((s) => emptyCache(s.block.config)));
  }

  private W(layer: number | null, sub: number | null, local: string): Float64Array {
    const t = this.model.weights.find((w) => w.layer === layer && w.sublayer === sub && w.local === local);
    if (!t) throw new Error(`reference: no weight ${local} at ${layer}/${sub}`);
    return this.weights[t.name]!;
  }

  private norm(x: Vec, layer: number | null, sub: number | null, prefix: string): Vec {
    const { kind, eps } = this.model.norm;
    return kind === "rmsnorm" ? rmsnorm(x, this.W(layer, sub, `${prefix}.weight`), eps) : layernorm(x, this.W(layer, sub, `${prefix}.weight`), this.W(layer, sub, `${prefix}.bias`), eps);
  }

  /** One token through the whole model; returns its logits. */
  step(token: number): Vec {
    const m = this.model;
    const E = this.W(null, null, "embedding.weight");
    let h = Array.from(E.subarray(token * m.dModel, (token + 1) * m.dModel));
    for (const layer of m.layers) {
      layer.sublayers.forEach((sub, j) => {
        const x = this.norm(h, layer.index, j, "input_norm");
        const W = (local: string) => this.W(layer.index, j, local);
        const out = this.block(sub.block.config, this.caches[layer.index]![j]!, W, x);
        h = h.map((v, i) => v + out[i]!);
      });
    }
    this.position++;
    const f = this.norm(h, null, null, "final_norm");
    return matvec(this.W(null, null, m.tied ? "embedding.weight" : "lm_head.weight"), f);
  }

  /** Logits of every token, concatenated [tokens, vocab]. */
  forward(tokens: readonly number[]): Float64Array {
    return Float64Array.from(tokens.flatMap((t) => this.step(t)));
  }

  private block(cfg: BlockConfig, cache: LayerCache, W: (l: string) => Float64Array, x: Vec): Vec {
    switch (cfg.kind) {
      case "mamba1":
        return mamba1Step(cfg, cache as Extract<LayerCache, { kind: "mamba1" }>, W, x, this.model.norm.eps);
      case "mamba2":
        return mamba2Step(cfg, cache as Extract<LayerCache, { kind: "mamba2" }>, W, x, this.model.norm.eps);
      case "attention":
        return attentionStep(cfg, cache as Extract<LayerCache, { kind: "attention" }>, W, x, this.position);
      case "mlp":
        return mlpStep(cfg, W, x);
    }
  }

  /** The caches in the IR state layout (lower/state.ts). */
  state(): State {
    const s: State = {};
    this.model.layers.forEach((layer) =>
      layer.sublayers.forEach((sub, j) => {
        const c = this.caches[layer.index]![j]!;
        const name = (k: string) => `layers.${layer.index}.${k}`;
        if (c.kind === "mamba1") {
          s[name("conv")] = Float64Array.from(c.conv.flat());
          s[name("ssm")] = Float64Array.from(c.ssm.flat());
        } else if (c.kind === "mamba2") {
          s[name("conv")] = Float64Array.from(c.conv.flat());
          s[name("ssm")] = Float64Array.from(c.ssm.flat(2));
        } else if (c.kind === "attention") {
          const cfg = sub.block.config as AttentionConfig;
          const row = cfg.kvHeads * cfg.headDim;
          const k = new Float64Array(this.model.context * row);
          const v = new Float64Array(this.model.context * row);
          // A ring (compiler/ir/kv-ring.ts): position t in row t mod context, later positions last.
          c.k.forEach((kt, t) => k.set(kt.flat(), (t % this.model.context) * row));
          c.v.forEach((vt, t) => v.set(vt.flat(), (t % this.model.context) * row));
          s[name("k")] = k;
          s[name("v")] = v;
        }
      }),
    );
    return s;
  }
}

function emptyCache(cfg: BlockConfig): LayerCache {
  const zeros = (n: number) => new Array<number>(n).fill(0);
  switch (cfg.kind) {
    case "mamba1":
      return { kind: "mamba1", conv: Array.from({ length: cfg.dInner }, () => zeros(cfg.dConv)), ssm: Array.from({ length: cfg.dInner }, () => zeros(cfg.dState)) };
    case "mamba2":
      return {
        kind: "mamba2",
        conv: Array.from({ length: cfg.convDim }, () => zeros(cfg.dConv)),
        ssm: Array.from({ length: cfg.heads }, () => Array.from({ length: cfg.headdim }, () => zeros(cfg.dState))),
      };
    case "attention":
      return { kind: "attention", k: [], v: [] };
    case "mlp":
      return { kind: "mlp" };
  }
}

/** causal_conv1d_update with S = W: shift the raw input in, output uses the last W columns. */
function convStep(conv: Vec[], w: Float64Array, bias: Float64Array | null, xin: Vec): Vec {
  const W = conv[0]!.length;
  return xin.map((v, c) => {
    conv[c]!.shift();
    conv[c]!.push(v);
    let acc = bias ? bias[c]! : 0;
    for (let k = 0; k < W; k++) acc += w[c * W + k]! * conv[c]![k]!; // w[:, W-1] hits the current input
    return silu(acc);
  });
}

function mamba1Step(cfg: Mamba1Config, cache: Extract<LayerCache, { kind: "mamba1" }>, W: (l: string) => Float64Array, u: Vec, eps: number): Vec {
  const { dInner: Di, dState: N, dtRank: R } = cfg;
  const xz = matvec(W("in_proj.weight"), u, cfg.bias ? W("in_proj.bias") : undefined);
  const x = convStep(cache.conv, W("conv1d.weight"), cfg.convBias ? W("conv1d.bias") : null, xz.slice(0, Di));
  const z = xz.slice(Di);
  const dbc = matvec(W("x_proj.weight"), x);
  let dt = dbc.slice(0, R);
  let B = dbc.slice(R, R + N);
  let C = dbc.slice(R + N);
  if (cfg.innerNorms) {
    dt = rmsnorm(dt, W("dt_layernorm.weight"), eps);
    B = rmsnorm(B, W("b_layernorm.weight"), eps);
    C = rmsnorm(C, W("c_layernorm.weight"), eps);
  }
  const delta = matvec(W("dt_proj.weight"), dt, W("dt_proj.bias")).map(softplus);
  const Alog = W("A_log");
  const D = W("D");
  const y: Vec = [];
  for (let c = 0; c < Di; c++) {
    let yc = 0;
    for (let n = 0; n < N; n++) {
      const A = -Math.exp(Alog[c * N + n]!);
      const h = Math.exp(delta[c]! * A) * cache.ssm[c]![n]! + delta[c]! * x[c]! * B[n]!;
      cache.ssm[c]![n] = h;
      yc += h * C[n]!;
    }
    y.push((yc + D[c]! * x[c]!) * silu(z[c]!));
  }
  return matvec(W("out_proj.weight"), y, cfg.bias ? W("out_proj.bias") : undefined);
}

function mamba2Step(cfg: Mamba2Config, cache: Extract<LayerCache, { kind: "mamba2" }>, W: (l: string) => Float64Array, u: Vec, eps: number): Vec {
  const { dInner: Di, heads: H, headdim: P, ngroups: G, dState: N, convDim } = cfg;
  const zxbcdt = matvec(W("in_proj.weight"), u, cfg.bias ? W("in_proj.bias") : undefined);
  const z = zxbcdt.slice(0, Di);
  const xbc = convStep(cache.conv, W("conv1d.weight"), cfg.convBias ? W("conv1d.bias") : null, zxbcdt.slice(Di, Di + convDim));
  const dtRaw = zxbcdt.slice(Di + convDim);
  const x = xbc.slice(0, Di);
  const B = xbc.slice(Di, Di + G * N);
  const C = xbc.slice(Di + G * N);
  const Alog = W("A_log");
  const D = W("D");
  const dtBias = W("dt_bias");
  let y: Vec = new Array<number>(Di).fill(0);
  for (let h = 0; h < H; h++) {
    const dt = softplus(dtRaw[h]! + dtBias[h]!);
    const A = -Math.exp(Alog[h]!);
    const g = Math.floor(h / (H / G));
    for (let p = 0; p < P; p++) {
      const c = h * P + p;
      let yc = 0;
      for (let n = 0; n < N; n++) {
        const s = Math.exp(dt * A) * cache.ssm[h]![p]![n]! + dt * x[c]! * B[g * N + n]!;
        cache.ssm[h]![p]![n] = s;
        yc += s * C[g * N + n]!;
      }
      y[c] = yc + D[h]! * x[c]!;
    }
  }
  const gate = z.map(silu);
  if (!cfg.gatedNorm) y = y.map((v, i) => v * gate[i]!);
  else if (cfg.normBeforeGate) y = rmsnorm(y, W("norm.weight"), eps, cfg.normGroup).map((v, i) => v * gate[i]!);
  else y = rmsnorm(y.map((v, i) => v * gate[i]!), W("norm.weight"), eps, cfg.normGroup);
  return matvec(W("out_proj.weight"), y, cfg.bias ? W("out_proj.bias") : undefined);
}

/** NeoX half-split RoPE of one head vector at absolute position p. */
function rope(v: Vec, p: number, theta: number, r: number): Vec {
  const out = v.slice();
  for (let i = 0; i < r / 2; i++) {
    const angle = p * theta ** ((-2 * i) / r);
    const a = v[i]!;
    const b = v[i + r / 2]!;
    out[i] = a * Math.cos(angle) - b * Math.sin(angle);
    out[i + r / 2] = b * Math.cos(angle) + a * Math.sin(angle);
  }
  return out;
}

function attentionStep(cfg: AttentionConfig, cache: Extract<LayerCache, { kind: "attention" }>, W: (l: string) => Float64Array, u: Vec, p: number): Vec {
  const { heads: H, kvHeads: Hkv, headDim: hd } = cfg;
  const bias = (n: string) => (cfg.bias ? W(`${n}.bias`) : undefined);
  const heads = (v: Vec, n: number) => Array.from({ length: n }, (_, h) => v.slice(h * hd, (h + 1) * hd));
  const rot = (v: Vec) => (cfg.rope ? rope(v, p, cfg.rope.theta, cfg.rope.rotaryDim) : v);
  const q = heads(matvec(W("q_proj.weight"), u, bias("q_proj")), H).map(rot);
  cache.k.push(heads(matvec(W("k_proj.weight"), u, bias("k_proj")), Hkv).map(rot));
  cache.v.push(heads(matvec(W("v_proj.weight"), u, bias("v_proj")), Hkv));
  if (cache.k.length !== p + 1) throw new Error("reference: cache out of step");
  const o: Vec = [];
  for (let h = 0; h < H; h++) {
    const kvh = Math.floor(h / (H / Hkv));
    const first = cfg.window === null ? 0 : Math.max(0, p - cfg.window + 1); // W keys including the query
    const keys = Array.from({ length: p + 1 - first }, (_, i) => first + i);
    const s = keys.map((j) => sum(q[h]!.map((qv, d) => qv * cache.k[j]![kvh]![d]!)) / Math.sqrt(hd));
    const mx = Math.max(...s);
    const e = s.map((v) => Math.exp(v - mx));
    const z = sum(e);
    for (let d = 0; d < hd; d++) o.push(sum(keys.map((j, i) => (e[i]! / z) * cache.v[j]![kvh]![d]!)));
  }
  return matvec(W("o_proj.weight"), o, bias("o_proj"));
}

function mlpStep(cfg: MlpConfig, W: (l: string) => Float64Array, x: Vec): Vec {
  const lin = (n: string, v: Vec) => matvec(W(`${n}.weight`), v, cfg.bias ? W(`${n}.bias`) : undefined);
  const up = lin("up_proj", x);
  let hidden: Vec;
  if (cfg.activation === "swiglu") hidden = lin("gate_proj", x).map((g, i) => silu(g) * up[i]!);
  else if (cfg.activation === "gelu") hidden = up.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
  else hidden = up.map((v) => Math.max(v, 0) ** 2);
  return lin("down_proj", hidden);
}
