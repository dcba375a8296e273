"""Settings, read from ``CANYU_*`` environment variables and an optional TOML file.

Precedence, highest first: keyword arguments, environment, the file named by
``CANYU_CONFIG`` (or ``./canyu.toml`` when it exists), the defaults below.

Each room reads its own section (``settings.kafka``, ``settings.worker``, ``settings.delivery``
…); what every room needs (``home``, ``namespace`` and the names made from it) stays at the top.
Outside, a setting keeps the flat name it always had: ``CANYU_BATCH_SIZE``, ``batch_size = 64``
in canyu.toml, ``Settings(batch_size=64)``, ``settings.replace(batch_size=64)``. ``FLAT_NAMES``
is the one table from those names to the sections, and everything that reads or writes them
goes through it. canyu.toml may also give a section as a table (``[worker]``, ``batch_size = 64``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, get_origin

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
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


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


# The local stack's JVMs (canyu stack up; docker-compose.yml's keep their images' flags): C1 only, since C2's
# compiling in the first minutes was most of what a cold start cost on a small machine that the
# pipeline shares (docs/performance.md), and the broker's small heap needs no concurrent collector.
LOCAL_JVM = "-XX:TieredStopAtLevel=1"


class KafkaSettings(Section):
    bootstrap: str = "127.0.0.1:9092"
    controller_port: int = 9093
    heap: str = "512m"
    jvm_options: str = Field(f"{LOCAL_JVM} -XX:+UseSerialGC", description="JVM flags of the local stack's broker")
    topic_partitions: int = Field(4, ge=1)
    replication_factor: int = Field(1, ge=1, description="copies of each topic; 3 on a production cluster")
    min_insync_replicas: int = Field(
        1, ge=1, description="copies that must have a record before acks=all succeeds; 2 on a production cluster"
    )
    dead_letter_retention_days: float = Field(30, gt=0, description="how long dead letters are kept on their topic")


class ElasticsearchSettings(Section):
    url: str = "http://127.0.0.1:9200"
    transport_port: int = 9300
    heap: str = "1g"
    jvm_options: str = Field(LOCAL_JVM, description="JVM flags of the local stack's node (after its jvm.options)")
    analysis: str = Field(
        "standard",
        description="text analyzer that new indices get: a file in canyu/conf/analysis/ (standard, icu, smartcn, nori)",
    )


class DateSettings(Section):
    """The sane window for a post's date (canyu.dates)."""

    floor: AwareDatetime = Field(
        datetime(2000, 1, 1, tzinfo=timezone.utc), description="a post dated before this is out of the sane window"
    )
    future_margin_s: float = Field(
        86_400, ge=0, description="a post dated more than this after its fetched_at is out of the sane window"
    )


class ClassifierSettings(Section):
    backend: str = Field(
        "offline", description="models.load_classifier backend: offline|e5|cascade|finetuned|transformers|lexicon"
    )
    threads: int = Field(1, ge=1, description="BLAS/OpenMP threads the worker's classifier may use")
    process: bool = Field(
        True, description="the worker classifies in a process of its own (false: in a thread, sharing its core)"
    )
    # The transformers backend (models/hf.py); model ids are Hugging Face names or local folders.
    hf_sentiment_model: str = "cardiffnlp/twitter-xlm-roberta-base-sentiment"
    hf_sentiment_revision: str = Field("f3e34b6c30bf27b6649f72eca85d0bbe79df1e55", description="commit; '' for main")
    hf_zero_shot_model: str = Field("MoritzLaurer/multilingual-MiniLMv2-L6-mnli-xnli", description="'' for none")
    hf_zero_shot_revision: str = Field("", description="commit; '' for main")
    hf_device: str = Field("cpu", pattern=r"^(cpu|cuda|auto)$")
    hf_quantize: bool = Field(False, description="dynamic int8 quantisation on CPU")
    hf_offline: bool = Field(True, description="never reach the hub: models must be cached or local folders")


