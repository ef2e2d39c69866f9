"""w2s.selection: confidence-based data selection, checked against hand-worked cases and
independent references (scipy-free entropy by hand, brute-force sorting, sklearn)."""

import math

import numpy as np
import pytest

from w2s import selection
from w2s.selection import (class_shift, confidence, confidence_weights, select_confident,
                           select_random, selection_report)

# Five examples, three classes. Max-probabilities 0.9, 0.5, 0.7, 0.4, 0.8;
# predicted classes 0, 1, 0, 2, 2.
PROBS = np.array([[0.9, 0.05, 0.05],
                  [0.3, 0.5, 0.2],
                  [0.7, 0.2, 0.1],
                  [0.3, 0.3, 0.4],
                  [0.1, 0.1, 0.8]])
Y_TRUE = np.array([0, 0, 0, 1, 2])  # the weak labels are right on rows 0, 2, 4


def test_confidence_kinds_by_hand():
    assert np.allclose(confidence(PROBS), [0.9, 0.5, 0.7, 0.4, 0.8])
    assert np.allclose(confidence(PROBS, "margin"), [0.85, 0.2, 0.5, 0.1, 0.7])
    uniform_and_onehot = np.array([[1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]])
    assert np.allclose(confidence(uniform_and_onehot, "entropy"), [0.0, 1.0], atol=1e-9)
    row = PROBS[0]
    expected = 1 + (row * np.log(row)).sum() / math.log(3)
    assert confidence(PROBS, "entropy")[0] == pytest.approx(expected)


def test_select_confident_keeps_the_top_fraction():
    assert select_confident(PROBS, 0.4).tolist() == [0, 4]          # 0.9 and 0.8
    assert select_confident(PROBS, 0.6).tolist() == [0, 2, 4]
    assert select_confident(PROBS, 1.0).tolist() == [0, 1, 2, 3, 4]
    assert select_confident(PROBS, 0.01).tolist() == [0]            # at least one example


def test_select_confident_matches_brute_force_on_random_data():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4), size=200)
    for fraction in (0.1, 0.25, 0.5, 0.9):
        kept = select_confident(probs, fraction)
        k = int(round(200 * fraction))
        assert len(kept) == k
        # every kept example is at least as confident as every dropped one
        dropped = np.setdiff1d(np.arange(200), kept)
        assert probs[kept].max(1).min() >= probs[dropped].max(1).max()


def test_balanced_selection_keeps_each_predicted_class():
    # classes: 0 -> rows 0, 2 ; 1 -> row 1 ; 2 -> rows 3, 4.  Keeping 50% per class:
    # class 0 keeps round(1.0)=1 (row 0), class 1 keeps 1 (row 1), class 2 keeps row 4.
    assert select_confident(PROBS, 0.5, balanced=True).tolist() == [0, 1, 4]
    # unbalanced selection of a similar size drops class 1 entirely
    assert 1 not in select_confident(PROBS, 0.6).tolist()


def test_select_random_is_seeded_and_sized():
    a, b = select_random(100, 0.3, seed=1), select_random(100, 0.3, seed=1)
    assert np.array_equal(a, b) and len(a) == 30 and len(np.unique(a)) == 30
    assert not np.array_equal(a, select_random(100, 0.3, seed=2))


def test_confidence_weights_mean_one_and_ordering():
    w = confidence_weights(PROBS, power=2)
    assert w.mean() == pytest.approx(1.0)
    raw = PROBS.max(1) ** 2
    assert np.allclose(w, raw / raw.mean())
    assert np.allclose(confidence_weights(PROBS, power=0), 1.0)


def test_selection_report_by_hand():
    rep = selection_report(PROBS, np.array([0, 1, 4]), Y_TRUE)
    assert rep["coverage"] == pytest.approx(0.6)
    assert rep["n_kept"] == 3
    assert rep["label_accuracy"] == pytest.approx(2 / 3)       # rows 0, 4 right; row 1 wrong
    assert rep["label_accuracy_all"] == pytest.approx(3 / 5)
    assert rep["class_counts"] == [1, 1, 1]
    assert rep["missing_classes"] == 0
    assert rep["mean_confidence"] == pytest.approx((0.9 + 0.5 + 0.8) / 3)
    # true classes kept: 0, 0, 2 -> shares (2/3, 0, 1/3) vs all (3/5, 1/5, 1/5)
    assert rep["class_shift"] == pytest.approx(0.5 * (abs(2 / 3 - 3 / 5) + 0.2 + abs(1 / 3 - 0.2)))
    mask = np.zeros(5, bool)
    mask[[0, 1, 4]] = True
    assert selection_report(PROBS, mask, Y_TRUE) == rep
    assert selection_report(PROBS, [0], Y_TRUE)["missing_classes"] == 2


