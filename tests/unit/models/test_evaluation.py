import json

import numpy as np
import pytest
from typer.testing import CliRunner

from canyu_cli.cli import app
from models.base import Classification, Scored
from models.evaluation import Report, evaluate, format_report, parse_map, read_labelled, task_of


class Scripted:
    """Says 'positive' (a bit more than negative) for texts with 'good', else 'negative'; intent by keyword."""

    name = "scripted"

    def classify(self, texts):
        out = []
        for t in texts:
            pos = 0.6 if "good" in t else 0.1
            sentiment = Scored("neutral", {"negative": 0.3 - pos / 3, "neutral": 0.7 - 2 * pos / 3, "positive": pos})
            intent = "bug_report" if "crash" in t else "praise" if "good" in t else "feature_request"
            out.append(Classification("en", sentiment, Scored(intent, {intent: 1.0}), []))
        return out


def test_parse_map():
    assert parse_map("1=positive, 0=negative") == {"1": "positive", "0": "negative"}
    assert parse_map(None) == {}
    with pytest.raises(ValueError, match="--map"):
        parse_map("1:positive")


def test_reads_csv_tsv_jsonl_and_line_files(tmp_path):
    (tmp_path / "a.csv").write_text("\ufefflabel,review\n1,good\n0,bad\n", encoding="utf-8")
    (tmp_path / "a.tsv").write_text("review\tlabel\ngood\t1\n", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text('{"t": "good", "y": 1}\n\n{"t": null, "y": 0}\n', encoding="utf-8")
    (tmp_path / "t.txt").write_text("good\nbad\n", encoding="utf-8")
    (tmp_path / "y.txt").write_text("2\n0\n", encoding="utf-8")
    m = {"1": "positive", "0": "negative", "2": "positive"}
    assert read_labelled(tmp_path / "a.csv", "csv", "review", "label", m) == (["good", "bad"], ["positive", "negative"])
    assert read_labelled(tmp_path / "a.tsv", "tsv", "review", "label", m) == (["good"], ["positive"])
    assert read_labelled(tmp_path / "a.jsonl", "jsonl", "t", "y", m) == (["good", ""], ["positive", "negative"])
    lines = read_labelled(tmp_path / "t.txt", "lines", "", "", m, tmp_path / "y.txt")
    assert lines == (["good", "bad"], ["positive", "negative"])
    with pytest.raises(ValueError, match=r"no column\(s\) \['text'\]"):
        read_labelled(tmp_path / "a.csv", "csv", "text", "label", m)


def test_task_comes_from_the_gold_labels():
    assert task_of(["negative", "positive"]) == "sentiment"
    assert task_of(["bug_report", "other"]) == "intent"
    with pytest.raises(ValueError, match="--map"):
        task_of(["0", "1"])


def test_binary_sets_are_scored_positive_versus_negative():
    # Scripted's label is always "neutral"; on a binary set only positive v negative counts.
    texts, gold = ["good", "bad", "good too", "bad again"], ["positive", "negative", "negative", "negative"]
    report = evaluate(Scripted(), texts, gold)
    assert report.classes == ["negative", "positive"]
    assert report.confusion.tolist() == [[2, 1], [0, 1]]
    assert report.accuracy == pytest.approx(0.75)
    assert report.macro_recall == pytest.approx((2 / 3 + 1) / 2)


def test_intent_labels_the_set_does_not_use_count_as_other():
    report = evaluate(Scripted(), ["it crashes", "good", "add dark mode"], ["bug_report", "other", "feature_request"])
    assert report.accuracy == 1.0


def test_metrics_and_the_printed_report():
    report = Report("sentiment", ["negative", "neutral", "positive"], np.array([[3, 1, 0], [0, 2, 2], [0, 0, 0]]), 2.0)
    assert report.accuracy == pytest.approx(5 / 8)
    assert report.macro_recall == pytest.approx((0.75 + 0.5) / 2)  # classes without support do not count
    assert report.posts_per_s == 4.0
    text = format_report(report)
    for part in ("accuracy 0.6250", "macro-recall 0.6250", "confusion", "throughput: 4.0 posts/s", "neutral"):
        assert part in text


def test_canyu_eval_prints_the_report(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": t, "y": y}) + "\n" for t, y in [("电池太差了", 0), ("很好用", 1)]))
    result = CliRunner().invoke(
        app, ["eval", "--data", str(data), "--format", "jsonl", "--label-col", "y", "--map", "0=negative,1=positive",
              "--classifier", "lexicon"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "classifier: lexicon-1" in result.output and "accuracy 1.0000" in result.output
    assert "threads: 1 (" in result.output  # the classifier_threads setting, and what each library runs
    unmapped = ["eval", "--data", str(data), "--format", "jsonl", "--label-col", "y", "--classifier", "lexicon"]
    bad = CliRunner().invoke(app, unmapped)
    assert bad.exit_code == 1 and "--map" in bad.output
