"""Accuracy, Performance Gap Recovered, and how much a student copies its teacher's mistakes.

Introduced in lesson 01:  PGR = (P_weak→strong - P_weak) / (P_ceiling - P_weak).
0 means the student only matches its supervisor; 1 means it closes the whole gap.
"""

from __future__ import annotations

import math

import numpy as np


def accuracy(y_pred, y_true) -> float:
    """Fraction of predictions equal to the labels (a number in [0, 1])."""
    y_pred, y_true = np.asarray(y_pred), np.asarray(y_true)
    if y_pred.shape != y_true.shape:
        raise ValueError(f"predictions {y_pred.shape} and labels {y_true.shape} differ in shape")
    if y_true.size == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float((y_pred == y_true).mean())


def check_unit_interval(name: str, value, what: str = "an accuracy",
                        hint: str = "write 61% as 0.61") -> float:
    """``value`` as a float in [0, 1], or a ValueError naming ``name`` and how to fix it."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be {what} in [0, 1], got {value!r} ({hint})")
    return value


def pgr(p_weak: float, p_weak_to_strong: float, p_ceiling: float) -> float:
    """Performance Gap Recovered: the share of the weak-to-ceiling gap the student closes."""
    p_weak = check_unit_interval("p_weak", p_weak)
    p_weak_to_strong = check_unit_interval("p_weak_to_strong", p_weak_to_strong)
    p_ceiling = check_unit_interval("p_ceiling", p_ceiling)
    if p_ceiling <= p_weak:
        raise ValueError(f"PGR is undefined when p_ceiling ({p_ceiling}) <= p_weak ({p_weak}): "
                         "there is no gap to recover")
    return (p_weak_to_strong - p_weak) / (p_ceiling - p_weak)


def agreement_on_weak_errors(student_pred, weak_pred, y_true) -> float:
    """Of the examples the weak model gets wrong, the fraction where the student makes the
    *same* mistake. 1.0: the student imitates every error; low: it generalizes past them."""
    student_pred, weak_pred, y_true = map(np.asarray, (student_pred, weak_pred, y_true))
    wrong = weak_pred != y_true
    if not wrong.any():
        return float("nan")
    return float((student_pred[wrong] == weak_pred[wrong]).mean())


def summarize(values) -> dict:
    """Mean, spread and the values themselves over seeds: ``{"mean", "std", "per_seed"}``.

    The one summary of per-seed numbers in the library (``w2s run``, ``w2s sweep``,
    ``bootstrap.summarize_bootstrap``, ``selection.summarize_selection``). NaN (an undefined
    PGR) becomes None in ``per_seed`` and is left out of the mean and std, which are None
    when no seed is defined."""
    arr = np.asarray(values, dtype=float).ravel()
    defined = arr[~np.isnan(arr)]
    return {"mean": float(defined.mean()) if defined.size else None,
            "std": float(defined.std()) if defined.size else None,
            "per_seed": [None if math.isnan(v) else float(v) for v in arr]}
