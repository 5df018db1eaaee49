/**
 * The page: a form to pick a model, its weights and a prompt; the text as it streams in, with
 * tokens/s; a stop button. All GPU work is in worker.ts. For automation the URL can name a run
 * (params.ts); the page then writes the generated text into #output and sets
 * `document.body.dataset.done = "1"` when generation ends, or `data-error` with the message.
 * Other dataset fields (tokens, firstTokenMs, tokensPerSecond, weightsSource, stopped) say how.
 */
import "./style.css";
import { DEFAULTS, parseParams } from "./params.ts";
import { specKey, type CatalogEntry, type ErrorKind, type FromWorker, type Progress, type RunRequest, type ToWorker, type WeightsChoice } from "./protocol.ts";

function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
}

const ui = {
  adapter: $("adapter"),
  message: $("message"),
  form: $<HTMLFormElement>("form"),
  spec: $<HTMLSelectElement>("spec"),
  trained: $("trained-choice"),
  seed: $<HTMLInputElement>("seed"),
  file: $<HTMLInputElement>("file"),
  url: $<HTMLInputElement>("url"),
  prompt: $<HTMLTextAreaElement>("prompt"),
  maxTokens: $<HTMLInputElement>("max-tokens"),
  temperature: $<HTMLInputElement>("temperature"),
  topK: $<HTMLInputElement>("top-k"),
  topP: $<HTMLInputElement>("top-p"),
  generate: $<HTMLButtonElement>("generate"),
  stop: $<HTMLButtonElement>("stop"),
  forget: $<HTMLButtonElement>("forget"),
  progress: $("progress"),
  promptEcho: $("prompt-echo"),
  output: $("output"),
  status: $("status"),
  speed: $("speed"),
  modelInfo: $("model-info"),
};
const body = document.body.dataset;

const TITLES: Record<ErrorKind, string> = {
  "no-webgpu": "No WebGPU",
  "device-lost": "The GPU device was lost",
  weights: "The weights do not fit this model",
  device: "This GPU cannot run this model",
  input: "Cannot run",
  other: "Something went wrong",
};

let catalog: readonly CatalogEntry[] = [];
let gpuProblem: string | null = null;
let running = false;
let tokens: number[] = [];
let outputText: Text = document.createTextNode("");
ui.output.append(outputText);
ui.prompt.value = DEFAULTS.prompt;

const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
const send = (m: ToWorker) => worker.postMessage(m);

function showMessage(kind: ErrorKind, text: string): void {
  const title = document.createElement("strong");
  title.textContent = TITLES[kind];
  const detail = document.createElement("pre");
  detail.textContent = text;
  ui.message.replaceChildren(title, detail);
  ui.message.dataset.kind = kind;
  ui.message.hidden = false;
}

function fail(kind: ErrorKind, text: string): void {
  showMessage(kind, text);
  body.error = text;
  setRunning(false);
  ui.status.textContent = "error";
}

function setRunning(on: boolean): void {
  running = on;
  if (on) body.running = "1";
  else delete body.running;
  ui.generate.disabled = on || catalog.length === 0 || gpuProblem !== null;
  ui.stop.disabled = !on;
}

const mb = (n: number) => `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)} MB`;
const count = (n: number) => n.toLocaleString("en-US");

function showProgress(p: Progress): void {
  ui.progress.hidden = false;
  const bar = $<HTMLProgressElement>(`${p.phase}-bar`);
  const label = $(`${p.phase}-label`);
  $(`${p.phase}-row`).hidden = false;
  bar.max = Math.max(p.total, 1);
  bar.value = p.loaded;
  if (p.phase === "download") label.textContent = `${mb(p.loaded)} of ${p.total > 0 ? mb(p.total) : "?"}`;
  else if (p.phase === "weights") label.textContent = `${count(p.tensors ?? 0)} of ${count(p.totalTensors ?? 0)} tensors, ${mb(p.loaded)} of ${mb(p.total)}`;
  else label.textContent = `${p.loaded} of ${p.total} programs`;
  ui.status.textContent = p.phase === "download" ? "downloading weights" : p.phase === "weights" ? "uploading weights" : "compiling pipelines";
}

