"""``canyu dlq`` on the real broker: dead letters listed by stage, source and reason, and sent back."""

from __future__ import annotations

import subprocess
import sys

from canyu import topics
from canyu.schema import DeadLetter
from canyu_runtime.dead_letters import DeadLetterWriter, read_dead_letters
from canyu_runtime.kafka_clients import make_producer
from tests.integration.conftest import env_for, read_topic


def run(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "canyu_cli", "dlq", *args], env=env_for(settings),
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_dead_letters_are_listed_shown_and_sent_back_to_their_topic(ns, tmp_path):
    raw_topic = ns.topic(topics.POSTS_RAW)
    writer = DeadLetterWriter(ns)
    writer.send_all([
        DeadLetter.of(b'{"id": "forum:1", "text"', stage="enrich", reason="not a valid Post: value: EOF",
                      topic=raw_topic, key="forum:1"),
        DeadLetter.of(b'{"id": 7}', stage="produce", source="weibo-main", reason="missing field 'text'",
                      topic=raw_topic),
        DeadLetter.of(b"{}", stage="sink", reason="rejected by Elasticsearch: mapper_parsing_exception",
                      topic=ns.topic(topics.POSTS_ENRICHED), key="forum:2"),
    ])  # fmt: skip
    writer.close()
    producer = make_producer(ns)
    producer.send(ns.topic(topics.DEAD_LETTERS), value=b"not a dead letter").get(timeout=30)
    producer.close()

    listed = run(ns, "list")
    assert listed.returncode == 0, listed.stderr
    assert "4 dead letter(s)" in listed.stdout and "not a dead letter" in listed.stdout
    enrich = run(ns, "list", "--stage", "enrich")
    assert "1 dead letter(s)" in enrich.stdout and "not a valid Post" in enrich.stdout
    assert "weibo-main" in run(ns, "list", "--source", "weibo-main").stdout
    assert "0 dead letter(s)" in run(ns, "list", "--reason", "no such reason").stdout

    ref = next(s.ref for s in read_dead_letters(ns) if s.letter and s.letter.stage == "enrich")
    shown = run(ns, "show", ref)
    assert shown.returncode == 0 and '"stage": "enrich"' in shown.stdout and '{"id": "forum:1", "text"' in shown.stdout
    assert run(ns, "show", "9:999").returncode == 1

    assert run(ns, "replay").returncode == 1  # nothing named: nothing sent
    fixed = tmp_path / "fixed.json"
    fixed.write_bytes(b'{"id": "forum:1", "text": "fixed"}')
    sent = run(ns, "replay", ref, "--value-file", str(fixed))
    assert sent.returncode == 0, sent.stderr
    assert run(ns, "replay", "--stage", "produce", "--dry-run").stdout.startswith("would send")
    assert run(ns, "replay", "--stage", "produce").returncode == 0

    back = {(r.key, r.value) for r in read_topic(ns, raw_topic)}
    assert back == {(b"forum:1", b'{"id": "forum:1", "text": "fixed"}'), (None, b'{"id": 7}')}
    assert len(read_dead_letters(ns)) == 4  # the letters stay where they were
