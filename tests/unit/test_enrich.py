import json

from canyu.schema import DeadLetter, EnrichedPost
from models import load_classifier
from streams.enrich import RawRecord, enrich_batch

GOOD = {"id": "forum:1", "source": "forum", "title": "电池", "text": "升级后耗电很快",
        "created_at": "2026-11-20T10:00:00+08:00", "author": {"id": "a"}}  # fmt: skip


def test_good_records_are_enriched_and_bad_ones_become_dead_letters_in_order():
    records = [
        RawRecord(json.dumps(GOOD).encode(), topic="posts.raw", partition=0, offset=1),
        RawRecord(b"{not json", topic="posts.raw", partition=0, offset=2, key="x"),
        RawRecord(json.dumps({**GOOD, "id": "forum:2", "created_at": "yesterday"}).encode(), offset=3),
        RawRecord(json.dumps({**GOOD, "id": "forum:3", "language": "ja"}).encode(), offset=4),
    ]
    results = enrich_batch(records, load_classifier("lexicon"))
    assert [type(r) for r in results] == [EnrichedPost, DeadLetter, DeadLetter, EnrichedPost]
    good, bad_json, bad_date, declared = results
    assert good.language == "zh" and good.sentiment.label == "negative" and good.classifier == "lexicon-1"
    assert "battery" in [t.id for t in good.topics]
    assert bad_json.offset == 2 and bad_json.key == "x" and bad_json.raw() == b"{not json"
    assert "created_at" in bad_date.reason
    assert declared.language == "ja"  # the source's declaration wins over the guess


def test_an_all_bad_batch_never_calls_the_classifier():
    class Exploding:
        name = "boom"

        def classify(self, texts):
            assert texts == []
            return []

    results = enrich_batch([RawRecord(b"[]")], Exploding())
    assert isinstance(results[0], DeadLetter)
