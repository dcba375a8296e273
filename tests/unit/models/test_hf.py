"""The transformers backend, offline, on the real loading code.

A tiny randomly initialised BERT and its tokenizer are saved to a temp folder and
loaded by path, as a user's fine-tuned model would be. Needs the ``transformers``
extra (``make test`` installs it).
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from canyu.schema import INTENT_LABELS, SENTIMENT_LABELS  # noqa: E402
from models.hf import ModelUnavailable, TransformersClassifier, TransformersOptions, sentiment_label  # noqa: E402
from models.threads import VARIABLES  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "camera", "is", "great", "battery", "bad", "a", "bug",
         "电", "池", "差", "카", "메", "라", "좋", "아", "요", "##s", "."]  # fmt: skip


def tiny_model(folder, labels):
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    # transformers 5 ignores BertTokenizer(vocab_file=...): load the tokenizer from the folder.
    # Lower-casing strips accents by default, which breaks Hangul into jamo: keep them.
    tokenizer = BertTokenizer.from_pretrained(str(folder), do_lower_case=True, strip_accents=False)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    BertForSequenceClassification(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return {
        "sentiment": tiny_model(root / "sentiment", ["Negative", "Neutral", "Positive"]),
        "nli": tiny_model(root / "nli", ["contradiction", "neutral", "entailment"]),
    }


@pytest.fixture(scope="module")
def clf(folders):
    return TransformersClassifier(
        TransformersOptions(sentiment_model=folders["sentiment"], zero_shot_model=folders["nli"])
    )


def test_int8_quantisation_and_no_zero_shot_model(folders):
    clf = TransformersClassifier(
        TransformersOptions(sentiment_model=folders["sentiment"], zero_shot_model=None, quantize=True)
    )
    (out,) = clf.classify(["the camera is great"])
    assert out.sentiment.label in SENTIMENT_LABELS
    assert (out.intent.label, out.topics) == ("other", [])


def test_a_model_saved_to_a_folder_loads_and_classifies(clf):
    texts = ["the camera is great", "电池差", "카메라 좋아요", "", "a bug " * 5000]
    out = clf.classify(texts)
    assert len(out) == len(texts)
    for c in out:
        assert set(c.sentiment.scores) == set(SENTIMENT_LABELS) and c.sentiment.label in SENTIMENT_LABELS
        assert sum(c.sentiment.scores.values()) == pytest.approx(1, abs=1e-4)
        assert set(c.intent.scores) == set(INTENT_LABELS) and c.intent.label in INTENT_LABELS
        assert sum(c.intent.scores.values()) == pytest.approx(1, abs=1e-4)
    assert [c.language for c in out[:4]] == ["en", "zh", "ko", "und"]
    assert (out[3].sentiment.label, out[3].intent.label, out[3].topics) == ("neutral", "other", [])
    assert clf.classify(texts[:3]) == out[:3]  # deterministic


def test_sentiment_labels_of_common_models_map_to_canyus():
    assert sentiment_label("Negative", 3) == "negative"
    assert sentiment_label("negative (stars 1, 2 and 3)", 2) == "negative"
    assert sentiment_label("positive (stars 4 and 5)", 2) == "positive"
    assert sentiment_label("LABEL_1", 3) == "neutral"
    assert sentiment_label("LABEL_1", 2) == "positive"
    with pytest.raises(ValueError, match="joy"):
        sentiment_label("joy", 6)


def test_a_missing_hub_model_fails_fast_naming_it_and_the_offline_default(monkeypatch):
    looked_up = []

    def no_network(host, *args, **kwargs):
        looked_up.append(host)
        raise OSError(f"no network in this test ({host})")

    # Online, as before any classifier of this process took the hub offline: only the one made here may.
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    if "huggingface_hub" in sys.modules:
        monkeypatch.setattr(sys.modules["huggingface_hub"].constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)  # every connection by name starts here
    with pytest.raises(ModelUnavailable, match=r"canyu-tests/no-such-model.*classifier='offline'"):
        TransformersClassifier(TransformersOptions(sentiment_model="canyu-tests/no-such-model", zero_shot_model=None))
    assert looked_up == []  # fast because it never reached for the hub, where it would retry and wait


def test_torch_and_the_pools_it_loads_run_the_threads_load_classifier_was_given(folders):
    """In a process of its own that imported torch first, at its defaults: ``load_classifier`` still
    limits torch's threads and every BLAS and OpenMP pool (``models/threads.py``)."""
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES and not k.startswith("CANYU_")}
    env.update(CANYU_HF_SENTIMENT_MODEL=folders["sentiment"], CANYU_HF_ZERO_SHOT_MODEL=folders["nli"])
    script = (
        "import json, torch; from threadpoolctl import threadpool_info; from models import load_classifier; "
        "clf = load_classifier('transformers', threads=1); clf.classify(['the camera is great', 'a bug']); "
        "print(json.dumps([torch.get_num_threads(), threadpool_info()]))"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    torch_threads, pools = json.loads(run.stdout.splitlines()[-1])
    assert torch_threads == 1
    assert {"openmp", "openblas"} <= {p["internal_api"] for p in pools}, pools  # torch's OpenMP, numpy's BLAS
    assert [(p["internal_api"], p["num_threads"]) for p in pools] == [(p["internal_api"], 1) for p in pools]
