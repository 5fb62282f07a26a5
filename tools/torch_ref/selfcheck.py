#!/usr/bin/python3
"""Self-check of the PyTorch oracle (tools/torch_ref/manabi_ref.py + tests/ref_torch.py).

For several small random models (llama: MHA tied, GQA untied, MQA; gpt2) it
  1. writes MODEL/BATCH safetensors files and runs tests/ref_torch.py on them;
  2. checks the logits and loss against a second, independent forward pass written in numpy
     with explicit loops (per head, per position) straight from the formulas, so a slip in the
     torch model's layout conventions (RoPE halves, GQA head mapping, Conv1D [in,out] and
     q|k|v column order, tied heads) would show;
  3. checks the written gradients against central finite differences of the float64 loss on
     sampled elements of every parameter, and runs torch.autograd.gradcheck on a few whole
     (small) parameters;
  4. checks that a float32 run of the same model agrees with the float64 one;
  5. checks safetensors round trips and that bad inputs make ref_torch.py fail with a message.

Run: /usr/bin/python3 tools/torch_ref/selfcheck.py      (exit 0 and "selfcheck: all passed")
"""

import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch.nn.utils.stateless import functional_call

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import manabi_ref as ref  # noqa: E402

REF_SCRIPT = os.path.join(HERE, "..", "..", "tests", "ref_torch.py")
FAILS = []


def check(ok, what):
    print(("  ok    " if ok else "  FAIL  ") + what)
    if not ok:
        FAILS.append(what)


# ----------------------------------------------------------------------------------------------
# configs and random weights

def llama_cfg(V, T, L, NH, NKV, C, Fd, tied):
    return {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": V,
            "max_position_embeddings": T, "num_hidden_layers": L, "num_attention_heads": NH,
            "num_key_value_heads": NKV, "hidden_size": C, "intermediate_size": Fd,
            "tie_word_embeddings": tied, "rope_theta": 10000.0, "rms_norm_eps": 9.9999997473787516e-06,
            "hidden_act": "silu"}


def gpt2_cfg(V, T, L, NH, C, Fd):
    return {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V, "n_positions": T,
            "n_layer": L, "n_head": NH, "n_embd": C, "n_inner": Fd, "layer_norm_epsilon": 1e-5,
            "activation_function": "gelu_new", "tie_word_embeddings": True}


def random_weights(cfg, rng):
    """Every parameter random (norm weights near 1, biases nonzero) with std large enough that
    the nonlinearities and attention pattern matter."""
    model = ref.build_model(cfg, None, torch.float64)
    out = {}
    for name, p in model.named_parameters():
        if p.ndim == 1 and ("norm" in name or ".ln_" in name or "ln_f" in name) and name.endswith("weight"):
            out[name] = 1.0 + 0.2 * rng.standard_normal(p.shape)
        else:
            out[name] = 0.4 * rng.standard_normal(p.shape) if p.ndim == 2 else 0.1 * rng.standard_normal(p.shape)
    return {k: v.astype(np.float32) for k, v in out.items()}  # manabi's checkpoints are F32


# ----------------------------------------------------------------------------------------------
# independent numpy forward (float64, loops)

def np_rmsnorm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def np_layernorm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def np_attention(q, k, v, nh, nkv):
    """q [T,NH,HS], k/v [T,NKV,HS]; loops over heads and query positions."""
    T, _, hs = q.shape
    y = np.zeros_like(q)
    for h in range(nh):
        g = h // (nh // nkv)  # kv head shared by this query head
        for t in range(T):
            s = np.array([q[t, h] @ k[u, g] for u in range(t + 1)]) / math.sqrt(hs)
            p = np.exp(s - s.max())
            p /= p.sum()
            y[t, h] = sum(p[u] * v[u, g] for u in range(t + 1))
    return y


