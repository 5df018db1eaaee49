/**
 * The stable forms of resolved models that `hybridc expand` prints and `generated/` holds.
 * Pure functions of `ResolvedModel`: same models in, same bytes out.
 */
import type { ResolvedModel } from "./check/model.ts";

/** `{"models":[{"name","layers","parameters","weights"}]}`, keys in exactly this order. */
export interface ExpandedJson {
  readonly models: readonly ExpandedModelJson[];
}

export interface ExpandedModelJson {
  readonly name: string;
  /** Each layer's sublayers, by the binding names of their blocks: `[["ssm"], ["attn", "ffn"]]`. */
  readonly layers: readonly (readonly string[])[];
  /** Total weight scalars (a tied embedding counted once). */
  readonly parameters: number;
  readonly weights: readonly { readonly name: string; readonly shape: readonly number[] }[];
}

export function toExpandedJson(models: readonly ResolvedModel[]): ExpandedJson {
  return {
    models: models.map((m) => ({
      name: m.name,
      layers: m.layers.map((l) => l.sublayers.map((s) => s.name)),
      parameters: m.parameters,
      weights: m.weights.map((w) => ({ name: w.name, shape: [...w.shape] })),
    })),
  };
}

/** The JSON text: two-space indented, ending in a newline. */
export function expandedJsonText(models: readonly ResolvedModel[]): string {
  return JSON.stringify(toExpandedJson(models), null, 2) + "\n";
}

/** `12345678` -> `12,345,678` (locale-independent, so output is the same on every machine). */
export function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * The human form: per model its name, parameter count, the numbered layer list and the weight
 * list, with a blank line between models.
 */
export function expandedText(models: readonly ResolvedModel[]): string {
  return models.map(modelText).join("\n");
}

function modelText(m: ResolvedModel): string {
  const out = [`model ${m.name}`, `  parameters  ${groupDigits(m.parameters)}`, `  layers      ${m.layers.length}`];
  const indexWidth = String(Math.max(0, m.layers.length - 1)).length;
  for (const l of m.layers) {
    out.push(`    ${String(l.index).padStart(indexWidth)}  ${l.sublayers.map((s) => s.name).join(" + ")}`);
  }
  out.push(`  weights     ${m.weights.length}`);
  const nameWidth = Math.max(0, ...m.weights.map((w) => w.name.length));
  for (const w of m.weights) out.push(`    ${w.name.padEnd(nameWidth)}  [${w.shape.join(", ")}]`);
  return out.join("\n") + "\n";
}
