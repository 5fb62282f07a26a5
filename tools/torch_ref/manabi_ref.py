"""manabi_ref: an independent PyTorch reference for manabi's two model families.

Everything here is written from the published definitions, in plain torch, so that it can be
used as an oracle for manabi's hand-written C forward and backward passes:

  * safetensors load/save, by hand (the `safetensors` package is not installed);
  * build_model(config, tensors, dtype): Hugging Face's LlamaForCausalLM / GPT2LMHeadModel
    (inference semantics: no dropout), with Hugging Face parameter names;
  * loss: mean cross-entropy over all B*T positions.

Run it with Debian's /usr/bin/python3 (the only Python with torch 1.13 on these machines).
"""

import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------
# safetensors
#
# File layout: u64 little-endian N, N bytes of JSON header, then the data section.  The header
# maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative
# to the first byte after the header) and may hold "__metadata__": {str: str}.

_DTYPES = {  # safetensors dtype name -> little-endian numpy dtype
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # no numpy bfloat16: read as raw 16-bit words, widened below
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {  # numpy dtype -> safetensors dtype name, for save()
    np.dtype("float64"): "F64",
    np.dtype("float32"): "F32",
    np.dtype("float16"): "F16",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("int16"): "I16",
    np.dtype("int8"): "I8",
    np.dtype("uint8"): "U8",
    np.dtype("bool"): "BOOL",
}


class RefError(Exception):
    """A problem with an input file or config; the message says which and why."""


def load(path):
    """Reads a safetensors file.  Returns (dict name -> np.ndarray, metadata dict).

    Checks what manabi's reader checks: known dtypes, shape x itemsize == byte length,
    offsets inside the data section, no overlaps, data section covered exactly.
    BF16 tensors come back as float32 (exact widening)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise RefError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise RefError(f"{path}: header length {n} runs past the end of the file")
    try:
        header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as ex:
        raise RefError(f"{path}: header is not valid JSON: {ex}") from None
    if not isinstance(header, dict):
        raise RefError(f"{path}: header is not a JSON object")
    data = memoryview(blob)[8 + n :]
    meta = header.pop("__metadata__", None) or {}
    tensors, ranges = {}, []
    for name, info in header.items():
        try:
            dt = _DTYPES[info["dtype"]]
            shape = tuple(int(s) for s in info["shape"])
            b, e = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise RefError(f"{path}: tensor '{name}': bad or unknown dtype/shape/data_offsets") from None
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (0 <= b <= e <= len(data)) or e - b != count * dt.itemsize:
            raise RefError(f"{path}: tensor '{name}': data_offsets [{b},{e}] do not fit shape {list(shape)} "
                           f"{info['dtype']} in a data section of {len(data)} bytes")
        arr = np.frombuffer(data[b:e], dtype=dt).reshape(shape).copy()
        if info["dtype"] == "BF16":  # bfloat16 is the top half of a float32
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = arr
        ranges.append((b, e, name))
    ranges.sort()
    pos = 0
    for b, e, name in ranges:
        if b != pos:
            raise RefError(f"{path}: tensor '{name}' starts at {b}, expected {pos} (gap or overlap)")
        pos = e
    if pos != len(data):
        raise RefError(f"{path}: {len(data) - pos} trailing bytes after the last tensor")
    return tensors, {str(k): str(v) for k, v in meta.items()}


def save(path, tensors, metadata=None):
    """Writes dict name -> np.ndarray (F64/F32/F16/I64/I32/I16/I8/U8/BOOL) and string metadata.
    The header is padded with spaces so that the data section starts 8-byte aligned."""
    header, chunks, pos = {}, [], 0
    for name, arr in tensors.items():
        arr = np.asarray(arr)  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        if arr.dtype not in _NAMES:
            raise RefError(f"save {path}: tensor '{name}': dtype {arr.dtype} is not supported")
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _NAMES[arr.dtype], "shape": list(arr.shape), "data_offsets": [pos, pos + len(raw)]}
        chunks.append(raw)
        pos += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for c in chunks:
            f.write(c)


# ----------------------------------------------------------------------------------------------
# config

def parse_config(cfg):
    """Hugging Face config.json dict -> a flat dict of the sizes manabi uses, with HF's defaults
    (the same defaults src/model/config.c applies)."""
    if isinstance(cfg, str):
        cfg = json.loads(cfg)
    mt = cfg.get("model_type")
    try:
        if mt == "llama":
            c = dict(family="llama", V=cfg["vocab_size"], T=cfg["max_position_embeddings"],
                     L=cfg["num_hidden_layers"], NH=cfg["num_attention_heads"], C=cfg["hidden_size"],
                     F=cfg["intermediate_size"])
            c["NKV"] = cfg.get("num_key_value_heads") or c["NH"]
            c["tied"] = bool(cfg.get("tie_word_embeddings", False))  # LlamaConfig default: untied
            c["theta"] = float(cfg.get("rope_theta", 10000.0))
            c["eps"] = float(cfg.get("rms_norm_eps", 1e-6))
            if cfg.get("hidden_act", "silu") != "silu":
                raise RefError(f"model config: hidden_act '{cfg['hidden_act']}' is not supported (silu)")
        elif mt == "gpt2":
            c = dict(family="gpt2", V=cfg["vocab_size"], T=cfg["n_positions"], L=cfg["n_layer"],
                     NH=cfg["n_head"], C=cfg["n_embd"])
            c["NKV"] = c["NH"]
            c["F"] = cfg.get("n_inner") or 4 * c["C"]  # HF: n_inner null means 4 * n_embd
            c["tied"] = True
            c["eps"] = float(cfg.get("layer_norm_epsilon", 1e-5))
            act = cfg.get("activation_function", "gelu_new")
            if act not in ("gelu_new", "gelu_pytorch_tanh"):
                raise RefError(f"model config: activation_function '{act}' is not supported (gelu_new)")
        else:
            raise RefError(f"model config: model_type {mt!r} is not supported (llama or gpt2)")
    except KeyError as ex:
        raise RefError(f"model config: field {ex} is missing") from None
    if c["C"] % c["NH"] or c["NH"] % c["NKV"]:
        raise RefError(f"model config: heads do not divide (C={c['C']}, NH={c['NH']}, NKV={c['NKV']})")
    c["HS"] = c["C"] // c["NH"]
    return c


# ----------------------------------------------------------------------------------------------
# shared pieces

_MASKS = {}


def _causal_mask(T, device):
    key = (T, str(device))
    if key not in _MASKS:
        _MASKS[key] = torch.ones(T, T, dtype=torch.bool, device=device).triu(1)
    return _MASKS[key]


def causal_attention(q, k, v):
    """q [B,NH,T,HS], k/v [B,NKV,T,HS] -> [B,NH,T,HS].

    softmax(q k^T / sqrt(HS) + causal mask) v.  Grouped-query attention: query head h reads
    kv head h // (NH/NKV); repeat_interleave lays the kv heads out exactly that way (it is
    what HF's repeat_kv does)."""
    nh, nkv, T, hs = q.shape[1], k.shape[1], q.shape[2], q.shape[3]
    if nkv != nh:
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
    mask = _causal_mask(T, q.device)  # True above the diagonal: key after query
    att = att.masked_fill(mask, float("-inf")).softmax(dim=-1)
    return att @ v


def _normal_(t, std=0.02):
    with torch.no_grad():
        t.normal_(0.0, std)


# ----------------------------------------------------------------------------------------------
# Llama (LlamaForCausalLM)

class RMSNorm(nn.Module):
    """y = x * rsqrt(mean(x^2) + eps) * w   (HF LlamaRMSNorm, without the fp32 round trip)."""

    def __init__(self, C, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(C))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_cos_sin(T, hs, theta, dtype):
    """HF rotary tables: inv_freq = theta^-(2i/HS), freqs = pos (x) inv_freq,
    emb = cat(freqs, freqs); returns cos(emb), sin(emb) as [T, HS].  Computed in float64 and
    then rounded to dtype, so the f64 oracle has exact tables."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    """cat(-x2, x1) where x1, x2 are the first and second halves of the last axis."""
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class LlamaAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.nkv, self.hs = c["NH"], c["NKV"], c["HS"]
        self.q_proj = nn.Linear(c["C"], c["NH"] * c["HS"], bias=False)
        self.k_proj = nn.Linear(c["C"], c["NKV"] * c["HS"], bias=False)
        self.v_proj = nn.Linear(c["C"], c["NKV"] * c["HS"], bias=False)
        self.o_proj = nn.Linear(c["NH"] * c["HS"], c["C"], bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hs).transpose(1, 2)  # [B,NH,T,HS]
        k = self.k_proj(x).view(B, T, self.nkv, self.hs).transpose(1, 2)  # [B,NKV,T,HS]
        v = self.v_proj(x).view(B, T, self.nkv, self.hs).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin  # RoPE, rotate-half convention, positions 0..T-1
        k = k * cos + rotate_half(k) * sin
        y = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, self.nh * self.hs)
        return self.o_proj(y)


class LlamaMLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c["C"], c["F"], bias=False)
        self.up_proj = nn.Linear(c["C"], c["F"], bias=False)
        self.down_proj = nn.Linear(c["F"], c["C"], bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    """Pre-norm block: h += attn(rmsnorm(h)); h += mlp(rmsnorm(h))."""

    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["C"], c["eps"])
        self.self_attn = LlamaAttention(c)
        self.post_attention_layernorm = RMSNorm(c["C"], c["eps"])
        self.mlp = LlamaMLP(c)

    def forward(self, h, cos, sin):
        h = h + self.self_attn(self.input_layernorm(h), cos, sin)
        return h + self.mlp(self.post_attention_layernorm(h))


class LlamaModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["V"], c["C"])
        self.layers = nn.ModuleList(LlamaDecoderLayer(c) for _ in range(c["L"]))
        self.norm = RMSNorm(c["C"], c["eps"])


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.cfg = c
        self.model = LlamaModel(c)
        if not c["tied"]:
            self.lm_head = nn.Linear(c["C"], c["V"], bias=False)
        self._rope = None  # (T, dtype, cos, sin), rebuilt when T or dtype changes

    def init_random(self, std=0.02):
        """HF's LlamaPreTrainedModel._init_weights: Linear/Embedding N(0, std), norms 1."""
        for name, p in self.named_parameters():
            if name.endswith("layernorm.weight") or name == "model.norm.weight":
                nn.init.ones_(p)
            else:
                _normal_(p, std)

    def forward(self, idx):
        T = idx.shape[1]
        dtype = self.model.embed_tokens.weight.dtype
        if self._rope is None or self._rope[0] != T or self._rope[1] != dtype:
            self._rope = (T, dtype) + rope_cos_sin(T, self.cfg["HS"], self.cfg["theta"], dtype)
        cos, sin = self._rope[2], self._rope[3]
        h = self.model.embed_tokens(idx)
        for layer in self.model.layers:
            h = layer(h, cos, sin)
        h = self.model.norm(h)
        w = self.model.embed_tokens.weight if self.cfg["tied"] else self.lm_head.weight
        return h @ w.t()  # logits [B,T,V]


# ----------------------------------------------------------------------------------------------
# GPT-2 (GPT2LMHeadModel)

class Conv1D(nn.Module):
    """HF's Conv1D: weight stored [in, out]; y = x @ W + b."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


class GPT2Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.hs, self.C = c["NH"], c["HS"], c["C"]
        self.c_attn = Conv1D(c["C"], 3 * c["C"])  # output columns: q | k | v
        self.c_proj = Conv1D(c["C"], c["C"])

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.nh, self.hs).transpose(1, 2) for t in (q, k, v))
        y = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, C)
        return self.c_proj(y)


class GPT2MLP(nn.Module):
    """c_proj(gelu_new(c_fc(x))); gelu_new(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
    which is exactly torch's F.gelu(approximate='tanh') (one fused kernel)."""

    def __init__(self, c):
        super().__init__()
        self.c_fc = Conv1D(c["C"], c["F"])
        self.c_proj = Conv1D(c["F"], c["C"])

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class GPT2Block(nn.Module):
    """Pre-norm block: h += attn(ln_1(h)); h += mlp(ln_2(h))."""

    def __init__(self, c):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c["C"], eps=c["eps"])
        self.attn = GPT2Attention(c)
        self.ln_2 = nn.LayerNorm(c["C"], eps=c["eps"])
        self.mlp = GPT2MLP(c)

    def forward(self, h):
        h = h + self.attn(self.ln_1(h))
        return h + self.mlp(self.ln_2(h))


class GPT2Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["V"], c["C"])
        self.wpe = nn.Embedding(c["T"], c["C"])
        self.h = nn.ModuleList(GPT2Block(c) for _ in range(c["L"]))
        self.ln_f = nn.LayerNorm(c["C"], eps=c["eps"])


