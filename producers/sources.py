"""The kinds of source, and the sources file (YAML or TOML) that declares them.

```yaml
sources:
  - name: weibo-brand
    kind: weibo
    url: https://api.weibo.com/2/statuses/home_timeline.json
    token_env: WEIBO_TOKEN
```

A bad file fails at start with messages that name the source and the field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from canyu.settings import Settings
from producers.base import Source, SourceConfig
from producers.discourse import DiscourseSource
from producers.discourse_common import DiscourseConfig
from producers.discourse_topics import DiscourseTopicsSource
from producers.reddit import RedditConfig, RedditSource
from producers.replay import ReplayConfig, ReplaySource
from producers.rss import RssConfig, RssSource
from producers.weibo import WeiboConfig, WeiboSource

KINDS: dict[str, type[Source]] = {
    "weibo": WeiboSource,
    "discourse": DiscourseSource,
    "rss": RssSource,
    "reddit": RedditSource,
    "replay": ReplaySource,
}

AnySourceConfig = Annotated[
    Union[WeiboConfig, DiscourseConfig, RssConfig, RedditConfig, ReplayConfig], Field(discriminator="kind")
]


class ConfigError(Exception):
    """A sources file or source options that cannot run; the message names every bad field."""


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[AnySourceConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_are_unique(self) -> SourcesFile:
        names = [s.name for s in self.sources]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"source names must be unique; repeated: {', '.join(repeated)}")
        return self


def describe(error: ValidationError, data: object, where: str) -> ConfigError:
    """One line per bad field, naming the source by its name where it has one."""
    lines = []
    for e in error.errors():
        loc = list(e["loc"])
        if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
            entry = data["sources"][loc[1]] if isinstance(data, dict) else {}
            name = entry.get("name") if isinstance(entry, dict) else None
            label = f"sources[{loc[1]}]" + (f" ({name})" if name else "")
            loc = [label, *(part for part in loc[2:] if part not in KINDS)]  # drop the union's tag
        lines.append(f"{where}: {'.'.join(str(p) for p in loc) or 'file'}: {e['msg']}")
    return ConfigError("\n".join(lines))


def load_sources_file(path: Path) -> list[SourceConfig]:
    if not path.is_file():
        raise ConfigError(f"{path}: not a file")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {e}") from None
    try:
        return SourcesFile.model_validate(data).sources
    except ValidationError as e:
        raise describe(e, data, str(path)) from None


def source_config(kind: str, options: dict, polling: bool = True) -> SourceConfig:
    """One source from command-line options, checked like an entry of the sources file."""
    try:
        data = {"sources": [{"kind": kind, **options}]}
        return SourcesFile.model_validate(data, context={"polling": polling}).sources[0]
    except ValidationError as e:
        raise describe(e, {"sources": [options]}, "options") from None


def build(config: SourceConfig, settings: Settings | None = None) -> Source:
    """The source of ``config``; ``settings`` (the pipeline's, read on first use when not given) say which private
    hosts it may reach and the sane window of its dates."""
    if isinstance(config, DiscourseConfig) and config.mode == "topics":
        return DiscourseTopicsSource(config, settings=settings)  # the same kind of source, read topic by topic
    return KINDS[config.kind](config, settings=settings)
