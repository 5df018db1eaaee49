/**
 * The block kinds: each kind's arguments (type and default) as one table, and a resolver per
 * kind that applies defaults, derives sizes and checks every divisibility they imply.
 */
import { assertNever, type Diagnostics, type Note } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import type { Call } from "../syntax/ast.ts";
import { readArgs, type Args, type CallSpec } from "./args.ts";
import type { AttentionConfig, BlockConfig, BlockKind, Mamba1Config, Mamba2Config, MlpConfig } from "./model.ts";

export const BLOCKS = {
  mamba1: {
    args: {
      d_state: { type: "size", default: 16 },
      expand: { type: "size", default: 2 },
      d_conv: { type: "size", default: 4 },
      dt_rank: { type: "size", default: { derived: "ceil(d_model / 16)" } },
      conv_bias: { type: "bool", default: true },
      bias: { type: "bool", default: false },
      inner_norms: { type: "bool", default: false },
    },
  },
  mamba2: {
    args: {
      d_state: { type: "size", default: 128 },
      expand: { type: "size", default: 2 },
      d_conv: { type: "size", default: 4 },
      headdim: { type: "size", default: 64 },
      ngroups: { type: "size", default: 1 },
      chunk: { type: "size", default: 256 },
      conv_bias: { type: "bool", default: true },
      bias: { type: "bool", default: false },
      gated_norm: { type: "bool", default: true },
      norm_before_gate: { type: "bool", default: false },
      norm_group: { type: "size", default: { derived: "d_inner / ngroups" } },
    },
  },
  attention: {
    args: {
      heads: { type: "size", default: "required" },
      kv_heads: { type: "size", default: { derived: "heads" } },
      head_dim: { type: "size", default: { derived: "d_model / heads" } },
      rope: { type: "rope", default: null },
      window: { type: "window", default: null },
      bias: { type: "bool", default: false },
    },
  },
  mlp: {
    positional: "activation",
    args: {
      activation: { type: "activation", default: "swiglu" },
      hidden: { type: "size", default: "required" },
      bias: { type: "bool", default: false },
    },
  },
} as const satisfies Record<BlockKind, CallSpec>;

export const BLOCK_KINDS = Object.keys(BLOCKS) as BlockKind[];

export function isBlockKind(name: string): name is BlockKind {
  return Object.hasOwn(BLOCKS, name);
}

type ArgName<K extends BlockKind> = keyof (typeof BLOCKS)[K]["args"] & string;

/** The model-level facts a block needs: `d_model` and where it was set. */
export interface BlockContext {
  readonly dModel: number;
  readonly dModelSpan?: Span;
}

/**
 * Resolve one block call. Argument errors are always reported; derived sizes and divisibility
 * need `ctx` (absent when `d_model` is missing or wrong). Returns undefined after any error.
 */
export function resolveBlock(diags: Diagnostics, call: Call, kind: BlockKind, ctx: BlockContext | undefined): ResolvedBlock | undefined {
  switch (kind) {
    case "mamba1":
      return withArgs(diags, call, kind, ctx, mamba1);
    case "mamba2":
      return withArgs(diags, call, kind, ctx, mamba2);
    case "attention":
      return withArgs(diags, call, kind, ctx, attention);
    case "mlp":
      return withArgs(diags, call, kind, ctx, mlp);
    default:
      return assertNever(kind, "block kind");
  }
}

/** A resolved block and the spans of the arguments the user wrote. */
export interface ResolvedBlock {
  readonly config: BlockConfig;
  readonly argSpans: Readonly<Record<string, Span>>;
}

function withArgs<K extends BlockKind>(
  diags: Diagnostics,
  call: Call,
  kind: K,
  ctx: BlockContext | undefined,
  resolve: (a: Args<ArgName<K>>, ctx: BlockContext, report: Reporter<ArgName<K>>) => BlockConfig | undefined,
): ResolvedBlock | undefined {
  const a = readArgs<ArgName<K>>(diags, call, kind, BLOCKS[kind]);
  if (a.failed || ctx === undefined) return undefined;
  const config = resolve(a, ctx, new Reporter(diags, a, ctx));
  return config && { config, argSpans: a.spans() };
}

/** Reports HYB2003 at the offending argument, or at the call when it was defaulted. */
class Reporter<N extends string> {
  constructor(
    private readonly diags: Diagnostics,
    private readonly a: Args<N>,
    private readonly ctx: BlockContext,
  ) {}

  /** `related`: other arguments (and `d_model`) that entered the computation, noted where set. */
  notDivisible(at: N, message: string, label: string, related: readonly (N | "d_model")[], help?: string): undefined {
    const notes: Note[] = [];
    const span = this.a.span(at);
    if (span === undefined) notes.push({ message: `\`${at}\` defaults to ${this.a.defaultText(at)}` });
    for (const r of related) {
      const s = r === "d_model" ? this.ctx.dModelSpan : this.a.span(r);
      if (s) notes.push({ message: `\`${r}\` set here`, span: s });
    }
    this.diags.report("HYB2003", {
      span: span ?? this.a.callee.span,
      message,
      label: span === undefined ? `the default \`${at}\` = ${this.a.defaultText(at)} ${label}` : label,
      notes,
      ...(help !== undefined ? { help } : {}),
    });
    return undefined;
  }

  rotary(span: Span, message: string, help: string): undefined {
    this.diags.report("HYB2005", { span, message, label: "not an even whole number of dimensions", help });
    return undefined;
  }
}

