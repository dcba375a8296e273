import numpy as np
import pytest

from models import LanguageMeans
from streams.recent import Cached, Centres, Clock, Generation, NearDuplicates, OpenItem, Recent, VectorItems, unit


def numbers(generation: Generation, band: int) -> tuple[int, ...]:
    """The numbers of the posts a band holds: one number alone, several in a tuple."""
    filed = generation.bands.get(band, ())
    return (filed,) if isinstance(filed, int) else filed


def test_a_crowded_band_keeps_its_newest_copies_and_they_lead_to_the_original():
    index = NearDuplicates(band_count=4, capacity=1_000, per_band=3)
    fp = 0x1234_5678_9ABC_DEF0
    index.add("original", fp, 0.0)
    for i in range(1, 10):  # nine copies, each filed under the original's id as the stateful step does
        index.add("original", fp ^ (1 << i), float(i))
    shared = [numbers(index.young, band) for band in index.young.bands if band >> 16]  # the bands the copies share
    assert len(shared) == 3 and all([index.young.times[n] for n in band] == [7.0, 8.0, 9.0] for band in shared)
    assert index.find("new", fp ^ 1, 100.0, max_distance=3, horizon=0.0) == "original"
    assert index.find("new", fp ^ 0b111_0000_0000_0000, 100.0, max_distance=3, horizon=50.0) is None  # all too old


def test_a_band_keeps_every_post_up_to_its_cap_then_the_newest():
    index = NearDuplicates(band_count=4, capacity=1_000, per_band=4)
    for i in range(6):
        index.add(f"p{i}", 0xABCD_0000_0000_0000 | i << 16 | i, float(i))  # the top band shared, the others apart
        shared = numbers(index.young, 0xABCD | 3 << 16)
        assert [index.young.originals[n] for n in shared] == [f"p{j}" for j in range(max(0, i - 3), i + 1)]


def test_the_newest_half_to_whole_capacity_is_kept_even_from_a_capped_band():
    index = NearDuplicates(band_count=4, capacity=10, per_band=2)
    for i in range(20):
        index.add(f"p{i}", 0xFFFF_0000_0000_0000 | i, float(i))  # one band crowded, three apart
    kept = {*index.old.originals, *index.young.originals}
    assert kept == {f"p{i}" for i in range(10, 20)}
    assert index.find("new", 0xFFFF_0000_0000_0000 | 3, 30.0, max_distance=0, horizon=0.0) is None
    assert index.find("new", 0xFFFF_0000_0000_0000 | 12, 30.0, max_distance=0, horizon=0.0) == "p12"
    index.add("p20", 0xFFFF_0000_0000_0000 | 20, 20.0)  # the young generation was full: the old one goes
    assert index.find("new", 0xFFFF_0000_0000_0000 | 12, 30.0, max_distance=0, horizon=0.0) is None
    assert index.find("new", 0xFFFF_0000_0000_0000 | 17, 30.0, max_distance=0, horizon=0.0) == "p17"


class CountingTable(dict):
    def __init__(self):
        super().__init__()
        self.reads = 0

    def get(self, key, default=None):
        self.reads += 1
        return super().get(key, default)


def test_the_cache_remembers_a_key_is_absent_until_it_is_written():
    table = CountingTable()
    cached = Cached(table, cap=10)
    assert cached.get("k") is None and cached.get("k", 0) == 0
    assert table.reads == 1  # the second look did not reach the table
    cached["k"] = {"o": 1}
    assert cached.get("k") == {"o": 1} and table["k"] == {"o": 1}
    del cached["k"]
    assert cached.get("k") is None and "k" not in table and table.reads == 1


def test_the_cache_keeps_keys_used_lately_and_reads_the_others_again():
    table = CountingTable()
    table.update({f"k{i}": i for i in range(20)})
    cached = Cached(table, cap=10)
    for i in range(10):
        assert cached.get(f"k{i}") == i
    assert table.reads == 10
    assert cached.get("k9") == 9 and cached.get("k5") == 5 and table.reads == 10  # kept
    for i in range(10, 13):
        cached.get(f"k{i}")
    assert cached.get("k9") == 9 and cached.get("k5") == 5 and table.reads == 13  # used lately: still kept
    assert cached.get("k6") == 6 and table.reads == 14  # not used since: read again
    cached["k9"] = 99
    assert cached.get("k9") == 99 and table["k9"] == 99 and table.reads == 14  # a write replaces the kept value


# --- sentence vectors of feedback items ------------------------------------------------------

RNG = np.random.default_rng(3)
PRIOR = LanguageMeans("test", ("zh", "ko", "en", "*"), RNG.normal(size=(4, 8)).astype(np.float32))


