"""The names of the course's supervisors, students and losses (lessons 01-03).

Kept free of torch so that listing them (``w2s --help``) is instant; the models that
carry these names live in ``w2s.models``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOSSES = ("xent", "conf", "kd")


@dataclass(frozen=True)
class WeakSpec:
    name: str
    kind: str          # "noise", "downsample" or "pca"
    level: float       # noise std, pooling factor, or number of PCA components
    description: str


WEAK_MODELS = {spec.name: spec for spec in [
    WeakSpec("noisy-1.2", "noise", 1.2, "logistic regression on pixels + N(0, 1.2^2) noise"),
    WeakSpec("noisy-0.8", "noise", 0.8, "logistic regression on pixels + N(0, 0.8^2) noise"),
    WeakSpec("noisy-0.5", "noise", 0.5, "logistic regression on pixels + N(0, 0.5^2) noise"),
    WeakSpec("pca-3", "pca", 3, "logistic regression on the first 3 principal components"),
    WeakSpec("downsample-4", "downsample", 4, "logistic regression on a 2x2 average-pooled image"),
]}
# Weakest first: the supervisors of the sweep (random-looking errors).
WEAK_ORDER = ["noisy-1.2", "noisy-0.8", "noisy-0.5"]


@dataclass(frozen=True)
class StrongSpec:
    name: str
    hidden: tuple[int, ...]
    description: str = field(default="")


STRONG_MODELS = {spec.name: spec for spec in [
    StrongSpec("mlp-small", (32, 16), "MLP 64-32-16, pretrained with SimCLR"),
    StrongSpec("mlp-medium", (64, 32), "MLP 64-64-32, pretrained with SimCLR"),
    StrongSpec("mlp-large", (512, 256), "MLP 64-512-256, pretrained with SimCLR"),
]}
# Smallest first.
STRONG_ORDER = ["mlp-small", "mlp-medium", "mlp-large"]
