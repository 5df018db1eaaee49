"""Parity checks of model.py against hybridc.

With no argument: a small random model in model.py against hybridc on the same weights.

Writes the model's spec and safetensors into a temporary folder, runs
`node bin/hybridc.js run SPEC --weights W --temperature 0 --logits OUT`, and compares hybridc's
prefill logits and greedy continuation with this PyTorch model's, computed in float64. Also checks
the chunked SSD form against the token-by-token recurrence.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/train/parity.py

With `--shipped`: the exported model (specs/kjv-byte.*) through `hybridc run`, against its committed
reference logits (prints the largest differences; tests/runtime/trained.test.ts asserts them).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import st_io  # noqa: E402
from model import Config, HybridLM, spec_text  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def randomize(model, seed):
    """Random values in every tensor, well away from the init's ones and zeros."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or name.endswith("layernorm.weight"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            elif name.endswith("A_log"):
                p.copy_(torch.rand(p.shape, generator=g) * 2 - 1)
            elif name.endswith("dt_bias"):
                p.copy_(torch.rand(p.shape, generator=g) * 2 - 2)
            elif name.endswith(".D"):
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * (0.5 / p.shape[-1] ** 0.5 if p.dim() > 1 and p.shape[-1] > 4 else 0.3))


def run_hybridc(spec, weights, prompt, steps, logits_out):
    """hybridc run, greedy: (generated tokens, {logits, generated_logits})."""
    import json
    r = subprocess.run(["node", "bin/hybridc.js", "run", spec, "--weights", weights, "--prompt", prompt,
                        "--temperature", "0", "--max-tokens", str(steps), "--logits", logits_out, "--json"],
                       cwd=ROOT, capture_output=True, text=True, env={**os.environ, "XDG_RUNTIME_DIR": "/tmp"})
    if r.returncode != 0:
        print(r.stdout, r.stderr)
        sys.exit(1)
    return json.loads(r.stdout.strip().splitlines()[-1])["tokens"], st_io.load(logits_out)


def shipped(stem="specs/kjv-byte"):
    import json
    ref = json.load(open(os.path.join(ROOT, stem + ".reference.json")))
    arrays = st_io.load(os.path.join(ROOT, stem + ".reference.safetensors"))
    ok = True
    with tempfile.TemporaryDirectory() as d:
        for i, p in enumerate(ref["prompts"]):
            tokens, got = run_hybridc(stem + ".hyb", stem + ".safetensors", p["prompt"], len(p["tokens"]), os.path.join(d, "l.safetensors"))
            d_pre = np.abs(got["logits"] - arrays[f"p{i}.prefill"]).max()
            d_dec = np.abs(got["generated_logits"][1:] - arrays[f"p{i}.decode"]).max()
            same = tokens == p["tokens"]
            ok = ok and same and max(d_pre, d_dec) < 2e-3
            print(f"prompt {i} {p['prompt']!r}: prefill max |diff| {d_pre:.2e}, decode max |diff| {d_dec:.2e}, "
                  f"greedy tokens identical: {same}")
    print("SHIPPED OK" if ok else "SHIPPED MISMATCH")
    sys.exit(0 if ok else 1)


def main():
    if "--shipped" in sys.argv:
        shipped()
    torch.manual_seed(0)
    cfg = Config(d_model=48, n_layers=4, attn_layers=(2,), mlp_hidden=40, d_state=16, headdim=16, heads=4, kv_heads=2, chunk=8, window=9)
    model = HybridLM(cfg).double()
    randomize(model, 1)

    # chunked SSD == the recurrence
    ids = torch.randint(0, 256, (2, 37))
    with torch.no_grad():
        a, b = model(ids), model(ids, naive=True)
    print(f"chunked vs naive SSD, max |diff| of logits: {(a - b).abs().max().item():.2e}")

    prompt = "The hybrid model, in parity "
    steps = 12
    with tempfile.TemporaryDirectory() as d:
        spec, weights, out = (os.path.join(d, f) for f in ("parity.hyb", "parity.safetensors", "logits.safetensors"))
        with open(spec, "w") as f:
            f.write(spec_text(cfg, "parity", "// parity check model"))
        st_io.save(weights, {k: v.detach().numpy() for k, v in model.hybridc_tensors().items()})
        tokens, got = run_hybridc(spec, weights, prompt, steps, out)

    p = list(prompt.encode())
    with torch.no_grad():
        ref = model(torch.tensor([p + tokens]))[0].numpy()
    n = len(p)
    pre = got["logits"]
    gen = got["generated_logits"]
    d_pre = np.abs(pre - ref[:n]).max()
    scale = np.abs(ref).max()
    print(f"prefill logits [{n}, 256]: max |diff| {d_pre:.2e} (max |logit| {scale:.2f})")
    # generated_logits[k] are the logits token k was sampled from: position n - 1 + k
    d_gen = np.abs(gen - ref[n - 1:n - 1 + steps]).max()
    print(f"decode logits [{steps}, 256]: max |diff| {d_gen:.2e}")
    greedy = [int(np.argmax(ref[n - 1 + k])) for k in range(steps)]
    print(f"greedy tokens equal: {greedy == tokens} (hybridc {tokens}, torch {greedy})")
    ok = d_pre < 1e-3 * max(1.0, scale) and d_gen < 1e-3 * max(1.0, scale) and greedy == tokens
    print("PARITY OK" if ok else "PARITY MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
