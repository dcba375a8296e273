"""The language means as ``python -m training.language_means`` writes them and the worker reads them."""

from __future__ import annotations

import numpy as np
import pytest

from models import LanguageMeans, load_language_means
from models.language_means import OTHER
from training.language_means import save


def test_a_means_file_reads_back_as_written_and_one_without_a_row_for_other_languages_is_refused(tmp_path):
    written = LanguageMeans("use-m3", ("zh", "en", OTHER), np.arange(6, dtype=np.float32).reshape(3, 2))
    save(written, {"zh": 5, "en": 7}, tmp_path / "means.npz")
    read = load_language_means(tmp_path / "means.npz")
    assert (read.encoder, read.languages) == (written.encoder, written.languages)
    np.testing.assert_array_equal(read.means, written.means)
    save(LanguageMeans("use-m3", ("zh", "en"), written.means[:2]), {}, tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="the last language must be"):
        load_language_means(tmp_path / "bad.npz")
