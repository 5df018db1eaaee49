/**
 * The checker: AST -> resolved models. Name resolution, defaults, derived sizes, value and
 * divisibility checks, layer expansion (lists, repetition, `+` stacks, ratios), the weights
 * naming scheme and the full tensor list. Reports into `diags`; returns only models that
 * checked clean. Per model, top to bottom:
 *   scope (names) -> parameters -> blocks -> layers -> unused names -> weights scheme -> tensors
 * with the sizes no device can hold (limits.ts) refused along the way: the embedding after the
 * parameters, each block as it is resolved, the whole model once its tensors are known.
 */
import { InternalCompilerError, type Diagnostics } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import type { HybFile, ModelDecl } from "../syntax/ast.ts";
import { resolveBlock } from "./blocks.ts";
import { expandLayers } from "./layers.ts";
import { checkBlockSizes, checkModelSizes, checkResidentBytes, residentBytes, type ModelSizes } from "./limits.ts";
import type { BlockDef, Layer, ResolvedModel, WeightsScheme } from "./model.ts";
import { paramSpans, readParams, type ModelParams } from "./params.ts";
import { buildScope, type Scope } from "./scope.ts";
import { countParameters, defaultScheme, misfit, quoteNames, weightTensors } from "./weights.ts";

export function check(file: HybFile, diags: Diagnostics): ResolvedModel[] {
  const out: ResolvedModel[] = [];
  const seen = new Map<string, ModelDecl>();
  // A model with a syntax error inside is checked (to report more) but never produced.
  const syntaxErrors = diags.list.filter((d) => d.severity === "error").map((d) => d.span.start);
  for (const model of file.models) {
    const first = seen.get(model.name.name);
    if (first) {
      diags.report("HYB1008", {
        span: model.name.span,
        message: `model \`${model.name.name}\` is declared twice in this file`,
        label: "declared again here",
        notes: [{ message: "first declared here", span: first.name.span }],
      });
    } else seen.set(model.name.name, model);
    const errorsBefore = diags.errorCount;
    const resolved = guarded(diags, model, () => checkModel(diags, model));
    const broken = syntaxErrors.some((at) => at >= model.span.start && at <= model.span.end);
    if (resolved && !first && !broken && diags.errorCount === errorsBefore) out.push(resolved);
  }
  return out;
}

/** The checker never throws on an AST: a broken assumption becomes HYB9999 at the model. */
function guarded<T>(diags: Diagnostics, model: ModelDecl, run: () => T): T | undefined {
  try {
    return run();
  } catch (e) {
    const what = e instanceof InternalCompilerError ? e.message : `internal compiler error: ${String(e)}`;
    diags.report("HYB9999", {
      span: model.name.span,
      message: what,
      help: "please report this with the input that caused it",
    });
    return undefined;
  }
}

function checkModel(diags: Diagnostics, model: ModelDecl): ResolvedModel | undefined {
  const errorsBefore = diags.errorCount;
  const scope = buildScope(diags, model);
  const params = readParams(diags, model, scope.params);
  // Sizes no device can hold (limits.ts): the embedding here, each block as it is resolved (a
  // block that is too large is left out, like one with an error), the whole model at the end.
  const sizes = params.dModel === undefined ? undefined : { dModel: params.dModel, context: params.context, spans: paramSpans(params), reported: new Set<string>() };
  if (sizes && params.vocab !== undefined) checkModelSizes(diags, params.vocab, sizes, model.name.span, sizes.reported);
  const blocks = resolveBlocks(diags, scope, params, sizes);
  const { layers, used } = expandLayers(diags, scope, blocks);
  reportUnused(diags, scope, used);
  if (!layers) return undefined;
  const scheme = params.weights ?? defaultScheme(layers);
  checkScheme(diags, layers, scheme, params, scope);

  const { vocab, dModel, norm, tied, dtype, context } = params;
  if (vocab === undefined || dModel === undefined || !norm || tied === undefined || !dtype || context === undefined) return undefined;
  if (diags.errorCount > errorsBefore) return undefined;
  const weights = weightTensors({ vocab, dModel, norm, tied, scheme, layers });
  const layersSpan = scope.params.layers?.value.span;
  if (!checkResidentBytes(diags, model.name.name, residentBytes(weights, layers, context), model.name.span, { count: layers.length, span: layersSpan })) return undefined;
  const parameters = countParameters(weights);
  if (parameters === undefined) {
    diags.report("HYB2002", {
      span: model.name.span,
      message: `model \`${model.name.name}\` has more than 2^53 - 1 weights; its parameter count cannot be computed exactly`,
      label: "too large",
    });
    return undefined;
  }
  return {
    name: model.name.name,
    span: model.span,
    vocab,
    dModel,
    norm,
    tied,
    dtype,
    context,
    weightsScheme: scheme,
    blocks: [...blocks.values()],
    layers,
    weights,
    parameters,
    paramSpans: paramSpans(params),
  };
}

