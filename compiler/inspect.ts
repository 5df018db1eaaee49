/**
 * The cost figures `hybridc inspect` prints (performance.md §1.7), as pure functions of a
 * resolved model: prefill at length L (dispatches, scratch bytes), one decode step at position
 * T = L (dispatches; weight, state and total bytes it moves) and the decode kernel list.
 */
import type { ResolvedModel } from "./check/model.ts";
import { programs } from "./index.ts";
import type { ScanAlgorithm } from "./passes/index.ts";
import { planGraph } from "./plan/index.ts";

export interface InspectOptions {
  /** Prefill length, and the decode position T (the number of valid KV cache rows). */
  readonly length: number;
  /** false for `--no-fuse`. */
  readonly fuse: boolean;
  /** The prefill scan kernels (`--scan`; default sequential). */
  readonly scan?: ScanAlgorithm;
}

/** One model of `{"models":[...]}`, keys in exactly this order. */
export interface InspectedModel {
  readonly name: string;
  readonly prefill: { readonly length: number; readonly dispatches: number; readonly scratchBytes: number };
  readonly decode: { readonly dispatches: number; readonly weightBytes: number; readonly stateBytes: number; readonly movedBytes: number };
  /** The decode program's kernels, in dispatch order. */
  readonly kernels: readonly { readonly name: string; readonly op: string }[];
}

export function inspectModel(model: ResolvedModel, options: InspectOptions): InspectedModel {
  const { prefill, decode } = programs(model, { fuse: options.fuse, ...(options.scan ? { scan: options.scan } : {}) });
  const p = planGraph(prefill, { L: options.length, pos: 0 });
  const d = planGraph(decode, { L: 1, pos: options.length });
  return {
    name: model.name,
    prefill: { length: options.length, dispatches: p.dispatches, scratchBytes: p.peakScratchBytes },
    decode: { dispatches: d.dispatches, weightBytes: d.traffic.weightBytes, stateBytes: d.traffic.stateBytes, movedBytes: d.traffic.movedBytes },
    kernels: d.kernels.map((k) => ({ name: k.name, op: k.op })),
  };
}

/** `{"models":[...]}` on one line. */
export function inspectJsonText(models: readonly InspectedModel[]): string {
  return `${JSON.stringify({ models })}\n`;
}

const num = (n: number): string => n.toLocaleString("en-US");

export function inspectText(models: readonly InspectedModel[]): string {
  return models
    .map((m) => {
      const width = Math.max(...m.kernels.map((k) => k.name.length), 4) + 2;
      const rows: [string, number][] = [
        ["weights", m.decode.weightBytes],
        ["state", m.decode.stateBytes],
        ["moved", m.decode.movedBytes],
      ];
      const numWidth = Math.max(...rows.map(([, n]) => num(n).length));
      return [
        `model ${m.name}`,
        `  prefill  L = ${m.prefill.length}: ${num(m.prefill.dispatches)} dispatches, ${num(m.prefill.scratchBytes)} bytes of scratch`,
        `  decode   T = ${m.prefill.length}: ${num(m.decode.dispatches)} dispatches; bytes per token:`,
        ...rows.map(([k, n]) => `    ${k.padEnd(9)}${num(n).padStart(numWidth)}`),
        `  decode kernels (${m.kernels.length})`,
        ...m.kernels.map((k) => `    ${k.name.padEnd(width)}${k.op}`),
      ].join("\n");
    })
    .map((s) => `${s}\n`)
    .join("\n");
}
