"""Weak supervisors and strong students, each family by name. Introduced in lesson 01.

A weak model is trained on half A's ground truth, sees the same input as the student and
predicts deterministically. Its weakness comes from a weaker *representation* of that
input, as in the paper:

- language track: a bag of tokens (``bow``) or the 1-layer LM ``lm-s`` fine-tuned on A;
- vision track: logistic regression on 3 principal components, on a 2x2-pooled image, or
  on the features of the small SimCLR body. The ``noisy-*`` supervisors (fresh pixel noise
  at every call) are the *label-noise contrast* only: their errors are random, which any
  regularised student averages away.

A strong student is a body (an MLP on digits, a tiny transformer on the corpus) plus a
linear head. Pretrained bodies come from ``w2s.pretrain``; the same architecture from
random initialisation is the contrast.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# The registries are torch-free so the CLI can list them without importing torch.
from w2s.mlp import make_body
from w2s.registry import (LM_MODELS, STRONG_MODELS, STRONG_ORDER, WEAK_MODELS, WEAK_ORDER,  # noqa: F401
                          LmSpec, StrongSpec, WeakSpec)

# How an LM supervisor is fine-tuned on A (part of its definition, not of the student's flags).
WEAK_LM_RECIPE = {"epochs": 4, "lr": 3e-3}


# ---------------------------------------------------------------- weak models

class WeakModel:
    """A supervisor trained on A; ``predict_proba`` gives the soft weak labels."""

    def __init__(self, name: str, seed: int = 0):
        if name not in WEAK_MODELS:
            raise ValueError(f"unknown weak model {name!r}; choose one of {list(WEAK_MODELS)}")
        self.spec = WEAK_MODELS[name]
        self.seed = seed
        self._calls = 0
        self._pca = None
        self._body = None
        self._clf = None

    @property
    def name(self) -> str:
        return self.spec.name

    def view(self, x: np.ndarray) -> np.ndarray:
        """The representation this supervisor reads (``noise``: fresh but seeded per call)."""
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
        if spec.kind == "probe":
            from w2s.train import encode
            return encode(self._body, x).numpy()
        if spec.kind == "bow":
            from w2s.corpus import bag_of_tokens
            return bag_of_tokens(x)
        raise AssertionError(spec.kind)

    def fit(self, x: np.ndarray, y: np.ndarray) -> "WeakModel":
        if self.spec.kind == "lm":
            return self._fit_lm(x, y)
        from sklearn.decomposition import PCA
        from sklearn.linear_model import LogisticRegression

        if self.spec.kind == "pca":
            self._pca = PCA(n_components=int(self.spec.level), random_state=0).fit(x)
        if self.spec.kind == "probe":
            from w2s.pretrain import load_body
            self._body = load_body("digits", self.spec.body, x.shape[1])
        self._clf = LogisticRegression(max_iter=2000, C=1.0).fit(self.view(x), y)
        return self

    def _fit_lm(self, x, y) -> "WeakModel":
        from w2s.pretrain import load_lm
        from w2s.train import TrainOptions, one_hot, train_student

        n_classes = int(np.max(y)) + 1
        torch.manual_seed(self.seed)
        model = StrongModel(self.spec.body, n_classes=n_classes)
        model.body = load_lm(self.spec.body)
        options = TrainOptions(mode="finetune", seed=self.seed, **WEAK_LM_RECIPE)
        self._clf, _ = train_student(model, x, one_hot(y, n_classes), "xent", options)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if self._clf is None:
            raise RuntimeError("fit the weak model before asking it for labels")
        if self.spec.kind == "lm":
            from w2s.train import predict_proba
            return predict_proba(self._clf, x).astype(np.float32)
        return self._clf.predict_proba(self.view(x)).astype(np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_proba(x).argmax(axis=1)


# ---------------------------------------------------------------- strong students

class StrongModel(nn.Module):
    """A body (an MLP, or a tiny LM for ``lm-*`` names) followed by a linear head.

    The body starts from random weights; ``w2s.experiment.make_student`` loads pretrained
    ones. ``n_features`` is the input width of an MLP (unused for a transformer)."""

    def __init__(self, name: str, n_features: int | None = None, n_classes: int = 2):
        super().__init__()
        self.name = name
        if name in LM_MODELS:
            from w2s.transformer import TinyLM
            spec = LM_MODELS[name]
            self.body, width = TinyLM(spec.d, spec.layers, spec.heads), spec.d
        elif name in STRONG_MODELS:
            if n_features is None:
                raise ValueError(f"{name} is an MLP: give n_features (the input width)")
            self.body = make_body(n_features, STRONG_MODELS[name].hidden)
            width = STRONG_MODELS[name].hidden[-1]
        else:
            raise ValueError(f"unknown strong model {name!r}; choose one of "
                             f"{list(STRONG_MODELS) + list(LM_MODELS)}")
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
