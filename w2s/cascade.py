"""Cascading inference: a small model answers first and defers to a large one when unsure.
Introduced in lesson 06.

Every query goes to the small model. When its confidence (largest predicted probability)
is **below** ``threshold`` the query is *deferred*: the large model answers instead. So a
threshold of 0 never defers (small model only) and larger thresholds send more queries to
the large model; at 1 every query is deferred unless the small model is exactly certain.
A deferred query pays for both models (the small one ran first), so per query

    cost    = cost_small    + share_large * cost_large
    latency = latency_small + share_large * latency_large

where ``share_large`` is the fraction of queries deferred. For the analysis both models'
probabilities are computed for every input; a deployed cascade runs the large model only
on the deferred ones, which is where the savings come from.

- ``cascade_predict``: predictions and the deferral mask for one threshold;
- ``evaluate_cascade``: accuracy, share of large-model calls, cost and latency for one threshold;
- ``cascade_curve``: the same for many thresholds (accuracy vs share / cost / latency);
- ``choose_threshold``: the cheapest threshold that meets an accuracy target and/or the most
  accurate one within a budget (choose it on validation data, report it on test data);
- ``deferral_curve`` and ``apgr``: accuracy vs share of large-model calls when deferring
  the k lowest-scored inputs, and RouteLLM's average performance gap recovered;
- ``time_per_query``: measured seconds per query of a prediction function.

FrugalGPT (Chen, Zaharia & Zou, 2023) reports up to 98 % cost reduction at equal quality
with LLM cascades; Jitkrittum et al. (NeurIPS 2023) show when confidence-based deferral fails.
"""

from __future__ import annotations

import math
import time

import numpy as np

from w2s.metrics import check_unit_interval
from w2s.selection import check_probs, confidence

__all__ = ["cascade_predict", "evaluate_cascade", "cascade_curve", "choose_threshold",
           "deferral_curve", "apgr", "time_per_query", "confidence"]


def _check_threshold(threshold) -> float:
    return check_unit_interval("threshold", threshold, "a confidence",
                               "0 never defers, 1 defers every uncertain query")


