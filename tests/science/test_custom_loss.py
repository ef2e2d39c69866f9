"""A callable passed as ``loss`` trains exactly like the named loss it wraps (lesson 03)."""

import numpy as np
import pytest
import torch

from w2s.experiment import Config, run_experiment
from w2s.losses import ConfidenceLoss, soft_cross_entropy
from w2s.models import StrongModel
from w2s.train import TrainOptions, train_student


def _toy(seed=0, n=96, d=8, k=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    probs = rng.dirichlet(np.ones(k), size=n).astype(np.float32)
    return x, probs


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("mode", ["probe", "finetune"])
def test_callable_confidence_loss_matches_the_named_one(mode):
    x, probs = _toy()
    trained = []
    for loss in ("conf", ConfidenceLoss(alpha_max=0.5, warmup_frac=0.2)):
        torch.manual_seed(0)
        model = StrongModel("mlp-small", x.shape[1], probs.shape[1])
        model, history = train_student(model, x, probs, loss, TrainOptions(mode=mode, epochs=4))
        trained.append((_weights(model), history.train_loss))
    torch.testing.assert_close(trained[0][0], trained[1][0])
    assert trained[0][1] == pytest.approx(trained[1][1])


def test_callable_receives_growing_step_fraction():
    x, probs = _toy(n=64)
    seen = []

    def loss(logits, targets, step_frac):
        seen.append(step_frac)
        return soft_cross_entropy(logits, targets)

    model = StrongModel("mlp-small", x.shape[1], probs.shape[1])
    train_student(model, x, probs, loss, TrainOptions(epochs=3, batch_size=16))
    assert len(seen) == 3 * 4
    assert seen[0] == 0.0 and all(b > a for a, b in zip(seen, seen[1:])) and seen[-1] < 1.0


def test_unknown_loss_name_says_what_to_do():
    x, probs = _toy(n=16)
    model = StrongModel("mlp-small", x.shape[1], probs.shape[1])
    with pytest.raises(ValueError, match="callable"):
        train_student(model, x, probs, loss="hinge", options=TrainOptions(epochs=1))


def test_run_experiment_accepts_a_callable_loss(fast):
    named = run_experiment(Config(track="vision", weak="noisy-1.2", loss="conf"), seed=1)
    wrapped = run_experiment(Config(track="vision", weak="noisy-1.2", loss=ConfidenceLoss()), seed=1)
    assert wrapped.p_weak_to_strong == pytest.approx(named.p_weak_to_strong)
    assert wrapped.p_ceiling == pytest.approx(named.p_ceiling)
