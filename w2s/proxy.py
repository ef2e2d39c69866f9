"""Proxy-tuning: steer a large model with the difference between a small tuned model and its
untuned base. Introduced in lesson 07.

Liu et al. (2024) tune a *small* model and, at prediction time, add the difference between
its log-probabilities and those of its untuned base to the large untuned model's:

    log p_proxy(y | x)  ∝  log p_large(y | x) + strength * (log p_small_tuned(y | x)
                                                           - log p_small_base(y | x))

The large model's weights are never touched (it may be a black box that only returns
probabilities); ``strength`` 0 gives the large model back and 1 is proxy-tuning proper.
"""

from __future__ import annotations

import math

import numpy as np

from w2s.selection import check_probs

EPS = 1e-12


def log_probs(probs) -> np.ndarray:
    """Natural log of probabilities, clipped at 1e-12 so a hard zero stays finite."""
    return np.log(np.clip(check_probs(probs), EPS, 1.0))


def proxy_tune(large_probs, small_tuned_probs, small_base_probs, strength: float = 1.0
               ) -> np.ndarray:
    """Class probabilities of the proxy-tuned large model (rows sum to 1).

    All three arguments are probability arrays of the same shape (n x classes), one row per
    input in the same order. Returns softmax(log p_large + strength * (log p_tuned - log p_base)).
    """
    large = log_probs(large_probs)
    tuned = log_probs(small_tuned_probs)
    base = log_probs(small_base_probs)
    if not large.shape == tuned.shape == base.shape:
        raise ValueError(f"large {large.shape}, small tuned {tuned.shape} and small base "
                         f"{base.shape} probabilities must have the same shape: same inputs, "
                         "same classes, same order")
    try:
        strength = float(strength)
    except (TypeError, ValueError):
        raise ValueError(f"strength must be a number (1.0 is proxy-tuning), got {strength!r}") from None
    if not math.isfinite(strength):
        raise ValueError(f"strength must be a finite number, got {strength!r}")
    scores = large + strength * (tuned - base)
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    return probs / probs.sum(axis=1, keepdims=True)
