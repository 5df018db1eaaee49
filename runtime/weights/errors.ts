/**
 * The one error type of runtime/weights: a list of problems, each naming the file and, where
 * there is one, the tensor. Rendered one per line:
 *   model.safetensors: backbone.layers.3.mixer.A_log: expected shape [1536, 16], found [1536, 8]
 * Format errors (a broken safetensors file or index) and spec mismatches (checkCheckpoint) both
 * use it, so a caller catches one class and prints its message.
 */

export interface WeightProblem {
  /** The file (or checkpoint label) the problem is in. */
  readonly file: string;
  /** The tensor the problem is about; absent for file-level problems. */
  readonly tensor?: string;
  readonly message: string;
}

export function renderProblem(p: WeightProblem): string {
  return p.tensor === undefined ? `${p.file}: ${p.message}` : `${p.file}: ${p.tensor}: ${p.message}`;
}

export class WeightError extends Error {
  constructor(readonly problems: readonly WeightProblem[]) {
    super(problems.map(renderProblem).join("\n"));
    this.name = "WeightError";
  }
}

/** Throw a WeightError with one problem. */
export function fail(file: string, message: string, tensor?: string): never {
  throw new WeightError([tensor === undefined ? { file, message } : { file, tensor, message }]);
}

/** `[1536, 16]`: how shapes appear in messages. */
export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}