def by_hand(post: np.ndarray, vector: np.ndarray, counts: np.ndarray, centres: np.ndarray) -> float:
    """The cosine between a centred unit post and an item's vector taken around its posts' centres."""
    item = vector - (counts / counts.sum()) @ centres
    return float(post @ item / np.linalg.norm(item))


def test_one_product_compares_a_post_with_every_item_as_if_each_were_centred_by_hand():
    items = VectorItems(capacity=5, dim=8, languages=4)
    rows = {f"i{n}": (RNG.normal(size=8).astype(np.float32), RNG.integers(0, 4, size=4).astype(float) + 0.5)
            for n in range(5)}  # fmt: skip
    for item_id, (vector, counts) in rows.items():
        items.put(item_id, vector, counts, last_seen=0.0)
    items.remove("i1")  # the last row takes its place
    items.put("i3", *rows["i3"], last_seen=1.0)  # a row changes in place
    centres, post = RNG.normal(size=(4, 8)).astype(np.float32), unit(RNG.normal(size=8))
    similarities = dict(zip(items.ids, items.similarities(post, centres), strict=True))
    assert sorted(similarities) == ["i0", "i2", "i3", "i4"] and items.rows == {i: items.ids.index(i) for i in items.ids}
    for item_id, similarity in similarities.items():
        assert similarity == pytest.approx(by_hand(post, *rows[item_id], centres), abs=1e-5)


def test_a_language_s_centre_starts_at_its_prior_and_moves_towards_the_posts_the_items_hold():
    centres = Centres(PRIOR, weight=2.0)
    np.testing.assert_allclose(centres.centres(), PRIOR.means)
    vector = np.ones(8, dtype=np.float32)
    counts = centres.tally({"zh": 2, "ja": 1, "und": 1})  # no row of their own: "*"
    assert counts.tolist() == [2, 0, 0, 2]
    centres.add(vector, counts)
    np.testing.assert_allclose(centres.centres()[0], (2 * PRIOR.means[0] + 2 * vector) / 4, rtol=1e-6)
    np.testing.assert_allclose(centres.centres()[1:3], PRIOR.means[1:3])  # no post in ko or en
    centres.add(vector, counts, sign=-1)
    np.testing.assert_allclose(centres.centres(), PRIOR.means, atol=1e-6)


def recent_of(vector_items: int) -> Recent:
    return Recent(Clock(), NearDuplicates(4, 100), {}, 16, Centres(PRIOR, weight=1.0), vector_items)


def item(vector: np.ndarray, languages: dict, last_seen: float = 0.0) -> OpenItem:
    return OpenItem.of({"word": 1.0}, last_seen, vector.astype(np.float32), languages)


def test_past_its_cap_a_group_closes_its_least_recent_item_and_the_centres_forget_it():
    recent, vectors = recent_of(vector_items=2), RNG.normal(size=(3, 8))
    for n, v in enumerate(vectors):
        recent.keep_item("feedback", f"i{n}", item(v, {"en": n + 1}))
    recent.keep_item("feedback", "i1", item(vectors[1], {"en": 2, "ko": 1}))  # joined again: i1 now the newest
    assert list(recent.groups["feedback"]) == ["i2", "i1"] and sorted(recent.vectors["feedback"].ids) == ["i1", "i2"]
    kept = Centres(PRIOR, weight=1.0)
    kept.add(vectors[2].astype(np.float32), kept.tally({"en": 3}))
    kept.add(vectors[1].astype(np.float32), kept.tally({"en": 2, "ko": 1}))
    np.testing.assert_allclose(recent.centres.centres(), kept.centres(), atol=1e-5)


def test_the_nearest_items_are_the_open_ones_close_enough_around_their_centres():
    recent = recent_of(vector_items=10)
    bug, other = unit(RNG.normal(size=8)), unit(RNG.normal(size=8))
    recent.keep_item("feedback", "bug", item(bug, {"zh": 1}, last_seen=100.0))
    recent.keep_item("feedback", "idle", item(bug, {"ko": 1}, last_seen=10.0))
    recent.keep_item("feedback", "other", item(other, {"en": 1}, last_seen=100.0))
    centres = recent.centres.centres()
    near = recent.nearest("feedback", bug, "en", idle_since=50.0, threshold=-1.0)
    post = unit(bug - centres[2])
    assert {item_id: pytest.approx(s, abs=1e-5) for s, item_id, _ in near} == {
        "bug": by_hand(post, bug, np.array([1.0, 0, 0, 0]), centres),
        "other": by_hand(post, other, np.array([0, 0, 1.0, 0]), centres),
    }  # "idle" has had no post since before idle_since
    best = max(s for s, _, _ in near)
    assert [i for _, i, _ in recent.nearest("feedback", bug, "en", 50.0, best)] == [max(near)[1]]
    assert recent.nearest("elsewhere", bug, "en", 50.0, -1.0) == []
