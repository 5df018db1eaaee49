/**
 * `hybridc/client`: the types of `.hyb` imports through the bundler plugin, for TypeScript. Add
 * `import "hybridc/client";` (or `/// <reference types="hybridc/client" />`, or
 * `"types": ["hybridc/client"]` in tsconfig.json), then the default import of a `.hyb` file is a
 * CompiledModel: `{ name, artifact, load }`, with `artifact` and `load` also as named exports.
 *
 * Its weights are untyped here (any names and shapes); `hybridc build FILE -o DIR --emit ts`
 * writes bindings whose `load` takes only the model's tensor names and shapes. An import with a
 * query (`./multi.hyb?model=NAME`) matches no pattern TypeScript allows; declare it once:
 *   declare module "*?model=NAME" { const model: import("hybridc/runtime").CompiledModel; export default model; }
 *
 * A declaration file without imports or exports (a script), so `declare module` is global wherever
 * it is included; tsc emits no hand-written .d.ts, so `npm run build` copies it (.ci/fix-dts.mjs).
 * Its JavaScript side, for `import "hybridc/client"` in bundled code, is client-module.ts: nothing.
 */
declare module "*.hyb" {
  import type { CompiledModel, ModelArtifact } from "hybridc/runtime";

  const model: CompiledModel;
  export default model;
  /** The compiled model: kernels with their WGSL, buffers, weights and their layout (plain data). */
  export const artifact: ModelArtifact;
  /** loadModel(device, artifact, weights, options) of `hybridc/runtime`. */
  export const load: CompiledModel["load"];
}
