"""Chaos on the real stack (issue 10, §8): 10 000 posts through the real ``canyu worker`` and
``canyu sink`` while, one after the other, the worker is killed with SIGKILL and started again,
the sink is killed with SIGKILL and started again, Elasticsearch is frozen with SIGSTOP for 60 s,
and Kafka is stopped by its PID and started again.

Then every good post is indexed exactly once; the worker's windowed counts (the compacted
``counts`` topic, latest value per key) equal, key by key, the posts that fall in each window,
so nothing was lost and nothing counted twice; and the dead-letter topic holds exactly the
poison records mixed into the stream.

The test freezes and restarts the servers of the stack it is given (the ``stack`` fixture's
settings) and leaves them running, also when it fails. Develop it on a stack of your own (see
docs/reliability.md), never on one that others are testing against.

Dates are chosen so that the counts do not depend on the order of processing: the recent posts
(and those dated up to a day after their fetch, counted at their fetch) fall within 300 s, less
than any window's grace, so none of them can be late; the old ones (2001 to 2024) come after the
stream's clock has reached the present, so each of them is older than the counts keep: too old to count.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.request import urlopen

import pytest

from canyu import topics
from canyu.schema import DeadLetter, EnrichedPost, Post
from canyu.settings import Settings
from canyu_cli.stack.servers import Server, servers
from canyu_runtime.elastic import client, pages
from canyu_runtime.kafka_clients import make_producer
from streams.signals import SignalConfig, dimensions, event_time, key_of
from tests.integration.conftest import committed_everything, count_docs, env_for, free_port, read_topic, wait_for

N_POSTS = int(os.environ.get("CHAOS_POSTS", "10000"))  # fewer while developing; CI runs 10 000
N_FIRST = 40  # posts published before the others: enough that every one of the four partitions gets some
FREEZE_S = 60
SPAN_S = 280  # recent posts' dates: well inside the 300 s grace of every window

NOW = datetime.now(timezone.utc).replace(microsecond=0)
T0 = NOW - timedelta(hours=1)
FETCHED = T0 + timedelta(seconds=SPAN_S + 5)
OLD_DAYS = [datetime(y, m, d, tzinfo=timezone.utc) for y, m, d in ((2001, 2, 3), (2013, 6, 15), (2020, 2, 29),
                                                                   (2024, 12, 31))]  # fmt: skip

SOURCES = [("weibo", "zh"), ("bbs", "zh"), ("forum", "en"), ("reddit", "en"), ("cafe", "ko")]
WORDS = {
    "en": "river mountain tiger violet harbor lantern pepper orchid falcon meadow copper willow saffron glacier "
    "thistle bamboo heron amber cobalt juniper marble otter plum quartz raven sierra tulip umber walnut yarrow "
    "zinnia acorn birch cedar dahlia ember fennel garnet hazel iris jasper kelp lotus maple nectar olive pebble "
    "quill rowan sable teal".split(),
    "zh": "电池 续航 屏幕 相机 夜景 镜头 系统 信号 蓝牙 耳机 音质 外观 手感 快递 客服 售后 价格 游戏 刷新 亮度 指纹 "
    "键盘 桌面 图标 相册 闹钟 日历 天气 地图 导航 钱包 短信 邮件 浏览 下载 音乐 视频 直播 壁纸 主题 字体 锁屏 通知 "
    "后台 内存 存储 散热 振动 马达 按键 接口 卡槽 天线 基带 芯片 电源 插头 充电器 数据线".split(),
    "ko": "배터리 화면 카메라 사진 야간 렌즈 업데이트 신호 블루투스 이어폰 음질 디자인 무게 배송 택배 가격 게임 밝기 "
    "지문 키보드 바탕화면 아이콘 앨범 알람 달력 날씨 지도 내비 지갑 문자 메일 브라우저 다운로드 음악 동영상 방송 "
    "배경화면 테마 글꼴 잠금화면 알림 메모리 저장공간 진동 버튼 단자 유심 안테나 칩셋 충전기 케이블".split(),
}
CUES = {  # topics, sentiments, intents and products for the counts to be kept under
    "en": ["battery drains fast", "the camera is great", "please add call recording",
           "screen flickers after the update", "how do I turn off the ads", "Xiaomi 14 lags in games",
           "love the Redmi Note 13 design", ""],
    "zh": ["电池掉电太快", "小米14拍照很好", "希望增加通话录音", "更新后屏幕闪退", "红米K70发热严重",
           "请问怎么关广告", ""],
    "ko": ["배터리 광탈", "카메라 좋아요", "샤오미 14 업데이트 후 버그", "통화 녹음 추가해 주세요", "포코 F6 발열", ""],
}  # fmt: skip


def good_posts(n: int) -> tuple[list[Post], set[str]]:
    """``n`` posts over five sources and three languages; returns them and the ids of the old ones."""
    rng = random.Random(10)
    posts, old = [], set()
    for i in range(n):
        source, language = SOURCES[i % len(SOURCES)]
        words = rng.sample(WORDS[language], 8)
        text = f"{rng.choice(CUES[language])} {('，' if language == 'zh' else ' ').join(words)} n{i}"
        # The first posts are recent: each partition's first post sets its clock to the present, so
        # the stream's clock has settled before any old post comes (until every partition has spoken,
        # no post can be judged late or too old).
        kind = rng.random() if i >= N_FIRST else 0.5
        if kind < 0.06:  # dated up to a day after its fetch: a clock or timezone error, in the window
            created = FETCHED + timedelta(seconds=rng.randint(60, 20 * 3600))
        elif kind < 0.12:  # years ago, in the window: late for every window
            created = rng.choice(OLD_DAYS) + timedelta(seconds=rng.randint(0, 3600))
            old.add(f"{source}:{i}")
        else:
            created = T0 + timedelta(seconds=rng.uniform(0, SPAN_S))
        posts.append(Post(id=f"{source}:{i}", source=source, text=text, created_at=created, fetched_at=FETCHED,
                          language=language if i % 2 else None, author={"id": f"u{i % 97}"},
                          engagement={"likes": i % 13}))  # fmt: skip
    return posts, old


def raw(key: str, **changes) -> bytes:
    fields = {"id": key, "source": "forum", "text": "battery drains fast", "author": {"id": "a"},
              "created_at": T0.isoformat(), "fetched_at": FETCHED.isoformat()}  # fmt: skip
    return json.dumps({**fields, **changes}).encode()


POISON = {  # key → value: each must end up as one dead letter, and nowhere else
    "forum:poison-year1": raw("forum:poison-year1", created_at="0001-01-01T00:00:00+05:00"),
    "forum:poison-2999": raw("forum:poison-2999", created_at="2999-01-01T00:00:00Z"),
    "forum:poison-fetched-2999": raw(
        "forum:poison-fetched-2999", created_at="2999-01-01T00:00:00Z", fetched_at="2999-01-01T00:00:00Z"
    ),
    "forum:poison-1999": raw("forum:poison-1999", created_at="1999-12-31T23:59:59Z"),
    "forum:poison-not-json": b"\xff\xfe not JSON {",
    "forum:poison-json-null": b"null",
    "forum:poison-null-value": None,
    "forum:poison-no-text": raw("forum:poison-no-text", text=None),
}


class Service:
    """``canyu <role>`` as its own process, started again after each kill, one log per run."""

    def __init__(self, role: str, settings: Settings, log_dir: Path):
        self.role, self.settings, self.log_dir = role, settings, log_dir
        self.proc: subprocess.Popen | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        with (self.log_dir / f"{self.role}-{self.runs}.log").open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "canyu_cli", self.role], env=env_for(self.settings),
                                         stdout=out, stderr=subprocess.STDOUT)  # fmt: skip

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if not self.alive():
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()


NOISE = ("Unable connect", "Unable to update", "ECONNREFUSED", "NodeNotReady", "Connection lost", "disconnected",
         "No node available", "buffer full", "flush took", "produce response", "Heartbeat", "coordinator")  # fmt: skip


def print_log_tails(log_dir: Path, lines: int = 40) -> None:
    """What the services said last, less the connection noise of an outage: for a failed run in CI."""
    for log in sorted(log_dir.glob("*.log")):
        said = [line[:300] for line in log.read_text(errors="replace").splitlines()
                if ("WARNING" in line or "ERROR" in line) and not any(n in line for n in NOISE)]  # fmt: skip
        print(f"--- {log.name}, last warnings and errors:", *said[-lines:], sep="\n")


def print_offsets(settings: Settings) -> None:
    """The worker's offset bookkeeping (``/offsets/``), for a failed run: why a commit stood still."""
    try:
        with urlopen(f"http://127.0.0.1:{settings.worker.web_port}/offsets/", timeout=10) as r:
            seen = json.load(r)
        read = [row for row in seen["partitions"] if row["read"] is not None]  # not the changelogs
        print(f"--- the worker's offsets (a commit running: {seen['commit_running']}):", *read, sep="\n")
    except OSError as e:
        print(f"--- the worker's offsets: not read ({e})")


