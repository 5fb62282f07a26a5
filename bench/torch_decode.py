#!/usr/bin/python3
"""PyTorch generation benchmark: the baseline manabi's own (build/bench_decode) is compared against.

  /usr/bin/python3 bench/torch_decode.py [--ckpt PATH] [--new-tokens N] [--reps R] [--threads 2]
                   [--json] [--env best|inherit] [--cache prealloc|concat] [--linear mv|module]

Reads the checkpoint and prompt that build/bench_decode wrote (PATH and PATH.prompt.json; the
default PATH is data/bench/decode/llama-tiny.safetensors) with tools/torch_ref/manabi_ref.py
(the Hugging Face Llama / GPT-2 definitions, float32), then times single-stream greedy
generation exactly as manabi's benchmark counts it: the prefill of the prompt (logits of its
last position only), the argmax, then N - 1 decode steps of one token each (forward + argmax),
under torch.inference_mode().  One warm-up run, then R timed runs, each with a fresh cache;
medians of prefill and decode tokens/s.

KV cache: per layer, keys and values [1, NKV, T, HS] preallocated for the whole context and
written in place (--cache prealloc, the default), or grown by torch.cat each step as Hugging
Face's DynamicCache does (--cache concat).  Products of a decode step's single row: torch.mv,
i.e. sgemv (--linear mv, the default), or through the nn.Linear / Conv1D modules as Hugging
Face runs them (--linear module), which OpenBLAS 0.3.21 does as an sgemm of one row, several
times slower.  Measured on the 2-core dev machine (llama, P = N = 128), decode tokens/s:
                     tiny   small
  mv, prealloc        761    141      (the defaults: the fastest)
  mv, concat          716    136
  module, prealloc    562     73
  module, concat      527   ~45 (noisy)
The model is the reference's own modules (norms, embeddings, q, k, v as three products, as
Hugging Face has them); only the attention over the cache and the choice of product are
written here.

Before timing, the cached forward is checked against the reference's full forward (the logits
of the prompt's last position and of one decode step); the largest difference is reported.

Environment: the same as bench/torch_train.py (its code is used here): --env best re-executes
with the OpenMP build of OpenBLAS, OPENBLAS_CORETYPE for this CPU and GLIBC_TUNABLES that keep
buffers in the heap; torch.set_num_threads(--threads); denormals flushed; the BLAS it loaded is
printed.

Memory: peak resident memory from the model being in place on (the reference loader's
temporary copies of the file are dropped, malloc_trim gives them back, and the peak is reset
through /proc/self/clear_refs),
as manabi's benchmark counts it from loading on.

Output: a human-readable summary, or with --json a single line with the fields of
build/bench_decode --json: prefill_tps, decode_tps (medians), their runs, tokens (the first 32
greedy tokens), resident_mib, peak_rss_mib, blas, env, ...
"""

import argparse
import ctypes
import gc
import json
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "torch_ref"))
sys.path.insert(0, HERE)

import torch_train  # noqa: E402  (the environment code: best_env, blas_report; imports no torch)

torch = None
F = None
ref = None

SHOW_TOKENS = 32
_REEXEC_MARK = "MANABI_TORCH_DECODE_ENV"


def maybe_reexec(mode):
    """--env best: start again with torch_train.best_env() added (the loader and glibc read
    LD_LIBRARY_PATH and GLIBC_TUNABLES only at process start)."""
    if mode != "best" or os.environ.get(_REEXEC_MARK):
        return
    env = dict(os.environ, **torch_train.best_env())
    env[_REEXEC_MARK] = "1"
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)


def resident_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576.0


