#!/usr/bin/python3
"""
The PyTorch CPU baseline of `npm run bench` (bench/baseline.ts runs it): the same model with the
same weights, written plainly in eager PyTorch from ../shared/reference/semantics.md (the
equations tests/ir/reference.ts follows), the way a user without hybridc would run it:
  decode   one token at a time with recurrent state (conv window, SSM state, KV cache), as the
           reference implementations' step() functions do;
  prefill  projections, conv and attention over the whole prompt at once (matmuls), the SSM
           recurrences as a loop over time (selective_scan_ref's form).
Usage: baseline.py MODEL.json WEIGHTS.safetensors PROMPT_LEN DECODE_STEPS REPEATS THREADS...
MODEL.json: {vocab, dModel, norm: {kind, eps}, tied, layers: [[{config, weights: {local: name}}]],
             embedding, finalNorm: {local: name}, lmHead, prompt: [token ids]}. Prints one JSON object on stdout:
per thread count, decode and prefill tokens/s (median over REPEATS) and the logits of the prompt's
last token and of the first decoded token (the bench compares them with hybridc's).
"""
import json
import math
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"baseline: {name} is {info['dtype']}, expected F32")
        start, end = info["data_offsets"]
        a = np.frombuffer(data, dtype=np.float32, count=(end - start) // 4, offset=8 + n + start)
        out[name] = torch.from_numpy(a.copy()).reshape(info["shape"])
    return out


def rmsnorm(x, w, eps, group=None):
    c = x.shape[-1]
    g = group or c
    xs = x.reshape(*x.shape[:-1], c // g, g)
    y = xs * torch.rsqrt(xs.pow(2).mean(-1, keepdim=True) + eps)
    return y.reshape(x.shape) * w


def layernorm(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def linear(x, w, b=None):
    return F.linear(x, w, b)


def rope(v, pos, theta, r):
    """NeoX half-split rotary over the first r dims; v [..., T, heads, D], pos [T]."""
    half = r // 2
    inv = theta ** (-2.0 * torch.arange(half, dtype=torch.float64) / r)
    ang = (pos.to(torch.float64)[:, None] * inv[None, :]).to(v.dtype)  # [T, half]
    cos, sin = ang.cos()[:, None, :], ang.sin()[:, None, :]
    a, b, rest = v[..., :half], v[..., half:r], v[..., r:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin, rest], dim=-1)


class Model:
    def __init__(self, spec, W):
        self.s = spec
        self.W = W
        self.eps = spec["norm"]["eps"]

    def w(self, names, local):
        n = names.get(local)
        return None if n is None else self.W[n]

    def norm(self, x, names, prefix):
        if self.s["norm"]["kind"] == "rmsnorm":
            return rmsnorm(x, self.w(names, prefix + ".weight"), self.eps)
        return layernorm(x, self.w(names, prefix + ".weight"), self.w(names, prefix + ".bias"), self.eps)

    def empty_state(self):
        st = []
        for layer in self.s["layers"]:
            row = []
            for sub in layer:
                c = sub["config"]
                if c["kind"] == "mamba1":
                    row.append({"conv": torch.zeros(c["dInner"], c["dConv"]), "ssm": torch.zeros(c["dInner"], c["dState"])})
                elif c["kind"] == "mamba2":
                    row.append({"conv": torch.zeros(c["convDim"], c["dConv"]), "ssm": torch.zeros(c["heads"], c["headdim"], c["dState"])})
                elif c["kind"] == "attention":
                    row.append({"k": torch.zeros(0, c["kvHeads"], c["headDim"]), "v": torch.zeros(0, c["kvHeads"], c["headDim"])})
                else:
                    row.append({})
            st.append(row)
        return st

    def forward(self, tokens, state, pos):
        """Logits [T, vocab] of tokens at positions pos.., updating state (T = 1: the decode step)."""
        h = self.W[self.s["embedding"]][tokens]
        for layer, lstate in zip(self.s["layers"], state):
            for sub, st in zip(layer, lstate):
                x = self.norm(h, sub["weights"], "input_norm")
                h = h + self.block(sub, st, x, pos)
        f = self.norm(h, self.s["finalNorm"], "final_norm")
        return linear(f, self.W[self.s["lmHead"]])

    def block(self, sub, st, x, pos):
        c, n = sub["config"], sub["weights"]
        w = lambda local: self.w(n, local)
        k = c["kind"]
        if k == "mamba1":
            return self.mamba1(c, w, st, x)
        if k == "mamba2":
            return self.mamba2(c, w, st, x)
        if k == "attention":
            return self.attention(c, w, st, x, pos)
        return self.mlp(c, w, x)

    @staticmethod
    def conv(st, w, b, xin):
        """Causal depthwise conv + SiLU over xin [T, C] continuing the window st['conv'] [C, W]."""
        C, W = st["conv"].shape
        if xin.shape[0] == 1:
            st["conv"] = torch.cat([st["conv"][:, 1:], xin.T], dim=1)
            y = (st["conv"] * w.reshape(C, W)).sum(-1)[None, :]
        else:
            full = torch.cat([st["conv"][:, 1:], xin.T], dim=1)  # [C, W - 1 + T]
            y = F.conv1d(full[None], w.reshape(C, 1, W), groups=C)[0].T  # [T, C]
            st["conv"] = full[:, -W:]
        return F.silu(y + b if b is not None else y)

    def mamba1(self, c, w, st, u):
        Di, N, R = c["dInner"], c["dState"], c["dtRank"]
        xz = linear(u, w("in_proj.weight"), w("in_proj.bias"))
        x = self.conv(st, w("conv1d.weight"), w("conv1d.bias"), xz[:, :Di])
        z = xz[:, Di:]
        dbc = linear(x, w("x_proj.weight"))
        dt, B, C = dbc[:, :R], dbc[:, R : R + N], dbc[:, R + N :]
        if c["innerNorms"]:
            dt, B, C = rmsnorm(dt, w("dt_layernorm.weight"), self.eps), rmsnorm(B, w("b_layernorm.weight"), self.eps), rmsnorm(C, w("c_layernorm.weight"), self.eps)
        delta = F.softplus(linear(dt, w("dt_proj.weight"), w("dt_proj.bias")))  # [T, Di]
        A = -torch.exp(w("A_log"))  # [Di, N]
        hs = st["ssm"]
        ys = []
        for t in range(u.shape[0]):
            hs = torch.exp(delta[t, :, None] * A) * hs + (delta[t] * x[t])[:, None] * B[t][None, :]
            ys.append(hs @ C[t])
        st["ssm"] = hs
        y = (torch.stack(ys) + w("D") * x) * F.silu(z)
        return linear(y, w("out_proj.weight"), w("out_proj.bias"))

    def mamba2(self, c, w, st, u):
        Di, H, P, G, N, cd = c["dInner"], c["heads"], c["headdim"], c["ngroups"], c["dState"], c["convDim"]
        zxbcdt = linear(u, w("in_proj.weight"), w("in_proj.bias"))
        z = zxbcdt[:, :Di]
        xbc = self.conv(st, w("conv1d.weight"), w("conv1d.bias"), zxbcdt[:, Di : Di + cd])
        dt = F.softplus(zxbcdt[:, Di + cd :] + w("dt_bias"))  # [T, H]
        T = u.shape[0]
        x = xbc[:, :Di].reshape(T, H, P)
        rep = H // G
        B = xbc[:, Di : Di + G * N].reshape(T, G, N).repeat_interleave(rep, dim=1)  # [T, H, N]
        C = xbc[:, Di + G * N :].reshape(T, G, N).repeat_interleave(rep, dim=1)
        A = -torch.exp(w("A_log"))  # [H]
        D = w("D")
        s = st["ssm"]
        ys = []
        for t in range(T):
            s = torch.exp(dt[t] * A)[:, None, None] * s + (dt[t][:, None, None] * x[t][:, :, None]) * B[t][:, None, :]
            ys.append(torch.einsum("hpn,hn->hp", s, C[t]) + D[:, None] * x[t])
        st["ssm"] = s
        y = torch.stack(ys).reshape(T, Di)
        gate = F.silu(z)
        if not c["gatedNorm"]:
            y = y * gate
        elif c["normBeforeGate"]:
            y = rmsnorm(y, w("norm.weight"), self.eps, c["normGroup"]) * gate
        else:
            y = rmsnorm(y * gate, w("norm.weight"), self.eps, c["normGroup"])
        return linear(y, w("out_proj.weight"), w("out_proj.bias"))

    def attention(self, c, w, st, u, pos):
        H, Hkv, hd, T = c["heads"], c["kvHeads"], c["headDim"], u.shape[0]
        q = linear(u, w("q_proj.weight"), w("q_proj.bias")).reshape(T, H, hd)
        k = linear(u, w("k_proj.weight"), w("k_proj.bias")).reshape(T, Hkv, hd)
        v = linear(u, w("v_proj.weight"), w("v_proj.bias")).reshape(T, Hkv, hd)
        positions = torch.arange(pos, pos + T)
        if c["rope"] is not None:
            q = rope(q, positions, c["rope"]["theta"], c["rope"]["rotaryDim"])
            k = rope(k, positions, c["rope"]["theta"], c["rope"]["rotaryDim"])
        st["k"] = torch.cat([st["k"], k])
        st["v"] = torch.cat([st["v"], v])
        keys = st["k"].repeat_interleave(H // Hkv, dim=1).transpose(0, 1)  # [H, S, hd]
        vals = st["v"].repeat_interleave(H // Hkv, dim=1).transpose(0, 1)
        s = torch.matmul(q.transpose(0, 1), keys.transpose(1, 2)) / math.sqrt(hd)  # [H, T, S]
        kpos = torch.arange(st["k"].shape[0])
        allowed = kpos[None, :] <= positions[:, None]
        if c["window"] is not None:
            allowed &= kpos[None, :] > positions[:, None] - c["window"]
        s = s.masked_fill(~allowed[None], float("-inf"))
        o = torch.matmul(torch.softmax(s, dim=-1), vals).transpose(0, 1).reshape(T, H * hd)
        return linear(o, w("o_proj.weight"), w("o_proj.bias"))

    def mlp(self, c, w, x):
        lin = lambda n, v: linear(v, w(n + ".weight"), w(n + ".bias"))
        up = lin("up_proj", x)
        if c["activation"] == "swiglu":
            hidden = F.silu(lin("gate_proj", x)) * up
        elif c["activation"] == "gelu":
            hidden = F.gelu(up)
        else:
            hidden = torch.relu(up) ** 2
        return lin("down_proj", hidden)


def main():
    spec_path, weights_path, prompt_len, steps, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    threads = [int(t) for t in sys.argv[6:]]
    spec = json.load(open(spec_path))
    model = Model(spec, load_safetensors(weights_path))
    g = torch.Generator().manual_seed(1)
    prompt = torch.tensor(spec["prompt"][:prompt_len]) if "prompt" in spec else torch.randint(0, spec["vocab"], (prompt_len,), generator=g)
    out = {"torch": torch.__version__, "promptTokens": prompt.tolist(), "results": {}}
    with torch.inference_mode():
        state = model.empty_state()
        logits = model.forward(prompt, state, 0)
        out["promptLogits"] = logits[-1].tolist()
        tok = int(torch.argmax(logits[-1]))
        out["firstToken"] = tok
        out["stepLogits"] = model.forward(torch.tensor([tok]), state, prompt_len)[0].tolist()
        for n in threads:
            torch.set_num_threads(n)
            prefill, decode = [], []
            for _ in range(repeats):
                st = model.empty_state()
                t0 = time.perf_counter()
                lg = model.forward(prompt, st, 0)
                prefill.append(time.perf_counter() - t0)
                tok = int(torch.argmax(lg[-1]))
                model.forward(torch.tensor([tok]), st, prompt_len)  # warm the decode path
                t0 = time.perf_counter()
                for i in range(steps):
                    tok = int(torch.argmax(model.forward(torch.tensor([tok]), st, prompt_len + 1 + i)[0]))
                decode.append((time.perf_counter() - t0) / steps)
            out["results"][str(n)] = {
                "prefillTokensPerSecond": prompt_len / statistics.median(prefill),
                "decodeTokensPerSecond": 1 / statistics.median(decode),
                "repeats": repeats,
            }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
