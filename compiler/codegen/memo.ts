/**
 * Kernels of structurally identical nodes are generated once per build. A model repeats its
 * layers, and the kernel of layer 7's in_proj differs from layer 3's only in the names of its
 * buffers, its kernel name and its source locations: every generator is a function of the op,
 * its attrs and the operand views (shapes, strides, offsets, element formats, which operands share
 * a buffer), never of a buffer's name. So a request whose `signature` matches an earlier one's
 * reuses that kernel, re-addressed: bindings moved to the new buffers, and the header comment's
 * kernel name, operand buffers and `from:` line rewritten (header.ts writes exactly those).
 * tests/codegen/memo.test.ts checks that every canonical spec builds byte-identical artifacts
 * with and without it; the bundler plugin's per-import compile is the beneficiary.
 */
import type { Span } from "../diag/source.ts";
import { generateKernel } from "./index.ts";
import type { KernelLimits, KernelSpec } from "./kernel.ts";
import type { KernelRequest } from "./request.ts";

/** The request with buffer keys replaced by their order of first appearance; and those keys. */
export function signature(req: KernelRequest, limits: KernelLimits): { readonly key: string; readonly buffers: readonly string[] } {
  const buffers: string[] = [];
  const slot = (key: string): number => {
    const i = buffers.indexOf(key);
    return i >= 0 ? i : buffers.push(key) - 1;
  };
  const views = [...req.inputs, ...req.results].map((v) => {
    const { key: bufferKey, ...buffer } = v.buffer;
    return { b: slot(bufferKey), buffer, shape: v.shape, offset: v.offset, strides: v.strides, baseOffset: v.baseOffset, quads: v.quads === true };
  });
  return { key: JSON.stringify([req.node.op, req.node.attrs, views, limits, req.subgroups === true, req.gpu === true]), buffers };
}

const plainSpan = (s: Span): string => `offsets ${s.start}-${s.end}`;

/** `spec` (generated for buffers `from`) as the kernel of `req`, whose buffers are `to` (same order). */
function readdress(spec: KernelSpec, from: readonly string[], to: readonly string[], req: KernelRequest): KernelSpec {
  const moved = new Map(from.map((k, i) => [k, to[i]!]));
  const describe = req.describeSpan ?? plainSpan;
  const locations = [...new Set(req.node.spans.map(describe))];
  const lines = spec.wgsl.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith(`// kernel ${spec.name}: `)) lines[i] = `// kernel ${req.name}: ${line.slice(`// kernel ${spec.name}: `.length)}`;
    else if (line.startsWith("// from: ")) {
      lines[i] = `// from: ${locations.length === 0 ? "(no source location)" : locations.join(", ")}`;
      break; // the header's last line
    } else {
      const operand = /^(\/\/ {3}\S+ .* in )(\S+)( \(written\))?$/.exec(line);
      if (operand) lines[i] = `${operand[1]}${moved.get(operand[2]!) ?? operand[2]}${operand[3] ?? ""}`;
    }
  }
  return {
    ...spec,
    name: req.name,
    node: req.node.id,
    spans: req.node.spans,
    wgsl: lines.join("\n"),
    bindings: spec.bindings.map((b) => (b.access === "uniform" ? b : { ...b, buffer: moved.get(b.buffer) ?? b.buffer })),
  };
}

/** generateKernel with the kernels of one build remembered by signature. */
export class KernelMemo {
  /** Kernels re-addressed rather than generated. */
  hits = 0;
  private readonly seen = new Map<string, { readonly spec: KernelSpec; readonly buffers: readonly string[] }>();

  generate(req: KernelRequest, limits: KernelLimits): KernelSpec {
    const { key, buffers } = signature(req, limits);
    const hit = this.seen.get(key);
    if (hit) {
      this.hits++;
      return readdress(hit.spec, hit.buffers, buffers, req);
    }
    const spec = generateKernel(req, limits);
    this.seen.set(key, { spec, buffers });
    return spec;
  }
}
