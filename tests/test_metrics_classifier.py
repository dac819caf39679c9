"""The shipped LeNets: sha256-checked on load, retrained bit for bit by `proxgan classifier`, used by
cls_is/cls_fid without training; the floor and real_is score held-out real images the same way."""

import json
import math
import os
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from proxgan.cli import main
from proxgan.data import load_dataset
from proxgan.errors import ProxganError
from proxgan.metrics import evaluate
from proxgan.metrics import classifier as cls

#: the MNIST copy beside the checkout (../shared/data), or $PROXGAN_MNIST_ROOT; the MNIST tests skip without it
MNIST_ROOT = Path(os.environ.get("PROXGAN_MNIST_ROOT", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_mnist = pytest.mark.skipif(not (MNIST_ROOT / "MNIST" / "raw").is_dir(), reason="MNIST not present")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("dataset, min_accuracy", [("digits", 0.98), ("mnist", 0.99)])
def test_shipped_classifiers_load_with_their_digest(dataset, min_accuracy):
    net = cls.load_classifier(dataset)
    assert net.sha256 == cls.SHIPPED_SHA256[dataset] == cls.weights_digest(net.model)
    assert net.identity == f"lenet-{dataset}-{cls.SHIPPED_SHA256[dataset][:8]}"
    assert net.test_accuracy >= min_accuracy


def test_shipped_digits_accuracy_is_the_held_out_accuracy():
    net = cls.load_classifier("digits")
    x, labels = cls.split("digits", "test")
    assert len(x) == 359 and cls.accuracy(net.model, x, labels) == net.test_accuracy
    train_x, _ = cls.split("digits", "train")
    assert len(train_x) + len(x) == 1797
    assert not set(map(bytes, x.numpy())) & set(map(bytes, train_x.numpy()))  # no held-out image is trained on


def test_retraining_digits_is_deterministic_and_matches_the_shipped_classifier(tmp_path):
    """Retraining twice gives the same bytes; on the CPU the shipped file was made on, exactly the shipped file
    (other CPUs may pick other float kernels, so there the weights may differ in the last bits: the CLI says which)."""
    out, again = tmp_path / "lenet-digits.pt", tmp_path / "again.pt"
    threads = torch.get_num_threads()
    res = invoke("classifier", "digits", "--out", out)
    assert res.exit_code == 0, res.output
    assert torch.get_num_threads() == threads  # one thread while training, restored afterwards
    assert invoke("classifier", "digits", "--out", again).exit_code == 0
    assert out.read_bytes() == again.read_bytes()  # deterministic on this machine
    retrained, shipped = cls.load_classifier("digits", out), cls.load_classifier("digits")
    same = retrained.sha256 == cls.SHIPPED_SHA256["digits"]
    assert ("identical to the shipped weights" in res.output) == same
    assert ("differs from the shipped weights" in res.output) == (not same)
    assert abs(retrained.test_accuracy - shipped.test_accuracy) <= 0.02
    data = load_dataset("digits")
    shipped_scores = evaluate(data.x[:200], data, "cls_is,cls_fid", cache_dir=tmp_path / "a")
    retrained_scores = evaluate(data.x[:200], data, "cls_is,cls_fid", classifier=out, cache_dir=tmp_path / "b")
    if same:
        assert out.read_bytes() == cls.shipped_path("digits").read_bytes()  # the very same file
        assert retrained_scores == shipped_scores
    else:
        assert retrained_scores["cls_is"]["mean"] == pytest.approx(shipped_scores["cls_is"]["mean"], rel=0.05)


def test_damaged_or_foreign_classifier_files_are_one_error(tmp_path, monkeypatch):
    net = cls.load_classifier("digits")
    with torch.no_grad():
        net.model.head.bias[0] += 1e-6  # one weight off by one ulp-ish step
    tampered = tmp_path / "tampered.pt"
    cls.save_classifier(net, tampered)  # records the sha256 of the new weights: a valid retrained file
    assert cls.load_classifier("digits", tampered).sha256 != cls.SHIPPED_SHA256["digits"]
    monkeypatch.setattr(cls, "shipped_path", lambda dataset: tampered)  # as if the installed file were altered
    with pytest.raises(ProxganError, match="has weights with sha256 .* expected fc9d15a8"):
        cls.load_classifier("digits")
    monkeypatch.undo()
    record = torch.load(tampered, weights_only=True)
    record["state"]["head.bias"][1] += 1.0  # weights that no longer match the file's own sha256
    torch.save(record, tmp_path / "edited.pt")
    with pytest.raises(ProxganError, match="has weights with sha256"):
        cls.load_classifier("digits", tmp_path / "edited.pt")
    with pytest.raises(ProxganError, match="trained on 'digits', not 'mnist'"):
        cls.load_classifier("mnist", tampered)
    for name, content in [("garbage.pt", b"not a torch file"), ("empty.pt", b""),
                          ("truncated.pt", cls.shipped_path("digits").read_bytes()[:5000])]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ProxganError, match="cannot read classifier"):
            cls.load_classifier("digits", tmp_path / name)
    with pytest.raises(ProxganError, match="does not exist"):
        cls.load_classifier("digits", tmp_path / "absent.pt")


def test_floor_and_real_is_equal_the_scores_of_the_held_out_images_themselves(tmp_path):
    data = load_dataset("digits")
    held_out, _ = cls.split("digits", "test")
    out = evaluate(held_out, data, "cls_is,cls_fid", cache_dir=tmp_path)
    # the samples are exactly the n = 359 held-out images, so each score equals its real-data counterpart
    assert out["cls_fid"]["held_out"]["n"] == 359 and out["cls_fid"]["held_out"]["split"] == "test"
    assert out["cls_fid"]["floor"] == pytest.approx(out["cls_fid"]["value"], rel=1e-12)
    assert out["cls_is"]["real_is"]["mean"] == pytest.approx(out["cls_is"]["mean"], rel=1e-12)
    for part in ("class_entropy", "conditional_entropy"):
        assert out["cls_is"]["real_is"][part] == pytest.approx(out["cls_is"][part], rel=1e-12)
    assert out["cls_fid"]["floor"] > 0  # 359 images are not the 1,797 of the reference
    assert list(tmp_path.glob("lenet-held-out-dataset=digits-split=test-*-n=359-*.npz"))
    collapsed = evaluate(data.x[data.labels == 0][:100], data, "cls_is,cls_fid", cache_dir=tmp_path)
    assert collapsed["cls_fid"]["held_out"]["n"] == 100  # n = min(samples, held-out size)
    assert collapsed["cls_fid"]["value"] > 10 * collapsed["cls_fid"]["floor"]
    # 10 splits of 10 images: IS is biased low at this n, which is why real_is uses the same n as the samples
    assert collapsed["cls_is"]["mean"] < 1.2 < 5.0 < collapsed["cls_is"]["real_is"]["mean"]
    again = evaluate(data.x[data.labels == 0][:100], data, "cls_is,cls_fid", cache_dir=tmp_path)  # from the cache
    assert again == collapsed


def test_evaluate_summary_prints_floor_ratio_and_rejects_a_bad_classifier(tmp_path):
    from proxgan.config import load_config
    from proxgan.train import train

    run_dir = tmp_path / "digits"
    train(load_config("digits", ["train.steps=1", "train.n_critic=1", "model.dim=8", "model.latent_dim=4",
                                 "train.batch_size=16", "log.sample_every=1000"]), run_dir)
    env = {"PROXGAN_CACHE": str(tmp_path / "cache")}
    res = CliRunner(env=env).invoke(main, ["evaluate", str(run_dir), "--samples", "200"])
    assert res.exit_code == 0, res.output
    lines = {line.split(":")[0]: line for line in res.output.splitlines()}
    assert "(floor " in lines["cls_fid"] and ", ratio " in lines["cls_fid"] and "real: digits test n=200" in lines["cls_fid"]
    assert "(real " in lines["cls_is"] and f"lenet-digits-{cls.SHIPPED_SHA256['digits'][:8]}" in lines["cls_is"]
    doc = json.loads((run_dir / "results.json").read_text())["results"]["metrics"]["cls_is"]
    parts = (doc["class_entropy"], doc["real_is"]["class_entropy"], math.log(10), doc["conditional_entropy"],
             doc["real_is"]["conditional_entropy"])
    assert "H(y) {:.3f} (real {:.3f}, max {:.3f}), H(y|x) {:.3f} (real {:.3f})".format(*parts) in lines["cls_is"]
    (tmp_path / "garbage.pt").write_bytes(b"junk")
    res = CliRunner(env=env).invoke(main, ["evaluate", str(run_dir), "--classifier", str(tmp_path / "garbage.pt")])
    assert res.exit_code == 2 and "cannot read classifier" in res.output and res.output.strip().count("\n") == 0


@needs_mnist
def test_shipped_mnist_classifier_accuracy_and_floor(tmp_path):
    net = cls.load_classifier("mnist")
    x, labels = cls.split("mnist", "test", MNIST_ROOT)
    assert len(x) == 10_000 and cls.accuracy(net.model, x, labels) == net.test_accuracy
    data = load_dataset("mnist", root=MNIST_ROOT, n=2000)
    # no data_root, as in training-time evaluation: the test split is found where the training data was
    out = evaluate(x[:500], data, "cls_fid", cache_dir=tmp_path)["cls_fid"]
    assert out["held_out"]["n"] == 500 and 0 < out["floor"] < 50


def test_classifier_command_bad_input_is_exit_2_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = invoke("classifier", "digits", "--out", blocker / "lenet.pt")  # its directory would be a file
    assert res.exit_code == 2 and "cannot create the directory of --out" in res.output
    res = invoke("classifier", "mnist", "--out", tmp_path / "lenet.pt")
    assert res.exit_code == 2 and "needs a data root" in res.output
    res = invoke("classifier", "cifar10", "--out", tmp_path / "lenet.pt")
    assert res.exit_code == 2 and not (tmp_path / "lenet.pt").exists()
