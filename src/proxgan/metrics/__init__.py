"""Evaluation metrics, one registry (``METRICS``) and one entry point (:func:`evaluate`), as the CLI.

| name | data | what |
|---|---|---|
| ``is`` | images | Inception Score (Salimans et al. 2016), 10 splits — needs Inception's classifier head |
| ``fid`` | images | Fréchet Inception Distance to the training set (Heusel et al. 2017) |
| ``kid`` | images | Kernel Inception Distance to the training set (Bińkowski et al. 2018) |
| ``cls_is`` | digits, mnist | Inception score of the shipped LeNet of the dataset (max 10), beside held-out real images' |
| ``cls_fid`` | digits, mnist | Fréchet distance in the LeNet's penultimate features, beside its floor |
| ``modes`` | ring8, grid25 | modes covered and fraction of high-quality samples (within 3σ) |
| ``w2`` | gaussian | exact W₂ between the samples' fitted Gaussian and the target (Bures) |
| ``emd`` | points | empirical W₁ and W₂ between samples and data points (POT) |

Paper: Table 1 reports Inception scores. Every result records the sample count, the reference set
(dataset, split, size) and the identity of the network weights it was computed with.

The classifier metrics also score n = min(samples, held-out size) real images the LeNet never saw
(:func:`proxgan.metrics.classifier.split`, ``"test"``) the same way: ``real_is`` beside ``cls_is``, and the
``floor`` beside ``cls_fid`` — the Fréchet distance a generator that samples the data distribution itself
reaches with n samples, since the estimate of the distance is biased upwards at finite n.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from proxgan.errors import ProxganError, check_choices, check_path, check_positive_int
from proxgan.metrics import classifier as cls
from proxgan.metrics import inception as inc
from proxgan.metrics.features import cache_file, cached_arrays, default_cache_dir, tensor_digest
from proxgan.metrics.frechet import frechet_distance, gaussian_moments
from proxgan.metrics.mixtures import mode_coverage
from proxgan.metrics.wasserstein import empirical_wasserstein, gaussian_w2

#: ``progress(stage, done, total)``
StageProgress = Callable[[str, int, int], None]


@dataclass
class EvalContext:
    """Samples, the dataset they imitate, evaluation options, and the features computed so far (shared by metrics)."""

    samples: Tensor
    data: Any  # proxgan.data.InMemoryData
    device: str = "cpu"
    inception_weights: str | Path | None = None
    classifier_file: str | Path | None = None  # None: the shipped LeNet
    cache_dir: Path = field(default_factory=default_cache_dir)
    data_root: str | Path | None = None
    reference_samples: int | None = None  # None: the whole training set
    emd_points: int = 2000
    progress: StageProgress | None = None
    _memo: dict = field(default_factory=dict)

    def _stage(self, stage: str):
        return None if self.progress is None else (lambda done, total: self.progress(stage, done, total))

    def _once(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def require_images(self, metric: str) -> None:
        if not self.data.is_image:
            raise ProxganError(f"metric {metric!r} needs image data; dataset {self.data.name!r} holds points")

    def reference(self) -> Tensor:
        """The training images or points the samples are compared to (a seeded subset if ``reference_samples``)."""

        def pick():
            x = self.data.x
            if self.reference_samples is None or self.reference_samples >= len(x):
                return x
            keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[: self.reference_samples]
            return x[keep]

        return self._once("reference", pick)

    def reference_record(self) -> dict:
        ref = self.reference()
        return {"dataset": self.data.name, "split": "train", "n": len(ref), "shape": list(ref.shape[1:]),
                "digest": self._once("digest", lambda: tensor_digest(ref))}

    # Inception ------------------------------------------------------------------------------------
    def inception(self) -> inc.InceptionNet:
        return self._once("inception", lambda: inc.load_inception(self.inception_weights, cache_dir=self.cache_dir))

    def inception_samples(self) -> dict[str, Tensor]:
        return self._once("inception_samples", lambda: self.inception().features(
            self.samples, device=self.device, progress=self._stage("inception features (samples)")))

    def _reference_cache(self, kind: str, network: str) -> Path:
        r = self.reference_record()
        return cache_file(self.cache_dir, kind, dataset=r["dataset"], split=r["split"],
                          res="x".join(map(str, r["shape"])), n=r["n"], data=r["digest"], net=network)

    def reference_pool_features(self) -> Tensor:
        """Inception pool features of the reference set, cached on disk (keyed by data and weights)."""
        net = self.inception()
        path = self._reference_cache("inception-pool", net.weights_id)
        compute = lambda: {"features": net.features(  # noqa: E731
            self.reference(), device=self.device, progress=self._stage("inception features (reference)"))
            [inc.POOL_FEATURES].numpy()}
        return self._once("reference_pool", lambda: torch.from_numpy(cached_arrays(path, compute)["features"]))

    # LeNet classifier -----------------------------------------------------------------------------
    def classifier(self, metric: str) -> cls.TrainedClassifier:
        if self.data.name not in cls.CLASSIFIER_DATASETS:
            raise ProxganError(f"metric {metric!r} needs dataset digits or mnist, not {self.data.name!r}")
        return self._once("classifier", lambda: cls.load_classifier(self.data.name, self.classifier_file))

    def classifier_samples(self, metric: str) -> tuple[Tensor, Tensor]:
        net = self.classifier(metric)
        if tuple(self.samples.shape[1:]) != tuple(self.data.shape):
            raise ProxganError(f"samples of shape {tuple(self.samples.shape[1:])} do not match "
                               f"{self.data.name} images {tuple(self.data.shape)}")
        return self._once("classifier_samples", lambda: net.outputs(self.samples, device=self.device))

    def classifier_record(self, metric: str) -> dict:
        net = self.classifier(metric)
        return {"network": net.identity, "test_accuracy": net.test_accuracy}

    def reference_classifier_moments(self, metric: str) -> tuple:
        net = self.classifier(metric)
        path = self._reference_cache("lenet-moments", net.identity)

        def compute():
            features, _ = net.outputs(self.reference(), device=self.device)
            mu, sigma = gaussian_moments(features)
            return {"mu": mu, "sigma": sigma}

        arrays = cached_arrays(path, compute)
        return arrays["mu"], arrays["sigma"]

    def held_out(self) -> tuple[Tensor, dict]:
        """n = min(samples, held-out size) held-out real images (a seeded subset when fewer), and their record.

        MNIST's test split is read from ``data_root``, else from where the training data was loaded."""

        def pick():
            root = self.data_root if self.data_root is not None else self.data.meta.get("root")
            x, _ = cls.split(self.data.name, "test", root)
            n = min(len(self.samples), len(x))
            if n < len(x):
                x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:n]]
            return x, {"dataset": self.data.name, "split": "test", "n": n, "digest": tensor_digest(x)}

        return self._once("held_out", pick)

    def held_out_classifier_outputs(self, metric: str) -> dict:
        """The LeNet's feature moments and logits of :meth:`held_out`, cached on disk like the reference's."""
        net = self.classifier(metric)
        x, record = self.held_out()
        path = cache_file(self.cache_dir, "lenet-held-out", dataset=record["dataset"], split=record["split"],
                          res="x".join(map(str, x.shape[1:])), n=record["n"], data=record["digest"], net=net.identity)

        def compute():
            features, logits = net.outputs(x, device=self.device)
            mu, sigma = gaussian_moments(features)
            return {"mu": mu, "sigma": sigma, "logits": logits.numpy()}

        return self._once("held_out_outputs", lambda: cached_arrays(path, compute))


