"""The sample's release story, told by the worker's own steps (docs/releases.md walks through it).

The built-in corpus goes through ``enrich`` with the default classifier and the stateful step
(``Signals``) in file order, on in-memory tables, with the story's registered releases; a
release the step sees in posts is fed back as the worker's follower would. Then the story's
item changes are applied the way ``canyu up`` does. What the dashboard shows must follow:
HyperOS 1.0.6.0 brings WiFi drops reported in three languages, they stop after the fix in
1.0.7.0 (a release nobody registered) and the fix is verified; the background kills fixed in
1.0.7.0 keep coming, and the fix did not hold. The worker reads the posts in another order (by
partition), which tests/integration/test_main_job.py checks on the real stack.
"""

from __future__ import annotations

import json

import pytest

from canyu.lifecycle import apply
from canyu.schema import DeadLetter
from canyu.settings import Settings
from canyu_cli.sample_story import Story, StoryChange
from models import VersionFinder, load_classifier
from producers.replay import sample_corpus
from streams.app import signal_config
from streams.enrich import RawRecord, enrich_batch
from streams.feedback import is_feedback
from streams.products import Catalogue
from streams.signals import Outputs, Signals, Tables
from streams.watch import StaticRegistries

WIFI_POST = "forum:100724"  # the first WiFi report, in Chinese
BACKGROUND_POST = "forum:100992"  # the first report of background apps killed
DRAIN_POST = "microblog:4901000007055568"  # the first report of the battery drain that 1.0.7.0 brought


@pytest.fixture(scope="module")
def story() -> Story:
    return Story.load()


class Told:
    """The sample through the stateful step, and the story's changes after it."""

    def __init__(self, story: Story):
        settings = Settings()
        lines = [line for line in sample_corpus().read_bytes().splitlines() if line.strip()]
        records = [RawRecord(line, offset=n) for n, line in enumerate(lines)]
        enriched = enrich_batch(records, load_classifier(settings.classifier.backend), settings,
                                mentions=Catalogue.load().mentions, versions=VersionFinder.load().find)  # fmt: skip
        self.registries = StaticRegistries()
        for release in story.releases:
            self.registries.add_release(release)
        self.signals = Signals(Tables(), signal_config(settings), self.registries)
        self.offset = 0
        self.outs: list[Outputs] = []
        for result in enriched:
            assert not isinstance(result, DeadLetter), result.reason
            post, vector = result
            # enrich sends the sentence vector with the posts that feedback items group, as the worker does
            self._took(self.signals.process(post, self._next(), self.signals.fingerprint_of(post),
                                            vector if is_feedback(post) else None))  # fmt: skip
        self.item_of = {out.post.id: out.post.item_id for out in self.outs if out.post is not None}
        for change in story.changes:
            item_id = self.item_of[change.post]
            said = apply(self.registries.lifecycles().get(item_id), item_id, change.change())
            self.registries.set_lifecycle(said)
            self._sync()

    def _next(self) -> int:
        self.offset += 1
        return self.offset

    def _took(self, out: Outputs) -> None:
        self.outs.append(out)
        out.impacts = self.signals.watch.impacts()
        for release in out.releases:  # seen in posts: the worker sends it, and follows it back
            if release.key not in self.registries.releases():
                self.registries.add_release(release)
                self._sync()

    def _sync(self) -> None:
        out = Outputs(None)
        self.signals.watch.sync(self._next(), out)
        self._took(out)

    def item(self, post_id: str):
        item_id = self.item_of[post_id]
        return [item for out in self.outs for item in out.items if item.id == item_id][-1]

    def impact(self, key: str):
        return [impact for out in self.outs for impact in out.impacts if impact.id == key][-1]

    def alerts(self, kind: str) -> list:
        return [a for out in self.outs for a in out.alerts if a.kind == kind]


@pytest.fixture(scope="module")
def told(story) -> Told:
    return Told(story)


def test_the_registered_release_regressed_wifi_in_three_languages(told, story):
    release = story.releases[0]
    wifi = told.item(WIFI_POST)
    assert {"zh", "ko", "en"} <= set(wifi.languages)
    regressions = told.impact(release.key).regressions
    assert wifi.id in [i.item_id for i in regressions]
    assert any(a.dimensions["item"] == wifi.id for a in told.alerts("regression"))


def test_the_fix_version_is_seen_in_posts(told, story):
    (version,) = story.fix_versions()
    seen = told.registries.releases()[f"hyperos|{version}"]
    assert seen.source == "seen" and seen.authors >= Settings().releases.seen_authors


def test_the_wifi_fix_is_verified_and_the_background_fix_did_not_hold(told, story):
    (version,) = story.fix_versions()
    wifi, background = told.item(WIFI_POST), told.item(BACKGROUND_POST)
    assert (wifi.status, wifi.fixed_in) == ("verified", version)
    assert (background.status, background.fixed_in) == ("fix_failed", version)
    (failed,) = told.alerts("fix_failed")
    assert (failed.dimensions["item"], failed.dimensions["version"]) == (background.id, version)
    after = told.impact(f"hyperos|{version}")
    assert [(i.item_id, i.status) for i in after.quieted if i.item_id == wifi.id] == [(wifi.id, "verified")]


def test_replies_join_their_threads_item_so_the_fix_release_regressed_the_drain_alone(told, story):
    """Workarounds, rollbacks and "1.0.7.1 fixed it" replies in a thread are its item's, not items of their own."""
    posts = [json.loads(line) for line in sample_corpus().read_text(encoding="utf-8").splitlines() if line.strip()]
    parents = {p["id"]: p.get("parent_id") for p in posts}
    replies = [(told.item_of[post], told.item_of.get(parent)) for post, parent in parents.items() if parent]
    in_threads = [(item, parent_item) for item, parent_item in replies if item and parent_item]
    assert len(in_threads) > 50 and all(item == parent_item for item, parent_item in in_threads)
    (version,) = story.fix_versions()
    regressions = told.impact(f"hyperos|{version}").regressions
    assert [i.item_id for i in regressions] == [told.item_of[DRAIN_POST]]


def test_a_bad_line_of_the_story_is_named(tmp_path):
    (tmp_path / "releases.jsonl").write_text('{"product": "hyperos", "version": "1.0.6.0"}\n', encoding="utf-8")
    (tmp_path / "item-changes.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=r"releases\.jsonl:1: .*date"):
        Story.load(tmp_path)
    (tmp_path / "releases.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "item-changes.jsonl").write_text(
        "\n" + json.dumps({"post": "forum:1", "action": "close"}) + "\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match=r"item-changes\.jsonl:2: .*action"):
        Story.load(tmp_path)


def test_a_change_made_by_an_earlier_canyu_up_is_not_made_again():
    fix = StoryChange(post="forum:1", action="fix", version="1.0.7.0", note="driver patched")
    said = apply(None, "item-1", fix.change())
    assert fix.done_in(said.history)
    assert not StoryChange(post="forum:1", action="fix", version="1.0.8.0", note="driver patched").done_in(said.history)
    by_hand = apply(None, "item-1", fix.change().model_copy(update={"by": "cli"}))
    assert not fix.done_in(by_hand.history)
