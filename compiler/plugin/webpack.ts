/**
 * `hybridc/webpack`: the hybridc bundler plugin (compiler/plugin/index.ts) for webpack:
 *   import hybridc from "hybridc/webpack"; export default { entry: "./main.js", plugins: [hybridc()] };
 */
import { hybridc } from "./index.ts";

export type { HybridcPluginOptions } from "./module.ts";
export default hybridc.webpack;
