/** The tensor IR: types, the op table, the one node type, builder, verifier and printer. */
export * from "./types.ts";
export * from "./graph.ts";
export { OPS, UNARY_OPS, BINARY_OPS, opDef, isOpName, arityOf } from "./ops.ts";
export type { FusedOpAttrs, SsdAttrs, SsdEpilogue } from "./fused-ops.ts";
export type { OpAttrs, OpName, OpDef, OpKind, InputRole, InputAttrs, WeightAttrs, UnaryOp, BinaryOp, NoAttrs } from "./ops.ts";
export { GraphBuilder } from "./builder.ts";
export { verify } from "./verify.ts";
export { printGraph, printNode, printRef, type PrintOptions } from "./print.ts";