def np_rope(x, theta):
    """x [T,H,HS]; pairs (i, i+HS/2) rotate by angle pos * theta^(-2i/HS)."""
    T, H, hs = x.shape
    half = hs // 2
    y = np.empty_like(x)
    for t in range(T):
        for i in range(half):
            a = t * theta ** (-2.0 * i / hs)
            c, s = math.cos(a), math.sin(a)
            x1, x2 = x[t, :, i], x[t, :, i + half]
            y[t, :, i] = x1 * c - x2 * s
            y[t, :, i + half] = x2 * c + x1 * s
    return y


def np_forward(cfg, W, tokens):
    """logits [T,V] for one sequence, float64."""
    W = {k: v.astype(np.float64) for k, v in W.items()}
    T = len(tokens)
    if cfg["model_type"] == "llama":
        NH, NKV, C = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["hidden_size"]
        HS, eps = C // NH, cfg["rms_norm_eps"]
        h = W["model.embed_tokens.weight"][tokens]
        for i in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            x = np_rmsnorm(h, W[p + "input_layernorm.weight"], eps)
            q = (x @ W[p + "self_attn.q_proj.weight"].T).reshape(T, NH, HS)
            k = (x @ W[p + "self_attn.k_proj.weight"].T).reshape(T, NKV, HS)
            v = (x @ W[p + "self_attn.v_proj.weight"].T).reshape(T, NKV, HS)
            q, k = np_rope(q, cfg["rope_theta"]), np_rope(k, cfg["rope_theta"])
            h = h + np_attention(q, k, v, NH, NKV).reshape(T, C) @ W[p + "self_attn.o_proj.weight"].T
            x = np_rmsnorm(h, W[p + "post_attention_layernorm.weight"], eps)
            g = x @ W[p + "mlp.gate_proj.weight"].T
            u = x @ W[p + "mlp.up_proj.weight"].T
            h = h + (g / (1 + np.exp(-g)) * u) @ W[p + "mlp.down_proj.weight"].T
        h = np_rmsnorm(h, W["model.norm.weight"], eps)
        head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
        return h @ head.T
    NH, C, eps = cfg["n_head"], cfg["n_embd"], cfg["layer_norm_epsilon"]
    HS = C // NH
    h = W["transformer.wte.weight"][tokens] + W["transformer.wpe.weight"][:T]
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        x = np_layernorm(h, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = x @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]  # Conv1D: x @ W + b
        q, k, v = (qkv[:, j * C:(j + 1) * C].reshape(T, NH, HS) for j in range(3))
        y = np_attention(q, k, v, NH, NH).reshape(T, C)
        h = h + y @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        x = np_layernorm(h, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        a = x @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"]
        a = 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3)))  # gelu_new
        h = h + a @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    h = np_layernorm(h, W["transformer.ln_f.weight"], W["transformer.ln_f.bias"], eps)
    return h @ W["transformer.wte.weight"].T


def np_loss(logits, targets):
    """mean over positions of logsumexp(logits) - logits[target]; logits [N,V]."""
    m = logits.max(-1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(-1, keepdims=True)))[:, 0]
    return float(np.mean(lse - logits[np.arange(len(targets)), targets]))


# ----------------------------------------------------------------------------------------------

def run_ref(tmp, model_path, batch_path, tag):
    out_path = os.path.join(tmp, f"out_{tag}.safetensors")
    r = subprocess.run([sys.executable, REF_SCRIPT, model_path, batch_path, out_path], capture_output=True, text=True)
    return r, out_path


