import json

from canyu.schema import DeadLetter, EnrichedPost
from canyu.settings import Settings
from canyu_runtime.retry import RetryPolicy
from models import load_classifier
from streams.enrich import Enriched, RawRecord, enrich_batch

GOOD = {"id": "forum:1", "source": "forum", "title": "电池", "text": "升级后耗电很快",
        "created_at": "2026-11-20T10:00:00+08:00", "author": {"id": "a"}}  # fmt: skip


def test_good_records_are_enriched_and_bad_ones_become_dead_letters_in_order():
    records = [
        RawRecord(json.dumps(GOOD).encode(), topic="posts.raw", partition=0, offset=1),
        RawRecord(b"{not json", topic="posts.raw", partition=0, offset=2, key="x"),
        RawRecord(json.dumps({**GOOD, "id": "forum:2", "created_at": "yesterday"}).encode(), offset=3),
        RawRecord(json.dumps({**GOOD, "id": "forum:3", "language": "ja"}).encode(), offset=4),
    ]
    results = enrich_batch(records, load_classifier("lexicon"), Settings())
    assert [type(r) for r in results] == [Enriched, DeadLetter, DeadLetter, Enriched]
    (good, _), bad_json, bad_date, (declared, _) = results
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

    results = enrich_batch([RawRecord(b"[]")], Exploding(), Settings())
    assert isinstance(results[0], DeadLetter)


def test_null_values_dates_outside_the_window_and_records_too_big_once_enriched_are_dead_letters():
    from canyu_runtime.kafka_clients import MAX_RECORD_BYTES

    records = [
        RawRecord(None, key="forum:1"),
        RawRecord(json.dumps({**GOOD, "created_at": "0001-01-01T00:00:00+05:00"}).encode()),
        RawRecord(json.dumps({**GOOD, "created_at": "1999-12-31T23:59:59Z"}).encode()),
        RawRecord(json.dumps({**GOOD, "created_at": "2999-01-01T00:00:00Z"}).encode()),
        RawRecord(json.dumps({**GOOD, "text": "电" * (MAX_RECORD_BYTES // 3)}).encode()),
        RawRecord(json.dumps(GOOD).encode()),
    ]
    results = enrich_batch(records, load_classifier("lexicon"), Settings())
    assert [type(r) for r in results] == [DeadLetter] * 5 + [Enriched]
    null, year1, y1999, y2999, big = results[:5]
    assert null.key == "forum:1" and null.raw() == b"" and "null" in null.reason
    assert all("outside the sane window" in r.reason and r.source == "forum" for r in (year1, y1999, y2999))
    assert "once enriched" in big.reason


def test_a_text_the_classifier_fails_on_is_set_aside_and_the_rest_are_labelled():
    lexicon = load_classifier("lexicon")

    class Picky:
        name = "picky"

        def classify(self, texts):
            if any("boom" in t for t in texts):
                raise RuntimeError("boom")
            return lexicon.classify(texts)

    records = [RawRecord(json.dumps({**GOOD, "id": f"forum:{i}", "text": t}).encode()) for i, t in enumerate("abc")]
    records[1] = RawRecord(json.dumps({**GOOD, "id": "forum:1", "text": "boom"}).encode())
    results = enrich_batch(records, Picky(), Settings(), retry=RetryPolicy(first_s=0.001, max_s=0.001, attempts=2))
    assert [type(r) for r in results] == [Enriched, DeadLetter, Enriched]
    assert results[1].reason == "the classifier failed: boom"


def test_the_classifier_s_sentence_vector_travels_beside_the_post_not_in_it():
    vector = [0.6, 0.8]

    class WithVectors:
        name = "vectors"

        def classify(self, texts):
            from dataclasses import replace

            return [replace(c, embedding=vector) for c in load_classifier("lexicon").classify(texts)]

    ((post, embedding),) = enrich_batch([RawRecord(json.dumps(GOOD).encode())], WithVectors(), Settings())
    assert embedding == vector
    assert "embedding" not in post.model_dump()
    ((_, none),) = enrich_batch([RawRecord(json.dumps(GOOD).encode())], load_classifier("lexicon"), Settings())
    assert none is None


def test_posts_carry_the_versions_they_name_with_the_product_they_name():
    from models import VersionFinder
    from streams.products import Catalogue

    texts = ["小米14 升级 HyperOS 1.0.7.0 后待机耗电", "电池续航不错，只要1.299元"]
    records = [RawRecord(json.dumps({**GOOD, "id": f"forum:{i}", "text": t}).encode()) for i, t in enumerate(texts)]
    (named, _), (priced, _) = enrich_batch(
        records, load_classifier("lexicon"), Settings(), mentions=Catalogue.load().mentions,
        versions=VersionFinder.load().find,
    )  # fmt: skip
    assert [m.model_dump() for m in named.versions] == [
        {"line": "hyperos", "version": "1.0.7.0", "product": "xiaomi-14", "tag": "hyperos 1.0.7.0"}
    ]
    assert priced.versions == []
    assert EnrichedPost.model_validate_json(named.model_dump_json()).versions == named.versions
