// Golden IR text of a one-layer Mamba-1 decode step, reviewed by hand. Update after a reviewed
// change with `npx vitest run tests/ir -u`.
import { expect, it } from "vitest";
import { compile } from "../../compiler/index.ts";
import { printGraph } from "../../compiler/ir/index.ts";
import { lowerDecode } from "../../compiler/lower/index.ts";

const SPEC = `// one small Mamba-1 layer
model golden_m1 {
  vocab   = 32
  d_model = 16

  ssm = mamba1(d_state = 4, d_conv = 3)

  layers = 1 * ssm
}
`;

it("prints the Mamba-1 decode graph", async () => {
  const r = compile(SPEC, { path: "golden.hyb" });
  expect(r.diagnostics).toEqual([]);
  const text = printGraph(lowerDecode(r.models[0]!), { source: r.source });
  await expect(text).toMatchFileSnapshot("./golden/mamba1-decode.ir");
});
