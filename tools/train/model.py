"""The hybrid byte-level language model, in PyTorch, computing exactly what hybridc's spec computes.

Written from ../shared/DSL.md and ../shared/reference/semantics.md (the definitions hybridc's
kernels are checked against in float64), not from any other implementation:

  h = E[ids]
  for each layer:  h = h + mixer(RMSNorm(h))                       (pre-norm residual)
                   [h = h + SwiGLU(RMSNorm'(h))                    when the layer has an MLP]
  logits = RMSNorm_f(h) @ E^T                                       (tied embeddings)

Mamba-2 mixer (HF Mamba2Mixer names), x: (b, L, d_model), Di = expand * d_model, H = Di / P heads,
one group (G = 1), N = d_state:
  in_proj(x) = [z (Di) | xBC (Di + 2N) | dt (H)]
  xBC = silu(causal depthwise conv1d(xBC) + conv bias) = [x (Di) | B (N) | C (N)]
  dt = softplus(dt + dt_bias);  A = -exp(A_log)   (one scalar per head)
  h_t = exp(dt_t A) h_{t-1} + dt_t x_t B_t^T;  y_t = h_t C_t + D x_t   (per-head D)
  out = out_proj(rmsnorm(y * silu(z)) * norm.weight)   (gated norm over groups of norm_group)

Training runs the recurrence in the chunked SSD form (matmuls inside chunks of Q tokens, a short
recurrence across chunks); `ssd_naive` is the token-by-token definition it is checked against.

Attention: q/k/v/o projections without bias, RoPE in GPT-NeoX half-split style on the whole head,
query head i reads kv head i // (H / Hkv), causal softmax(q k^T / sqrt(Dh)).
"""
import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab: int = 256
    d_model: int = 192
    n_layers: int = 6
    attn_layers: tuple = (2,)        # indices of the attention layers; the others are Mamba-2
    mlp_hidden: int = 0              # 0: no MLP sublayer; else a SwiGLU after every mixer
    eps: float = 1e-5
    # Mamba-2
    d_state: int = 64
    expand: int = 2
    headdim: int = 32
    d_conv: int = 4
    chunk: int = 64                  # training chunk of the SSD form (does not change the result)
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    # attention
    heads: int = 6
    kv_heads: int = 6
    rope_theta: float = 10000.0
    window: int = 0                  # 0: full causal attention; W: each query sees W keys, itself included

    @property
    def d_inner(self) -> int:
        return self.expand * self.d_model

    @property
    def ssm_heads(self) -> int:
        return self.d_inner // self.headdim

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float, group: int | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps
        self.group = group or dim

    def forward(self, x):
        shape = x.shape
        g = x.reshape(*shape[:-1], shape[-1] // self.group, self.group)
        g = g * torch.rsqrt(g.pow(2).mean(-1, keepdim=True) + self.eps)
        return g.reshape(shape) * self.weight


def segsum(a):
    """a: (..., Q) -> (..., Q, Q) with [t, s] = sum_{s < r <= t} a_r for s <= t, -inf above the diagonal."""
    Q = a.shape[-1]
    cs = torch.cumsum(a, -1)
    out = cs[..., :, None] - cs[..., None, :]
    mask = torch.tril(torch.ones(Q, Q, dtype=torch.bool, device=a.device))
    return out.masked_fill(~mask, float("-inf"))


def ssd_chunked(x, dt, A, B, C, Q):
    """Mamba-2 SSD over a sequence from a zero state, chunked form.

    x: (b, L, H, P), dt: (b, L, H) (after softplus), A: (H,), B, C: (b, L, N) (one group).
    Returns y: (b, L, H, P) without the D term. L is padded to a multiple of Q with dt = 0, x = 0.
    Inside, heads lead (b, c, H, Q, P) so that every product is a plain batched matmul.
    """
    b, L, H, P = x.shape
    N = B.shape[-1]
    pad = (-L) % Q
    if pad:
        x = F.pad(x, (0, 0, 0, 0, 0, pad))
        dt = F.pad(dt, (0, 0, 0, pad))
        B = F.pad(B, (0, 0, 0, pad))
        C = F.pad(C, (0, 0, 0, pad))
    c = x.shape[1] // Q
    dt = dt.reshape(b, c, Q, H).transpose(2, 3)                          # (b, c, H, Q)
    xdt = x.reshape(b, c, Q, H, P).transpose(2, 3) * dt[..., None]      # (b, c, H, Q, P)
    B = B.reshape(b, c, 1, Q, N)
    C = C.reshape(b, c, 1, Q, N)
    a = dt * A[:, None]                              # (b, c, H, Q)
    acum = torch.cumsum(a, -1)                       # inclusive cumulative sum S_t

    # Inside each chunk: y_t = sum_{s <= t} exp(S_t - S_s) (C_t . B_s) dt_s x_s
    M = torch.exp(segsum(a)) * (C @ B.transpose(-1, -2))                # (b, c, H, Q, Q)
    y = M @ xdt                                                         # (b, c, H, Q, P)

    # Each chunk's final state from a zero start: sum_s exp(S_last - S_s) dt_s x_s B_s^T
    decay = torch.exp(acum[..., -1:] - acum)                            # (b, c, H, Q)
    states = (xdt * decay[..., None]).transpose(-1, -2) @ B             # (b, c, H, P, N)
    # Across chunks: h_in(c) = exp(S_last(c-1)) h_in(c-1) + states(c-1)
    chunk_decay = torch.exp(acum[..., -1])                              # (b, c, H)
    h = torch.zeros(b, H, P, N, dtype=x.dtype, device=x.device)
    h_in = []
    for i in range(c):
        h_in.append(h)
        h = chunk_decay[:, i, :, None, None] * h + states[:, i]
    h_in = torch.stack(h_in, 1)                                         # (b, c, H, P, N)
    # The state entering the chunk, seen at position t: exp(S_t) C_t . h_in
    y = y + (C @ h_in.transpose(-1, -2)) * torch.exp(acum)[..., None]
    return y.transpose(2, 3).reshape(b, c * Q, H, P)[:, :L]


def ssd_naive(x, dt, A, B, C):
    """The recurrence token by token (the definition ssd_chunked is checked against)."""
    b, L, H, P = x.shape
    h = torch.zeros(b, H, P, B.shape[-1], dtype=x.dtype)
    ys = []
    for t in range(L):
        dA = torch.exp(dt[:, t] * A)                                     # (b, H)
        h = dA[:, :, None, None] * h + (dt[:, t, :, None] * x[:, t])[..., None] * B[:, t, None, None, :]
        ys.append(torch.einsum("bhpn,bn->bhp", h, C[:, t]))
    return torch.stack(ys, 1)


class Mamba2(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        Di, N, H = cfg.d_inner, cfg.d_state, cfg.ssm_heads
        self.conv_dim = Di + 2 * N
        self.in_proj = nn.Linear(cfg.d_model, 2 * Di + 2 * N + H, bias=False)
        self.conv1d = nn.Conv1d(self.conv_dim, self.conv_dim, cfg.d_conv, groups=self.conv_dim, bias=True)
        # dt_bias: softplus^-1 of dt drawn log-uniformly in [dt_min, dt_max] (the Mamba-2 init)
        dt = torch.exp(torch.rand(H) * (math.log(cfg.dt_max) - math.log(cfg.dt_min)) + math.log(cfg.dt_min))
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.empty(H).uniform_(1, 16)))
        self.D = nn.Parameter(torch.ones(H))
        self.norm = RMSNorm(Di, cfg.eps)             # norm_group = d_inner / ngroups = d_inner
        self.out_proj = nn.Linear(Di, cfg.d_model, bias=False)

    def forward(self, u, naive=False):
        cfg = self.cfg
        b, L, _ = u.shape
        Di, N, H, P = cfg.d_inner, cfg.d_state, cfg.ssm_heads, cfg.headdim
        zxbcdt = self.in_proj(u)
        z, xBC, dt = torch.split(zxbcdt, [Di, self.conv_dim, H], dim=-1)
        # causal depthwise conv: pad W-1 zeros on the left; weight[:, W-1] multiplies the current input
        xBC = F.conv1d(F.pad(xBC.transpose(1, 2), (cfg.d_conv - 1, 0)), self.conv1d.weight, self.conv1d.bias, groups=self.conv_dim)
        xBC = F.silu(xBC.transpose(1, 2))
        x, B, C = torch.split(xBC, [Di, N, N], dim=-1)
        dt = F.softplus(dt + self.dt_bias)           # torch's threshold 20, as semantics.md
        A = -torch.exp(self.A_log)
        x = x.reshape(b, L, H, P)
        y = ssd_naive(x, dt, A, B, C) if naive else ssd_chunked(x, dt, A, B, C, cfg.chunk)
        y = y + x * self.D[:, None]
        y = y.reshape(b, L, Di)
        return self.out_proj(self.norm(y * F.silu(z)))


