"""bench.profile's reading of py-spy's raw profiles: shares of the samples that were not waiting."""

from bench.profile import by_part, shares

RAW = "\n".join(
    [
        "run (main.py:1);Agents.signals (streams/agents.py:10);Signals.process (streams/signals.py:5) 6",
        "run (main.py:1);Agents.signals (streams/agents.py:12);_send (streams/agents.py:95) 3",
        "run (main.py:1);Fetcher._fetcher (faust/transport/consumer.py:9) 1",
        "run (main.py:1);EpollSelector.select (selectors.py:468) 90",  # waiting: not counted
    ]
)


def test_shares_count_each_function_once_per_sample_by_name_and_file_and_leave_waits_out(tmp_path):
    path = tmp_path / "worker.txt"
    path.write_text(RAW + "\n", encoding="utf-8")
    total, inclusive, alone = shares(path)
    assert total == 10
    assert inclusive["Agents.signals (agents.py)"] == 9  # two lines of one function: one function
    assert inclusive["run (main.py)"] == 10
    assert alone["Signals.process (signals.py)"] == 6 and "EpollSelector.select (selectors.py)" not in alone


def test_a_sample_counts_for_the_first_part_it_belongs_to(tmp_path):
    path = tmp_path / "worker.txt"
    path.write_text(RAW, encoding="utf-8")
    parts = {"stateful": ("Signals.process",), "signals agent": ("Agents.signals",), "consuming": ("Fetcher.",)}
    assert by_part(path, parts) == {"stateful": 60.0, "signals agent": 30.0, "consuming": 10.0, "the rest": 0.0}
