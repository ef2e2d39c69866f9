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


def run_proxy_tuning(config=None, seed: int = 0, n_gold=(100, 200, 400),
                     small: str = "downsample-4", keep_probs: bool = False) -> list[dict]:
    """Proxy-tuning a weak-to-strong student with a few gold labels (lesson 07).

    The *base* models have only seen the weak supervisor's labels of B: the large base is
    the weak-to-strong student of lesson 02 (``config``), the small base is the small model
    ``small`` (a weak-family logistic regression) trained on the same weak labels. Then the
    first ``n`` examples of A come with ground truth ("gold" labels). The small model is tuned
    on them (for this convex model, fine-tuning to convergence from the base is the same as
    training on the gold labels), the large model is **not** touched: it is proxy-tuned
    with ``proxy_tune``. For reference the large model is also trained directly on the same
    gold labels ("large tuned"). ``gap_closed`` is PGR with the large base as the weak end
    and the directly tuned large model as the ceiling (NaN when there is no gap).

    Returns one dict per ``n``: ``n_gold``, ``seed`` and test accuracies ``large_base``,
    ``small_base``, ``small_tuned``, ``proxy``, ``large_tuned``, plus ``gap_closed``; with
    ``keep_probs`` also ``probs`` (test probabilities of each model and ``y_test``).
    """
    from dataclasses import replace

    from w2s import data as data_mod
    from w2s.experiment import Config, fit_student, protocol
    from w2s.metrics import accuracy, pgr
    from w2s.models import WeakModel
    from w2s.train import one_hot, predict_proba

    config = Config(track="vision") if config is None else config
    split = data_mod.load(config.dataset, seed)
    sizes = [int(n) for n in np.atleast_1d(n_gold)]
    if not sizes or min(sizes) < 1 or max(sizes) > len(split.y_a):
        raise ValueError(f"n_gold must be between 1 and {len(split.y_a)} (the size of half A), "
                         f"got {list(np.atleast_1d(n_gold))}")
    weak_labels = protocol(config, seed, ceiling=False).weak_labels
    large_base, _ = fit_student(config, split, weak_labels, seed)
    small_base = WeakModel(small, seed=seed).fit(split.x_b, weak_labels.argmax(1))
    if len(np.unique(weak_labels.argmax(1))) < split.n_classes:
        raise ValueError("the weak labels of B miss a class, so the small base model cannot "
                         "score it; use a stronger weak model or another seed")
    p_large_base = predict_proba(large_base, split.x_test)
    p_small_base = small_base.predict_proba(split.x_test)
    rows = []
    for n in sizes:
        x_gold, y_gold = split.x_a[:n], split.y_a[:n]
        if len(np.unique(y_gold)) < split.n_classes:
            raise ValueError(f"the first {n} gold labels miss a class; use more gold labels")
        small_tuned = WeakModel(small, seed=seed).fit(x_gold, y_gold)
        gold_split = replace(split, x_b=x_gold, y_b=y_gold)
        large_tuned, _ = fit_student(replace(config, loss="xent", hard_labels=False), gold_split,
                                     one_hot(y_gold, split.n_classes), seed)
        probs = {"large_base": p_large_base, "small_base": p_small_base,
                 "small_tuned": small_tuned.predict_proba(split.x_test),
                 "large_tuned": predict_proba(large_tuned, split.x_test)}
        probs["proxy"] = proxy_tune(probs["large_base"], probs["small_tuned"], probs["small_base"])
        row = {"n_gold": n, "seed": seed}
        row.update({k: accuracy(p.argmax(1), split.y_test) for k, p in probs.items()})
        row["gap_closed"] = (pgr(row["large_base"], row["proxy"], row["large_tuned"])
                             if row["large_tuned"] > row["large_base"] else float("nan"))
        if keep_probs:
            row["probs"] = {**probs, "y_test": split.y_test}
        rows.append(row)
    return rows
