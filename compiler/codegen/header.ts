/**
 * The comment every kernel opens with: what it computes, on which shapes and windows, how
 * invocations map to the data, and the `.hyb` lines its node came from.
 */
import type { Span } from "../diag/source.ts";
import { shapeToString } from "../ir/types.ts";
import type { OperandUse } from "./operands.ts";
import type { KernelRequest } from "./request.ts";

export interface HeaderText {
  /** The math, one equation per line. */
  readonly math: readonly string[];
  /** How invocations and workgroups map to the data. */
  readonly threads: readonly string[];
}

const plainSpan = (s: Span): string => `offsets ${s.start}-${s.end}`;

function attrsText(attrs: object): string {
  const parts = Object.entries(attrs).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return parts.length === 0 ? "" : ` {${parts.join(", ")}}`;
}

export function kernelHeader(req: KernelRequest, uses: readonly OperandUse[], text: HeaderText): string[] {
  const describe = req.describeSpan ?? plainSpan;
  const from = [...new Set(req.node.spans.map(describe))];
  const width = Math.max(...uses.map((u) => u.name.length));
  const shapes = uses.map((u) => {
    const v = u.view;
    const window = v.offset === 0 ? "" : ` at offset ${v.offset}`;
    const quads = v.quads ? ", rows in quads of 16-byte units" : "";
    return `  ${u.name.padEnd(width)} ${shapeToString(v.shape)}${window}, strides [${v.strides.join(", ")}]${quads} in ${v.buffer.key}${u.write ? " (written)" : ""}`;
  });
  return [
    `kernel ${req.name}: ${req.node.op}${attrsText(req.node.attrs)}`,
    "",
    ...text.math,
    "",
    "operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):",
    ...shapes,
    "",
    "threads:",
    ...text.threads.map((t) => `  ${t}`),
    "",
    `from: ${from.length === 0 ? "(no source location)" : from.join(", ")}`,
  ];
}
