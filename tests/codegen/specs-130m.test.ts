/** Acceptance on the two 130M-parameter canonical specs, beside the others (spec-acceptance.ts says what is checked). */
import { expect, it } from "vitest";
import { CANONICAL, specAcceptance } from "./spec-acceptance.ts";

const LARGE = CANONICAL.filter((f) => f.includes("130m"));

it("the two files cover every canonical spec: the 130M ones here, the rest in specs.test.ts", () => {
  expect(LARGE).toEqual(["hybrid-130m.hyb", "mamba-130m.hyb"]);
});

specAcceptance(LARGE);
