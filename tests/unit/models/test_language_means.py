"""The encoder's mean vector per language (models/heads/language_means.npz), as the package ships it."""

from __future__ import annotations

import numpy as np

from models import load_language_means
from models.encoder import DIM, Encoder
from models.language_means import OTHER


def test_the_shipped_means_are_the_use_encoder_s_in_zh_ko_en_and_one_for_every_other_language():
    means = load_language_means()
    assert means.encoder == Encoder.name and means.languages == ("zh", "ko", "en", OTHER)
    assert means.means.shape == (4, DIM) and means.means.dtype == np.float32
    np.testing.assert_allclose(means.means[3], means.means[:3].mean(axis=0), atol=1e-6)
    assert [means.row(language) for language in ("zh", "ko", "en", "ja", "und")] == [0, 1, 2, 3, 3]