def _check_pair(small_probs, large_probs, y_true=None):
    small = check_probs(small_probs, "small_probs")
    large = check_probs(large_probs, "large_probs")
    if small.shape != large.shape:
        raise ValueError(f"small_probs {small.shape} and large_probs {large.shape} must have "
                         "the same shape: one row per query, one column per class, same order")
    if y_true is None:
        return small, large, None
    y = np.asarray(y_true)
    if y.shape != (len(small),):
        raise ValueError(f"y_true must have one label per query, shape ({len(small)},), "
                         f"got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= small.shape[1]:
        raise ValueError(f"y_true must hold integer class labels in [0, {small.shape[1]})")
    return small, large, y


def _check_costs(cost_small, cost_large, latency_small, latency_large) -> dict:
    costs = {"cost_small": cost_small, "cost_large": cost_large}
    if (latency_small is None) != (latency_large is None):
        raise ValueError("give both latency_small and latency_large (seconds per query), "
                         "or neither")
    if latency_small is not None:
        costs.update(latency_small=latency_small, latency_large=latency_large)
    out = {}
    for name, value in costs.items():
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a non-negative number, got {value!r}") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        out[name] = value
    return out


def cascade_predict(small_probs, large_probs, threshold: float, kind: str = "max"):
    """Return ``(predictions, deferred)``: the small model's answer where its confidence is
    at least ``threshold``, the large model's answer where it is below (``deferred`` True)."""
    small, large, _ = _check_pair(small_probs, large_probs)
    threshold = _check_threshold(threshold)
    deferred = confidence(small, kind) < threshold
    pred = np.where(deferred, large.argmax(axis=1), small.argmax(axis=1))
    return pred, deferred


def evaluate_cascade(small_probs, large_probs, y_true, threshold: float, *, cost_small=1.0,
                     cost_large=10.0, latency_small=None, latency_large=None,
                     kind: str = "max") -> dict:
    """Accuracy and price of the cascade at one threshold.

    Returns ``threshold``, ``accuracy``, ``share_large`` (fraction deferred), ``cost`` (mean
    per query), ``accuracy_kept`` (small model's accuracy on the queries it kept; NaN if it
    kept none) and, when latencies are given, ``latency`` (mean seconds per query).
    """
    small, large, y = _check_pair(small_probs, large_probs, y_true)
    costs = _check_costs(cost_small, cost_large, latency_small, latency_large)
    pred, deferred = cascade_predict(small, large, threshold, kind)
    share = float(deferred.mean())
    kept = ~deferred
    out = {"threshold": float(threshold), "accuracy": float((pred == y).mean()),
           "share_large": share,
           "cost": costs["cost_small"] + share * costs["cost_large"],
           "accuracy_kept": float((small.argmax(1)[kept] == y[kept]).mean()) if kept.any()
           else float("nan")}
    if "latency_small" in costs:
        out["latency"] = costs["latency_small"] + share * costs["latency_large"]
    return out


def cascade_curve(small_probs, large_probs, y_true, thresholds=None, *, cost_small=1.0,
                  cost_large=10.0, latency_small=None, latency_large=None,
                  kind: str = "max") -> dict:
    """``evaluate_cascade`` for many thresholds (default: 0, every distinct confidence of the
    small model, and 1), sorted by threshold.

    Returns a dict of arrays ``threshold``, ``accuracy``, ``share_large``, ``cost`` (and
    ``latency``), plus the reference points ``accuracy_small``, ``accuracy_large``,
    ``cost_small_only`` (= cost_small), ``cost_large_only`` (= cost_large: the large model
    alone, no small model in front) and, with latencies, ``latency_small_only`` and
    ``latency_large_only``.
    """
    small, large, y = _check_pair(small_probs, large_probs, y_true)
    costs = _check_costs(cost_small, cost_large, latency_small, latency_large)
    if thresholds is None:
        thresholds = np.unique(np.concatenate([[0.0], confidence(small, kind), [1.0]]))
    thresholds = np.sort(np.array([_check_threshold(t) for t in np.atleast_1d(thresholds)]))
    if thresholds.size == 0:
        raise ValueError("give at least one threshold in [0, 1]")
    rows = [evaluate_cascade(small, large, y, t, kind=kind, **costs) for t in thresholds]
    curve = {key: np.array([r[key] for r in rows]) for key in rows[0] if key != "accuracy_kept"}
    curve.update(accuracy_small=float((small.argmax(1) == y).mean()),
                 accuracy_large=float((large.argmax(1) == y).mean()),
                 cost_small_only=costs["cost_small"], cost_large_only=costs["cost_large"])
    if "latency_small" in costs:
        curve.update(latency_small_only=costs["latency_small"],
                     latency_large_only=costs["latency_large"])
    return curve


def choose_threshold(curve: dict, accuracy_target=None, budget=None,
                     budget_on: str = "cost") -> dict:
    """Pick an operating point from a ``cascade_curve`` (computed on *validation* data).

    - ``accuracy_target`` only: the cheapest point with accuracy >= target;
    - ``budget`` only: the most accurate point with ``budget_on`` (``cost``, ``latency`` or
      ``share_large``) <= budget, the cheaper one on ties;
    - both: the cheapest point meeting the target within the budget.
    Raises ValueError, naming what *is* reachable, when no point qualifies.
    Returns the chosen point: ``threshold``, ``accuracy``, ``share_large``, ``cost`` (and
    ``latency``).
    """
    required = ("threshold", "accuracy", "share_large", "cost")
    if not isinstance(curve, dict) or any(k not in curve for k in required):
        raise ValueError("curve must be the dict returned by cascade_curve(...)")
    if accuracy_target is None and budget is None:
        raise ValueError("give an accuracy_target (e.g. 0.95), a budget, or both")
    if budget_on not in ("cost", "latency", "share_large") or budget_on not in curve:
        raise ValueError(f"budget_on must be 'cost', 'share_large' or (for a curve computed "
                         f"with latencies) 'latency', got {budget_on!r}")
    acc = np.asarray(curve["accuracy"], dtype=float)
    spend = np.asarray(curve[budget_on], dtype=float)
    cost = np.asarray(curve["cost"], dtype=float)
    ok = np.ones(len(acc), dtype=bool)
    if accuracy_target is not None:
        target = float(accuracy_target)
        if not 0.0 <= target <= 1.0:
            raise ValueError(f"accuracy_target must be a fraction in [0, 1], got {target!r}")
        ok &= acc >= target - 1e-12
    if budget is not None:
        limit = float(budget)
        if math.isnan(limit) or limit < 0:
            raise ValueError(f"budget must be a non-negative number, got {budget!r}")
        ok &= spend <= limit + 1e-12
    if not ok.any():
        best = float(acc.max())
        cheapest = float(spend.min())
        raise ValueError(
            "no threshold meets "
            + " and ".join(filter(None, [
                f"accuracy >= {accuracy_target}" if accuracy_target is not None else "",
                f"{budget_on} <= {budget}" if budget is not None else ""]))
            + f" on this curve: the best accuracy is {best:.4f} and the lowest {budget_on} is "
            f"{cheapest:.4g}; relax the target or raise the budget")
    idx = np.flatnonzero(ok)
    if accuracy_target is not None:
        # cheapest first, then the more accurate
        best = idx[np.lexsort((-acc[idx], cost[idx]))[0]]
    else:
        best = idx[np.lexsort((cost[idx], -acc[idx]))[0]]
    keys = [k for k in ("threshold", "accuracy", "share_large", "cost", "latency") if k in curve]
    return {k: float(np.asarray(curve[k])[best]) for k in keys}


def deferral_curve(small_correct, large_correct, scores) -> dict:
    """Accuracy when the ``k`` inputs with the lowest ``scores`` go to the large model, for
    k = 0..n (ties broken by position). Works for any deferral score: the small model's
    confidence, a random number, or a learned rule.

    ``small_correct``/``large_correct``: booleans per input (is each model right?).
    Returns arrays ``share_large`` (k / n) and ``accuracy``.
    """
    small_correct = np.asarray(small_correct, dtype=bool)
    large_correct = np.asarray(large_correct, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    n = len(small_correct)
    if n == 0 or small_correct.shape != (n,) or large_correct.shape != (n,) \
            or scores.shape != (n,):
        raise ValueError("small_correct, large_correct and scores must be 1-D arrays of the "
                         "same, non-zero length (one entry per query)")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite numbers")
    order = np.argsort(scores, kind="stable")
    # deferring input i changes the number correct by large_correct[i] - small_correct[i]
    gain = (large_correct[order].astype(int) - small_correct[order].astype(int))
    correct = small_correct.sum() + np.concatenate([[0], np.cumsum(gain)])
    return {"share_large": np.arange(n + 1) / n, "accuracy": correct / n}


def apgr(small_probs, large_probs, y_true, scores=None, kind: str = "max") -> float:
    """RouteLLM's average performance gap recovered (Ong et al., 2024).

    PGR(share) = (accuracy(share) - accuracy_small) / (accuracy_large - accuracy_small) for
    the cascade that defers the lowest-``scores`` inputs (default: the small model's
    confidence), averaged over the share of large-model calls from 0 to 1 (exact area
    under the step-wise curve). A random router scores about 0.5; higher is better.
    """
    small, large, y = _check_pair(small_probs, large_probs, y_true)
    scores = confidence(small, kind) if scores is None else scores
    curve = deferral_curve(small.argmax(1) == y, large.argmax(1) == y, scores)
    acc_small, acc_large = curve["accuracy"][0], curve["accuracy"][-1]
    if acc_large <= acc_small:
        raise ValueError(f"APGR is undefined when the large model ({acc_large:.4f}) is not "
                         f"more accurate than the small one ({acc_small:.4f}): no gap to recover")
    pgr_curve = (curve["accuracy"] - acc_small) / (acc_large - acc_small)
    # trapezoid rule on the evenly spaced shares 0, 1/n, ..., 1
    return float((pgr_curve[:-1] + pgr_curve[1:]).sum() / (2 * (len(pgr_curve) - 1)))


def time_per_query(predict, x, repeats: int = 5) -> float:
    """Median wall-clock seconds per query of ``predict(x)`` over ``repeats`` runs on the
    whole batch ``x`` (one untimed warm-up run first)."""
    if not callable(predict):
        raise ValueError("predict must be a function that takes a batch of inputs")
    if int(repeats) < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats!r}")
    n = len(x)
    if n == 0:
        raise ValueError("x must hold at least one query")
    predict(x)
    times = []
    for _ in range(int(repeats)):
        start = time.perf_counter()
        predict(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) / n
