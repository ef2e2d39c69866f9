"""PGR, accuracy and the imitation measure on hand-worked cases."""

import math

import numpy as np
import pytest

from w2s.metrics import accuracy, agreement_on_weak_errors, pgr


@pytest.mark.parametrize("args, expected", [
    ((0.61, 0.70, 0.90), 9 / 29),    # the authors' GPT-2 -> GPT-4 example
    ((0.5, 0.5, 0.9), 0.0),          # the student only matches its teacher
    ((0.5, 0.9, 0.9), 1.0),          # the whole gap recovered
    ((0.6, 0.5, 0.8), -0.5),         # worse than the teacher: negative
    ((0.6, 0.85, 0.8), 1.25),        # better than the ceiling: above 1
    ((0.0, 0.5, 1.0), 0.5),          # edges of [0, 1] are valid accuracies
])
def test_pgr_hand_worked(args, expected):
    assert pgr(*args) == pytest.approx(expected)


def test_pgr_argument_order_is_weak_student_ceiling():
    # (0.6 - 0.4) / (0.9 - 0.4); swapping student and ceiling would give 2.5
    assert pgr(0.4, 0.6, 0.9) == pytest.approx(0.4)
    assert pgr(p_weak=0.4, p_weak_to_strong=0.6, p_ceiling=0.9) == pytest.approx(0.4)


@pytest.mark.parametrize("args", [(0.9, 0.95, 0.9), (0.9, 0.8, 0.7)])
def test_pgr_undefined_without_a_gap(args):
    with pytest.raises(ValueError, match="undefined"):
        pgr(*args)


@pytest.mark.parametrize("args, name", [((61, 70, 90), "p_weak"), ((0.6, 1.2, 0.9), "p_weak_to_strong"),
                                        ((0.6, 0.7, -0.1), "p_ceiling"), ((0.6, float("nan"), 0.9), "p_weak_to_strong"),
                                        (("a", 0.7, 0.9), "p_weak")])
def test_pgr_rejects_values_outside_unit_interval(args, name):
    with pytest.raises(ValueError, match=name):
        pgr(*args)


def test_accuracy_matches_sklearn():
    from sklearn.metrics import accuracy_score

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 100), rng.integers(0, 4, 100)
    assert accuracy(p, y) == pytest.approx(accuracy_score(y, p))


def test_accuracy_rejects_shape_mismatch_and_empty():
    with pytest.raises(ValueError, match="shape"):
        accuracy([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        accuracy([], [])


def test_agreement_on_weak_errors_hand_worked():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    weak = np.array([0, 1, 1, 2, 0, 2])      # wrong on indices 1, 3, 4
    student = np.array([0, 1, 1, 1, 1, 2])    # copies the mistake on 1 only
    assert agreement_on_weak_errors(student, weak, y_true) == pytest.approx(1 / 3)
    assert agreement_on_weak_errors(weak, weak, y_true) == 1.0
    assert agreement_on_weak_errors(y_true, weak, y_true) == 0.0


def test_agreement_undefined_when_weak_makes_no_mistake():
    assert math.isnan(agreement_on_weak_errors([0, 1], [0, 1], [0, 1]))
