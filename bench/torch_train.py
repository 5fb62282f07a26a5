#!/usr/bin/python3
"""PyTorch training-step benchmark: the baseline manabi's own training step is compared against.

  /usr/bin/python3 bench/torch_train.py --family llama|gpt2 --config tiny|small
                   [--steps N] [--warmup K] [--threads 2] [--json]
                   [--env best|inherit] [--foreach on|off] [--jit none|trace] [--seed S]

One step = zero_grad + forward + loss + backward + clip_grad_norm_(1.0) + AdamW.step, float32,
on a fresh random token batch, with the model code of tools/torch_ref/manabi_ref.py (the
Hugging Face Llama / GPT-2 definitions) initialised N(0, 0.02).  AdamW: lr 3e-4, betas
(0.9, 0.95), weight decay 0.1 on every parameter, foreach (multi-tensor) implementation.

Which BLAS: Debian's torch 1.13 is built with BLAS_INFO=generic, so every float32 matmul
(mm/addmm/bmm) is an sgemm call into whatever libblas.so.3 the dynamic loader finds; oneDNN
(libdnnl) is linked but used here only for convolutions and bf16.  The system alternative is
OpenBLAS 0.3.21 (pthread build), which does not recognise this dev machine's CPU (Xeon family 6
model 207, AVX-512) and falls back to its SSE3 "Prescott" kernels: ~5x slower sgemm.

--env best (the default) re-executes the script with the fastest environment measured on the
2-core dev machine (the system alternatives are not touched):
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp  OpenBLAS on libgomp: one shared
      thread pool with torch's OpenMP (the pthread build's own threads fight torch's);
  OPENBLAS_CORETYPE=SKYLAKEX (AVX-512; HASWELL on AVX2-only CPUs; kept if already set);
  GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295  keeps the
      large activation buffers in the heap instead of a fresh mmap (and page faults) per use.
Measured llama tiny step: 1770 ms system default -> 420 ms with all three; small 12.5 s -> 2.7 s.
--env inherit runs in the caller's environment as it is (for measuring the alternatives).

Other settings: torch.set_num_threads(--threads), set_flush_denormal(True), anomaly detection
off, zero_grad(set_to_none=True).  OMP_WAIT_POLICY is left at libgomp's default (spin), the
fastest on an idle machine; on a machine busy with other work PASSIVE is far more robust.
--jit trace was not faster: this build has no LLVM, so TorchScript's CPU fuser cannot run.

Output: a human-readable summary, or with --json a single line
  {"impl":"pytorch","family":..,"config":..,"threads":..,"step_ms_median":..,"step_ms":[..],
   "tokens_per_s":..,"peak_rss_mib":..,"blas":"..","env":{..}}
"""

import argparse
import ctypes
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "torch_ref"))

# torch and manabi_ref are imported in main(), after the --env best re-exec: the dynamic loader
# and glibc read LD_LIBRARY_PATH / GLIBC_TUNABLES only at process start.
torch = None
ref = None

OPENBLAS_OPENMP = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
ENV_KEYS = ("LD_LIBRARY_PATH", "OPENBLAS_CORETYPE", "GLIBC_TUNABLES", "OMP_NUM_THREADS", "OMP_WAIT_POLICY",
            "OPENBLAS_NUM_THREADS", "OPENBLAS_L2_SIZE")
_REEXEC_MARK = "MANABI_TORCH_TRAIN_ENV"


def best_env():
    """The environment additions --env best applies (see the module docstring)."""
    env = {}
    if os.path.exists(os.path.join(OPENBLAS_OPENMP, "libblas.so.3")):
        old = os.environ.get("LD_LIBRARY_PATH")
        env["LD_LIBRARY_PATH"] = OPENBLAS_OPENMP + (":" + old if old else "")
    if "OPENBLAS_CORETYPE" not in os.environ:
        try:
            with open("/proc/cpuinfo") as f:
                flags = next((l.split(":", 1)[1].split() for l in f if l.startswith("flags")), [])
        except OSError:
            flags = []
        if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= set(flags):
            env["OPENBLAS_CORETYPE"] = "SKYLAKEX"
        elif "avx2" in flags:
            env["OPENBLAS_CORETYPE"] = "HASWELL"
    if "GLIBC_TUNABLES" not in os.environ:
        env["GLIBC_TUNABLES"] = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295"
    return env


def maybe_reexec(mode):
    if mode != "best" or os.environ.get(_REEXEC_MARK):
        return
    env = dict(os.environ, **best_env())
    env[_REEXEC_MARK] = "1"
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)


# The two benchmark shapes.  d_ff: GPT-2 4C; Llama round_up(8C/3, 64).  NKV = NH, tied
# embeddings, rope_theta 10000, norm eps 1e-5.
CONFIGS = {
    "tiny": dict(V=8192, T=256, L=4, NH=4, C=256, B=8),
    "small": dict(V=32768, T=512, L=8, NH=8, C=512, B=4),
}


