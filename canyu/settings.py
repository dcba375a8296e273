"""Settings, read from ``CANYU_*`` environment variables and an optional TOML file.

Precedence, highest first: keyword arguments, environment, the file named by
``CANYU_CONFIG`` (or ``./canyu.toml`` when it exists), the defaults below.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from canyu import topics

ENV_PREFIX = "CANYU_"


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
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    home: Path = Field(Path.home() / ".canyu", description="server data, logs and pid files")
    cache_dir: Path = Field(
        Path.home() / ".cache" / "canyu", description="downloaded server artifacts, and built models (finetuned/)"
    )
    namespace: str = Field(
        "", pattern=r"^[a-z0-9._-]*$", description="prefix for topics, consumer groups and the index alias"
    )

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_controller_port: int = 9093
    es_url: str = "http://127.0.0.1:9200"
    es_transport_port: int = 9300
    kafka_heap: str = "512m"
    es_heap: str = "1g"
    es_analysis: str = Field(
        "standard",
        description="text analyzer that new indices get: a file in canyu/conf/analysis/ (standard, icu, smartcn, nori)",
    )

    topic_partitions: int = Field(4, ge=1)
    topic_replication_factor: int = Field(1, ge=1, description="copies of each topic; 3 on a production cluster")
    topic_min_insync_replicas: int = Field(
        1, ge=1, description="copies that must have a record before acks=all succeeds; 2 on a production cluster"
    )
    dead_letter_retention_days: float = Field(30, gt=0, description="how long dead letters are kept on their topic")

    date_floor: AwareDatetime = Field(
        datetime(2000, 1, 1, tzinfo=timezone.utc), description="a post dated before this is out of the sane window"
    )
    date_future_margin_s: float = Field(
        86_400, ge=0, description="a post dated more than this after its fetched_at is out of the sane window"
    )

    classifier: str = Field(
        "offline", description="models.load_classifier backend: offline|e5|cascade|finetuned|transformers|lexicon"
    )
    # The transformers backend (models/hf.py); model ids are Hugging Face names or local folders.
    hf_sentiment_model: str = "cardiffnlp/twitter-xlm-roberta-base-sentiment"
    hf_sentiment_revision: str = Field("f3e34b6c30bf27b6649f72eca85d0bbe79df1e55", description="commit; '' for main")
    hf_zero_shot_model: str = Field("MoritzLaurer/multilingual-MiniLMv2-L6-mnli-xnli", description="'' for none")
    hf_zero_shot_revision: str = Field("", description="commit; '' for main")
    hf_device: str = Field("cpu", pattern=r"^(cpu|cuda|auto)$")
    hf_quantize: bool = Field(False, description="dynamic int8 quantisation on CPU")
    hf_offline: bool = Field(True, description="never reach the hub: models must be cached or local folders")
    batch_size: int = Field(64, ge=1, description="posts per classifier call in the worker")
    batch_wait_s: float = Field(0.25, gt=0, description="longest wait to fill a batch")
    worker_web_port: int = 6066
    worker_store: str = Field(
        "rocksdb://", pattern=r"^(rocksdb|memory)://$", description="table store: rocksdb keeps state across restarts"
    )
    worker_session_timeout_s: float = Field(
        10, ge=6, le=60, description="a worker silent this long leaves its group, and its partitions move on"
    )
    classifier_threads: int = Field(1, ge=1, description="BLAS/OpenMP threads the worker's classifier may use")
    classifier_process: bool = Field(
        True, description="the worker classifies in a process of its own (false: in a thread, sharing its core)"
    )
    worker_nice: int = Field(
        5, ge=0, le=19,
        description="niceness the worker's own threads take, so that its classifier process gets a shared core first",
    )  # fmt: skip
    worker_idle_input_s: float = Field(
        60, gt=0,
        description="a partition of posts.raw that brings no post for this long holds the watermark back no more",
    )  # fmt: skip
    worker_stall_s: float = Field(
        120, gt=0, description="a consumer group whose partitions lag with no commit for this long is stalled"
    )

    sink_batch_size: int = Field(500, ge=1)
    sink_wait_s: float = Field(1.0, gt=0)
    sink_fetch_wait_s: float = Field(
        0.2, ge=0, le=5, description="Kafka holds a sink's fetch this long for more records: fewer, larger writes"
    )

    products_file: Path | None = Field(None, description="product catalogue YAML; default streams/conf/products.yaml")
    spike_k: float = Field(3.0, gt=0, description="a window spikes above mean + k·σ of its trailing week")
    spike_min_count: int = Field(10, ge=1, description="and only when it holds at least this many posts")
    spike_cooldown_s: int = Field(6 * 3600, ge=0, description="no second alert for the same key within this time")
    viral_velocity: int = Field(10, ge=1, description="reposts in 10 minutes that make a cascade viral")
    item_similarity: float = Field(
        0.3,
        gt=0,
        le=1,
        description="how close a post's words must be to a feedback item's to join it (no sentence vector)",
    )
    item_vector_similarity: float = Field(
        0.4,
        gt=0,
        le=1,
        description="how close a post's sentence vector must be to a feedback item's to join it, both taken around"
        " their language's centre (docs/streams.md)",
    )

    # Releases and fixes (docs/releases.md).
    release_window_days: int = Field(
        7, ge=1, le=30, description="a release's impact compares this many days before and after it"
    )
    release_seen_authors: int = Field(
        5, ge=2, description="a version named by this many distinct authors within a day is a release seen in posts"
    )
    regression_jump: float = Field(
        2.0,
        gt=1,
        description="an item regressed when its daily posts after a release reach this many times those before",
    )
    regression_min_posts: int = Field(3, ge=1, description="and it has at least this many posts after it")
    fix_grace_days: float = Field(
        1, ge=0, description="after a fix ships, reports this soon may come from phones not yet updated"
    )
    fix_quiet_days: float = Field(
        3, gt=0, description="a fixed item with no report for this long after the grace is verified"
    )
    fix_failed_reports: int = Field(
        2, ge=1, description="reports from authors who name the fixed version or later that mean the fix did not hold"
    )
    fix_failed_rate: float = Field(
        2.0, gt=0, description="or reports per day after the grace that mean it did not hold"
    )

    deliver_allowed_hosts: list[str] = Field(
        [], description="hosts on loopback or private networks that notifications may still be sent to"
    )
    fetch_allowed_hosts: list[str] = Field(
        [], description="hosts on loopback or private networks that sources may still be read from (on-premises)"
    )
    deliver_attempts: int = Field(5, ge=1, description="tries per notification before it goes to dead-letters")
    deliver_timeout_s: float = Field(10, gt=0, description="per request: connecting, and each read or write")
    deliver_deadline_s: float = Field(30, gt=0, description="a batch's deliveries end by then; the rest are retried")
    deliver_concurrency: int = Field(8, ge=1, description="endpoints served at once")
    deliver_backoff_s: float = Field(5, gt=0, description="first wait before a failed notification is tried again")
    deliver_max_backoff_s: float = Field(
        60, gt=0, le=120, description="longest wait between tries; with the deadline, well inside the poll interval"
    )
    webhook_secret: str | None = Field(None, description="HMAC key for webhooks whose channel names no secret_env")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "canyu@localhost"

    dashboard_host: str = Field("127.0.0.1", description="address the dashboard binds to")
    dashboard_port: int = Field(8765, ge=1, le=65535)
    dashboard_token: str | None = Field(None, min_length=16, description="read-only; generated and printed when unset")
    dashboard_admin_token: str | None = Field(
        None, min_length=16, description="manages subscriptions; generated and printed when unset"
    )

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

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (``replace(batch_size=8)``), checked again."""
        return type(self).model_validate({**self.model_dump(), **changes})

    def flat(self, mode: str = "python") -> dict[str, Any]:
        """Every setting by its name; ``mode="json"``: as JSON would hold it (paths and dates as strings)."""
        return self.model_dump(mode=mode)

    def environment(self, changed_only: bool = True) -> dict[str, str]:
        """The ``CANYU_*`` variables that give another process these settings: those that differ from
        their defaults (every one, without ``changed_only``). A setting that is None has none."""
        defaults = type(self).model_construct().flat(mode="json")
        return {ENV_PREFIX + name.upper(): value if isinstance(value, str) else json.dumps(value)
                for name, value in self.flat(mode="json").items()
                if value is not None and not (changed_only and value == defaults[name])}  # fmt: skip

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
    def releases_alias(self) -> str:
        """Release impacts, one document per release."""
        return f"{self.namespace}release-impacts"

    @property
    def worker_app_id(self) -> str:
        return f"{self.namespace}canyu-enrich"

    @property
    def sink_group(self) -> str:
        return f"{self.namespace}canyu-es-sink"

    @property
    def delivery_group(self) -> str:
        return f"{self.namespace}canyu-delivery"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