function mamba1(a: Args<ArgName<"mamba1">>, ctx: BlockContext): Mamba1Config {
  const expand = a.int("expand");
  return {
    kind: "mamba1",
    dState: a.int("d_state"),
    expand,
    dConv: a.int("d_conv"),
    dtRank: a.int("dt_rank", () => Math.ceil(ctx.dModel / 16)),
    convBias: a.bool("conv_bias"),
    bias: a.bool("bias"),
    innerNorms: a.bool("inner_norms"),
    dInner: expand * ctx.dModel,
  };
}

function mamba2(a: Args<ArgName<"mamba2">>, ctx: BlockContext, r: Reporter<ArgName<"mamba2">>): Mamba2Config | undefined {
  const expand = a.int("expand");
  const dInner = expand * ctx.dModel;
  const inner = `\`d_inner\` = expand * d_model = ${expand} * ${ctx.dModel} = ${dInner}`;
  const headdim = a.int("headdim");
  // Past 2^53 the products are inexact and divisibility means nothing: such a block is far too
  // large for any device, which the size check (limits.ts) reports at the argument instead.
  const exact = Number.isSafeInteger(dInner);
  if (exact && dInner % headdim !== 0) {
    return r.notDivisible("headdim", `${inner} is not divisible by \`headdim\` = ${headdim}`, `does not divide d_inner = ${dInner}`, ["expand", "d_model"], "mamba2 splits d_inner into heads of `headdim` channels");
  }
  const heads = dInner / headdim;
  const ngroups = a.int("ngroups");
  if (exact && heads % ngroups !== 0) {
    return r.notDivisible("ngroups", `mamba2 heads = d_inner / headdim = ${dInner} / ${headdim} = ${heads} is not divisible by \`ngroups\` = ${ngroups}`, `does not divide ${heads} heads`, ["headdim", "expand"], "each group of B and C serves heads / ngroups heads");
  }
  const groupWidth = dInner / ngroups;
  const normGroup = a.int("norm_group", () => groupWidth);
  if (exact && dInner % normGroup !== 0) {
    return r.notDivisible("norm_group", `${inner} is not divisible by \`norm_group\` = ${normGroup}`, `does not divide d_inner = ${dInner}`, ["expand", "d_model"]);
  }
  if (exact && groupWidth % normGroup !== 0) {
    return r.notDivisible(
      "norm_group",
      `norm groups of ${normGroup} channels straddle the ngroups split: d_inner / ngroups = ${dInner} / ${ngroups} = ${groupWidth} is not divisible by \`norm_group\` = ${normGroup}`,
      `does not divide ${groupWidth}`,
      ["ngroups"],
    );
  }
  const dState = a.int("d_state");
  return {
    kind: "mamba2",
    dState,
    expand,
    dConv: a.int("d_conv"),
    headdim,
    ngroups,
    chunk: a.int("chunk"),
    convBias: a.bool("conv_bias"),
    bias: a.bool("bias"),
    gatedNorm: a.bool("gated_norm"),
    normBeforeGate: a.bool("norm_before_gate"),
    normGroup,
    dInner,
    heads,
    convDim: dInner + 2 * ngroups * dState,
  };
}

function attention(a: Args<ArgName<"attention">>, ctx: BlockContext, r: Reporter<ArgName<"attention">>): AttentionConfig | undefined {
  const heads = a.int("heads");
  const kvHeads = a.int("kv_heads", () => heads);
  if (heads % kvHeads !== 0) {
    return r.notDivisible("kv_heads", `\`heads\` = ${heads} is not divisible by \`kv_heads\` = ${kvHeads}`, `does not divide ${heads} heads`, ["heads"], "each kv head serves heads / kv_heads query heads");
  }
  if (!a.given("head_dim") && ctx.dModel % heads !== 0) {
    return r.notDivisible("heads", `\`d_model\` = ${ctx.dModel} is not divisible by \`heads\` = ${heads}`, "`head_dim` defaults to d_model / heads", ["d_model"], "choose `heads` dividing d_model, or set `head_dim` explicitly");
  }
  const headDim = a.int("head_dim", () => ctx.dModel / heads);
  const ropeArg = a.rope("rope");
  let rope: AttentionConfig["rope"] = null;
  if (ropeArg) {
    const exact = ropeArg.fraction * headDim;
    const rotaryDim = Math.round(exact);
    if (Math.abs(exact - rotaryDim) > 1e-9 * Math.max(1, headDim) || rotaryDim % 2 !== 0 || rotaryDim < 2) {
      return r.rotary(
        ropeArg.fractionSpan ?? ropeArg.span,
        `RoPE rotates fraction * head_dim = ${ropeArg.fraction} * ${headDim} = ${+exact.toPrecision(12)} dimensions, which is not an even whole number`,
        "rotary dimensions come in pairs: choose a `fraction` that makes fraction * head_dim even",
      );
    }
    rope = { theta: ropeArg.theta, fraction: ropeArg.fraction, rotaryDim };
  }
  return { kind: "attention", heads, kvHeads, headDim, rope, window: a.window("window"), bias: a.bool("bias") };
}

function mlp(a: Args<ArgName<"mlp">>): MlpConfig {
  return { kind: "mlp", activation: a.activation("activation"), hidden: a.int("hidden"), bias: a.bool("bias") };
}
