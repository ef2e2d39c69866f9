"""The vision track's student body: a plain ReLU MLP. Introduced in lesson 01.

Its own module (like ``w2s.transformer`` for the language-model track) so that pre-training
(``w2s.pretrain``) and the model families (``w2s.models``) both build on it without
importing each other.
"""

from __future__ import annotations

from torch import nn


def make_body(n_features: int, hidden: tuple[int, ...]) -> nn.Sequential:
    """``n_features -> hidden[0] -> ... -> hidden[-1]``, a ReLU after every layer."""
    layers, width = [], n_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers)
