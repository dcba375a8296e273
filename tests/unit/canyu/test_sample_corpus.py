"""The built-in sample corpus (canyu/sample/posts.jsonl) has the shape the demos rely on."""

from __future__ import annotations

import importlib.resources
import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from canyu.schema import Post
from canyu.settings import Settings
from canyu.versions import at_least

HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN = re.compile(r"[A-Za-z]")

# Lower-cased substrings; a post is "about" a topic when its title or text contains one.
KEYWORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "battery": {
        "zh": ("电池", "续航", "耗电", "掉电", "充电", "电量"),
        "ko": ("배터리", "충전"),
        "en": ("battery", "charging", "charge"),
    },
    "camera": {
        "zh": ("相机", "拍照", "夜景", "对焦", "防抖", "摄影"),
        "ko": ("카메라", "야간", "초점", "손떨방", "촬영"),
        "en": ("camera", "night mode", "focus", "stabilisation", "stabilization"),
    },
    "price": {
        "zh": ("价格", "性价比", "降价", "价保", "券后"),
        "ko": ("가격", "가성비", "출고가", "만원", "할인"),
        "en": ("price", "value", "$", "€", "expensive"),
    },
    "update": {
        "zh": ("更新", "升级"),
        "ko": ("업데이트",),
        "en": ("update",),
    },
    "feature_request": {
        "zh": ("希望", "建议", "求求", "能不能"),
        "ko": ("추가해 주세요", "추가해주세요", "건의", "살려 주세요"),
        "en": ("please add", "feature request", "would love", "please bring"),
    },
    "praise": {
        "zh": ("满意", "好用", "真香", "点赞", "推荐", "好评"),
        "ko": ("만족", "최고", "좋아요", "좋네요", "인정", "추천"),
        "en": ("love", "great", "impressed", "fantastic", "worth it"),
    },
}


def script_language(text: str) -> str:
    """zh/ko/en by script: any Hangul is Korean, else any Han is Chinese, else Latin is English."""
    if HANGUL.search(text):
        return "ko"
    if HAN.search(text):
        return "zh"
    if LATIN.search(text):
        return "en"
    return "und"


@pytest.fixture(scope="module")
def lines() -> list[str]:
    resource = importlib.resources.files("canyu") / "sample" / "posts.jsonl"
    return resource.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def posts(lines: list[str]) -> list[Post]:
    return [Post.model_validate_json(line) for line in lines]


@pytest.fixture(scope="module")
def langs(posts: list[Post]) -> dict[str, str]:
    return {p.id: script_language(f"{p.title or ''} {p.text}") for p in posts}


def test_has_at_least_300_lines_and_no_blank_ones(lines):
    assert len(lines) >= 300
    assert all(line.strip() for line in lines)


def test_every_line_is_a_valid_post(lines):
    for n, line in enumerate(lines, 1):
        try:
            Post.model_validate_json(line)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"line {n} is not a valid Post: {exc}")


def test_ids_are_unique_and_name_their_source(posts):
    ids = [p.id for p in posts]
    assert len(ids) == len(set(ids))
    for p in posts:
        native = p.id.split(":", 1)[1]
        assert native.isdigit(), p.id


def test_each_language_is_at_least_a_quarter(posts, langs):
    counts = Counter(langs[p.id] for p in posts)
    assert "und" not in counts, [p.id for p in posts if langs[p.id] == "und"]
    for lg in ("zh", "ko", "en"):
        assert counts[lg] / len(posts) >= 0.25, counts


def test_declared_language_is_sometimes_missing_and_never_wrong(posts, langs):
    declared = [p for p in posts if p.language is not None]
    assert 0.3 <= len(declared) / len(posts) <= 0.7
    for p in declared:
        assert p.language == langs[p.id], p.id


def test_sources_are_roughly_half_each(posts):
    counts = Counter(p.source for p in posts)
    assert set(counts) == {"microblog", "forum"}
    for _source, n in counts.items():
        assert 0.40 <= n / len(posts) <= 0.60, counts


def test_references_point_at_earlier_posts(posts):
    seen: dict[str, Post] = {}
    for p in posts:
        for ref in (p.repost_of, p.parent_id):
            if ref is not None:
                assert ref in seen, f"{p.id} refers to {ref}, which is not earlier in the file"
                assert p.created_at > seen[ref].created_at, f"{p.id} is not later than {ref}"
        seen[p.id] = p


