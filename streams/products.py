"""Product mentions: match posts against a catalogue of names and aliases in zh, ko and en."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml


class CatalogueError(ValueError):
    pass


def _fold(text: str) -> str:
    # "Mi 14", "mi14" and "ＭＩ １４" are the same mention.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).lower())


@dataclass(frozen=True)
class Catalogue:
    aliases: dict[str, str]  # folded alias → product id

    @classmethod
    def load(cls, path: Path | None = None) -> Catalogue:
        source = path.read_text(encoding="utf-8") if path else _default_text()
        where = str(path or "streams/conf/products.yaml")
        data = yaml.safe_load(source)
        if not isinstance(data, dict) or not isinstance(data.get("products"), list):
            raise CatalogueError(f"{where}: expected a top-level 'products:' list")
        aliases: dict[str, str] = {}
        for i, product in enumerate(data["products"]):
            if not isinstance(product, dict) or not isinstance(product.get("id"), str):
                raise CatalogueError(f"{where}: products[{i}] needs an 'id' string")
            names = [n for by_lang in (product.get("names") or {}).values() for n in by_lang]
            if not names:
                raise CatalogueError(f"{where}: product {product['id']!r} has no names")
            for name in names:
                folded = _fold(str(name))
                if aliases.get(folded, product["id"]) != product["id"]:
                    raise CatalogueError(f"{where}: {name!r} names both {aliases[folded]!r} and {product['id']!r}")
                aliases[folded] = product["id"]
        return cls(aliases)

    def mentions(self, text: str) -> list[str]:
        """Product ids mentioned in ``text``; a longer alias wins ("Xiaomi 14 Pro" is not "Xiaomi 14")."""
        folded = _fold(text)
        found: list[str] = []
        taken = [False] * len(folded)
        for alias in sorted(self.aliases, key=len, reverse=True):
            start = folded.find(alias)
            while start != -1:
                end = start + len(alias)
                # "mi14" must not match inside "mi145", nor "14" inside "140"
                boundary = end == len(folded) or not (folded[end].isdigit() and alias[-1].isdigit())
                if boundary and not any(taken[start:end]):
                    taken[start:end] = [True] * len(alias)
                    if self.aliases[alias] not in found:
                        found.append(self.aliases[alias])
                start = folded.find(alias, start + 1)
        return sorted(found)


def _default_text() -> str:
    return (resources.files("streams") / "conf" / "products.yaml").read_text(encoding="utf-8")
