/**
 * MLP, x: [S, d_model]:
 *   swiglu  down(silu(gate(x)) * up(x))
 *   gelu    down(gelu(up(x)))            exact erf GELU
 *   relu2   down(relu(up(x))^2)
 */
import type { MlpConfig } from "../check/model.ts";
import { assertNever } from "../diag/diagnostic.ts";
import type { ValueRef } from "../ir/graph.ts";
import { proj, type BlockResult, type SublayerCtx } from "./context.ts";

export function lowerMlp(s: SublayerCtx, cfg: MlpConfig, x: ValueRef): BlockResult {
  const { b } = s;
  const up = (): ValueRef => proj(s, x, "up_proj", cfg.bias);
  let hidden: ValueRef;
  switch (cfg.activation) {
    case "swiglu": {
      const gate = b.silu(proj(s, x, "gate_proj", cfg.bias));
      hidden = b.mul(gate, up());
      break;
    }
    case "gelu":
      hidden = b.gelu(up());
      break;
    case "relu2": {
      const r = b.relu(up());
      hidden = b.mul(r, r);
      break;
    }
    default:
      return assertNever(cfg.activation, "activation");
  }
  return { out: proj(s, hidden, "down_proj", cfg.bias), state: {} };
}