function speedText(n: number, firstTokenMs: number | null, tps: number | null): string {
  const parts = [`${n} token${n === 1 ? "" : "s"}`];
  if (firstTokenMs !== null) parts.push(`first token ${Math.round(firstTokenMs)} ms`);
  if (tps !== null) parts.push(`${tps.toFixed(1)} tokens/s`);
  return parts.join(" · ");
}

function onMessage(m: FromWorker): void {
  switch (m.type) {
    case "ready":
      catalog = m.catalog;
      ui.spec.replaceChildren(...catalog.map((e) => new Option(e.weightsUrl ? `${e.id} (trained)` : e.id, e.id)));
      ui.spec.disabled = false;
      gpuProblem = m.problem;
      ui.adapter.textContent = m.adapter !== null ? `WebGPU adapter: ${m.adapter}` : "No WebGPU adapter";
      if (m.problem !== null) showMessage("no-webgpu", m.problem);
      syncTrained(true);
      setRunning(false);
      autoRun();
      return;
    case "progress":
      showProgress(m.progress);
      return;
    case "loaded": {
      const i = m.info;
      body.weightsSource = i.fromCache ? "cache" : i.weights.startsWith("random") ? "random" : "network";
      ui.modelInfo.textContent =
        `${i.model}: ${count(i.parameters)} parameters, weights ${i.weights}` +
        (i.reused ? " (already loaded)" : `, loaded in ${(i.loadMs / 1000).toFixed(1)} s`) +
        // The app ships no tokenizer: a text prompt is its UTF-8 bytes (runtime's promptTokens).
        (i.vocab === 256 ? "" : `; vocabulary of ${count(i.vocab)} without a tokenizer here: the prompt's UTF-8 bytes are its token ids, the output shows ids`);
      ui.progress.hidden = true;
      ui.status.textContent = "generating";
      return;
    }
    case "tokens":
      outputText.appendData(m.text);
      tokens.push(...m.tokens);
      ui.speed.textContent = speedText(m.count, m.firstTokenMs, m.tokensPerSecond);
      return;
    case "done":
      ui.speed.textContent = speedText(m.count, m.firstTokenMs, m.tokensPerSecond);
      ui.status.textContent = m.stopped ? "stopped" : "finished";
      ui.progress.hidden = true;
      body.tokens = tokens.join(",");
      if (m.firstTokenMs !== null) body.firstTokenMs = String(Math.round(m.firstTokenMs));
      if (m.tokensPerSecond !== null) body.tokensPerSecond = m.tokensPerSecond.toFixed(2);
      if (m.stopped) body.stopped = "1";
      setRunning(false);
      body.done = "1";
      return;
    case "error":
      body.tokens = tokens.join(",");
      fail(m.kind, m.message);
      return;
    case "cache-forgotten":
      ui.status.textContent = `forgot ${m.entries} cached weights file${m.entries === 1 ? "" : "s"}`;
      return;
  }
}

worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
worker.onerror = (e) => fail("other", `the generation worker failed to start: ${e.message || "see the browser console"}`);

function start(request: RunRequest): void {
  for (const k of ["done", "error", "stopped", "tokens", "firstTokenMs", "tokensPerSecond", "weightsSource"]) delete body[k];
  ui.message.hidden = true;
  tokens = [];
  outputText = document.createTextNode("");
  ui.output.replaceChildren(outputText);
  ui.promptEcho.textContent = request.prompt;
  ui.speed.textContent = "";
  ui.status.textContent = "loading the model";
  for (const row of ["download-row", "weights-row", "compile-row"]) $(row).hidden = true;
  setRunning(true);
  send({ type: "run", request });
}

