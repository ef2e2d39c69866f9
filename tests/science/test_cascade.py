"""w2s.cascade: cascaded inference, checked against a hand-worked case and brute force."""

import time

import numpy as np
import pytest

from w2s.cascade import (apgr, cascade_curve, cascade_predict, choose_threshold, deferral_curve,
                         evaluate_cascade, time_per_query)

# Four queries, two classes, worked by hand:
#   small confidence 0.9, 0.6, 0.55, 0.8; small predicts 0, 0, 0, 1 -> right on 0 and 3 (0.5)
#   large predicts                       0, 1, 0, 1 -> right on 0, 1, 3       (0.75)
SMALL = np.array([[0.9, 0.1], [0.6, 0.4], [0.55, 0.45], [0.2, 0.8]])
LARGE = np.array([[0.8, 0.2], [0.1, 0.9], [0.7, 0.3], [0.4, 0.6]])
Y = np.array([0, 1, 1, 1])


def test_cascade_predict_by_hand():
    pred, deferred = cascade_predict(SMALL, LARGE, 0.7)
    assert deferred.tolist() == [False, True, True, False]
    assert pred.tolist() == [0, 1, 0, 1]
    pred, deferred = cascade_predict(SMALL, LARGE, 0.0)
    assert not deferred.any() and pred.tolist() == [0, 0, 0, 1]
    _, deferred = cascade_predict(SMALL, LARGE, 1.0)
    assert deferred.all()
    # the rule is "below the threshold": a confidence equal to it is kept
    _, deferred = cascade_predict(SMALL, LARGE, 0.6)
    assert deferred.tolist() == [False, False, True, False]


def test_evaluate_cascade_by_hand():
    out = evaluate_cascade(SMALL, LARGE, Y, 0.7, cost_small=1, cost_large=10,
                           latency_small=0.01, latency_large=0.5)
    assert out["accuracy"] == pytest.approx(0.75)
    assert out["share_large"] == pytest.approx(0.5)
    assert out["cost"] == pytest.approx(1 + 0.5 * 10)
    assert out["latency"] == pytest.approx(0.01 + 0.5 * 0.5)
    assert out["accuracy_kept"] == pytest.approx(1.0)        # kept rows 0 and 3, both right
    assert np.isnan(evaluate_cascade(SMALL, LARGE, Y, 1.0)["accuracy_kept"])
    assert "latency" not in evaluate_cascade(SMALL, LARGE, Y, 0.7)


def test_cascade_curve_by_hand():
    curve = cascade_curve(SMALL, LARGE, Y, cost_small=1, cost_large=10)
    assert np.allclose(curve["threshold"], [0, 0.55, 0.6, 0.8, 0.9, 1.0])
    assert np.allclose(curve["share_large"], [0, 0, 0.25, 0.5, 0.75, 1.0])
    assert np.allclose(curve["accuracy"], [0.5, 0.5, 0.5, 0.75, 0.75, 0.75])
    assert np.allclose(curve["cost"], [1, 1, 3.5, 6, 8.5, 11])
    assert curve["accuracy_small"] == 0.5 and curve["accuracy_large"] == 0.75
    assert curve["cost_large_only"] == 10


def test_cascade_curve_matches_brute_force_on_random_data():
    rng = np.random.default_rng(1)
    small = rng.dirichlet(np.ones(3) * 0.7, size=150)
    large = rng.dirichlet(np.ones(3) * 0.7, size=150)
    y = rng.integers(0, 3, 150)
    thresholds = np.linspace(0, 1, 21)
    curve = cascade_curve(small, large, y, thresholds, cost_small=2, cost_large=30)
    for t, acc, share, cost in zip(thresholds, curve["accuracy"], curve["share_large"],
                                   curve["cost"]):
        answers = [lg.argmax() if sm.max() < t else sm.argmax() for sm, lg in zip(small, large)]
        n_deferred = sum(sm.max() < t for sm in small)
        assert acc == pytest.approx(np.mean(np.array(answers) == y))
        assert share == pytest.approx(n_deferred / 150)
        assert cost == pytest.approx(2 + 30 * n_deferred / 150)


