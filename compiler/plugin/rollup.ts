/**
 * `hybridc/rollup`: the hybridc bundler plugin (compiler/plugin/index.ts) for Rollup:
 *   import hybridc from "hybridc/rollup"; export default { input: "main.js", plugins: [hybridc()] };
 */
import { hybridc } from "./index.ts";

export type { HybridcPluginOptions } from "./module.ts";
export default hybridc.rollup;