def rope_tables(L, dim, theta, dtype):
    inv = theta ** (-torch.arange(0, dim // 2, dtype=torch.float64) * 2 / dim)
    ang = torch.arange(L, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).to(dtype), torch.sin(ang).to(dtype)


def rope(x, cos, sin):
    """x: (b, heads, L, D); NeoX half-split: pair (x[i], x[i + D/2]) -> (a cos - b sin, b cos + a sin)."""
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], -1)


class Attention(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        hd = cfg.head_dim
        self.q_proj = nn.Linear(cfg.d_model, cfg.heads * hd, bias=False)
        self.k_proj = nn.Linear(cfg.d_model, cfg.kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(cfg.d_model, cfg.kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(cfg.heads * hd, cfg.d_model, bias=False)

    def forward(self, u, naive=False):
        cfg = self.cfg
        b, L, _ = u.shape
        hd = cfg.head_dim
        q = self.q_proj(u).view(b, L, cfg.heads, hd).transpose(1, 2)
        k = self.k_proj(u).view(b, L, cfg.kv_heads, hd).transpose(1, 2)
        v = self.v_proj(u).view(b, L, cfg.kv_heads, hd).transpose(1, 2)
        cos, sin = rope_tables(L, hd, cfg.rope_theta, u.dtype)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        rep = cfg.heads // cfg.kv_heads              # query head i reads kv head i // rep
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        causal = torch.ones(L, L, dtype=torch.bool, device=u.device).tril()
        if cfg.window:                               # key j is allowed iff i - W < j <= i
            causal = causal & ~torch.ones(L, L, dtype=torch.bool, device=u.device).tril(-cfg.window)
        o = torch.softmax(scores.masked_fill(~causal, float("-inf")), -1) @ v
        return self.o_proj(o.transpose(1, 2).reshape(b, L, cfg.heads * hd))


class SwiGLU(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.d_model, cfg.mlp_hidden, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.mlp_hidden, bias=False)
        self.down_proj = nn.Linear(cfg.mlp_hidden, cfg.d_model, bias=False)

    def forward(self, u, naive=False):
        return self.down_proj(F.silu(self.gate_proj(u)) * self.up_proj(u))


class Layer(nn.Module):
    def __init__(self, cfg: Config, i: int):
        super().__init__()
        self.is_attn = i in cfg.attn_layers
        self.input_layernorm = RMSNorm(cfg.d_model, cfg.eps)
        self.mixer = Attention(cfg) if self.is_attn else Mamba2(cfg)
        self.mlp = SwiGLU(cfg) if cfg.mlp_hidden else None
        if self.mlp is not None:
            self.pre_ff_layernorm = RMSNorm(cfg.d_model, cfg.eps)

    def forward(self, h, naive=False):
        h = h + self.mixer(self.input_layernorm(h), naive)
        if self.mlp is not None:
            h = h + self.mlp(self.pre_ff_layernorm(h))
        return h


class HybridLM(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.d_model)
        self.layers = nn.ModuleList(Layer(cfg, i) for i in range(cfg.n_layers))
        self.final_norm = RMSNorm(cfg.d_model, cfg.eps)
        nn.init.normal_(self.embed.weight, std=0.02)
        for name, p in self.named_parameters():
            if name.endswith(("out_proj.weight", "o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layers))
            elif name.endswith(("in_proj.weight", "q_proj.weight", "k_proj.weight", "v_proj.weight", "gate_proj.weight", "up_proj.weight")):
                nn.init.normal_(p, std=0.02)

    def forward(self, ids, naive=False):
        h = self.embed(ids)
        for layer in self.layers:
            h = layer(h, naive)
        return self.final_norm(h) @ self.embed.weight.t()

    def hybridc_tensors(self):
        """The parameters under hybridc's `weights = "jamba"` names (tied: no lm_head.weight)."""
        out = {"model.embed_tokens.weight": self.embed.weight, "model.final_layernorm.weight": self.final_norm.weight}
        for i, layer in enumerate(self.layers):
            p = f"model.layers.{i}."
            out[p + "input_layernorm.weight"] = layer.input_layernorm.weight
            kind = "self_attn." if layer.is_attn else "mamba."
            for n, t in layer.mixer.named_parameters():
                out[p + kind + n] = t
            if layer.mlp is not None:
                out[p + "pre_ff_layernorm.weight"] = layer.pre_ff_layernorm.weight
                for n, t in layer.mlp.named_parameters():
                    out[p + "feed_forward." + n] = t
        return out


def spec_text(cfg: Config, name: str, header: str) -> str:
    """The .hyb spec of this model (weights = "jamba"), with `header` as its leading comment."""
    kinds = ["attn" if i in cfg.attn_layers else "ssm" for i in range(cfg.n_layers)]
    if cfg.mlp_hidden:
        kinds = [k + " + ffn" for k in kinds]
    lines = [header.rstrip(), f"model {name} {{",
             "  vocab   = 256                       // raw bytes, no tokenizer",
             f"  d_model = {cfg.d_model}",
             f"  norm    = rmsnorm(eps = {cfg.eps:g})".replace("e-0", "e-") + "         // before every sublayer and at the end",
             "  tied    = true                      // the LM head is the embedding matrix",
             "  weights = \"jamba\"                   // model.layers.{i}.mamba.* / .self_attn.* tensor names",
             "",
             f"  ssm  = mamba2(d_state = {cfg.d_state}, expand = {cfg.expand}, headdim = {cfg.headdim}, d_conv = {cfg.d_conv})"
             f"   // {cfg.ssm_heads} heads of {cfg.headdim}",
             f"  attn = attention(heads = {cfg.heads}, kv_heads = {cfg.kv_heads}, rope = {cfg.rope_theta:_.0f}"
             + (f", window = {cfg.window}" if cfg.window else "") + f")   // head_dim {cfg.head_dim}"]
    if cfg.mlp_hidden:
        lines.append(f"  ffn  = mlp(swiglu, hidden = {cfg.mlp_hidden})")
    lines += ["", f"  layers = [{', '.join(kinds)}]", "}", ""]
    return "\n".join(lines)
