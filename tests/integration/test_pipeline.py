"""End to end on the real broker and node: replay → worker → sink → Elasticsearch."""

from __future__ import annotations

import json
from pathlib import Path

from canyu import topics
from canyu.schema import DeadLetter, EnrichedPost, Post
from canyu_runtime.kafka_clients import make_producer, publish
from producers.replay import replay
from tests.integration.conftest import committed_everything, count_docs, read_topic, running, wait_for

TEXTS = [
    ("zh", "升级之后电池续航太差了，一天要充三次电"),
    ("zh", "夜景拍照效果很好，非常满意"),
    ("zh", "希望增加通话录音功能"),
    ("ko", "업데이트 후 와이파이가 계속 끊겨요"),
    ("ko", "카메라 정말 좋아요 야간 사진 최고"),
    ("ko", "배터리 충전 속도 너무 빨라서 만족"),
    ("en", "Battery drains overnight since the latest update"),
    ("en", "Please add call recording to the dialer"),
    ("en", "The camera is amazing for the price"),
]


def write_posts(path: Path, n: int) -> list[Post]:
    posts = []
    for i in range(n):
        lang, text = TEXTS[i % len(TEXTS)]
        posts.append(Post(
            id=f"forum:{1000 + i}", source="forum", text=f"{text} #{i}", created_at=f"2026-11-2{i % 10}T10:00:00+08:00",
            author={"id": f"user{i % 7}", "followers": i}, engagement={"likes": i} if i % 2 else {},
        ))  # fmt: skip
    path.write_text("".join(p.model_dump_json() + "\n" for p in posts))
    return posts


def test_a_post_makes_the_round_trip_through_kafka(ns):
    post = Post(id="weibo:42", source="weibo", text="카메라 좋아요", created_at="2026-11-20T10:00:00+09:00",
                author={"id": "u"})  # fmt: skip
    producer = make_producer(ns)
    publish(producer, ns.topic(topics.POSTS_RAW), post).get(timeout=30)
    producer.close()
    (record,) = read_topic(ns, ns.topic(topics.POSTS_RAW))
    assert record.key == b"weibo:42"
    assert Post.model_validate_json(record.value) == post


def test_the_worker_enriches_and_the_sink_indexes(ns, tmp_path):
    posts = write_posts(tmp_path / "posts.jsonl", 27)
    with running("worker", ns, tmp_path), running("sink", ns, tmp_path):
        result = replay(tmp_path / "posts.jsonl", ns, progress=False)
        assert result.published == 27 and not result.unacknowledged
        wait_for(lambda: count_docs(ns) == 27, what="27 indexed posts")

    enriched = [EnrichedPost.model_validate_json(r.value) for r in read_topic(ns, ns.topic(topics.POSTS_ENRICHED))]
    assert sorted(p.id for p in enriched) == sorted(p.id for p in posts)
    by_id = {p.id: p for p in enriched}
    assert by_id["forum:1000"].language == "zh" and by_id["forum:1000"].sentiment.label == "negative"
    assert by_id["forum:1004"].language == "ko" and by_id["forum:1004"].sentiment.label == "positive"
    assert by_id["forum:1007"].intent.label == "feature_request"
    # a missing count stays missing all the way to the index
    assert by_id["forum:1000"].engagement.likes is None and by_id["forum:1001"].engagement.likes == 1


def test_replaying_the_same_file_twice_leaves_exactly_n_documents(ns, tmp_path):
    write_posts(tmp_path / "posts.jsonl", 30)
    with running("worker", ns, tmp_path), running("sink", ns, tmp_path):
        replay(tmp_path / "posts.jsonl", ns, progress=False)
        wait_for(lambda: count_docs(ns) == 30, what="30 indexed posts")
        replay(tmp_path / "posts.jsonl", ns, progress=False)
        classified, enriched = ns.topic(topics.POSTS_CLASSIFIED), ns.topic(topics.POSTS_ENRICHED)
        wait_for(lambda: len(read_topic(ns, classified)) == 60, what="both replays classified")
        wait_for(lambda: committed_everything(ns, ns.worker_app_id, classified), what="the worker to catch up")
        wait_for(lambda: committed_everything(ns, ns.sink_group, enriched), what="the sink to catch up")
    assert count_docs(ns) == 30
    assert len(read_topic(ns, enriched)) == 30  # the second delivery of each post was recognised and dropped


def test_a_malformed_record_goes_to_the_dlq_while_good_ones_arrive(ns, tmp_path):
    write_posts(tmp_path / "posts.jsonl", 9)
    raw_topic = ns.topic(topics.POSTS_RAW)
    producer = make_producer(ns)
    producer.send(raw_topic, key=b"broken:1", value=b'{"id": "broken:1", "text": ').get(timeout=30)
    producer.send(raw_topic, key=b"forum:bad", value=json.dumps({"id": "forum:bad", "source": "forum", "text": "x",
                  "created_at": "not a date", "author": {"id": "a"}}).encode()).get(timeout=30)  # fmt: skip
    producer.close()
    with running("worker", ns, tmp_path), running("sink", ns, tmp_path):
        replay(tmp_path / "posts.jsonl", ns, progress=False)
        wait_for(lambda: count_docs(ns) == 9, what="the 9 good posts indexed")
        dead_letters = ns.topic(topics.DEAD_LETTERS)
        dlq = wait_for(lambda: len(r := read_topic(ns, dead_letters)) == 2 and r, what="2 dead letters")
    letters = {DeadLetter.model_validate_json(r.value).key: DeadLetter.model_validate_json(r.value) for r in dlq}
    assert letters["broken:1"].raw() == b'{"id": "broken:1", "text": '
    assert "Invalid JSON" in letters["broken:1"].reason or "EOF" in letters["broken:1"].reason
    assert "created_at" in letters["forum:bad"].reason
    assert letters["forum:bad"].stage == "enrich" and letters["forum:bad"].topic == raw_topic