def maxrel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def check_model(tmp, tag, cfg, B, T, rng):
    print(f"[{tag}]")
    W = random_weights(cfg, rng)
    V = cfg["vocab_size"]
    model_path = os.path.join(tmp, f"model_{tag}.safetensors")
    batch_path = os.path.join(tmp, f"batch_{tag}.safetensors")
    ref.save(model_path, W, {"manabi.config": json.dumps(cfg), "format": "pt"})
    inputs = rng.integers(0, V, size=(B, T)).astype(np.int32)
    targets = rng.integers(0, V, size=(B, T)).astype(np.int32)
    ref.save(batch_path, {"inputs": inputs, "targets": targets})

    r, out_path = run_ref(tmp, model_path, batch_path, tag)
    check(r.returncode == 0, f"ref_torch.py exits 0 {r.stderr.strip()}")
    if r.returncode:
        return
    out, meta = ref.load(out_path)
    model = ref.build_model(cfg, W, torch.float64)
    names = [n for n, _ in model.named_parameters()]
    check(out["logits"].dtype == np.float32 and out["logits"].shape == (B, T, V), "logits F32 [B,T,V]")
    check(out["loss"].dtype == np.float64 and out["loss"].shape == (1,), "loss F64 [1]")
    check(sorted(k for k in out if k.startswith("grad.")) == sorted("grad." + n for n in names)
          and all(out["grad." + n].dtype == np.float32 and out["grad." + n].shape == W[n].shape for n in names),
          f"one F32 grad per parameter ({len(names)}), HF-named and shaped")

    # 2. independent numpy forward
    np_logits = np.stack([np_forward(cfg, W, inputs[b].astype(np.int64)) for b in range(B)])
    np_l = np_loss(np_logits.reshape(B * T, V), targets.reshape(-1).astype(np.int64))
    e = maxrel(out["logits"].astype(np.float64), np_logits)
    check(e < 1e-6, f"logits match the numpy loop forward (max rel err {e:.2e})")
    e = abs(out["loss"][0] - np_l) / abs(np_l)
    check(e < 1e-12, f"loss matches the numpy loop forward (loss {out['loss'][0]:.10f}, rel err {e:.2e})")

    # 3a. central finite differences on sampled elements of every parameter (float64 loss)
    idx_t = torch.from_numpy(inputs.astype(np.int64))
    tgt_t = torch.from_numpy(targets.astype(np.int64))
    params = dict(model.named_parameters())

    def loss_now():
        with torch.no_grad():
            return ref.loss_fn(model(idx_t), tgt_t).item()

    worst, nchecked, h = 0.0, 0, 1e-5
    for n in names:
        p, g = params[n], out["grad." + n]
        flat = p.data.view(-1)
        for j in rng.choice(flat.numel(), size=min(3, flat.numel()), replace=False):
            old = flat[j].item()
            flat[j] = old + h
            lp = loss_now()
            flat[j] = old - h
            lm = loss_now()
            flat[j] = old
            fd = (lp - lm) / (2 * h)
            ga = float(g.reshape(-1)[j])
            worst = max(worst, abs(fd - ga) / (1e-6 + abs(fd)))
            nchecked += 1
    check(worst < 1e-4, f"grads match central differences on {nchecked} elements (worst rel err {worst:.2e})")

    # 3b. torch.autograd.gradcheck on a few whole parameters (the loss as a function of it)
    picks = [n for n in names if n in ("model.norm.weight", "model.layers.1.self_attn.k_proj.weight", "lm_head.weight",
                                       "transformer.ln_f.bias", "transformer.h.1.attn.c_attn.bias", "transformer.wpe.weight")]
    for n in picks:
        base = params[n].detach().clone()

        def f(x, n=n):  # the loss as a function of parameter n alone (others fixed)
            return ref.loss_fn(functional_call(model, {n: x}, (idx_t,)), tgt_t)

        ok = torch.autograd.gradcheck(f, (base.clone().requires_grad_(True),), eps=1e-6, atol=1e-6, rtol=1e-4,
                                      raise_exception=False)
        check(ok, f"torch.autograd.gradcheck on {n} {list(base.shape)}")

    # 4. float32 run of the same model agrees with float64
    m32 = ref.build_model(cfg, W, torch.float32)
    l32 = ref.loss_fn(m32(idx_t), tgt_t)
    l32.backward()
    e_logit = maxrel(m32(idx_t).detach().double().numpy(), out["logits"].astype(np.float64))
    e_loss = abs(l32.item() - out["loss"][0]) / abs(out["loss"][0])
    e_grad = max(maxrel(p.grad.double().numpy(), out["grad." + n].astype(np.float64)) for n, p in m32.named_parameters())
    check(e_logit < 1e-4 and e_loss < 1e-5 and e_grad < 1e-3,
          f"float32 agrees with float64 (logits {e_logit:.1e}, loss {e_loss:.1e}, worst grad {e_grad:.1e})")