class WorkerSettings(Section):
    batch_size: int = Field(64, ge=1, description="posts per classifier call in the worker")
    batch_wait_s: float = Field(0.25, gt=0, description="longest wait to fill a batch")
    web_port: int = 6066
    store: str = Field(
        "rocksdb://", pattern=r"^(rocksdb|memory)://$", description="table store: rocksdb keeps state across restarts"
    )
    session_timeout_s: float = Field(
        10, ge=6, le=60, description="a worker silent this long leaves its group, and its partitions move on"
    )
    nice: int = Field(
        5, ge=0, le=19,
        description="niceness the worker's own threads take, so that its classifier process gets a shared core first",
    )  # fmt: skip
    idle_input_s: float = Field(
        60, gt=0,
        description="a partition of posts.raw that brings no post for this long holds the watermark back no more",
    )  # fmt: skip
    stall_s: float = Field(
        120, gt=0, description="a consumer group whose partitions lag with no commit for this long is stalled"
    )
    products_file: Path | None = Field(None, description="product catalogue YAML; default streams/conf/products.yaml")


class SignalSettings(Section):
    """Spikes, viral cascades and feedback items (docs/spikes.md, docs/streams.md)."""

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


class ReleaseSettings(Section):
    """Releases and fixes (docs/releases.md)."""

    window_days: int = Field(
        7, ge=1, le=30, description="a release's impact compares this many days before and after it"
    )
    seen_authors: int = Field(
        5, ge=2, description="a version named by this many distinct authors within a day is a release seen in posts"
    )
    regression_jump: float = Field(
        2.0,
        gt=1,
        description="an item regressed when its daily reports after a release reach this many times those before",
    )
    regression_min_posts: int = Field(3, ge=1, description="and it has at least this many reports after it")
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


class SinkSettings(Section):
    batch_size: int = Field(500, ge=1)
    wait_s: float = Field(1.0, gt=0)
    fetch_wait_s: float = Field(
        0.2, ge=0, le=5, description="Kafka holds a sink's fetch this long for more records: fewer, larger writes"
    )


class DeliverySettings(Section):
    allowed_hosts: list[str] = Field(
        [], description="hosts on loopback or private networks that notifications may still be sent to"
    )
    attempts: int = Field(5, ge=1, description="tries per notification before it goes to dead-letters")
    timeout_s: float = Field(10, gt=0, description="per request: connecting, and each read or write")
    deadline_s: float = Field(30, gt=0, description="a batch's deliveries end by then; the rest are retried")
    concurrency: int = Field(8, ge=1, description="endpoints served at once")
    backoff_s: float = Field(5, gt=0, description="first wait before a failed notification is tried again")
    max_backoff_s: float = Field(
        60, gt=0, le=120, description="longest wait between tries; with the deadline, well inside the poll interval"
    )
    webhook_secret: str | None = Field(None, description="HMAC key for webhooks whose channel names no secret_env")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "canyu@localhost"


class ProducerSettings(Section):
    allowed_hosts: list[str] = Field(
        [], description="hosts on loopback or private networks that sources may still be read from (on-premises)"
    )


class DashboardSettings(Section):
    host: str = Field("127.0.0.1", description="address the dashboard binds to")
    port: int = Field(8765, ge=1, le=65535)
    token: str | None = Field(None, min_length=16, description="read-only; generated and printed when unset")
    admin_token: str | None = Field(
        None, min_length=16, description="manages subscriptions; generated and printed when unset"
    )


