import pytest

from canyu.settings import Settings
from tests.unit.producers.helpers import serving  # noqa: F401 - the fixture `serve`, for every test here


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path, namespace="t.")
