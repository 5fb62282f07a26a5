#!/usr/bin/python3
"""ref_torch.py MODEL.safetensors BATCH.safetensors OUT.safetensors

The PyTorch oracle for manabi's forward and backward passes.  Reads

  MODEL  the model's tensors under Hugging Face names; __metadata__["manabi.config"] holds the
         HF config.json text (model_type llama or gpt2);
  BATCH  tensors `inputs` and `targets`, I32 (or I64) [B,T];

computes everything in float64 and writes OUT with

  logits           F32 [B,T,V]
  loss             F64 [1]        mean cross-entropy over all B*T positions
  grad.<hf name>   F32, shaped like the parameter: d loss / d parameter

Exits 1 with a one-line message on stderr on any error.  Needs Debian's /usr/bin/python3
(torch 1.13); the pyenv python3 on PATH has no torch.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "torch_ref"))


def main(argv):
    if len(argv) != 4:
        raise SystemExit("usage: ref_torch.py MODEL.safetensors BATCH.safetensors OUT.safetensors")
    model_path, batch_path, out_path = argv[1:]

    try:
        import numpy as np
        import torch
    except ImportError as ex:
        raise SystemExit(f"ref_torch.py: error: {ex} under {sys.executable}; run it with /usr/bin/python3 "
                         "(Debian's python3-torch)")
    import manabi_ref as ref

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    tensors, meta = ref.load(model_path)
    if "manabi.config" not in meta:
        raise ref.RefError(f"{model_path}: __metadata__ has no 'manabi.config'")
    model = ref.build_model(meta["manabi.config"], tensors, torch.float64)
    cfg = model.cfg

    batch, _ = ref.load(batch_path)
    for key in ("inputs", "targets"):
        if key not in batch:
            raise ref.RefError(f"{batch_path}: tensor '{key}' is missing")
        a = batch[key]
        if a.dtype not in (np.int32, np.int64) or a.ndim != 2:
            raise ref.RefError(f"{batch_path}: '{key}' must be I32 or I64 [B,T], got {a.dtype} {list(a.shape)}")
        if a.size and (a.min() < 0 or a.max() >= cfg["V"]):
            raise ref.RefError(f"{batch_path}: '{key}' holds token ids outside [0, {cfg['V']})")
    inputs = torch.from_numpy(batch["inputs"].astype(np.int64))
    targets = torch.from_numpy(batch["targets"].astype(np.int64))
    if inputs.shape != targets.shape:
        raise ref.RefError(f"{batch_path}: inputs {list(inputs.shape)} and targets {list(targets.shape)} differ")
    B, T = inputs.shape
    if B < 1 or T < 1 or T > cfg["T"]:
        raise ref.RefError(f"{batch_path}: batch [{B},{T}] must have B >= 1 and 1 <= T <= context {cfg['T']}")

    logits = model(inputs)
    loss = ref.loss_fn(logits, targets)
    loss.backward()

    out = {
        "logits": logits.detach().to(torch.float32).numpy(),
        "loss": np.array([loss.item()], dtype=np.float64),
    }
    for name, p in model.named_parameters():
        out["grad." + name] = p.grad.to(torch.float32).numpy()
    tmp = out_path + ".tmp"
    ref.save(tmp, out, {"manabi.ref": "pytorch " + torch.__version__ + " float64"})
    os.replace(tmp, out_path)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except SystemExit:
        raise
    except Exception as ex:  # any failure: one clear line, non-zero exit
        name = type(ex).__name__
        print(f"ref_torch.py: {'error' if name == 'RefError' else name}: {ex}", file=sys.stderr)
        sys.exit(1)
