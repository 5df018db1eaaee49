/**
 * checkCheckpoint: does a checkpoint hold every tensor the model needs (its artifact's weights: the
 * names and shapes under its `weights` scheme), with that shape and a dtype we read?
 * Errors: a missing tensor, a wrong shape, an unsupported dtype (one problem each; when the
 * checkpoint shares no name at all with the spec, one problem that says so instead of hundreds).
 * Warnings: tensors the spec does not use (one summary listing up to EXTRA_LISTED names), and
 * for a tied model an `lm_head.weight` in the checkpoint: the DSL says it is ignored, since the
 * LM head is the embedding; we warn so a user who meant `tied = false` sees it.
 */
import type { ModelArtifact } from "../artifact/types.ts";
import type { Checkpoint } from "./checkpoint.ts";
import { shapeText, WeightError, type WeightProblem } from "./errors.ts";
import { isReadable } from "./safetensors-dtypes.ts";
import { unsupportedDtype } from "./safetensors.ts";

export const EXTRA_LISTED = 8;

export interface CheckResult {
  readonly errors: readonly WeightProblem[];
  readonly warnings: readonly WeightProblem[];
}

/** What a check needs of a model: its artifact, or any object with these fields. */
export type CheckedModel = Pick<ModelArtifact, "model" | "weights" | "weightsScheme" | "tied">;

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export function checkCheckpoint(model: CheckedModel, ckpt: Checkpoint): CheckResult {
  const errors: WeightProblem[] = [];
  const warnings: WeightProblem[] = [];
  const fileOf = (name: string) => ckpt.tensors.get(name)?.file ?? ckpt.label;
  const expected = new Set(model.weights.map((w) => w.name));
  const found = model.weights.filter((w) => ckpt.tensors.has(w.name)).length;
  if (found === 0 && model.weights.length > 0) {
    const theirs = [...ckpt.tensors.keys()].sort().slice(0, 3);
    const seen = theirs.length === 0 ? "the checkpoint holds no tensors" : `it holds names like ${theirs.join(", ")}`;
    errors.push({
      file: ckpt.label,
      message: `none of the ${model.weights.length} tensors of model ${model.model} is in the checkpoint (the spec expects names like ${model.weights[0]!.name} under weights = "${model.weightsScheme}"; ${seen})`,
    });
    return { errors, warnings };
  }
  for (const w of model.weights) {
    const t = ckpt.tensors.get(w.name);
    if (t === undefined) {
      errors.push({ file: ckpt.label, tensor: w.name, message: `missing (expected shape ${shapeText(w.shape)})` });
      continue;
    }
    if (!sameShape(t.shape, w.shape)) errors.push({ file: fileOf(w.name), tensor: w.name, message: `expected shape ${shapeText(w.shape)}, found ${shapeText(t.shape)}` });
    if (!isReadable(t.dtype)) errors.push({ file: fileOf(w.name), tensor: w.name, message: unsupportedDtype(t.dtype) });
  }
  const extra = [...ckpt.tensors.keys()].filter((n) => !expected.has(n)).sort();
  const head = "lm_head.weight";
  if (model.tied && extra.includes(head)) {
    warnings.push({ file: fileOf(head), tensor: head, message: "ignored: the model is tied (tied = true), so the LM head is the embedding" });
    extra.splice(extra.indexOf(head), 1);
  }
  if (extra.length > 0) {
    const listed = extra.slice(0, EXTRA_LISTED).join(", ");
    const more = extra.length > EXTRA_LISTED ? `, and ${extra.length - EXTRA_LISTED} more` : "";
    warnings.push({ file: ckpt.label, message: `${extra.length} tensor${extra.length === 1 ? "" : "s"} the spec does not use: ${listed}${more}` });
  }
  return { errors, warnings };
}

/** checkCheckpoint, throwing a WeightError with every error; returns the warnings. */
export function assertCheckpoint(model: CheckedModel, ckpt: Checkpoint): readonly WeightProblem[] {
  const { errors, warnings } = checkCheckpoint(model, ckpt);
  if (errors.length > 0) throw new WeightError(errors);
  return warnings;
}
