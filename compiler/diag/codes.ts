/**
 * The one catalogue of diagnostic codes. A code never changes meaning once published;
 * `hybridc explain CODE` prints the entry. Ranges: 0xxx syntax, 1xxx names and bindings,
 * 2xxx values, 3xxx layers, 4xxx weights naming, 5xxx code generation, 9xxx internal.
 */

export type Severity = "error" | "warning";

export interface CodeInfo {
  readonly severity: Severity;
  /** A short noun phrase, used as a heading. */
  readonly title: string;
  /** What it means and how to fix it. */
  readonly explain: string;
}

export const CODES = {
  HYB0001: {
    severity: "error",
    title: "invalid character",
    explain: "The lexer met a character that starts no token. Only identifiers, numbers, strings, comments and the punctuation `{ } ( ) [ ] = , : * +` are allowed.",
  },
  HYB0002: {
    severity: "error",
    title: "unterminated string",
    explain: "A string literal must close with `\"` on the same line.",
  },
  HYB0003: {
    severity: "error",
    title: "unterminated block comment",
    explain: "A `/*` comment must be closed by `*/`.",
  },
  HYB0004: {
    severity: "error",
    title: "syntax error",
    explain: "The tokens do not form a valid `.hyb` file at this point. The grammar is: file := model+; model := 'model' NAME '{' binding* '}'; binding := NAME '=' expr.",
  },
  HYB0005: {
    severity: "error",
    title: "invalid number",
    explain: "Numbers are written as `16`, `10_000`, `1e-5` or `0.125`. Underscores may only separate digits.",
  },
  HYB0006: {
    severity: "error",
    title: "positional argument after named argument",
    explain: "In a call, positional arguments must come before every named argument: `mlp(swiglu, hidden = 512)`.",
  },
  HYB0007: {
    severity: "error",
    title: "no model",
    explain: "A `.hyb` file holds one or more `model NAME { ... }` declarations.",
  },
  HYB1001: {
    severity: "error",
    title: "duplicate binding",
    explain: "Bindings inside a model are order-independent, so a name may be bound only once.",
  },
  HYB1002: {
    severity: "error",
    title: "unknown name",
    explain: "The name is not bound in this model. Block definitions are written `name = mamba1(...)` and can then be used in `layers`.",
  },
  HYB1003: {
    severity: "error",
    title: "unknown block kind",
    explain: "Blocks are made with `mamba1(...)`, `mamba2(...)`, `attention(...)` or `mlp(...)`.",
  },
  HYB1004: {
    severity: "error",
    title: "unknown argument",
    explain: "The call does not take an argument of this name. `hybridc explain` lists none; see the block table of the language reference for every argument and its default.",
  },
  HYB1005: {
    severity: "error",
    title: "duplicate argument",
    explain: "An argument may be given once per call.",
  },
  HYB1006: {
    severity: "error",
    title: "missing model parameter",
    explain: "`vocab`, `d_model` and `layers` have no default and must be bound in every model.",
  },
  HYB1007: {
    severity: "error",
    title: "missing argument",
    explain: "The block needs this argument (`attention` needs `heads`, `mlp` needs `hidden`).",
  },
  HYB1008: {
    severity: "error",
    title: "duplicate model",
    explain: "Model names must be unique within a file: they name the generated modules.",
  },
  HYB1009: {
    severity: "error",
    title: "cyclic definition",
    explain: "A layer group binding refers to itself, directly or through other bindings.",
  },
  HYB1010: {
    severity: "warning",
    title: "unused binding",
    explain: "The block or layer group is defined but never used in `layers`.",
  },
  HYB1011: {
    severity: "error",
    title: "unexpected positional argument",
    explain: "Only `mlp` takes a positional argument (its activation). Other arguments are named: `mamba1(d_state = 16)`.",
  },
  HYB1012: {
    severity: "error",
    title: "unknown model parameter",
    explain: "A binding whose value is a number, string, boolean, `none` or a norm is a model parameter: `vocab`, `d_model`, `norm`, `tied`, `dtype`, `context`, `weights` or `layers`. Blocks are bound with a call (`ssm = mamba1()`), layer groups with a layer expression (`unit = ssm + ffn`).",
  },
  HYB2001: {
    severity: "error",
    title: "wrong value type",
    explain: "The value has the wrong type for this parameter, for example a string where an integer is expected.",
  },
  HYB2002: {
    severity: "error",
    title: "value out of range",
    explain: "Sizes and counts must be at least 1; `eps` and RoPE `theta` must be positive; a RoPE `fraction` lies in (0, 1]. Sizes, and the model's total weight count, must stay within 2^53 - 1 so they are exact.",
  },
  HYB2003: {
    severity: "error",
    title: "size does not divide",
    explain: "Derived sizes must be whole: `d_inner % headdim`, `heads % kv_heads`, `heads % ngroups`, `d_inner % norm_group` and `d_model % heads` (when `head_dim` is defaulted) must all be 0.",
  },
  HYB2004: {
    severity: "error",
    title: "unknown option",
    explain: "The value must be one of a fixed set of words, for example `dtype = f32 | f16`, `weights = \"mamba\" | \"jamba\"`, or an mlp activation `swiglu | gelu | relu2`.",
  },
  HYB2005: {
    severity: "error",
    title: "invalid rotary dimension",
    explain: "RoPE rotates `fraction * head_dim` dimensions in pairs, so that product must be an even whole number.",
  },
  HYB2006: {
    severity: "error",
    title: "not an integer",
    explain: "Sizes and counts are whole numbers.",
  },
  HYB2007: {
    severity: "error",
    title: "size beyond every WebGPU device",
    explain: "The model has a tensor no WebGPU device can hold, whatever its limits; the message names it, with its size in bytes and the limit, at the argument or parameter that makes it too large. Everything runs in f32 (4 bytes an element). (1) A kernel binds a state slot (the conv and SSM states, the KV cache [context, kv_heads, head_dim]), one token's activation (the input and the output of every projection, the logits [vocab]) and one row of a weight whole, in one storage binding, and no device binds 2^32 bytes or more: at most 4,294,967,292 bytes. (2) A kernel indexes a tensor with a WGSL u32, so a weight has at most 2^32 elements. (3) The weights and state a model keeps on the device are at most 2^50 bytes (1 PiB), more than any GPU holds or addresses. Limits of a particular device (such as the 128 MiB binding that every device offers) are checked later: by `hybridc build` for the limits it generates for (HYB5002), and by the runtime for the device it runs on.",
  },
  HYB3001: {
    severity: "error",
    title: "not a layer",
    explain: "`layers` is built from block names, lists `[...]`, repetition `N * x`, sublayer stacks `a + b` and ratios `(a : b = 3 : 1)`.",
  },
  HYB3002: {
    severity: "error",
    title: "invalid sublayer",
    explain: "Each side of `+` must be a single block (or a stack of blocks), not a list, ratio or repetition: `ssm + ffn`.",
  },
  HYB3003: {
    severity: "error",
    title: "invalid ratio operand",
    explain: "Each side of a ratio is one layer: a block or a `+` stack, as in `(ssm + ffn : attn + ffn = 7 : 1)`.",
  },
  HYB3004: {
    severity: "error",
    title: "invalid ratio count",
    explain: "Both counts of a ratio must be whole numbers of at least 1.",
  },
  HYB3005: {
    severity: "error",
    title: "ratio offset out of range",
    explain: "`offset = j` places the first minority layer at position j of the period, so 0 <= j < period.",
  },
  HYB3006: {
    severity: "error",
    title: "invalid repetition count",
    explain: "`N * x` needs a whole N of at least 1.",
  },
  HYB3007: {
    severity: "error",
    title: "too many layers",
    explain: "The layer stack expands past the compiler's limit of 100,000 layers (the largest released hybrids have under 100).",
  },
  HYB3008: {
    severity: "error",
    title: "empty layer stack",
    explain: "A model needs at least one layer.",
  },
  HYB4001: {
    severity: "error",
    title: "layer does not fit the weights naming scheme",
    explain: "`weights = \"mamba\"` names every layer `backbone.layers.{i}.mixer`, so each layer must be exactly one sublayer. `weights = \"jamba\"` allows at most one mixer (mamba1, mamba2 or attention) followed by at most one mlp per layer.",
  },
  HYB5001: {
    severity: "error",
    title: "no WGSL generator for an op",
    explain: "The program contains an operation that hybridc cannot yet turn into a WebGPU kernel. This happens with `--no-fuse` for primitive ops whose kernel family is not written yet; the fused program (without `--no-fuse`) covers every block. The message names the op and the first kernel that needs it; the location is the `.hyb` text that produced it.",
  },
  HYB5002: {
    severity: "error",
    title: "kernel does not fit the device limits",
    explain: "A kernel of this model needs more than the WebGPU limits it is generated for allow: more storage buffers per shader stage, a larger workgroup or a binding larger than maxStorageBufferBindingSize, or, for a kernel that keeps a row in registers (the Mamba-1 scan's state row, the conv window), more than the 8,192 bytes of function variables WGSL guarantees, which no device setting raises. `hybridc build` generates for the defaults every WebGPU device offers (8 storage buffers, 256 invocations, 128 MiB per binding). Build for the limits of the device you target (`hybridc build --limit maxStorageBuffersPerShaderStage=10`; the manifest records them), make the offending block smaller, or run from the spec, which regenerates the kernels with the device's own limits.",
  },
  HYB5003: {
    severity: "error",
    title: "unsupported buffer layout",
    explain: "A kernel operand is a view whose offset or strides change with the sequence length, a buffer that grows faster than linearly in the sequence length, or a weight the model's weight layout does not place. Generated kernels bake offsets and strides into the WGSL and size buffers as `a * L + b` elements, so they cannot express it. This points at a compiler limitation for the construct at this location; please report it.",
  },
  HYB5004: {
    severity: "warning",
    title: "f16 runs in f32 (no longer reported)",
    explain: "Earlier versions compiled `dtype = f16` models in f32 and warned with this code. f16 now runs for real: weights are stored in f16 on the GPU (half the bytes a decode step reads) and read as f32, activations, accumulations and the recurrent state stay f32, and checkpoints stored in F32 or BF16 are converted once, as they are loaded. The code stays in the catalogue so that it keeps its meaning; hybridc no longer reports it.",
  },
  HYB9999: {
    severity: "error",
    title: "internal compiler error",
    explain: "The compiler hit a broken internal assumption. Please report it with the input that caused it.",
  },
} as const satisfies Record<string, CodeInfo>;

export type DiagCode = keyof typeof CODES;

export function isDiagCode(s: string): s is DiagCode {
  return Object.hasOwn(CODES, s);
}
