"""Data selection with a weak model's confidence. Introduced in lesson 05.

A weak supervisor labels the transfer half B; its confidence (the largest predicted
probability) says how much to trust each weak label. Keeping only the most confident
fraction, or weighting examples by confidence, trades *quantity* and *coverage* for
*label quality*. This module makes the choice and measures both sides of the trade:

- ``confidence(probs)``: per-example confidence (max probability, margin or 1 - entropy);
- ``select_confident(probs, keep_fraction, balanced=False)``: indices of the kept examples;
- ``select_random(n, keep_fraction, seed)``: the same-size random control;
- ``confidence_weights(probs, power)``: per-example weights with mean 1;
- ``selection_report(probs, keep, y_true)``: what was kept (coverage, label accuracy,
  class balance);
- ``run_selection(config, seed, keep_fractions, strategies)``: the real weak-to-strong
  experiment on the kept examples (P_weak, P_ceiling, P_weak→strong, PGR per fraction);
- ``summarize_selection(rows, metric)``: mean and spread over seeds, per strategy and fraction.

At LLM scale the same idea filters pre-training data with a small reference model's
perplexity (Ankner et al., 2024) and sets data-mixture weights with a small proxy model
(DoReMi, Xie et al., 2023).
"""

from __future__ import annotations

import math
import time

import numpy as np

from w2s.metrics import summarize

STRATEGIES = ("confident", "balanced", "random", "weighted")
CONFIDENCE_KINDS = ("max", "margin", "entropy")


def check_probs(probs, name: str = "probs") -> np.ndarray:
    """Return ``probs`` as a float array (n x classes) after checking it is a distribution."""
    try:
        probs = np.asarray(probs, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of probabilities (n x classes)") from None
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n_examples, n_classes) with n >= 1 and at "
                         f"least 2 classes, got shape {probs.shape}; pass model.predict_proba(x)")
    if not np.isfinite(probs).all() or (probs < -1e-6).any():
        raise ValueError(f"{name} holds negative, NaN or infinite values; pass probabilities "
                         "(softmax outputs), not logits")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(f"each row of {name} must sum to 1; pass probabilities (softmax "
                         "outputs), not logits or scores")
    return probs