# ---------------------------------------------------------------------------------------------------
def _inception_score(ctx: EvalContext) -> dict:
    ctx.require_images("is")
    net = ctx.inception()
    inc.require_classifier(net)
    return {**inc.inception_score(ctx.inception_samples()[inc.LOGITS]), "weights": net.weights_id}


def _fid(ctx: EvalContext) -> dict:
    ctx.require_images("fid")
    net = ctx.inception()
    value = frechet_distance(*gaussian_moments(ctx.inception_samples()[inc.POOL_FEATURES]),
                             *gaussian_moments(ctx.reference_pool_features()))
    return {"value": value, "reference": ctx.reference_record(), "weights": net.weights_id}


def _kid(ctx: EvalContext) -> dict:
    ctx.require_images("kid")
    net = ctx.inception()
    kid = inc.kernel_inception_distance(ctx.inception_samples()[inc.POOL_FEATURES], ctx.reference_pool_features())
    return {**kid, "reference": ctx.reference_record(), "weights": net.weights_id}


def _classifier_score(ctx: EvalContext) -> dict:
    _, logits = ctx.classifier_samples("cls_is")
    real = inc.inception_score(torch.from_numpy(ctx.held_out_classifier_outputs("cls_is")["logits"]))
    real_is = {key: real[key] for key in ("mean", "std", "class_entropy", "conditional_entropy")}
    return {**inc.inception_score(logits), "real_is": real_is,
            "held_out": ctx.held_out()[1], **ctx.classifier_record("cls_is")}


