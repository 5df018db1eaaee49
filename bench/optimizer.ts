/**
 * The optimizer's merit on each canonical spec, fused vs `--no-fuse` in one run (figures from
 * the IR and the buffer plan, so they are exact and machine-independent), plus the time the
 * middle end takes (lower + optimize + plan) on this machine.
 *
 * The decode minimum is performance.md §1.7: every weight read once, the recurrent state read
 * and written once, and the valid KV rows read once (plus the new row written).
 */
import type { ResolvedModel } from "../compiler/check/model.ts";
import { inspectModel } from "../compiler/inspect.ts";
import { programs } from "../compiler/index.ts";
import { planGraph } from "../compiler/plan/index.ts";
import { median } from "./stats.ts";

const T = 1024;

/**
 * Bytes one decode token at position T must move at least: weights once (in their storage dtype:
 * `weightBytes` from the plan), SSM/conv state in and out, the valid KV rows and the new one.
 * State and KV cache are f32 for every dtype (lower/state.ts computeDtype).
 */
export function decodeMinimum(model: ResolvedModel, weightBytes: number, T = 1024): number {
  const f = 4;
  let state = 0;
  for (const layer of model.layers)
    for (const s of layer.sublayers) {
      const c = s.block.config;
      switch (c.kind) {
        case "mamba1":
          state += 2 * c.dInner * (c.dConv + c.dState) * f;
          break;
        case "mamba2":
          state += 2 * (c.convDim * c.dConv + c.heads * c.headdim * c.dState) * f;
          break;
        case "attention": {
          const rows = c.window === null ? T : Math.min(T, c.window - 1);
          state += (rows + 1) * 2 * c.kvHeads * c.headDim * f;
          break;
        }
        case "mlp":
          break;
      }
    }
  return weightBytes + state;
}

const num = (n: number) => n.toLocaleString("en-US");
const ratio = (a: number, b: number, digits = 2) => `${(a / b).toFixed(digits)}x`;

export function optimizerBench(models: readonly ResolvedModel[]): void {
  console.log(`\noptimizer (decode at T = ${T}, prefill at L = ${T}; fused vs --no-fuse, same model, same run):`);
  console.log(
    "model".padEnd(13) +
      "dispatches/token".padStart(20) + "  " +
      "decode bytes/token".padStart(34) +
      "moved/min".padStart(11) +
      "prefill scratch".padStart(30) +
      "lower+opt+plan".padStart(16),
  );
  for (const m of models) {
    const fused = inspectModel(m, { length: T, fuse: true });
    const plain = inspectModel(m, { length: T, fuse: false });
    const min = decodeMinimum(m, fused.decode.weightBytes);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const p = programs(m);
      planGraph(p.prefill, { L: T, pos: 0 });
      planGraph(p.decode, { L: 1, pos: T });
      times.push(performance.now() - t0);
    }
    console.log(
      m.name.padEnd(13) +
        `${fused.decode.dispatches} vs ${plain.decode.dispatches} (${ratio(plain.decode.dispatches, fused.decode.dispatches)})`.padStart(20) + "  " +
        `${num(fused.decode.movedBytes)} vs ${num(plain.decode.movedBytes)} (${ratio(plain.decode.movedBytes, fused.decode.movedBytes)})`.padStart(34) +
        ratio(fused.decode.movedBytes, min, 3).padStart(11) +
        `${(fused.prefill.scratchBytes / 2 ** 20).toFixed(1)} vs ${(plain.prefill.scratchBytes / 2 ** 20).toFixed(1)} MiB`.padStart(30) +
        `${median(times).toFixed(0)} ms`.padStart(16),
    );
  }
}
