"""w2s.bootstrap (lesson 04): the chain uses the library's own pipeline, cross-fitting never
lets a model label an example it trained on, and bad input gets a clear message."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from w2s import bootstrap, data
from w2s.experiment import Config, run_experiment


class _Remembers(nn.Module):
    """A fake student: logit 1 on class 0 for rows it was trained on, on class 1 otherwise."""

    def __init__(self, rows):
        super().__init__()
        self.rows = {tuple(np.round(r, 5)) for r in np.asarray(rows)}

    def forward(self, x):
        seen = torch.tensor([tuple(np.round(r, 5)) in self.rows for r in x.numpy()])
        return torch.stack([seen.float(), (~seen).float()], dim=1) * 10


def _fake_fit(config, split, targets, seed, **kwargs):
    return _Remembers(split.x_b), None


@pytest.mark.parametrize("folds, expected_class", [(1, 0), (2, 1), (5, 1)])
def test_cross_fitting_labels_every_example_with_a_model_that_never_saw_it(
        monkeypatch, folds, expected_class):
    monkeypatch.setattr(bootstrap, "fit_student", _fake_fit)
    split = data.load("digits", seed=0)
    split = dataclasses.replace(split, x_test=split.x_test[:5], y_test=split.y_test[:5] * 0)
    labels = np.full((len(split.x_b), 2), 0.5, dtype=np.float32)
    new_labels, _ = bootstrap.relabel(Config(track="vision"), split, labels, seed=0, folds=folds)
    assert new_labels.shape == labels.shape
    assert np.all(new_labels.argmax(1) == expected_class)


def test_direct_student_and_ceiling_match_run_experiment(fast):
    config = Config(track="vision", weak="noisy-1.2")
    result = bootstrap.run_bootstrap(config, via=("mlp-small",), seed=1)
    reference = run_experiment(config, seed=1)
    assert result.p_weak == pytest.approx(reference.p_weak)
    assert result.p_ceiling == pytest.approx(reference.p_ceiling)
    assert result.p_direct == pytest.approx(reference.p_weak_to_strong)
    assert result.pgr_direct == pytest.approx(reference.pgr)
    assert len(result.stage_accuracy) == 1 and 0.0 <= result.stage_accuracy[0] <= 1.0
    assert 0.0 <= result.p_bootstrap <= 1.0


def test_an_empty_chain_is_the_direct_student(fast):
    result = bootstrap.run_bootstrap(Config(track="vision", weak="noisy-0.8"), via=(), seed=0)
    assert result.p_bootstrap == pytest.approx(result.p_direct)
    assert result.stage_accuracy == []


def test_chains_share_weak_model_ceiling_and_direct_student(fast):
    chains = {"small": (("mlp-small",), 1), "small, 2 folds": (("mlp-small",), 2),
              "two hops": (("mlp-small", "mlp-medium"), 1)}
    out = bootstrap.bootstrap_seeds(Config(track="vision", weak="noisy-1.2"), chains, seeds=[0, 2])
    assert list(out) == list(chains)
    for label, results in out.items():
        assert [r.seed for r in results] == [0, 2]
        assert len(results[0].stage_accuracy) == len(chains[label][0])
    for i in range(2):
        firsts = {(r[i].p_weak, r[i].p_ceiling, r[i].p_direct) for r in out.values()}
        assert len(firsts) == 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(via=("mlp-huge",)), "unknown intermediate"),
    (dict(folds=0), "folds"),
    (dict(folds=True), "folds"),
    (dict(folds=1.5), "folds"),
    (dict(config=Config(track="vision", early_stopping=True)), "early_stopping"),
    (dict(config=Config(track="vision", hard_labels=True)), "hard_labels"),
    (dict(folds=10_000), "more than"),
])
def test_bad_input_gets_a_clear_message(kwargs, message):
    kwargs = {"config": Config(track="vision"), "via": ("mlp-small",), "folds": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        bootstrap.run_bootstrap(kwargs["config"], kwargs["via"], seed=0, folds=kwargs["folds"])


def _result(p_direct, p_bootstrap, p_weak=0.3, p_ceiling=0.9):
    return bootstrap.BootstrapResult(Config(track="vision"), 0, ("mlp-small",), 1, p_weak, p_ceiling,
                                     p_direct, p_bootstrap, [0.5], 0.0)


def test_summarize_bootstrap_by_hand():
    results = [_result(0.6, 0.72), _result(0.66, 0.63)]
    s = bootstrap.summarize_bootstrap(results)
    assert s["pgr_direct"]["mean"] == pytest.approx((0.5 + 0.6) / 2)
    assert s["pgr_bootstrap"]["mean"] == pytest.approx((0.7 + 0.55) / 2)
    assert s["gain"]["mean"] == pytest.approx((0.2 - 0.05) / 2)
    assert s["gain"]["per_seed"] == pytest.approx([0.2, -0.05])
    assert s["seeds_improved"] == 1 and s["seeds"] == 2


def test_pgr_is_nan_without_a_gap():
    r = _result(0.6, 0.7, p_weak=0.9, p_ceiling=0.9)
    assert np.isnan(r.pgr_direct) and np.isnan(r.pgr_bootstrap)
