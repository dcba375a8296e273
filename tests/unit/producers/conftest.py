import pytest

from canyu.settings import Settings


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path, namespace="t.")