def test_reposts_are_microblog_and_replies_are_forum(posts):
    by_id = {p.id: p for p in posts}
    reposts = [p for p in posts if p.repost_of]
    replies = [p for p in posts if p.parent_id]
    assert reposts and replies
    for p in reposts:
        assert p.source == "microblog" and by_id[p.repost_of].source == "microblog"
        assert p.parent_id is None
    for p in replies:
        assert p.source == "forum" and by_id[p.parent_id].source == "forum"
        assert p.title is None
    microblog = [p for p in posts if p.source == "microblog"]
    assert 0.2 <= len(reposts) / len(microblog) <= 0.4
    assert all(p.title is None for p in microblog)


def test_forum_threads_have_titles(posts):
    threads = [p for p in posts if p.source == "forum" and p.parent_id is None]
    assert len(threads) >= 20
    assert all(p.title for p in threads)


def test_repost_chains_and_popular_posts_exist(posts):
    by_id = {p.id: p for p in posts}

    def depth(p: Post) -> int:
        d = 0
        while p.repost_of:
            d, p = d + 1, by_id[p.repost_of]
        return d

    assert max(depth(p) for p in posts) >= 2
    assert sum(depth(p) >= 2 for p in posts) >= 3
    reposted = Counter(p.repost_of for p in posts if p.repost_of)
    assert sum(n >= 3 for n in reposted.values()) >= 2, reposted.most_common(5)


def test_reposts_exist_in_each_language(posts, langs):
    counts = Counter(langs[p.id] for p in posts if p.repost_of)
    for lg in ("zh", "ko", "en"):
        assert counts[lg] >= 5, counts


@pytest.mark.parametrize("topic", sorted(KEYWORDS))
@pytest.mark.parametrize("lg", ["zh", "ko", "en"])
def test_keyword_coverage(posts, langs, topic, lg):
    words = KEYWORDS[topic][lg]
    hits = [p for p in posts if langs[p.id] == lg and any(w in f"{p.title or ''} {p.text}".lower() for w in words)]
    assert len(hits) >= 3, f"only {len(hits)} {lg} posts about {topic}"


def test_times_are_aware_in_range_and_fetched_later(posts):
    start = datetime(2026, 11, 9, 16, 0, tzinfo=timezone.utc)  # 2026-11-10 00:00 +08:00
    end = datetime(2026, 11, 26, 5, 0, tzinfo=timezone.utc)  # 2026-11-25 24:00 -05:00
    offsets = set()
    for p in posts:
        assert start <= p.created_at < end, p.id
        assert p.fetched_at > p.created_at, p.id
        offsets.add(p.created_at.utcoffset())
    assert {timedelta(hours=8), timedelta(hours=9), timedelta(0), timedelta(hours=-5)} <= offsets
    days = {p.created_at.astimezone(timezone.utc).date() for p in posts}
    assert len(days) >= 12


def test_there_is_a_battery_drain_burst_in_all_three_languages(posts, langs):
    words = {lg: KEYWORDS["battery"][lg] for lg in ("zh", "ko", "en")}
    times = sorted(
        (p.created_at.astimezone(timezone.utc), langs[p.id])
        for p in posts
        if any(w in f"{p.title or ''} {p.text}".lower() for w in words[langs[p.id]]) or p.repost_of or p.parent_id
    )
    best: list[tuple[datetime, str]] = []
    for i, (t0, _) in enumerate(times):
        window = [x for x in times[i:] if x[0] - t0 <= timedelta(hours=2)]
        if len(window) > len(best):
            best = window
    assert len(best) >= 20
    assert best[0][0].date().isoformat() == "2026-11-20"
    assert {lg for _, lg in best} == {"zh", "ko", "en"}


def test_engagement_keeps_missing_apart_from_zero(lines, posts):
    raw = [json.loads(line) for line in lines]
    assert any("engagement" not in r for r in raw), "some posts should carry no engagement at all"
    assert any(r.get("engagement") and all(v == 0 for v in r["engagement"].values()) for r in raw)
    forum = [p for p in posts if p.source == "forum"]
    assert sum(p.engagement.reposts is None for p in forum) / len(forum) >= 0.8
    microblog = [p for p in posts if p.source == "microblog"]
    full = [p for p in microblog if None not in (p.engagement.likes, p.engagement.reposts, p.engagement.comments)]
    assert len(full) / len(microblog) >= 0.8


def test_authors_are_a_reused_pool_with_some_gaps(posts):
    authors = {p.author.id: p.author for p in posts}
    assert 80 <= len(authors) <= 160
    assert Counter(p.author.id for p in posts).most_common(1)[0][1] >= 5
    assert any(a.followers is None for a in authors.values())
    assert any(a.verified is None for a in authors.values())
    big = [a for a in authors.values() if a.verified and (a.followers or 0) >= 100_000]
    assert len(big) >= 3


def test_urls_use_example_domains(posts):
    for p in posts:
        if p.url is not None:
            host = re.match(r"https://([^/]+)/", p.url).group(1)
            assert host == "example" or host.endswith(".example"), p.url


