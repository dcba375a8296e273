"""HTML (Discourse's ``cooked``, feed descriptions) to clean text that keeps its line breaks and emoji."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Markers for breaks while collecting; white space around them folds into one break. KEEP stops
# that folding where a <pre> starts, so its first line keeps its indentation.
LINE, PARAGRAPH, KEEP = "\x00", "\x01", "\x02"
PARAGRAPHS = {"p", "blockquote", "ul", "ol", "pre", "table", "h1", "h2", "h3", "h4", "h5", "h6", "aside", "section",
              "article", "header", "footer", "figure", "details", "hr"}  # fmt: skip
LINES = {"br", "li", "div", "tr", "dt", "dd", "summary"}
SKIPPED = {"script", "style", "template"}
BREAKS = re.compile(f"[\\s{LINE}{PARAGRAPH}]*[{LINE}{PARAGRAPH}][\\s{LINE}{PARAGRAPH}]*")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.in_pre = 0

    def _break(self, tag: str) -> None:
        if tag in PARAGRAPHS:
            self.parts.append(PARAGRAPH)
        elif tag in LINES:
            self.parts.append(LINE)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.skipping += tag in SKIPPED
        self.in_pre += tag == "pre"
        self._break(tag)
        if tag == "pre":
            self.parts.append(KEEP)
        elif tag == "img":
            # Discourse draws emoji as images: <img class="emoji" alt=":smile:">; keep what they say.
            found = dict(attrs)
            if "emoji" in (found.get("class") or "").split() and found.get("alt"):
                self.parts.append(found["alt"])

    def handle_endtag(self, tag: str) -> None:
        self.skipping = max(0, self.skipping - (tag in SKIPPED))
        self.in_pre = max(0, self.in_pre - (tag == "pre"))
        if tag != "br":
            self._break(tag)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        # In HTML, a newline in the source is just a space, except inside <pre>.
        self.parts.append(data if self.in_pre else re.sub(r"\s+", " ", data))


def _fold(run: re.Match) -> str:
    return "\n\n" if PARAGRAPH in run.group() else "\n"


def html_text(markup: str) -> str:
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    return BREAKS.sub(_fold, "".join(collector.parts)).replace(KEEP, "").strip()