# Every setting's flat name (CANYU_<NAME>, a key of canyu.toml, a keyword of Settings() and
# Settings.replace()) → its section ("" for the top level) and its field there. The only place
# the flat names are spelled: tests/unit/canyu/test_settings.py checks each of them, and that every
# field is reachable by exactly one.
FLAT_NAMES: dict[str, tuple[str, str]] = {
    "home": ("", "home"),
    "cache_dir": ("", "cache_dir"),
    "namespace": ("", "namespace"),
    "kafka_bootstrap": ("kafka", "bootstrap"),
    "kafka_controller_port": ("kafka", "controller_port"),
    "kafka_heap": ("kafka", "heap"),
    "kafka_jvm_options": ("kafka", "jvm_options"),
    "topic_partitions": ("kafka", "topic_partitions"),
    "topic_replication_factor": ("kafka", "replication_factor"),
    "topic_min_insync_replicas": ("kafka", "min_insync_replicas"),
    "dead_letter_retention_days": ("kafka", "dead_letter_retention_days"),
    "es_url": ("elasticsearch", "url"),
    "es_transport_port": ("elasticsearch", "transport_port"),
    "es_heap": ("elasticsearch", "heap"),
    "es_jvm_options": ("elasticsearch", "jvm_options"),
    "es_analysis": ("elasticsearch", "analysis"),
    "date_floor": ("dates", "floor"),
    "date_future_margin_s": ("dates", "future_margin_s"),
    "classifier": ("classifier", "backend"),
    "classifier_threads": ("classifier", "threads"),
    "classifier_process": ("classifier", "process"),
    "hf_sentiment_model": ("classifier", "hf_sentiment_model"),
    "hf_sentiment_revision": ("classifier", "hf_sentiment_revision"),
    "hf_zero_shot_model": ("classifier", "hf_zero_shot_model"),
    "hf_zero_shot_revision": ("classifier", "hf_zero_shot_revision"),
    "hf_device": ("classifier", "hf_device"),
    "hf_quantize": ("classifier", "hf_quantize"),
    "hf_offline": ("classifier", "hf_offline"),
    "batch_size": ("worker", "batch_size"),
    "batch_wait_s": ("worker", "batch_wait_s"),
    "worker_web_port": ("worker", "web_port"),
    "worker_store": ("worker", "store"),
    "worker_session_timeout_s": ("worker", "session_timeout_s"),
    "worker_nice": ("worker", "nice"),
    "worker_idle_input_s": ("worker", "idle_input_s"),
    "worker_stall_s": ("worker", "stall_s"),
    "products_file": ("worker", "products_file"),
    "spike_k": ("signals", "spike_k"),
    "spike_min_count": ("signals", "spike_min_count"),
    "spike_cooldown_s": ("signals", "spike_cooldown_s"),
    "viral_velocity": ("signals", "viral_velocity"),
    "item_similarity": ("signals", "item_similarity"),
    "item_vector_similarity": ("signals", "item_vector_similarity"),
    "release_window_days": ("releases", "window_days"),
    "release_seen_authors": ("releases", "seen_authors"),
    "regression_jump": ("releases", "regression_jump"),
    "regression_min_posts": ("releases", "regression_min_posts"),
    "fix_grace_days": ("releases", "fix_grace_days"),
    "fix_quiet_days": ("releases", "fix_quiet_days"),
    "fix_failed_reports": ("releases", "fix_failed_reports"),
    "fix_failed_rate": ("releases", "fix_failed_rate"),
    "sink_batch_size": ("sink", "batch_size"),
    "sink_wait_s": ("sink", "wait_s"),
    "sink_fetch_wait_s": ("sink", "fetch_wait_s"),
    "deliver_allowed_hosts": ("delivery", "allowed_hosts"),
    "deliver_attempts": ("delivery", "attempts"),
    "deliver_timeout_s": ("delivery", "timeout_s"),
    "deliver_deadline_s": ("delivery", "deadline_s"),
    "deliver_concurrency": ("delivery", "concurrency"),
    "deliver_backoff_s": ("delivery", "backoff_s"),
    "deliver_max_backoff_s": ("delivery", "max_backoff_s"),
    "webhook_secret": ("delivery", "webhook_secret"),
    "smtp_host": ("delivery", "smtp_host"),
    "smtp_port": ("delivery", "smtp_port"),
    "smtp_from": ("delivery", "smtp_from"),
    "fetch_allowed_hosts": ("producers", "allowed_hosts"),
    "dashboard_host": ("dashboard", "host"),
    "dashboard_port": ("dashboard", "port"),
    "dashboard_token": ("dashboard", "token"),
    "dashboard_admin_token": ("dashboard", "admin_token"),
}


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values by flat name (``{"batch_size": 8}``) put in their sections (``{"worker": {"batch_size": 8}}``).

    Any other key stays as it is: a section given whole (a canyu.toml table), or a misspelt name,
    which validation then refuses. ``classifier`` names a setting and a section: a table is the section."""
    nested, flat = {}, {}
    for name, value in values.items():
        if name in FLAT_NAMES and not _is_section(name, value):
            flat[name] = value
        else:
            nested[name] = value
    for name, value in flat.items():
        section, field = FLAT_NAMES[name]
        if not section:
            nested[field] = value
            continue
        whole = nested.get(section, {})
        nested[section] = {**(whole.model_dump() if isinstance(whole, BaseModel) else whole), field: value}
    return nested


def _is_section(name: str, value: Any) -> bool:
    return name in SECTIONS and isinstance(value, Mapping | BaseModel)


class _Nested(PydanticBaseSettingsSource):
    """Another source's values, given by flat name, put in their sections."""

    def __init__(self, source: PydanticBaseSettingsSource):
        super().__init__(source.settings_cls)
        self.source = source

    def get_field_value(self, field, field_name):  # the base class's hook; __call__ does the work
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return nest(self.source())