def server(settings: Settings, name: str) -> Server:
    (found,) = [s for s in servers(settings) if s.name == name]
    return found


def es_freeze(es: Server, sig: signal.Signals) -> None:
    """SIGSTOP or SIGCONT to Elasticsearch's whole process group (its launcher and its JVM)."""
    pid = es.pid()
    assert pid is not None, "Elasticsearch is not running"
    os.killpg(pid, sig)


def publish(settings: Settings, records: list[tuple[str, bytes | None]]) -> None:
    producer = make_producer(settings)
    for key, value in records:
        producer.send(settings.topic(topics.POSTS_RAW), key=key.encode(), value=value)
    producer.flush()
    producer.close()


def indexed(settings: Settings) -> list[dict]:
    """Every document behind the posts alias, read to the end."""
    with client(settings, request_timeout=60) as es:
        es.indices.refresh(index=settings.posts_alias)
        return [hit for page in pages(es, settings.posts_alias, {"match_all": {}}) for hit in page]


def expected_counts(docs: list[dict], old: set[str]) -> dict[str, int]:
    """What the worker must hold per minute and key (hours are sums of minutes): each indexed
    post that is not a near-duplicate and not too old, once in its minute under each of its dimensions."""
    config, counts = SignalConfig(), Counter()
    for doc in docs:
        post = EnrichedPost.model_validate(doc["_source"])
        if post.duplicate_of is not None or post.id in old:
            continue
        (minute,) = config.live.starts(event_time(post))
        for dims in dimensions(post):
            counts[f"{config.live.name}|{key_of(dims)}|{minute}"] += 1
    return dict(counts)


