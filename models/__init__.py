"""Classifiers behind one interface: ``load_classifier(name).classify(texts)``."""

from models.base import Classification, Classifier, Scored, load_classifier

__all__ = ["Classification", "Classifier", "Scored", "load_classifier"]