def _classifier_fid(ctx: EvalContext) -> dict:
    features, _ = ctx.classifier_samples("cls_fid")
    reference = ctx.reference_classifier_moments("cls_fid")
    held_out = ctx.held_out_classifier_outputs("cls_fid")
    return {"value": frechet_distance(*gaussian_moments(features), *reference),
            "floor": frechet_distance(held_out["mu"], held_out["sigma"], *reference),
            "reference": ctx.reference_record(), "held_out": ctx.held_out()[1], **ctx.classifier_record("cls_fid")}


def _modes(ctx: EvalContext) -> dict:
    meta = ctx.data.meta
    if "centers" not in meta:
        raise ProxganError(f"metric 'modes' needs a mixture dataset (ring8, grid25), not {ctx.data.name!r}")
    return mode_coverage(ctx.samples, meta["centers"], float(meta["std"]))


def _w2(ctx: EvalContext) -> dict:
    meta = ctx.data.meta
    if "sigma" not in meta:
        raise ProxganError(f"metric 'w2' needs the gaussian dataset, not {ctx.data.name!r}")
    sigma = torch.as_tensor(meta["sigma"], dtype=torch.float64)
    cov = sigma**2 if sigma.dim() == 0 else sigma  # N(μ, σ²I), or a full covariance
    return {"value": gaussian_w2(ctx.samples, meta["mean"], cov), "target": {"mean": meta["mean"], "sigma": meta["sigma"]}}


def _emd(ctx: EvalContext) -> dict:
    if ctx.data.is_image:
        raise ProxganError(f"metric 'emd' needs point data; dataset {ctx.data.name!r} holds images")
    gen = torch.Generator().manual_seed(0)
    pick = lambda x: x[torch.randperm(len(x), generator=gen)[: ctx.emd_points]]  # noqa: E731
    x, y = pick(ctx.samples), pick(ctx.reference())
    return {"w1": empirical_wasserstein(x, y, 1), "w2": empirical_wasserstein(x, y, 2), "points": [len(x), len(y)]}


@dataclass(frozen=True)
class Metric:
    """A metric: ``compute(ctx) -> dict`` of plain numbers (and what they were computed against); ``headline``
    is the key of its one number for comparisons (Table 1, ``proxgan compare``), ``higher_is_better`` its direction."""

    name: str
    description: str
    compute: Callable[[EvalContext], dict]
    headline: str
    higher_is_better: bool


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("is", "Inception Score, 10 splits (Salimans et al. 2016)", _inception_score, "mean", True),
    Metric("fid", "Fréchet Inception Distance to the training set", _fid, "value", False),
    Metric("kid", "Kernel Inception Distance to the training set", _kid, "mean", False),
    Metric("cls_is", "LeNet classifier Inception score, max 10 (digits, mnist)", _classifier_score, "mean", True),
    Metric("cls_fid", "Fréchet distance in LeNet features (digits, mnist)", _classifier_fid, "value", False),
    Metric("modes", "modes covered and high-quality fraction (ring8, grid25)", _modes, "high_quality_fraction", True),
    Metric("w2", "exact W2 of the fitted Gaussian to the target (gaussian)", _w2, "value", False),
    Metric("emd", "empirical W1/W2 to the data points, POT (point data)", _emd, "w1", False),
)}