class GPT2LMHeadModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.cfg = c
        self.transformer = GPT2Model(c)

    def init_random(self, std=0.02):
        """Weights N(0, std) (HF also uses N(0, std/sqrt(2L)) for c_proj; plain std here),
        biases 0, LayerNorm weights 1."""
        for name, p in self.named_parameters():
            if ".ln_" in name or name.startswith("transformer.ln_f."):
                nn.init.ones_(p) if name.endswith("weight") else nn.init.zeros_(p)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)
            else:
                _normal_(p, std)

    def forward(self, idx):
        T = idx.shape[1]
        tr = self.transformer
        pos = torch.arange(T, device=idx.device)
        h = tr.wte(idx) + tr.wpe(pos)
        for block in tr.h:
            h = block(h)
        h = tr.ln_f(h)
        return h @ tr.wte.weight.t()  # tied lm head: logits [B,T,V]


# ----------------------------------------------------------------------------------------------
# entry points

def build_model(config, tensors=None, dtype=torch.float64):
    """config: HF config dict (or JSON string).  tensors: dict HF name -> array/tensor; every
    parameter must be present with its exact shape and nothing else may be (the message names
    the tensor).  tensors=None: HF-style random init, N(0, 0.02).  Returns the nn.Module, whose
    forward(idx [B,T] int64) gives logits [B,T,V]."""
    c = parse_config(config)
    model = LlamaForCausalLM(c) if c["family"] == "llama" else GPT2LMHeadModel(c)
    model.to(dtype)
    if tensors is None:
        model.init_random()
        return model
    params = dict(model.named_parameters())
    missing = [n for n in params if n not in tensors]
    extra = [n for n in tensors if n not in params]
    if missing:
        raise RefError(f"model: tensor '{missing[0]}' is missing ({len(missing)} missing in all)")
    if extra:
        raise RefError(f"model: unexpected tensor '{extra[0]}' for this config ({len(extra)} unexpected in all)")
    with torch.no_grad():
        for n, p in params.items():
            t = torch.as_tensor(np.asarray(tensors[n]))
            if tuple(t.shape) != tuple(p.shape):
                raise RefError(f"model: tensor '{n}' has shape {list(t.shape)}, expected {list(p.shape)}")
            p.copy_(t.to(dtype))
    return model


def loss_fn(logits, targets):
    """Mean cross-entropy over all B*T positions: mean(logsumexp(logits) - logits[target])."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