/** The weights choice on the form. */
function weightsChoice(): WeightsChoice {
  const kind = (ui.form.elements.namedItem("weights") as RadioNodeList).value;
  switch (kind) {
    case "trained":
      return { kind: "trained" };
    case "file": {
      const files = [...(ui.file.files ?? [])];
      if (files.length === 0) throw new Error("choose a .safetensors file");
      return { kind: "files", files };
    }
    case "url":
      if (ui.url.value.trim() === "") throw new Error("enter the URL of a .safetensors file");
      return { kind: "url", url: new URL(ui.url.value.trim(), location.href).href };
    default:
      return { kind: "random", seed: whole(ui.seed, "seed") };
  }
}

function whole(input: HTMLInputElement, what: string, min = 0): number {
  const n = Number(input.value);
  if (input.value.trim() === "" || !Number.isSafeInteger(n) || n < min) throw new Error(`${what} must be a whole number >= ${min}`);
  return n;
}

function decimal(input: HTMLInputElement, what: string, max = Infinity): number {
  const n = Number(input.value);
  if (input.value.trim() === "" || !Number.isFinite(n) || n < 0 || n > max) throw new Error(`${what} must be a number from 0${max < Infinity ? ` to ${max}` : ""}`);
  return n;
}

function formRequest(): RunRequest {
  return {
    spec: ui.spec.value,
    weights: weightsChoice(),
    prompt: ui.prompt.value,
    maxTokens: whole(ui.maxTokens, "max tokens"),
    temperature: decimal(ui.temperature, "temperature"),
    topK: whole(ui.topK, "top-k"),
    topP: decimal(ui.topP, "top-p", 1),
    seed: whole(ui.seed, "seed"),
  };
}

/** Show the "trained weights" choice for a model that ships them, and pick it when `select`. */
function syncTrained(select: boolean): void {
  const has = catalog.find((e) => e.id === ui.spec.value)?.weightsUrl !== undefined;
  ui.trained.hidden = !has;
  const radio = ui.trained.querySelector("input")!;
  if (has && select) radio.checked = true;
  if (!has && radio.checked) (ui.form.querySelector('input[value="random"]') as HTMLInputElement).checked = true;
}

/** Put a request on the form, so what runs is what the page shows. */
function fillForm(r: RunRequest): void {
  const entry = catalog.find((e) => specKey(e.id) === specKey(r.spec));
  if (entry) ui.spec.value = entry.id;
  syncTrained(false);
  const radio = (v: string) => ((ui.form.querySelector(`input[name="weights"][value="${v}"]`) as HTMLInputElement).checked = true);
  if (r.weights.kind === "url") ui.url.value = r.weights.url;
  radio(r.weights.kind === "files" ? "file" : r.weights.kind);
  ui.seed.value = String(r.seed);
  ui.prompt.value = r.prompt;
  ui.maxTokens.value = String(r.maxTokens);
  ui.temperature.value = String(r.temperature);
  ui.topK.value = String(r.topK);
  ui.topP.value = String(r.topP);
}

function autoRun(): void {
  const parsed = parseParams(location.search, location.href);
  if (!parsed.ok) return fail("input", parsed.message);
  if (parsed.run === null) return;
  fillForm(parsed.run);
  if (gpuProblem !== null) return fail("no-webgpu", gpuProblem);
  start(parsed.run);
}

ui.spec.addEventListener("change", () => syncTrained(true));
ui.form.addEventListener("submit", (e) => {
  e.preventDefault();
  if (running) return;
  let request: RunRequest;
  try {
    request = formRequest();
  } catch (err) {
    return fail("input", err instanceof Error ? err.message : String(err));
  }
  start(request);
});
ui.stop.addEventListener("click", () => {
  send({ type: "stop" });
  ui.status.textContent = "stopping";
});
ui.forget.addEventListener("click", () => send({ type: "forget-cache" }));