def default_metrics(data: Any) -> list[str]:
    """The metrics ``"auto"`` means: cheap ones in the data's own terms, Inception metrics for natural images."""
    if data.name in cls.CLASSIFIER_DATASETS:
        return ["cls_is", "cls_fid"]
    if data.is_image:
        return ["is", "fid", "kid"]
    return ["modes", "emd"] if "centers" in data.meta else ["w2", "emd"]


#: metrics that fit a covariance (or a kernel between pairs) to the samples: at least 2 are needed
COVARIANCE_METRICS = ("fid", "kid", "cls_fid", "w2")


def usable_cache_dir(cache_dir: str | Path | None) -> Path:
    """``cache_dir`` (default :func:`default_cache_dir`), created if needed; a path that cannot be one is an error."""
    path = default_cache_dir() if cache_dir is None else check_path("cache directory", cache_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProxganError(f"cannot use {str(path)!r} as the cache directory: {exc.strerror}") from None
    return path


def evaluate(
    samples: Tensor | Callable[[int], Tensor],
    dataset: Any,
    metrics: str | list[str],
    *,
    n_samples: int | None = None,
    device: str = "cpu",
    inception_weights: str | Path | None = None,
    classifier: str | Path | None = None,
    cache_dir: str | Path | None = None,
    data_root: str | Path | None = None,
    reference_samples: int | None = None,
    progress: StageProgress | None = None,
) -> dict[str, dict]:
    """``{metric name: result}`` for ``samples`` (a tensor, or ``sample_fn(n)`` drawing ``n_samples``) against ``dataset``.

    ``dataset`` is an ``InMemoryData`` or a dataset name for ``proxgan.data.load_dataset`` (with ``data_root``).
    ``metrics`` is a list or comma-separated string of :data:`METRICS` names (``"auto"``: :func:`default_metrics`).
    ``classifier``: a LeNet file written by ``proxgan classifier`` for cls_is/cls_fid (default: the shipped one).
    """
    from proxgan.data import load_dataset

    if isinstance(dataset, str):
        dataset = load_dataset(dataset, root=data_root)
    names = default_metrics(dataset) if metrics == "auto" else check_choices("metric", metrics, METRICS)
    if callable(samples):
        if n_samples is None:
            raise ProxganError("n_samples is required when samples come from a sampler")
        samples = samples(check_positive_int("samples", n_samples))
    elif n_samples is not None:
        samples = samples[: check_positive_int("samples", n_samples)]
    if reference_samples is not None:
        reference_samples = check_positive_int("reference samples", reference_samples)
    for name in names:
        if name in COVARIANCE_METRICS and len(samples) < 2:
            raise ProxganError(f"metric {name} needs at least 2 samples (it fits a covariance), got {len(samples)}")
    ctx = EvalContext(samples.detach().cpu(), dataset.to("cpu"), device, inception_weights, classifier,
                      usable_cache_dir(cache_dir), data_root, reference_samples, progress=progress)
    results = {}
    for name in names:
        results[name] = {**METRICS[name].compute(ctx), "samples": len(ctx.samples)}
    return results


def evaluate_generator(
    sample_fn: Callable[[int], Tensor], data: Any, metric_names: str | list[str], n_samples: int,
    device: str = "cpu", **options: Any,
) -> dict[str, dict]:
    """For training loops: :func:`evaluate` on ``n_samples`` drawn by ``sample_fn(n)`` (e.g. ``LoadedRun.sample``)."""
    return evaluate(sample_fn, data, metric_names, n_samples=n_samples, device=device, **options)
