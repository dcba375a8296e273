"""The figures of a run as a table of lines, one per figure, in the order of the sections."""

from __future__ import annotations

import statistics

CLASSIFIER_PROCESS = "worker's children"  # how the e2e figures name the worker's classifier process

Rows = list[tuple[str, str]]


def per_process(ms: dict[str, float]) -> str:
    """Milliseconds per post, in all and by process, largest first."""
    shares = sorted(ms.items(), key=lambda kv: -kv[1])
    return f"{sum(ms.values()):.2f} ms ({', '.join(f'{name} {each:.2f}' for name, each in shares)})"


def cpu_shares(section: dict) -> str:
    """Where a run's CPU went, per post and by process."""
    return f"{per_process(section['cpu_ms_per_post'])}, {section['cores_busy']:.2f} cores busy"


class Baseline:
    """The classifier alone: the mean of its timings in the run, and its process's CPU per post."""

    def __init__(self, out: dict):
        self.alone = [out[k] for k in ("classifier_alone", "classifier_alone_after_e2e") if k in out]
        self.rate = statistics.mean(a["posts_per_s"] for a in self.alone) if self.alone else None
        cpu = [a["cpu_ms_per_post"]["classifier"] for a in self.alone if a.get("in_process", True)]
        self.cpu_ms = statistics.mean(cpu) if cpu else None

    def ratio(self, rate: float) -> str:
        return f"  ({rate / self.rate:.2f}x the classifier alone)" if self.rate else ""

    def rows(self) -> Rows:
        rows = []
        for when, section in zip(("first", "after e2e"), self.alone, strict=False):
            what = f"{section['classifier']}; threads: {section['threads']}"
            rows.append((f"classifier alone, {when}", f"{section['posts_per_s']:.1f} posts/s ({what})"))
            rows.append((f"CPU per post, classifier alone, {when}", cpu_shares(section)))
        if len(self.alone) > 1:
            rows.append(("classifier alone, the baseline", f"{self.rate:.1f} posts/s: the mean of the two"))
        return rows

    def classifier_cpu(self, what: str, section: dict) -> Rows:
        """The classifier's process in the pipeline against alone: what sharing the cores cost it."""
        within = section["cpu_ms_per_post"].get(CLASSIFIER_PROCESS)
        if within is None or not self.cpu_ms:
            return []
        figures = f"{self.cpu_ms:.2f} ms alone, {within:.2f} ms in the pipeline: {within / self.cpu_ms:.2f}x"
        return [(f"classifier's process, CPU per post, {what}", figures)]


def e2e_rows(out: dict, base: Baseline) -> Rows:
    e = out["e2e"]
    what = (
        "e2e, 1 worker, cold: first publish to searchable"
        if out.get("cold")
        else "e2e, 1 worker: publish to searchable"
    )
    rows = [
        (what, f"{e['posts_per_s']:.1f} posts/s{base.ratio(e['posts_per_s'])}"),
        ("CPU per post, e2e", cpu_shares(e)),
    ]
    rows += base.classifier_cpu("e2e", e)
    rows.append(("waiting for a core per post, e2e", per_process(e["wait_ms_per_post"])))
    if e["warm_up_ms"]:
        rounds = [f"{sum(r.values()):.2f} (elasticsearch {r.get('elasticsearch', 0):.2f})" for r in e["warm_up_ms"]]
        rows.append(("CPU per post, warm-up rounds", ", ".join(rounds)))
    rows.append(("worker RSS after e2e", f"{e['worker_rss_mib']:.0f} MiB"))
    return rows


def changelog_rows(out: dict) -> Rows:
    c = out["changelog"]
    top = ", ".join(f"{t} {n}" for t, n in sorted(c["tables"].items(), key=lambda kv: -kv[1])[:4])
    return [("changelog records per post", f"{c['per_post']:.2f} over {c['posts']} posts ({top})")]


def latency_rows(out: dict) -> Rows:
    lat = out["latency"]
    figures = f"p50 {lat['p50_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms, max {lat['max_ms']:.0f} ms"
    seen = f"{lat['seen']}/{lat['posts']} seen, poll {lat['poll_s']} s"
    return [(f"latency at {lat['rate']:.1f} posts/s", f"{figures} ({seen})")]


def state_rows(out: dict, base: Baseline) -> Rows:
    s = out["state"]
    rows = [(f"{s['posts']} more posts (state)", f"{s['posts_per_s']:.1f} posts/s{base.ratio(s['posts_per_s'])}"),
            ("CPU per post, state", cpu_shares(s))]  # fmt: skip
    rows += base.classifier_cpu("state", s)
    rows.append(("worker RSS during them", " ".join(f"{n}:{mib:.0f}" for n, mib in s["rss_mib"]) + " (posts:MiB)"))
    return rows


def recovery_rows(out: dict) -> Rows:
    r = out["recovery"]
    figures = f"assigned {r['to_assignment_s']:.1f} s, marker searchable {r['to_marker_searchable_s']:.1f} s"
    return [(f"recovery after SIGKILL ({r['state_posts']} posts)", figures)]


def scaling_rows(out: dict) -> Rows:
    one, two = out["scaling_1"]["posts_per_s"], out["scaling_2"]["posts_per_s"]
    return [("scaling, 4 partitions", f"1 worker {one:.1f}, 2 workers {two:.1f} posts/s ({two / one:.2f}x)"),
            ("CPU per post, 1 worker", cpu_shares(out["scaling_1"])),
            ("CPU per post, 2 workers", cpu_shares(out["scaling_2"]))]  # fmt: skip


def signals_rows(out: dict) -> Rows:
    sig = out["signals"]
    return [("signals step alone, empty state", f"{sig['empty_posts_per_s']} posts/s"),
            (f"signals step after {sig['state_posts']} posts", f"{sig['state_posts_per_s']} posts/s "
             f"({sig['slowdown']:+.1%} slower); in-memory rebuild {sig['rebuild_in_memory_s']} s"),
            ("table writes per post (signals alone)", f"{sig['table_writes_per_post_state']}")]  # fmt: skip


def rows(out: dict) -> Rows:
    base = Baseline(out)
    found = base.rows()
    if "e2e" in out:
        found += e2e_rows(out, base)
    for key, section in (("changelog", changelog_rows), ("latency", latency_rows)):
        if key in out:
            found += section(out)
    if "state" in out:
        found += state_rows(out, base)
    if "recovery" in out:
        found += recovery_rows(out)
    if "scaling_1" in out and "scaling_2" in out:
        found += scaling_rows(out)
    if "signals" in out:
        found += signals_rows(out)
    return found


def report(out: dict) -> None:
    print(f"\n{out['posts']} posts from {out['corpus']}; classifier {out['classifier']}, batch {out['batch_size']}, "
          f"classifier_threads {out['classifier_threads']}")  # fmt: skip
    found = rows(out)
    width = max((len(k) for k, _ in found), default=0)
    for key, value in found:
        print(f"{key:<{width}}  {value}")