# --- The release story (canyu/sample/releases.jsonl, item-changes.jsonl; docs/releases.md) ---------------------
# Its ingredients, as data. tests/unit/canyu_cli/test_sample_story.py replays it through the worker's own steps.

WIFI = {"zh": ("wifi",), "ko": ("와이파이",), "en": ("wifi",)}
BACKGROUND = {"zh": ("后台",), "ko": ("백그라운드",), "en": ("background",)}
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def story():
    from canyu_cli.sample_story import Story

    return Story.load()


@pytest.fixture(scope="module")
def named(posts) -> dict[str, list[str]]:
    """Post id → the versions it names, as enrich finds them."""
    from models import VersionFinder
    from streams.products import Catalogue

    finder, mentions = VersionFinder.load(), Catalogue.load().mentions
    return {p.id: [m.version for m in finder.find(p.full_text, mentions(p.full_text))] for p in posts}


def about(post: Post, lang: str, words: dict[str, tuple[str, ...]]) -> bool:
    return any(w in f"{post.title or ''} {post.text}".lower() for w in words[lang])


def test_the_story_names_posts_of_the_corpus(story, posts):
    ids = {p.id for p in posts}
    assert story.releases and story.changes
    assert all(r.source == "registered" for r in story.releases)
    assert [c.post for c in story.changes if c.post not in ids] == []
    assert all(c.version for c in story.changes if c.action == "fix")


def test_the_registered_release_brings_wifi_reports_in_three_languages(story, posts, langs, named):
    release = story.releases[0]
    reports = Counter(
        langs[p.id] for p in posts
        if p.created_at >= release.date and release.version in named[p.id] and about(p, langs[p.id], WIFI)
    )  # fmt: skip
    assert min(reports[lg] for lg in ("zh", "ko", "en")) >= 3, reports


def first_seen(posts, named, version: str, authors: int) -> tuple[datetime, datetime]:
    """When ``version`` is first named, and when ``authors`` distinct authors have named it within a day."""
    naming = sorted((p.created_at, p.author.id) for p in posts if version in named[p.id])
    for at, _ in naming:
        within = {a for t, a in naming if at - DAY <= t <= at}
        if len(within) >= authors:
            return naming[0][0], at
    raise AssertionError(f"no {authors} distinct authors name {version} within a day: {naming}")


def test_the_fix_ships_in_a_version_the_worker_sees_in_posts(story, posts, named):
    settings = Settings()
    (version,) = story.fix_versions()
    assert version not in {r.version for r in story.releases}  # nobody registers it: the worker finds it
    first, seen = first_seen(posts, named, version, settings.releases.seen_authors)
    assert seen - first < DAY


def test_no_wifi_report_names_the_old_release_after_the_fix_and_the_corpus_runs_past_its_quiet_period(
    story, posts, langs, named
):
    settings = Settings()
    (version,) = story.fix_versions()
    first, _ = first_seen(posts, named, version, settings.releases.seen_authors)
    old = story.releases[0].version
    late = [p.id for p in posts if p.created_at > first and old in named[p.id] and about(p, langs[p.id], WIFI)]
    assert late == []
    # Whichever post the worker reads first, it dates the release within its first day; the WiFi fix is
    # verified once the grace and the quiet period have passed after that, in the worker's event time.
    quiet = timedelta(days=settings.releases.fix_grace_days + settings.releases.fix_quiet_days)
    assert watermark(posts, settings.kafka.topic_partitions) > first + DAY + quiet


def watermark(posts, partitions: int) -> datetime:
    """The worker's event time once it read the sample: the lowest of each partition's newest post
    (docs/streams.md). posts.raw is keyed by post id, partitioned as Kafka's default partitioner does."""
    from kafka.partitioner.default import murmur2

    newest: dict[int, datetime] = {}
    for p in posts:
        partition = (murmur2(p.id.encode()) & 0x7FFFFFFF) % partitions
        newest[partition] = max(newest.get(partition, p.created_at), p.created_at)
    assert len(newest) == partitions
    return min(newest.values())


def test_background_kills_are_still_reported_on_the_fixed_version(story, posts, langs, named):
    settings = Settings()
    (version,) = story.fix_versions()
    first, _ = first_seen(posts, named, version, settings.releases.seen_authors)
    updated = first + timedelta(days=settings.releases.fix_grace_days)  # past the release's own announcement
    still = [p.id for p in posts if p.created_at > updated and about(p, langs[p.id], BACKGROUND)
             and any(at_least(v, version) for v in named[p.id])]  # fmt: skip
    assert len(still) >= settings.releases.fix_failed_reports, still
