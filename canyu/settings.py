"""Settings, read from ``CANYU_*`` environment variables and an optional TOML file.

Precedence, highest first: keyword arguments, environment, the file named by
``CANYU_CONFIG`` (or ``./canyu.toml`` when it exists), the defaults below.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from canyu import topics


def _config_file() -> Path | None:
    named = os.environ.get("CANYU_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise FileNotFoundError(f"CANYU_CONFIG names {path}, which is not a file")
        return path
    local = Path("canyu.toml")
    return local if local.is_file() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CANYU_", extra="forbid")

    home: Path = Field(Path.home() / ".canyu", description="server data, logs and pid files")
    cache_dir: Path = Field(Path.home() / ".cache" / "canyu", description="downloaded server artifacts")
    namespace: str = Field(
        "", pattern=r"^[a-z0-9._-]*$", description="prefix for topics, consumer groups and the index alias"
    )

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_controller_port: int = 9093
    es_url: str = "http://127.0.0.1:9200"
    es_transport_port: int = 9300
    kafka_heap: str = "512m"
    es_heap: str = "1g"

    topic_partitions: int = Field(4, ge=1)

    classifier: str = Field("lexicon", description="backend passed to models.load_classifier")
    batch_size: int = Field(64, ge=1, description="posts per classifier call in the worker")
    batch_wait_s: float = Field(0.5, gt=0, description="longest wait to fill a batch")
    worker_web_port: int = 6066

    sink_batch_size: int = Field(500, ge=1)
    sink_wait_s: float = Field(1.0, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings]
        config = _config_file()
        if config is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
        return tuple(sources)

    def topic(self, name: str) -> str:
        return f"{self.namespace}{name}"

    @property
    def all_topics(self) -> list[str]:
        return [self.topic(name) for name in topics.ALL]

    @property
    def posts_alias(self) -> str:
        """The read alias over the posts indices."""
        return f"{self.namespace}posts"

    @property
    def alerts_alias(self) -> str:
        return f"{self.namespace}alerts"

    @property
    def feedback_alias(self) -> str:
        return f"{self.namespace}feedback-items"

    @property
    def cascades_alias(self) -> str:
        return f"{self.namespace}cascades"

    @property
    def worker_app_id(self) -> str:
        return f"{self.namespace}canyu-enrich"

    @property
    def sink_group(self) -> str:
        return f"{self.namespace}canyu-es-sink"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