def folded_counts(settings: Settings) -> dict[str, int]:
    """The counts topic is compacted: a key's latest record is its count."""
    return {r.key.decode(): int(r.value) for r in read_topic(settings, settings.topic(topics.COUNTS))}


def dead_letters(settings: Settings) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(r.value) for r in read_topic(settings, settings.topic(topics.DEAD_LETTERS))]


def progress(settings: Settings, at_least: int, what: str, timeout: float = 300) -> None:
    wait_for(lambda: count_docs(settings) >= at_least, timeout=timeout, what=f"{at_least} posts indexed {what}")


@pytest.mark.timeout(1500)
def test_ten_thousand_posts_through_kills_a_frozen_elasticsearch_and_a_kafka_restart(stack, ns, tmp_path):
    started = time.monotonic()
    settings = ns.replace(classifier="lexicon", worker_web_port=free_port())
    posts, old = good_posts(N_POSTS)
    good = {p.id for p in posts}
    first = [(p.id, p.model_dump_json().encode()) for p in posts[:N_FIRST]]
    records = [(p.id, p.model_dump_json().encode()) for p in posts[N_FIRST:]]
    rng = random.Random(11)
    for key, value in POISON.items():  # mixed in anywhere
        records.insert(rng.randrange(len(records)), (key, value))
    chunks = [records[i * len(records) // 5 : (i + 1) * len(records) // 5] for i in range(5)]

    kafka, es = server(stack, "kafka"), server(stack, "elasticsearch")
    worker, sink = Service("worker", settings, tmp_path), Service("sink", settings, tmp_path)
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = round(time.monotonic() - started)

    try:
        worker.start()
        sink.start()
        publish(settings, first)
        progress(settings, N_FIRST, "(the first posts: the worker and the sink are up)", timeout=240)
        phase("up")

        publish(settings, chunks[0])
        progress(settings, len(chunks[0]) // 3, "before the worker is killed")
        worker.kill()
        publish(settings, chunks[1])
        worker.start()
        phase("worker killed")

        progress(settings, len(chunks[0]) + len(chunks[1]) // 3, "before the sink is killed")
        sink.kill()
        sink.start()
        phase("sink killed")

        publish(settings, chunks[2])
        progress(settings, sum(map(len, chunks[:2])), "before Elasticsearch is frozen")
        es_freeze(es, signal.SIGSTOP)
        try:
            time.sleep(FREEZE_S)
            assert worker.alive() and sink.alive(), "a service gave up while Elasticsearch was frozen"
        finally:
            es_freeze(es, signal.SIGCONT)
        phase("elasticsearch frozen")

        publish(settings, chunks[3])
        progress(settings, sum(map(len, chunks[:3])), "before Kafka is restarted")
        assert kafka.down(), "Kafka was not running"
        kafka.up()
        phase("kafka restarted")

        publish(settings, chunks[4])
        wait_for(lambda: count_docs(settings) >= N_POSTS, timeout=600, what=f"all {N_POSTS} good posts indexed")
        for group, topic in ((settings.worker_app_id, topics.POSTS_RAW), (settings.worker_app_id,
                             topics.POSTS_CLASSIFIED), (settings.sink_group, topics.POSTS_ENRICHED)):  # fmt: skip
            wait_for(lambda g=group, t=topic: committed_everything(settings, g, settings.topic(t)), timeout=180,
                     what=f"{group} to commit all of {topic}")  # fmt: skip
        assert worker.alive() and sink.alive(), "a service exited"
        phase("all indexed")

        with urlopen(f"http://127.0.0.1:{settings.worker.web_port}/signals/", timeout=10) as r:
            clock = json.load(r)
        docs = indexed(settings)
        counts = folded_counts(settings)
        letters = dead_letters(settings)
    except BaseException:
        print_log_tails(tmp_path)
        print_offsets(settings)
        raise
    finally:
        worker.stop()
        sink.stop()
        if es.pid() is not None:
            es_freeze(es, signal.SIGCONT)
        kafka.up()  # idempotent: a no-op when it runs
        es.up()

    ids = Counter(doc["_id"] for doc in docs)
    summary = (
        f"chaos: {N_POSTS} posts + {len(POISON)} poison, {len(docs)} indexed ({len(ids)} distinct), "
        f"{len(letters)} dead letters ({len({d.key for d in letters})} distinct keys), {len(counts)} count keys, "
        f"{len(old)} old (too old: {clock['too_old']}, late: {clock['late']}), "
        f"worker runs {worker.runs}, sink runs {sink.runs}, "
        f"elapsed {time.monotonic() - started:.0f} s; phases (s since start): {phases}"
    )
    print(summary)

    problems = []
    if twice := [i for i, n in ids.items() if n > 1]:
        problems.append(f"{len(twice)} posts indexed twice, e.g. {twice[:5]}")
    if missing := good - set(ids):
        problems.append(f"{len(missing)} posts not indexed, e.g. {sorted(missing)[:5]}")
    if unexpected := set(ids) - good:
        problems.append(f"documents that are no good post: {sorted(unexpected)[:5]}")
    if selves := [doc["_id"] for doc in docs if doc["_source"]["duplicate_of"] == doc["_id"]]:
        problems.append(f"posts marked near-duplicates of themselves: {selves}")
    expected = expected_counts(docs, old)
    wrong = {k: (counts.get(k), expected.get(k)) for k in counts.keys() | expected.keys()
             if counts.get(k) != expected.get(k)}  # fmt: skip
    miscounted = (
        f"{len(wrong)} of {len(expected)} window keys differ (counted, expected): "
        f"{sum(c or 0 for c, _ in wrong.values()) - sum(e or 0 for _, e in wrong.values()):+d} in all, "
        f"e.g. {sorted(wrong.items())[:6]}"
    )
    print(f"chaos: {len(expected)} window keys expected, {len(wrong)} differ")
    if clock["too_old"] < len(old) or clock["watermark"] > time.time():
        problems.append(f"the stream's clock: {clock}, with {len(old)} old posts")
    if (keys := {letter.key for letter in letters}) != set(POISON):
        problems.append(f"dead letters that should not be, or are missing: {sorted(keys ^ set(POISON))}")
    if bare := [letter for letter in letters if letter.stage != "enrich" or not letter.reason]:
        problems.append(f"dead letters without their stage or reason: {bare}")
    if wrong:
        problems.append(f"windowed counts: {miscounted}")
    assert not problems, "\n".join(problems)