def reset_peak_resident():
    """The peak resident memory starts again from what is resident now (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class KVCache:
    """Keys and values of every layer, [1, NKV, t, HS] each, t = positions so far."""

    def __init__(self, c, mode):
        self.mode, self.pos = mode, 0
        shape = (1, c["NKV"], c["T"], c["HS"])
        if mode == "prealloc":
            self.k = [torch.empty(shape) for _ in range(c["L"])]
            self.v = [torch.empty(shape) for _ in range(c["L"])]
        else:
            self.k = [None] * c["L"]
            self.v = [None] * c["L"]

    def append(self, l, k, v):
        """Adds k, v [1, NKV, n, HS] at positions pos .. pos + n - 1 of layer l; returns the
        keys and values of positions 0 .. pos + n - 1."""
        p, n = self.pos, k.shape[2]
        if self.mode == "prealloc":
            self.k[l][:, :, p:p + n] = k
            self.v[l][:, :, p:p + n] = v
            return self.k[l][:, :, :p + n], self.v[l][:, :, :p + n]
        self.k[l] = k if self.k[l] is None else torch.cat((self.k[l], k), dim=2)
        self.v[l] = v if self.v[l] is None else torch.cat((self.v[l], v), dim=2)
        return self.k[l], self.v[l]


def attend(q, k, v, p):
    """q [1,NH,n,HS] at positions p .. p+n-1 over k/v [1,NKV,p+n,HS]: softmax(q k^T / sqrt(HS)) v
    with the causal mask (query i sees keys 0 .. p+i) -> [1,NH,n,HS]."""
    nh, nkv, n, hs = q.shape[1], k.shape[1], q.shape[2], q.shape[3]
    if nkv != nh:
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
    att = (q @ k.transpose(-2, -1)) * (1.0 / hs ** 0.5)
    if n > 1:
        mask = torch.ones(n, k.shape[2], dtype=torch.bool).triu(p + 1)
        att = att.masked_fill(mask, float("-inf"))
    return att.softmax(dim=-1) @ v


def make_linear(mode):
    """lin(module, x [1, n, IC]) -> [1, n, OC] for an nn.Linear (weight (OC, IC)) or the
    reference's Conv1D (weight (IC, OC), bias).  "module": the module itself, as Hugging Face
    runs it (a matrix product of n rows: sgemm, also for n = 1); "mv": one row (a decode step)
    as a matrix-vector product (sgemv), which this OpenBLAS runs several times faster than
    sgemm with one row."""
    if mode == "module":
        return lambda mod, x: mod(x)

    def lin(mod, x):
        if x.shape[1] != 1:
            return mod(x)
        v = x.reshape(-1)
        if isinstance(mod, torch.nn.Linear):
            y = torch.mv(mod.weight, v) if mod.bias is None else torch.addmv(mod.bias, mod.weight, v)
        else:  # Conv1D: y = x W + b
            y = torch.addmv(mod.bias, mod.weight.t(), v)
        return y.view(1, 1, -1)
    return lin


def make_forward(model, c, linear):
    """forward(idx [1, n], cache) -> logits [1, V] of the last position, appending to cache."""
    C, NH, NKV, HS = c["C"], c["NH"], c["NKV"], c["HS"]
    lin = make_linear(linear)
    if linear == "mv":
        def logits_of(h, w):  # h [1, C], w [V, C]
            return torch.mv(w, h[0]).view(1, -1)
    else:
        def logits_of(h, w):
            return h @ w.t()
    if c["family"] == "llama":
        cos_all, sin_all = ref.rope_cos_sin(c["T"], HS, c["theta"], torch.float32)
        inner = model.model
        head = inner.embed_tokens.weight if c["tied"] else model.lm_head.weight

        def forward(idx, cache):
            p, n = cache.pos, idx.shape[1]
            cos, sin = cos_all[p:p + n], sin_all[p:p + n]
            h = inner.embed_tokens(idx)
            for l, layer in enumerate(inner.layers):
                a, mlp = layer.self_attn, layer.mlp
                x = layer.input_layernorm(h)
                q = lin(a.q_proj, x).view(1, n, NH, HS).transpose(1, 2)
                k = lin(a.k_proj, x).view(1, n, NKV, HS).transpose(1, 2)
                v = lin(a.v_proj, x).view(1, n, NKV, HS).transpose(1, 2)
                q = q * cos + ref.rotate_half(q) * sin
                k = k * cos + ref.rotate_half(k) * sin
                K, V = cache.append(l, k, v)
                y = attend(q, K, V, p).transpose(1, 2).reshape(1, n, C)
                h = h + lin(a.o_proj, y)
                x = layer.post_attention_layernorm(h)
                h = h + lin(mlp.down_proj, F.silu(lin(mlp.gate_proj, x)) * lin(mlp.up_proj, x))
            cache.pos += n
            return logits_of(inner.norm(h[:, -1]), head)
        return forward

    tr = model.transformer

    def forward(idx, cache):
        p, n = cache.pos, idx.shape[1]
        h = tr.wte(idx) + tr.wpe(torch.arange(p, p + n))
        for l, block in enumerate(tr.h):
            q, k, v = lin(block.attn.c_attn, block.ln_1(h)).split(C, dim=2)
            q, k, v = (t.reshape(1, n, NH, HS).transpose(1, 2) for t in (q, k, v))
            K, V = cache.append(l, k, v)
            y = attend(q, K, V, p).transpose(1, 2).reshape(1, n, C)
            h = h + lin(block.attn.c_proj, y)
            x = block.ln_2(h)
            h = h + lin(block.mlp.c_proj, F.gelu(lin(block.mlp.c_fc, x), approximate="tanh"))
        cache.pos += n
        return logits_of(tr.ln_f(h[:, -1]), tr.wte.weight)
    return forward


def generate(forward, c, prompt, N, mode):
    """Greedy generation of N tokens; returns (tokens, prefill seconds, decode seconds)."""
    cache = KVCache(c, mode)
    t0 = time.perf_counter()
    logits = forward(prompt, cache)
    t1 = time.perf_counter()
    tok = int(logits.argmax(dim=-1))
    out = [tok]
    t2 = time.perf_counter()
    for _ in range(N - 1):
        logits = forward(torch.tensor([[tok]]), cache)
        tok = int(logits.argmax(dim=-1))
        out.append(tok)
    t3 = time.perf_counter()
    return out, t1 - t0, t3 - t2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", default="data/bench/decode/llama-tiny.safetensors",
                    help="checkpoint written by build/bench_decode (its prompt: PATH.prompt.json)")
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--env", choices=["best", "inherit"], default="best",
                    help="best: re-run in the fastest environment (default); inherit: use the caller's as is")
    ap.add_argument("--cache", choices=["prealloc", "concat"], default="prealloc",
                    help="KV cache preallocated and written in place (default), or grown by torch.cat")
    ap.add_argument("--linear", choices=["mv", "module"], default="mv",
                    help="decode steps' products as torch.mv (default: faster) or through the modules, as HF does")
    a = ap.parse_args()
    if a.new_tokens < 2 or a.reps < 1 or a.threads < 1:
        ap.error("--new-tokens >= 2, --reps >= 1, --threads >= 1")
    maybe_reexec(a.env)

    global torch, F, ref
    import torch
    import torch.nn.functional as F
    import manabi_ref as ref
    torch_train.torch = torch  # blas_report reads torch through its module's global

    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)

    with open(a.ckpt + ".prompt.json") as f:
        pj = json.load(f)
    tensors, meta = ref.load(a.ckpt)
    c = ref.parse_config(meta["manabi.config"])
    model = ref.build_model(meta["manabi.config"], tensors, torch.float32)
    model.eval()
    del tensors
    gc.collect()
    try:  # hand the loader's freed copies back (GLIBC_TUNABLES keeps freed heap memory otherwise)
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    peak_reset = reset_peak_resident()
    P, N = len(pj["prompt"]), a.new_tokens
    if P < 1 or P + N - 1 > c["T"]:
        sys.exit(f"torch_decode.py: a prompt of {P} and {N} new tokens do not fit the context of {c['T']}")
    prompt = torch.tensor([pj["prompt"]], dtype=torch.int64)
    forward = make_forward(model, c, a.linear)

    with torch.inference_mode():
        # The cached forward against the reference's full one: the prompt's last logits, and
        # one decode step.
        cache = KVCache(c, a.cache)
        got = forward(prompt, cache)
        tok = int(got.argmax(dim=-1))
        step = forward(torch.tensor([[tok]]), cache)
        full = model(torch.cat((prompt, torch.tensor([[tok]])), dim=1))[0]
        check = max(float((got[0] - full[-2]).abs().max()), float((step[0] - full[-1]).abs().max()))
        del cache, full

        pre, dec, first = [], [], None
        deterministic = True
        for r in range(a.reps + 1):  # run 0: the warm-up
            toks, tp, td = generate(forward, c, prompt, N, a.cache)
            if r == 0:
                first = toks[:SHOW_TOKENS]
                continue
            deterministic &= toks[:SHOW_TOKENS] == first
            pre.append(P / tp)
            dec.append((N - 1) / td)

    resident = resident_mib()
    rss = max(resident, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)  # KiB on Linux
    blas, detail = torch_train.blas_report()
    res = {"impl": "pytorch", "family": c["family"], "config": pj.get("config", "?"), "dtype": "f32",
           "threads": a.threads, "prompt_tokens": P, "new_tokens": N, "reps": a.reps,
           "prefill_tps": round(statistics.median(pre), 1), "prefill_tps_runs": [round(x, 1) for x in pre],
           "decode_tps": round(statistics.median(dec), 1), "decode_tps_runs": [round(x, 1) for x in dec],
           "prefill_tokens": P, "decode_tokens": N - 1, "tokens": first, "deterministic": deterministic,
           "resident_mib": round(resident, 1), "peak_rss_mib": round(rss, 1), "peak_from_load": peak_reset,
           "cache": a.cache, "linear": a.linear, "check_max_abs": check, "blas": blas,
           "env": {k: os.environ[k] for k in torch_train.ENV_KEYS if k in os.environ}}
    if "core Prescott" in blas:
        print("torch_decode.py: WARNING: OpenBLAS runs its generic SSE3 (Prescott) kernels on this CPU; "
              "set OPENBLAS_CORETYPE (SKYLAKEX for AVX-512) or use --env best for PyTorch's real speed",
              file=sys.stderr)
    if check > 1e-3:
        print(f"torch_decode.py: WARNING: the cached forward differs from the full one by {check:.3g}",
              file=sys.stderr)
    if a.json:
        print(json.dumps(res))
        return
    print(f"pytorch {torch.__version__}  {c['family']}/{res['config']}: V={c['V']} T={c['T']} L={c['L']} "
          f"NH={c['NH']} C={c['C']}, P={P} N={N}, threads={a.threads}, cache={a.cache}, "
          f"linear={a.linear}")
    print(f"  prefill {res['prefill_tps']:.0f} tokens/s | decode {res['decode_tps']:.1f} tokens/s "
          f"(medians of {a.reps} runs after a warm-up)")
    print(f"  resident {res['resident_mib']:.0f} MiB, peak {rss:.0f} MiB; cached vs full forward: {check:.2g}")
    print(f"  greedy tokens{'' if deterministic else ' (NOT the same in every run)'}: {' '.join(map(str, first))}")
    print(f"  BLAS: {blas}")
    for l in detail:
        print("    " + l)
    print(f"  env ({a.env}): {res['env']}")


if __name__ == "__main__":
    main()