def check_fraction(name: str, value, *, allow_zero: bool = False) -> float:
    """A number in (0, 1] (or [0, 1] with ``allow_zero``), else a ValueError saying so."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}") from None
    low_ok = value >= 0.0 if allow_zero else value > 0.0
    if math.isnan(value) or not low_ok or value > 1.0:
        bound = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{name} must be a fraction in {bound}, got {value!r} (write 30% as 0.3)")
    return value


def confidence(probs, kind: str = "max") -> np.ndarray:
    """Per-example confidence in [0, 1].

    ``max``: the largest probability; ``margin``: largest minus second largest;
    ``entropy``: 1 - entropy / log(n_classes) (1 for a one-hot row, 0 for a uniform one).
    """
    probs = check_probs(probs)
    if kind == "max":
        return probs.max(axis=1)
    if kind == "margin":
        top2 = np.sort(probs, axis=1)[:, -2:]
        return top2[:, 1] - top2[:, 0]
    if kind == "entropy":
        p = np.clip(probs, 1e-12, 1.0)
        return 1.0 - (-(p * np.log(p)).sum(axis=1)) / math.log(probs.shape[1])
    raise ValueError(f"unknown confidence kind {kind!r}; choose one of {CONFIDENCE_KINDS}")


def n_kept(n: int, keep_fraction: float) -> int:
    """How many of ``n`` examples a keep fraction keeps: n * f rounded half up, at least 1."""
    return max(1, int(math.floor(n * keep_fraction + 0.5)))


def select_confident(probs, keep_fraction: float, *, balanced: bool = False,
                     kind: str = "max") -> np.ndarray:
    """Sorted indices of the most confident ``keep_fraction`` of the examples.

    ``balanced=True`` keeps that fraction *within each predicted class*, so the kept set
    has the class balance of the weak labels instead of over-representing easy classes.
    Ties are broken by position (stable), so the result is deterministic.
    """
    probs = check_probs(probs)
    keep_fraction = check_fraction("keep_fraction", keep_fraction)
    conf = confidence(probs, kind)
    if not balanced:
        order = np.argsort(-conf, kind="stable")
        return np.sort(order[:n_kept(len(conf), keep_fraction)])
    predicted = probs.argmax(axis=1)
    kept = []
    for c in np.unique(predicted):
        members = np.flatnonzero(predicted == c)
        order = members[np.argsort(-conf[members], kind="stable")]
        kept.append(order[:n_kept(len(members), keep_fraction)])
    return np.sort(np.concatenate(kept))


def select_random(n: int, keep_fraction: float, seed: int = 0) -> np.ndarray:
    """Sorted indices of a random subset of the same size: the control for ``select_confident``."""
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive number of examples, got {n!r}")
    keep_fraction = check_fraction("keep_fraction", keep_fraction)
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(n)[:n_kept(n, keep_fraction)])


def confidence_weights(probs, power: float = 1.0, kind: str = "max") -> np.ndarray:
    """Per-example weights proportional to ``confidence ** power``, scaled to mean 1.

    ``power=0`` weights every example equally; larger powers approach hard selection.
    """
    try:
        power = float(power)
    except (TypeError, ValueError):
        raise ValueError(f"power must be a number >= 0, got {power!r}") from None
    if math.isnan(power) or power < 0:
        raise ValueError(f"power must be a number >= 0, got {power!r}")
    conf = confidence(probs, kind)
    raw = np.clip(conf, 1e-12, None) ** power
    return raw / raw.mean()


def class_shift(labels_kept, labels_all, n_classes: int) -> float:
    """Total-variation distance between the class shares of the kept set and the full set
    (0: same balance; 1: disjoint classes)."""
    kept = np.bincount(np.asarray(labels_kept, dtype=int), minlength=n_classes) / len(labels_kept)
    full = np.bincount(np.asarray(labels_all, dtype=int), minlength=n_classes) / len(labels_all)
    return float(0.5 * np.abs(kept - full).sum())


def selection_report(probs, keep, y_true=None) -> dict:
    """What a selection keeps and what it loses.

    ``keep``: indices (or a boolean mask) into ``probs``. Returns ``coverage`` (kept share),
    ``n_kept``, ``mean_confidence`` of the kept set, ``class_counts`` of the kept weak labels,
    ``missing_classes`` (weak-label classes with nothing kept); with ``y_true`` also
    ``label_accuracy`` (kept), ``label_accuracy_all`` (before selection), ``class_shift``
    (TV distance of true classes, kept vs all) and ``true_class_counts``.
    """
    probs = check_probs(probs)
    n, k = probs.shape
    keep = np.asarray(keep)
    if keep.dtype == bool:
        if keep.shape != (n,):
            raise ValueError(f"a boolean keep mask needs shape ({n},), got {keep.shape}")
        keep = np.flatnonzero(keep)
    if keep.size == 0:
        raise ValueError("the selection keeps no example; raise keep_fraction")
    if keep.ndim != 1 or not np.issubdtype(keep.dtype, np.integer):
        raise ValueError("keep must be a 1-D array of indices or a boolean mask")
    if keep.min() < 0 or keep.max() >= n or len(np.unique(keep)) != len(keep):
        raise ValueError(f"keep must hold distinct indices in [0, {n})")
    weak = probs.argmax(axis=1)
    counts = np.bincount(weak[keep], minlength=k)
    present = np.bincount(weak, minlength=k) > 0
    report = {"coverage": len(keep) / n, "n_kept": int(len(keep)),
              "mean_confidence": float(probs[keep].max(axis=1).mean()),
              "class_counts": counts.tolist(),
              "missing_classes": int((present & (counts == 0)).sum())}
    if y_true is not None:
        y_true = np.asarray(y_true)
        if y_true.shape != (n,):
            raise ValueError(f"y_true must have shape ({n},), got {y_true.shape}")
        correct = weak == y_true
        report.update(label_accuracy=float(correct[keep].mean()),
                      label_accuracy_all=float(correct.mean()),
                      class_shift=class_shift(y_true[keep], y_true, k),
                      true_class_counts=np.bincount(y_true[keep], minlength=k).tolist())
    return report


def run_selection(config=None, seed: int = 0, keep_fractions=(0.2, 0.4, 0.6, 0.8, 1.0),
                  strategies=("confident",), power: float = 1.0, progress=False) -> list[dict]:
    """The weak-to-strong experiment with a selected (or weighted) transfer set.

    For one seed, ``w2s.experiment.protocol`` trains the weak model on A (-> P_weak) and the
    ceiling on all of B's ground truth (-> P_ceiling, the same reference for every row).
    ``config`` defaults to the vision track. Then for each strategy and keep
    fraction select part of B (``confident``, ``balanced`` or ``random``), train a fresh
    student on the weak soft labels of the kept examples, and measure P_weak→strong and
    PGR. ``weighted`` keeps all of B, weights each example by ``confidence ** power``
    (mean 1) and gives one row (keep_fraction 1.0) whatever ``keep_fractions`` says.
    Returns one dict per run: the ``selection_report`` fields plus ``strategy``,
    ``keep_fraction``, ``seed``, ``p_weak``, ``p_ceiling``, ``p_weak_to_strong``, ``pgr``
    and ``seconds``.
    """
    from dataclasses import replace

    from tqdm.auto import tqdm

    from w2s.experiment import Config, fit_student, probs_on_test, protocol, safe_pgr
    from w2s.metrics import accuracy

    config = Config(track="vision") if config is None else config
    strategies = (strategies,) if isinstance(strategies, str) else tuple(strategies)
    for strategy in strategies:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose from {STRATEGIES}")
    if not strategies:
        raise ValueError(f"give at least one strategy from {STRATEGIES}")
    fractions = [check_fraction("keep_fraction", f) for f in np.atleast_1d(keep_fractions)]
    if not fractions:
        raise ValueError("give at least one keep fraction, e.g. keep_fractions=(0.5, 1.0)")
    if "weighted" in strategies and config.loss != "xent":
        raise ValueError("strategy 'weighted' needs loss='xent' (weights scale the soft "
                         f"cross-entropy per example), got loss={config.loss!r}")
    if config.hard_labels or config.early_stopping:
        raise ValueError("run_selection trains on soft weak labels without early stopping; "
                         "use a Config with hard_labels=False and early_stopping=False")

    cache: dict = {}
    proto = protocol(config, seed, cache=cache)
    split, p_weak, p_ceiling = proto.split, proto.p_weak, proto.p_ceiling
    weak_labels = proto.weak_labels

    runs = [(s, f) for s in strategies if s != "weighted" for f in fractions]
    runs += [("weighted", 1.0)] if "weighted" in strategies else []
    rows = []
    trained = {}  # identical kept sets (e.g. every strategy at fraction 1) train only once
    for strategy, fraction in tqdm(runs, desc=f"selection (seed {seed})", unit="run",
                                   disable=not progress):
        start = time.perf_counter()
        targets = weak_labels
        if strategy == "random":
            keep = select_random(len(weak_labels), fraction, seed)
        elif strategy == "weighted":
            keep = np.arange(len(weak_labels))
            # soft cross-entropy is linear in its target: scaling a row by w weights it by w
            targets = weak_labels * confidence_weights(weak_labels, power)[:, None]
        else:
            keep = select_confident(weak_labels, fraction, balanced=(strategy == "balanced"))
        key = (strategy == "weighted", keep.tobytes())
        if key not in trained:
            sub = replace(split, x_b=split.x_b[keep], y_b=split.y_b[keep])
            student, _ = fit_student(config, sub, targets[keep], seed, cache=cache)
            trained[key] = accuracy(probs_on_test(config, student, split, seed, cache).argmax(1),
                                    split.y_test)
        p_w2s = trained[key]
        row = selection_report(weak_labels, keep, split.y_b)
        row.update(strategy=strategy, keep_fraction=fraction, seed=seed, p_weak=p_weak,
                   p_ceiling=p_ceiling, p_weak_to_strong=p_w2s,
                   pgr=safe_pgr(p_weak, p_w2s, p_ceiling),
                   seconds=time.perf_counter() - start)
        rows.append(row)
    return rows


def summarize_selection(rows, metric: str = "pgr") -> dict:
    """``metric`` of ``run_selection`` rows over seeds, per strategy, as a curve along the
    keep fraction: ``{strategy: {"keep_fraction", "mean", "std", "per_seed"}}`` -- at each
    fraction, ``w2s.metrics.summarize`` of the seeds' values (arrays sorted by fraction;
    ``per_seed`` a list per fraction)."""
    rows = list(rows)
    if not rows:
        raise ValueError("no rows to summarize; pass the list returned by run_selection")
    if any(metric not in r for r in rows):
        raise ValueError(f"metric {metric!r} is not in every row; choose one of "
                         f"{sorted(k for k in rows[0] if isinstance(rows[0][k], (int, float)))}")
    groups: dict = {}
    for r in rows:
        groups.setdefault(r["strategy"], {}).setdefault(r["keep_fraction"], []).append(r[metric])
    out = {}
    for strategy, by_fraction in groups.items():
        fractions = sorted(by_fraction)
        points = [summarize(by_fraction[f]) for f in fractions]
        out[strategy] = {"keep_fraction": np.array(fractions),
                         "mean": np.array([p["mean"] for p in points], dtype=float),
                         "std": np.array([p["std"] for p in points], dtype=float),
                         "per_seed": [p["per_seed"] for p in points]}
    return out