def test_choose_threshold_by_hand():
    curve = cascade_curve(SMALL, LARGE, Y, cost_small=1, cost_large=10)
    best = choose_threshold(curve, accuracy_target=0.75)
    assert best["threshold"] == pytest.approx(0.8) and best["cost"] == pytest.approx(6)
    cheap = choose_threshold(curve, budget=5)
    assert cheap["threshold"] == 0.0 and cheap["accuracy"] == 0.5
    by_share = choose_threshold(curve, budget=0.5, budget_on="share_large")
    assert by_share["accuracy"] == 0.75 and by_share["share_large"] == 0.5
    assert choose_threshold(curve, accuracy_target=0.7, budget=6)["threshold"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="best accuracy is 0.75"):
        choose_threshold(curve, accuracy_target=0.9)
    with pytest.raises(ValueError, match="relax the target or raise the budget"):
        choose_threshold(curve, accuracy_target=0.75, budget=5)
    with pytest.raises(ValueError, match="accuracy_target"):
        choose_threshold(curve)
    with pytest.raises(ValueError, match="latency"):
        choose_threshold(curve, budget=1, budget_on="latency")
    with pytest.raises(ValueError, match="cascade_curve"):
        choose_threshold({"accuracy": [1]}, accuracy_target=0.5)


def test_deferral_curve_and_apgr_by_hand():
    curve = deferral_curve(SMALL.argmax(1) == Y, LARGE.argmax(1) == Y, SMALL.max(1))
    assert np.allclose(curve["share_large"], [0, 0.25, 0.5, 0.75, 1])
    assert np.allclose(curve["accuracy"], [0.5, 0.5, 0.75, 0.75, 0.75])
    # PGR along the curve: 0, 0, 1, 1, 1 -> trapezoid area (0 + 0.5 + 1 + 1) / 4
    assert apgr(SMALL, LARGE, Y) == pytest.approx(0.625)


def test_apgr_against_numpy_trapezoid_and_oracle():
    rng = np.random.default_rng(2)
    n = 400
    y = rng.integers(0, 4, n)
    small = rng.dirichlet(np.ones(4), size=n)
    large = np.full((n, 4), 0.1)
    large[np.arange(n), y] = 0.7                              # the large model is always right
    small_ok, large_ok = small.argmax(1) == y, np.ones(n, bool)
    scores = small.max(1)
    curve = deferral_curve(small_ok, large_ok, scores)
    acc0, acc1 = small_ok.mean(), 1.0
    reference = np.trapezoid((curve["accuracy"] - acc0) / (acc1 - acc0), curve["share_large"])
    assert apgr(small, large, y) == pytest.approx(reference)
    # an oracle that defers exactly the small model's errors first climbs linearly to PGR 1
    # at share = its error rate e and stays there: area 1 - e / 2, the best any score can do
    oracle = apgr(small, large, y, scores=small_ok.astype(float))
    assert oracle == pytest.approx(1 - (1 - acc0) / 2)
    assert oracle > apgr(small, large, y)
    # a random router recovers about half the gap on average
    randoms = [apgr(small, large, y, scores=rng.random(n)) for _ in range(20)]
    assert abs(np.mean(randoms) - 0.5) < 0.05


def test_apgr_undefined_without_a_gap():
    with pytest.raises(ValueError, match="no gap"):
        apgr(LARGE, SMALL, Y)


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan"), "high", None])
def test_bad_thresholds(threshold):
    with pytest.raises(ValueError, match="threshold"):
        cascade_predict(SMALL, LARGE, threshold)


def test_bad_inputs_get_clear_errors():
    with pytest.raises(ValueError, match="same shape"):
        cascade_predict(SMALL, LARGE[:3], 0.5)
    with pytest.raises(ValueError, match="not logits"):
        cascade_predict(SMALL * 3, LARGE, 0.5)
    with pytest.raises(ValueError, match="one label per query"):
        evaluate_cascade(SMALL, LARGE, Y[:2], 0.5)
    with pytest.raises(ValueError, match="integer class labels"):
        evaluate_cascade(SMALL, LARGE, np.array([0, 1, 2, 1]), 0.5)
    with pytest.raises(ValueError, match="cost_large"):
        evaluate_cascade(SMALL, LARGE, Y, 0.5, cost_large=-1)
    with pytest.raises(ValueError, match="both latency"):
        cascade_curve(SMALL, LARGE, Y, latency_small=0.1)
    with pytest.raises(ValueError, match="same, non-zero length"):
        deferral_curve([True], [True, False], [0.5])
    with pytest.raises(ValueError, match="callable|function"):
        time_per_query("model", SMALL)


def test_time_per_query_measures_the_batch():
    def slow_predict(x):
        time.sleep(0.02)
        return x

    per_query = time_per_query(slow_predict, np.zeros((4, 2)), repeats=2)
    assert 0.02 / 4 <= per_query < 1.0
