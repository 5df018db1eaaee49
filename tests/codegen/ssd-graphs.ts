/**
 * A Mamba-2 SSD node laid out as in the optimized model: x, B, C are windows of one xBC row
 * (the conv's output), z and dt windows of one in_proj row [z | xBC | dt], each reshaped to
 * heads; A_log, D, dt_bias and the norm weight are weights; the state is updated in place.
 */
import type { SsdEpilogue } from "../../compiler/ir/fused-ops.ts";
import type { Dim } from "../../compiler/ir/types.ts";
import { Maker, OP_SPAN, type TestGraph } from "./graphs.ts";

export interface SsdCase {
  readonly S: Dim;
  readonly H: number;
  readonly P: number;
  readonly G: number;
  readonly N: number;
  readonly epilogue: SsdEpilogue;
  /** Norm group (norm epilogues; default P). */
  readonly group?: number;
  /** The ssd chunk attr (default 16). */
  readonly chunk?: number;
}

function invSoftplus(y: number): number {
  return y + Math.log(-Math.expm1(-y));
}

export function ssdGraph(c: SsdCase): TestGraph {
  const m = new Maker(c.S);
  const b = m.b;
  const { H, P, G, N } = c;
  const HP = H * P;
  const GN = G * N;
  const zxbcdt = m.activation("zxbcdt", HP + HP + 2 * GN + H);
  const xbc = m.activation("xbc", HP + 2 * GN);
  const heads = (v: ReturnType<typeof b.slice>, inner: number, last: number) => b.reshape(v, [c.S, inner, last]);
  const x = heads(b.slice(xbc, 1, 0, HP), H, P);
  const B = heads(b.slice(xbc, 1, HP, GN), G, N);
  const C = heads(b.slice(xbc, 1, HP + GN, GN), G, N);
  const z = heads(b.slice(zxbcdt, 1, 0, HP), H, P);
  const dt = b.slice(zxbcdt, 1, HP + HP + 2 * GN, H);
  const ins = {
    x,
    dt,
    Alog: m.weight("A_log", [H], (r) => Math.log(r.uniform(1, 16))),
    B,
    C,
    D: m.weight("D", [H], (r) => r.uniform(0.5, 1.5)),
    dtBias: m.weight("dt_bias", [H], (r) => invSoftplus(Math.exp(r.uniform(Math.log(1e-3), Math.log(0.1))))),
    h0: m.state("layers.0.ssm", [H, P, N]),
  };
  const norm = c.epilogue === "gate_norm" || c.epilogue === "norm_gate";
  const extra = {
    ...(c.epilogue !== "none" ? { z } : {}),
    ...(norm ? { normW: m.weight("norm.w", [H, P], (r) => 1 + 0.1 * r.normal()) } : {}),
  };
  const attrs = { epilogue: c.epilogue, normGroup: norm ? (c.group ?? P) : null, eps: norm ? 1e-5 : null };
  b.at([OP_SPAN]);
  const [y, h] = c.S === 1 ? b.ssd("ssd_state_update", { ...ins, ...extra }, attrs) : b.ssd("ssd", { ...ins, ...extra }, { ...attrs, chunk: c.chunk ?? 16 });
  return m.finish(y.node, [
    { name: "y", value: y },
    { name: "layers.0.ssm", value: h },
  ]);
}
