/**
 * targetFor and scanFor (compiler/build.ts): what a device-bound build sizes its kernels for when
 * the caller does not say: `cpu` and the sequential scans on a CPU adapter (fallback or software),
 * `gpu` and the chunk-parallel ones on a GPU. The test adapter here (lavapipe) is a CPU, so the
 * suite's device-bound builds keep the CPU kernels.
 */
import { describe, expect, it } from "vitest";
import { scanFor, scanOf, targetFor } from "../../compiler/index.ts";
import { getDevice } from "./device.ts";

const withInfo = (info: Partial<GPUAdapterInfo> | undefined): GPUDevice => ({ adapterInfo: info }) as unknown as GPUDevice;

describe("targetFor, scanFor", () => {
  it("a CPU adapter (fallback or software), or one that does not say, is the cpu target; any other a gpu", () => {
    expect(targetFor(withInfo({ isFallbackAdapter: true, architecture: "" }))).toBe("cpu");
    expect(targetFor(withInfo({ isFallbackAdapter: false, architecture: "software" }))).toBe("cpu");
    expect(targetFor(withInfo({ isFallbackAdapter: false, vendor: "nvidia", architecture: "hopper" }))).toBe("gpu");
    expect(targetFor(withInfo(undefined))).toBe("cpu");
    expect([scanOf("cpu"), scanOf("gpu")]).toEqual(["sequential", "chunked-parallel"]);
  });

  it("a CPU adapter (fallback or software) gets sequential, a GPU chunked-parallel", () => {
    expect(scanFor(withInfo({ isFallbackAdapter: true, architecture: "" }))).toBe("sequential");
    expect(scanFor(withInfo({ isFallbackAdapter: false, architecture: "software" }))).toBe("sequential");
    expect(scanFor(withInfo({ isFallbackAdapter: false, vendor: "nvidia", architecture: "hopper" }))).toBe("chunked-parallel");
    expect(scanFor(withInfo({ isFallbackAdapter: false, vendor: "apple", architecture: "" }))).toBe("chunked-parallel");
    // a device without adapterInfo (older implementations): the kernels that suit every device
    expect(scanFor(withInfo(undefined))).toBe("sequential");
  });

  it("the test device: lavapipe (llvmpipe) reads as a CPU adapter, so it gets sequential", async () => {
    const device = await getDevice();
    const info = device.adapterInfo;
    const cpu = info.isFallbackAdapter || info.architecture === "software";
    if (/llvmpipe|swiftshader/i.test(`${info.description} ${info.device}`)) expect(cpu).toBe(true);
    expect(scanFor(device)).toBe(cpu ? "sequential" : "chunked-parallel");
    expect(targetFor(device)).toBe(cpu ? "cpu" : "gpu");
  });
});