function resolveBlocks(diags: Diagnostics, scope: Scope, params: ModelParams, sizes: (ModelSizes & { reported: Set<string> }) | undefined): Map<string, BlockDef> {
  const ctx = params.dModel === undefined ? undefined : { dModel: params.dModel, dModelSpan: params.bindings.d_model?.span };
  const blocks = new Map<string, BlockDef>();
  for (const [name, entry] of scope.entries) {
    if (entry.kind !== "block") continue;
    const r = resolveBlock(diags, entry.call, entry.blockKind, ctx);
    if (!r) continue;
    const block: BlockDef = { name, config: r.config, span: entry.binding.span, argSpans: r.argSpans };
    if (sizes === undefined || checkBlockSizes(diags, block, sizes, sizes.reported)) blocks.set(name, block);
  }
  return blocks;
}

/** Blocks and groups that `layers` never reaches (only when `layers` exists). */
function reportUnused(diags: Diagnostics, scope: Scope, used: ReadonlySet<string>): void {
  const layers = scope.params.layers;
  if (!layers || layers.value.kind === "Error") return;
  for (const [name, entry] of scope.entries) {
    if ((entry.kind === "block" || entry.kind === "group") && !used.has(name)) {
      diags.report("HYB1010", {
        span: entry.binding.name.span,
        message: `\`${name}\` is defined but never used in \`layers\``,
        label: "unused",
        help: "use it in `layers`, or remove it",
      });
    }
  }
}

/** HYB4001 once per model, at the first layer that does not fit, with the count of others. */
function checkScheme(diags: Diagnostics, layers: readonly Layer[], scheme: WeightsScheme, params: ModelParams, scope: Scope): void {
  let first: { layer: Layer; reason: string; at: Span; help: () => string } | undefined;
  let count = 0;
  for (const layer of layers) {
    const m = misfit(layer, scheme);
    if (!m) continue;
    count++;
    first ??= { layer, reason: m.reason, at: m.at.span, help: m.fix };
  }
  if (!first) return;
  const text = quoteNames(first.layer.sublayers.map((s) => s.name), " + ");
  const others = count > 1 ? [{ message: count > 2 ? `${(count - 1).toLocaleString("en-US")} more layers do not fit either` : "1 more layer does not fit either" }] : [];
  const message = `layer ${first.layer.index} (\`${text}\`) does not fit the "${scheme}" weights naming scheme: ${first.reason}`;
  const help = first.help();
  const written = params.weights !== undefined ? params.bindings.weights : undefined;
  if (written) {
    diags.report("HYB4001", {
      span: written.value.span,
      message,
      label: `layer ${first.layer.index} does not fit`,
      notes: [{ message: `layer ${first.layer.index} comes from here`, span: first.at }, ...others],
      help,
    });
  } else {
    const layersSpan = scope.params.layers?.value.span;
    diags.report("HYB4001", {
      span: first.at,
      message,
      label: "does not fit",
      notes: [
        { message: `\`weights\` defaults to "${scheme}" because not every layer is a single mamba1 or mamba2 sublayer` },
        ...(layersSpan && (first.at.start < layersSpan.start || first.at.end > layersSpan.end) ? [{ message: "used in `layers` here", span: layersSpan }] : []),
        ...others,
      ],
      help,
    });
  }
}