def hf_config(family, s):
    """The Hugging Face config.json dict manabi writes for these sizes (src/model/config.c)."""
    C = s["C"]
    if family == "llama":
        return {"model_type": "llama", "vocab_size": s["V"], "max_position_embeddings": s["T"],
                "num_hidden_layers": s["L"], "num_attention_heads": s["NH"], "num_key_value_heads": s["NH"],
                "hidden_size": C, "intermediate_size": (8 * C // 3 + 63) // 64 * 64,
                "tie_word_embeddings": True, "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "hidden_act": "silu"}
    return {"model_type": "gpt2", "vocab_size": s["V"], "n_positions": s["T"], "n_layer": s["L"],
            "n_head": s["NH"], "n_embd": C, "n_inner": 4 * C, "layer_norm_epsilon": 1e-5,
            "activation_function": "gelu_new", "tie_word_embeddings": True}


def blas_report():
    """(one-line summary, detail lines): the build's BLAS settings and the BLAS libraries
    actually mapped into this process, with OpenBLAS's own description of itself."""
    show = torch.__config__.show()
    detail = [l.strip() for l in show.splitlines() if any(k in l for k in ("BLAS", "LAPACK", "MKL", "OpenMP"))
              and not l.strip().startswith("- Build settings")]
    for item in show.replace(",", "\n").splitlines():  # BLAS_INFO=..., LAPACK_INFO=..., USE_MKLDNN=...
        if any(k in item for k in ("BLAS_INFO", "LAPACK_INFO", "USE_MKLDNN", "USE_OPENMP")):
            detail.append(item.strip().replace("- Build settings: ", ""))
    with open("/proc/self/maps") as f:
        libs = sorted({l.split()[-1] for l in f if any(k in l for k in ("blas", "dnnl", "mkl", "gomp", "iomp"))})
    detail += ["loaded: " + p for p in libs]
    summary = "unknown"
    for p in libs:
        if "libblas.so" in p or "libopenblas" in p:
            summary = p
            try:
                lib = ctypes.CDLL(p)
                lib.openblas_get_config.restype = ctypes.c_char_p
                lib.openblas_get_corename.restype = ctypes.c_char_p
                cfg = lib.openblas_get_config().decode()
                core = lib.openblas_get_corename().decode()
                summary = f"{p} ({cfg}; core {core}; {lib.openblas_get_num_threads()} threads)"
            except (OSError, AttributeError):
                pass
            break
    return summary, detail


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", choices=["llama", "gpt2"], required=True)
    ap.add_argument("--config", choices=list(CONFIGS), required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--env", choices=["best", "inherit"], default="best",
                    help="best: re-run in the fastest environment (default); inherit: use the caller's as is")
    ap.add_argument("--foreach", choices=["on", "off"], default="on",
                    help="AdamW multi-tensor (foreach) implementation (default on: faster)")
    ap.add_argument("--jit", choices=["none", "trace"], default="none",
                    help="trace the model with torch.jit (default none: not faster; no CPU fuser in this build)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.steps < 1 or a.warmup < 0 or a.threads < 1:
        ap.error("--steps >= 1, --warmup >= 0, --threads >= 1")
    maybe_reexec(a.env)

    global torch, ref
    import torch
    import manabi_ref as ref

    # PyTorch's best CPU settings: intra-op threads, denormals flushed, no anomaly detection.
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    torch.autograd.set_detect_anomaly(False)
    torch.manual_seed(a.seed)

    s = CONFIGS[a.config]
    B, T, V = s["B"], s["T"], s["V"]
    model = ref.build_model(hf_config(a.family, s), None, torch.float32)  # N(0, 0.02) init
    model.train()
    params = [p for p in model.parameters()]
    opt = torch.optim.AdamW(params, lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1, foreach=(a.foreach == "on"))

    fwd = model
    if a.jit == "trace":
        # TorchScript trace.  Its CPU fuser (NNC) would need LLVM, which Debian's torch 1.13 is
        # built without ("LLVM Backend not found"), so this only swaps the Python dispatch for
        # the TorchScript interpreter.
        fwd = torch.jit.trace(model, torch.randint(0, V, (B, T)), check_trace=False)

    def step(x, y):
        opt.zero_grad(set_to_none=True)  # frees the grads instead of memset-ing them
        loss = ref.loss_fn(fwd(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss

    times, losses = [], []
    for i in range(a.warmup + a.steps):
        x = torch.randint(0, V, (B, T))  # a fresh random batch, made outside the timed region
        y = torch.randint(0, V, (B, T))
        t0 = time.perf_counter()
        loss = step(x, y)
        t1 = time.perf_counter()
        losses.append(loss.item())
        if i >= a.warmup:
            times.append((t1 - t0) * 1e3)

    med = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    blas, detail = blas_report()
    res = {"impl": "pytorch", "family": a.family, "config": a.config, "threads": a.threads,
           "step_ms_median": round(med, 3), "step_ms": [round(t, 3) for t in times],
           "tokens_per_s": round(B * T / (med / 1e3), 1), "peak_rss_mib": round(rss, 1), "blas": blas,
           "env": {k: os.environ[k] for k in ENV_KEYS if k in os.environ}}
    if "core Prescott" in blas:
        print("torch_train.py: WARNING: OpenBLAS runs its generic SSE3 (Prescott) kernels on this CPU; "
              "set OPENBLAS_CORETYPE (SKYLAKEX for AVX-512) or use --env best for PyTorch's real speed",
              file=sys.stderr)
    if a.json:
        print(json.dumps(res))
        return
    nparam = sum(p.numel() for p in params)
    print(f"pytorch {torch.__version__}  {a.family}/{a.config}: V={V} T={T} L={s['L']} NH={s['NH']} C={s['C']} "
          f"B={B}, {nparam / 1e6:.2f}M params, threads={a.threads}, AdamW foreach={a.foreach}, jit={a.jit}")
    print(f"  step ms: median {med:.2f}  min {min(times):.2f}  max {max(times):.2f}  over {len(times)} steps "
          f"(after {a.warmup} warm-up)")
    print(f"  tokens/s: {res['tokens_per_s']:.0f}   peak RSS: {rss:.0f} MiB   loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    print(f"  BLAS: {blas}")
    for l in detail:
        print("    " + l)
    print(f"  env ({a.env}): {res['env']}")


if __name__ == "__main__":
    main()