def check_io_and_errors(tmp, rng):
    print("[safetensors and errors]")
    arrs = {"f64": rng.standard_normal((2, 3)), "f32": rng.standard_normal(5).astype(np.float32),
            "i32": np.arange(-3, 4, dtype=np.int32), "i64": np.arange(6, dtype=np.int64).reshape(2, 3),
            "scalar": np.array(2.5, dtype=np.float32), "empty": np.zeros((0, 4), np.float32)}
    p = os.path.join(tmp, "rt.safetensors")
    ref.save(p, arrs, {"k": "v"})
    got, meta = ref.load(p)
    with open(p, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
    check(meta == {"k": "v"} and n % 8 == 0 and all(got[k].dtype == arrs[k].dtype and np.array_equal(got[k], arrs[k]) for k in arrs),
          "safetensors round trip (F64/F32/I32/I64, 0-d, empty), header 8-byte aligned")

    cfg = llama_cfg(11, 8, 1, 2, 1, 8, 16, False)
    W = random_weights(cfg, rng)
    good_batch = os.path.join(tmp, "eb.safetensors")
    ref.save(good_batch, {"inputs": np.zeros((1, 4), np.int32), "targets": np.ones((1, 4), np.int32)})
    cases = []
    w = dict(W)
    del w["lm_head.weight"]
    cases.append(("missing tensor", w, cfg, None, "lm_head.weight"))
    w = dict(W)
    w["model.norm.weight"] = np.ones(7, np.float32)
    cases.append(("wrong shape", w, cfg, None, "model.norm.weight"))
    cases.append(("no config", W, None, None, "manabi.config"))
    cases.append(("bad token", W, cfg, {"inputs": np.full((1, 4), 11, np.int32), "targets": np.zeros((1, 4), np.int32)}, "token ids"))
    cases.append(("too long", W, cfg, {"inputs": np.zeros((1, 9), np.int32), "targets": np.zeros((1, 9), np.int32)}, "context"))
    for what, w, c, batch, needle in cases:
        mp = os.path.join(tmp, "em.safetensors")
        ref.save(mp, w, {"manabi.config": json.dumps(c)} if c else {})
        bp = good_batch
        if batch:
            bp = os.path.join(tmp, "eb2.safetensors")
            ref.save(bp, batch)
        r, _ = run_ref(tmp, mp, bp, "err")
        check(r.returncode != 0 and needle in r.stderr, f"{what}: exit {r.returncode}, '{r.stderr.strip()}'")


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(1234)
    with tempfile.TemporaryDirectory(prefix="manabi-selfcheck-") as tmp:
        check_io_and_errors(tmp, rng)
        # B=2, T=7 < context: positions 0..T-1 with T below the model's context
        check_model(tmp, "llama MHA tied", llama_cfg(29, 8, 2, 4, 4, 16, 48, True), 2, 7, rng)
        check_model(tmp, "llama GQA NKV=2<NH=4 untied", llama_cfg(31, 8, 2, 4, 2, 16, 40, False), 2, 7, rng)
        check_model(tmp, "llama MQA NKV=1 HS=8 untied", llama_cfg(23, 6, 1, 3, 1, 24, 64, False), 1, 6, rng)
        check_model(tmp, "gpt2", gpt2_cfg(27, 8, 2, 4, 16, 64), 2, 7, rng)
    if FAILS:
        print(f"selfcheck: {len(FAILS)} FAILED")
        sys.exit(1)
    print("selfcheck: all passed")


if __name__ == "__main__":
    main()
