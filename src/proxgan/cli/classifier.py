"""``proxgan classifier DATASET --out FILE``: retrain the LeNet behind cls_is/cls_fid by the shipped recipe."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from proxgan.cli import json_option


@click.command("classifier")
@click.argument("dataset", type=click.Choice(["digits", "mnist"]))
@click.option("--data-root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where MNIST lives (torchvision layout, train and test files); digits ships with scikit-learn.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="File to write the LeNet to (use it with 'proxgan evaluate --classifier FILE').")
@json_option
def classifier(dataset, data_root, out, as_json):
    """Retrain DATASET's LeNet exactly as the shipped one was trained, and compare with it.

    One torch thread and seed 0: on the same torch build and CPU the weights equal the shipped ones bit
    for bit (same sha256); elsewhere they may differ in the last bits. `proxgan evaluate` always uses the
    shipped LeNet unless given this file with --classifier.

    \b
    Example:
      proxgan classifier mnist --data-root ../shared/data --out lenet-mnist.pt
    """
    from tqdm import tqdm

    from proxgan.errors import ProxganError
    from proxgan.metrics.classifier import EPOCHS, SHIPPED_SHA256, retrain, save_classifier

    try:  # before minutes of training, not after
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProxganError(f"cannot create the directory of --out {str(out)!r}: {exc.strerror}") from None
    if not os.access(out.parent, os.W_OK):
        raise ProxganError(f"cannot write --out {str(out)!r}: its directory is not writable")
    with tqdm(total=EPOCHS[dataset], desc=f"training LeNet on {dataset}", unit="epoch", leave=False) as bar:
        trained = retrain(dataset, root=data_root, progress=lambda done, total: bar.update(done - bar.n))
    save_classifier(trained, out)
    doc = {"file": str(out), "network": trained.identity, "dataset": dataset, "sha256": trained.sha256,
           "test_accuracy": trained.test_accuracy, "shipped_sha256": SHIPPED_SHA256[dataset],
           "equals_shipped": trained.sha256 == SHIPPED_SHA256[dataset]}
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"{trained.identity}: held-out accuracy {trained.test_accuracy:.2%}")
    click.echo(f"sha256 {trained.sha256}")
    click.echo("identical to the shipped weights" if doc["equals_shipped"]
               else f"differs from the shipped weights (sha256 {SHIPPED_SHA256[dataset]})")
    click.echo(f"wrote {out}; score with it: proxgan evaluate RUN_DIR --classifier {out}")
