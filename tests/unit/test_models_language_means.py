"""The encoder's mean vector per language (models/heads/language_means.npz), as the package ships it."""

from __future__ import annotations

import numpy as np
import pytest

from models import LanguageMeans, load_language_means
from models.encoder import DIM, Encoder
from models.language_means import OTHER, save


def test_the_shipped_means_are_the_use_encoder_s_in_zh_ko_en_and_one_for_every_other_language():
    means = load_language_means()
    assert means.encoder == Encoder.name and means.languages == ("zh", "ko", "en", OTHER)
    assert means.means.shape == (4, DIM) and means.means.dtype == np.float32
    np.testing.assert_allclose(means.means[3], means.means[:3].mean(axis=0), atol=1e-6)
    assert [means.row(language) for language in ("zh", "ko", "en", "ja", "und")] == [0, 1, 2, 3, 3]


def test_a_means_file_reads_back_as_written_and_one_without_a_row_for_other_languages_is_refused(tmp_path):
    written = LanguageMeans("use-m3", ("zh", "en", OTHER), np.arange(6, dtype=np.float32).reshape(3, 2))
    save(written, {"zh": 5, "en": 7}, tmp_path / "means.npz")
    read = load_language_means(tmp_path / "means.npz")
    assert (read.encoder, read.languages) == (written.encoder, written.languages)
    np.testing.assert_array_equal(read.means, written.means)
    save(LanguageMeans("use-m3", ("zh", "en"), written.means[:2]), {}, tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="the last language must be"):
        load_language_means(tmp_path / "bad.npz")
