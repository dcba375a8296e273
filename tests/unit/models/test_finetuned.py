"""The finetuned tier (models/finetuned.py) on the real export and loading code.

A tiny randomly initialised model of the fine-tuned shape (embeddings, a frozen lower layer,
a trained upper layer, mean pooling, the two heads) goes through ``write_tier`` (ONNX export,
int8 quantisation, tokenizer, ``finetuned.json``) into a temp folder, and the tier loads it
from there, as it loads what ``canyu models build`` writes. Needs torch, transformers, onnx
and onnxruntime. The built model itself is tested at the end, skipped where it is not built.
"""

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from canyu.schema import INTENT_LABELS, SENTIMENT_LABELS  # noqa: E402
from models.e5tokenizer import E5Tokenizer, Vocabulary  # noqa: E402
from models.finetuned import FinetunedClassifier, FinetunedModel, model_dir  # noqa: E402
from models.hf import ModelUnavailable  # noqa: E402
from training.finetune import INTENTS, SENTIMENTS, _modules, write_tier  # noqa: E402

PIECES = ["<s>", "<pad>", "</s>", "<unk>", "\u2581", "\u2581the", "\u2581camera", "\u2581is", "\u2581great",
          "\u2581bad", "\u2581battery", "\u2581bug", "电", "池", "差", "카메라", "좋아요", "a", "e", "t", "?", ":",
          "\u2581passage"]  # fmt: skip
TEMPERATURE = {"sentiment": 1.5, "intent": 0.8}
MAX_TOKENS = 12


def tiny_tokenizer() -> E5Tokenizer:
    scores = np.array([0.0] * 4 + [-1.0 - 0.1 * i for i in range(len(PIECES) - 4)], dtype=np.float32)
    return E5Tokenizer(Vocabulary(PIECES, scores, bos=0, eos=2, pad=1, unk=3, normalize={ord("\t"): " "}))


@pytest.fixture(scope="module")
def tier(tmp_path_factory):
    import torch
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("finetuned")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(PIECES),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=1,
    )
    bert = BertModel(config, add_pooling_layer=False).eval()
    Top, Finetuned = _modules()
    model = Finetuned(bert, Top(list(bert.encoder.layer[1:]), 32, 0.1), 1).eval()
    tokenizer = tiny_tokenizer()
    labels = {"sentiment": SENTIMENTS, "intent": INTENTS}
    write_tier(folder, model, tokenizer, {"labels": labels, "temperature": TEMPERATURE, "max_tokens": MAX_TOKENS})
    return folder, model, tokenizer


TEXTS = ["the camera is great", "电池差", "카메라 좋아요", "bug?", "the\tbattery is bad " * 5, "a"]


def test_onnx_int8_gives_the_torch_models_calibrated_probabilities(tier):
    import torch

    folder, model, tokenizer = tier
    sentiment, intent = FinetunedModel(folder, threads=1).proba(TEXTS)
    expected = []
    with torch.inference_mode():
        for text in TEXTS:  # one at a time: no padding, in the order given
            ids, mask = tokenizer.batch([text], MAX_TOKENS)
            s, i = model(torch.from_numpy(ids), torch.from_numpy(mask))
            expected.append(
                (
                    torch.softmax(s / TEMPERATURE["sentiment"], -1)[0].numpy(),
                    torch.softmax(i / TEMPERATURE["intent"], -1)[0].numpy(),
                )
            )
    np.testing.assert_allclose(sentiment, np.array([e[0] for e in expected]), atol=0.03)
    np.testing.assert_allclose(intent, np.array([e[1] for e in expected]), atol=0.03)
    assert np.allclose(sentiment.sum(axis=1), 1) and np.allclose(intent.sum(axis=1), 1)
    assert len(tokenizer.ids([TEXTS[4]], MAX_TOKENS)[0]) == MAX_TOKENS  # long text: its beginning


def test_the_tier_classifies_with_canyus_labels(tier):
    folder, _, _ = tier
    clf = FinetunedClassifier(folder, threads=1)
    out = clf.classify([*TEXTS, "", "   "])
    assert clf.name.startswith("finetuned-e5-")
    for c in out[: len(TEXTS)]:
        assert c.sentiment.label in SENTIMENT_LABELS and set(c.sentiment.scores) == set(SENTIMENT_LABELS)
        assert c.intent.label in INTENT_LABELS and set(c.intent.scores) == set(INTENT_LABELS)
        assert abs(sum(c.intent.scores.values()) - 1) < 1e-3
        assert c.sentiment.label == max(c.sentiment.scores, key=c.sentiment.scores.get)
        assert len(c.embedding) == 512  # USE's vector, for grouping and topics, as the default's
    assert out[1].language == "zh" and out[2].language == "ko"
    assert [c.language for c in out[-2:]] == ["und", "und"] and out[-1].intent.label == "other"
    assert clf.classify(TEXTS) == clf.classify(TEXTS)  # deterministic


def test_a_missing_model_names_the_command_that_builds_it(tmp_path, monkeypatch):
    from canyu.settings import get_settings
    from models import load_classifier

    monkeypatch.setenv("CANYU_CACHE_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert model_dir() == tmp_path / "finetuned"
        with pytest.raises(ModelUnavailable, match="canyu models build"):
            load_classifier("finetuned", threads=1)
    finally:
        get_settings.cache_clear()


def test_a_model_with_other_labels_is_refused(tier, tmp_path):
    import shutil

    folder, _, _ = tier
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    info = json.loads((copy / "finetuned.json").read_text())
    info["labels"]["intent"] = ["bug", "request", "question", "other"]
    (copy / "finetuned.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="not canyu's"):
        FinetunedModel(copy)


@pytest.mark.skipif(
    not (model_dir() / "model.int8.onnx").is_file(), reason="the finetuned model is not built (canyu models build)"
)
def test_the_built_model_reads_obvious_posts():
    clf = FinetunedClassifier(threads=1)
    posts = ["电池续航太差了，一天三充，很失望", "카메라 화질 정말 좋아요 최고", "The app crashes every time I open it"]
    out = clf.classify(posts)
    assert [c.sentiment.label for c in out] == ["negative", "positive", "negative"]
    assert out[2].intent.label == "bug_report"