def test_class_shift_extremes():
    assert class_shift([0, 1, 2], [0, 1, 2], 3) == pytest.approx(0.0)
    assert class_shift([0, 0], [1, 1], 2) == pytest.approx(1.0)


def test_selective_accuracy_agrees_with_sklearn_style_reference():
    """Label accuracy of the top-k confident examples equals a direct computation."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(300, 5)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = rng.integers(0, 5, 300)
    kept = select_confident(probs, 0.2)
    order = np.argsort(-probs.max(1))[:60]
    assert set(kept.tolist()) == set(order.tolist())
    expected = (probs[order].argmax(1) == y[order]).mean()
    assert selection_report(probs, kept, y)["label_accuracy"] == pytest.approx(expected)


@pytest.mark.parametrize("bad, match", [
    (np.array([[2.0, -1.0]]), "negative"),
    (np.array([[0.2, 0.2]]), "sum to 1"),
    (np.array([0.5, 0.5]), "shape"),
    (np.zeros((0, 3)), "shape"),
    ("not probs", "array of probabilities"),
])
def test_bad_probs_raise_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        select_confident(bad, 0.5)


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, float("nan"), "half", None])
def test_bad_fractions_raise(fraction):
    with pytest.raises(ValueError, match="fraction"):
        select_confident(PROBS, fraction)


def test_other_bad_inputs():
    with pytest.raises(ValueError, match="kind"):
        confidence(PROBS, "certainty")
    with pytest.raises(ValueError, match="power"):
        confidence_weights(PROBS, power=-1)
    with pytest.raises(ValueError, match="keeps no example"):
        selection_report(PROBS, np.zeros(5, bool))
    with pytest.raises(ValueError, match="distinct indices"):
        selection_report(PROBS, [0, 0])
    with pytest.raises(ValueError, match="distinct indices"):
        selection_report(PROBS, [7])
    with pytest.raises(ValueError, match="y_true"):
        selection_report(PROBS, [0], Y_TRUE[:3])
    with pytest.raises(ValueError, match="positive"):
        select_random(0, 0.5)
    with pytest.raises(ValueError, match="strategy"):
        selection.run_selection(strategies=("best",))
    from w2s.experiment import Config
    with pytest.raises(ValueError, match="xent"):
        selection.run_selection(Config(track="vision", loss="conf"), strategies=("weighted",))


def test_run_selection_end_to_end(monkeypatch):
    """A real (fast) run: label accuracy rises as fewer, more confident labels are kept, the
    reference numbers are shared across rows, and PGR follows from the accuracies."""
    monkeypatch.setenv("W2S_FAST", "1")
    from w2s.experiment import Config
    from w2s.metrics import pgr

    rows = selection.run_selection(Config(track="vision", weak="noisy-0.5"), seed=0, keep_fractions=(0.2, 1.0),
                                   strategies=("confident", "random", "weighted"))
    assert [(r["strategy"], r["keep_fraction"]) for r in rows] == [
        ("confident", 0.2), ("confident", 1.0), ("random", 0.2), ("random", 1.0),
        ("weighted", 1.0)]
    assert len({(r["p_weak"], r["p_ceiling"]) for r in rows}) == 1
    top, full = rows[0], rows[1]
    # keeping everything is the same training set whatever the strategy
    assert rows[3]["p_weak_to_strong"] == full["p_weak_to_strong"]
    assert top["label_accuracy"] > full["label_accuracy"] + 0.1
    assert top["coverage"] == pytest.approx(0.2, abs=0.01) and full["coverage"] == 1.0
    for r in rows:
        assert 0.0 <= r["p_weak_to_strong"] <= 1.0
        assert r["pgr"] == pytest.approx(pgr(r["p_weak"], r["p_weak_to_strong"], r["p_ceiling"]))


def test_summarize_selection_by_hand():
    rows = [{"strategy": "confident", "keep_fraction": 0.5, "pgr": 0.2},
            {"strategy": "confident", "keep_fraction": 0.5, "pgr": 0.4},
            {"strategy": "confident", "keep_fraction": 1.0, "pgr": 0.6},
            {"strategy": "random", "keep_fraction": 0.5, "pgr": 0.1}]
    out = selection.summarize_selection(rows)
    assert out["confident"]["keep_fraction"].tolist() == [0.5, 1.0]
    assert np.allclose(out["confident"]["mean"], [0.3, 0.6])
    assert np.allclose(out["confident"]["std"], [0.1, 0.0])
    assert out["confident"]["per_seed"] == [[0.2, 0.4], [0.6]]
    assert out["random"]["mean"].tolist() == [0.1]
    with pytest.raises(ValueError, match="metric"):
        selection.summarize_selection(rows, "accuracy")
    with pytest.raises(ValueError, match="no rows"):
        selection.summarize_selection([])
