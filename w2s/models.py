"""Weak supervisors and strong students, each family by name. Introduced in lesson 01.

A weak model is logistic regression that sees a *degraded view* of the input. Its
strength is set by how much the view destroys: Gaussian pixel noise makes random-looking
mistakes, while a coarse down-sampling or a 3-component PCA makes systematic ones (the
error is a simple function of the input, which a student can learn to copy; lesson 02).

A strong student is an MLP body plus a linear head. Pretrained bodies come from
``w2s.pretrain``; the same architecture from scratch is the contrast.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# The registries are torch-free so the CLI can list them without importing torch.
from w2s.registry import STRONG_MODELS, STRONG_ORDER, WEAK_MODELS, WEAK_ORDER, StrongSpec, WeakSpec  # noqa: F401


# ---------------------------------------------------------------- weak models

class WeakModel:
    """Logistic regression on a degraded view; ``predict_proba`` gives soft weak labels."""

    def __init__(self, name: str, seed: int = 0):
        if name not in WEAK_MODELS:
            raise ValueError(f"unknown weak model {name!r}; choose one of {list(WEAK_MODELS)}")
        self.spec = WEAK_MODELS[name]
        self.seed = seed
        self._calls = 0
        self._pca = None
        self._clf = None

    @property
    def name(self) -> str:
        return self.spec.name

    def view(self, x: np.ndarray) -> np.ndarray:
        """The degraded input this supervisor sees (noise is fresh but seeded per call)."""
        spec = self.spec
        if spec.kind == "noise":
            rng = np.random.default_rng([self.seed, 7919, self._calls])
            self._calls += 1
            return x + rng.normal(scale=spec.level, size=x.shape).astype(np.float32)
        if spec.kind == "pca":
            return self._pca.transform(x)
        if spec.kind == "downsample":
            side = int(round(np.sqrt(x.shape[1])))
            if side * side != x.shape[1] or side % 2:
                raise ValueError(f"{spec.name} needs square images with an even side; "
                                 f"got {x.shape[1]} features")
            img = x.reshape(len(x), side // 2, 2, side // 2, 2)
            return img.mean(axis=(2, 4)).reshape(len(x), -1)
        raise AssertionError(spec.kind)

    def fit(self, x: np.ndarray, y: np.ndarray) -> "WeakModel":
        from sklearn.decomposition import PCA
        from sklearn.linear_model import LogisticRegression

        if self.spec.kind == "pca":
            self._pca = PCA(n_components=int(self.spec.level), random_state=0).fit(x)
        self._clf = LogisticRegression(max_iter=2000, C=1.0).fit(self.view(x), y)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if self._clf is None:
            raise RuntimeError("fit the weak model before asking it for labels")
        return self._clf.predict_proba(self.view(x)).astype(np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_proba(x).argmax(axis=1)


# ---------------------------------------------------------------- strong students

def make_body(n_features: int, hidden: tuple[int, ...]) -> nn.Sequential:
    layers, width = [], n_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers)


class StrongModel(nn.Module):
    """An MLP body (possibly pretrained) followed by a linear classification head."""

    def __init__(self, name: str, n_features: int, n_classes: int):
        super().__init__()
        if name not in STRONG_MODELS:
            raise ValueError(f"unknown strong model {name!r}; choose one of {list(STRONG_MODELS)}")
        self.name = name
        self.body = make_body(n_features, STRONG_MODELS[name].hidden)
        self.head = nn.Linear(STRONG_MODELS[name].hidden[-1], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
