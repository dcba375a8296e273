from streams.recent import Cached, Generation, NearDuplicates


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