class _Environment(PydanticBaseSettingsSource):
    """``CANYU_<FLAT NAME>`` variables (in any case); a list is written in JSON: ``["a", "b"]``."""

    def get_field_value(self, field, field_name):
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        environ = {name.upper(): value for name, value in os.environ.items()}
        found = {}
        for name in FLAT_NAMES:
            variable = ENV_PREFIX + name.upper()
            if variable not in environ:
                continue
            value = environ[variable]
            if get_origin(_field(name).annotation) is list:
                try:
                    value = json.loads(value)
                except ValueError as e:
                    raise SettingsError(f'{variable} must be a JSON list, like ["a", "b"]: {e}') from e
            found[name] = value
        return nest(found)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid")

    home: Path = Field(Path.home() / ".canyu", description="server data, logs and pid files")
    cache_dir: Path = Field(
        Path.home() / ".cache" / "canyu", description="downloaded server artifacts, and built models (finetuned/)"
    )
    namespace: str = Field(
        "", pattern=r"^[a-z0-9._-]*$", description="prefix for topics, consumer groups and the index alias"
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    dates: DateSettings = Field(default_factory=DateSettings)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    signals: SignalSettings = Field(default_factory=SignalSettings)
    releases: ReleaseSettings = Field(default_factory=ReleaseSettings)
    sink: SinkSettings = Field(default_factory=SinkSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    producers: ProducerSettings = Field(default_factory=ProducerSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as e:
            raise _by_flat_name(e) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [_Nested(init_settings), _Environment(settings_cls)]
        config = _config_file()
        if config is not None:
            sources.append(_Nested(TomlConfigSettingsSource(settings_cls, toml_file=config)))
        return tuple(sources)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed, by their flat names (``replace(batch_size=8)``), checked again."""
        values = self.model_dump()
        for name, value in nest(changes).items():
            mergeable = isinstance(value, dict) and isinstance(values.get(name), dict)
            values[name] = {**values[name], **value} if mergeable else value
        try:
            return type(self).model_validate(values)
        except ValidationError as e:
            raise _by_flat_name(e) from None

    def flat(self, mode: str = "python") -> dict[str, Any]:
        """Every setting by its flat name; ``mode="json"``: as JSON would hold it (paths and dates as strings)."""
        dumped = self.model_dump(mode=mode)
        return {name: dumped[section][field] if section else dumped[field]
                for name, (section, field) in FLAT_NAMES.items()}  # fmt: skip

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


SECTIONS: dict[str, type[Section]] = {
    name: field.annotation for name, field in Settings.model_fields.items() if isinstance(field.annotation, type)
    and issubclass(field.annotation, Section)
}  # fmt: skip


def _field(name: str):
    """The pydantic field a flat name stands for."""
    section, field = FLAT_NAMES[name]
    return (SECTIONS[section] if section else Settings).model_fields[field]


def _by_flat_name(error: ValidationError) -> ValidationError:
    """The same errors, each named by the flat name that the environment and canyu.toml use."""
    named = {place: name for name, place in FLAT_NAMES.items()}
    details = []
    for detail in error.errors():
        loc = detail["loc"]
        name = named.get((str(loc[0]), str(loc[1])) if len(loc) > 1 else ("", str(loc[0])))
        details.append({**detail, "loc": (name, *loc[2:]) if name else loc})
    return ValidationError.from_exception_data(error.title, details)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
