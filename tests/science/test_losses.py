"""Losses checked against PyTorch's own functions and hand-worked cases."""

import math

import pytest
import torch
import torch.nn.functional as F

from w2s.losses import (ConfidenceLoss, balanced_hard_labels, confidence_target,
                        distillation_loss, soft_cross_entropy, warmup_alpha)


def test_soft_cross_entropy_matches_torch_on_random_tensors():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(37, 5, generator=gen)
    target = torch.softmax(torch.randn(37, 5, generator=gen), -1)
    assert torch.allclose(soft_cross_entropy(logits, target), F.cross_entropy(logits, target),
                          atol=1e-6)


def test_soft_cross_entropy_with_one_hot_is_plain_cross_entropy():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(20, 3, generator=gen)
    y = torch.randint(0, 3, (20,), generator=gen)
    assert torch.allclose(soft_cross_entropy(logits, F.one_hot(y, 3).float()),
                          F.cross_entropy(logits, y), atol=1e-6)


def test_soft_cross_entropy_hand_worked():
    # uniform logits over 2 classes: loss = log 2 whatever the target
    assert soft_cross_entropy(torch.zeros(1, 2), torch.tensor([[0.3, 0.7]])).item() == \
        pytest.approx(math.log(2))


@pytest.mark.parametrize("frac, expected", [(0.0, 0.0), (0.05, 0.125), (0.1, 0.25),
                                            (0.2, 0.5), (0.5, 0.5), (1.0, 0.5)])
def test_warmup_is_linear_to_alpha_max_over_first_fifth(frac, expected):
    assert warmup_alpha(frac, alpha_max=0.5, warmup_frac=0.2) == pytest.approx(expected)


def test_warmup_differs_from_the_reference_codes_bug():
    # the reference multiplies by step_frac: 0.5 * 0.1 = 0.05 at 10% of training
    assert warmup_alpha(0.1) == pytest.approx(0.25)
    assert warmup_alpha(0.1) != pytest.approx(0.5 * 0.1)


def test_warmup_rejects_out_of_range_fraction():
    with pytest.raises(ValueError, match="step_frac"):
        warmup_alpha(1.5)


def reference_binary_hardening(probs, weak_mean):
    """openai/weak-to-strong loss.py: threshold at the quantile of the weak labels' mean."""
    threshold = torch.quantile(probs[:, 0], weak_mean[1])
    return torch.cat([(probs[:, 0] >= threshold)[:, None],
                      (probs[:, 0] < threshold)[:, None]], dim=1).float()


@pytest.mark.parametrize("seed", range(5))
def test_binary_hardening_matches_reference_threshold(seed):
    gen = torch.Generator().manual_seed(seed)
    probs = torch.softmax(torch.randn(40, 2, generator=gen), -1)
    # a weak mean that gives an integer count avoids quantile interpolation ties
    weak_mean = torch.tensor([0.3, 0.7])
    ours = balanced_hard_labels(probs, weak_mean)
    ref = reference_binary_hardening(probs, weak_mean)
    assert ours.sum(0).tolist() == [12.0, 28.0]
    assert (ours != ref).sum() <= 2  # at most the one example at the threshold differs


def test_multiclass_hardening_keeps_class_balance_hand_worked():
    probs = torch.tensor([[0.9, 0.05, 0.05],
                          [0.8, 0.1, 0.1],
                          [0.6, 0.3, 0.1],
                          [0.2, 0.2, 0.6]])
    # weak labels say: half class 0, a quarter each of classes 1 and 2
    hard = balanced_hard_labels(probs, torch.tensor([0.5, 0.25, 0.25]))
    assert hard.argmax(1).tolist() == [0, 0, 1, 2]  # row 2 loses class 0 to the quota


def test_plain_argmax_would_collapse_where_balanced_does_not():
    probs = torch.tensor([[0.7, 0.3]] * 6 + [[0.6, 0.4]] * 4)
    hard = balanced_hard_labels(probs, torch.tensor([0.6, 0.4]))
    assert probs.argmax(1).sum() == 0            # argmax: everything is class 0
    assert hard.sum(0).tolist() == [6.0, 4.0]    # balanced: the least confident go to 1
    assert hard[6:, 1].sum() == 4


def test_confidence_target_is_the_stated_mixture():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    weak = torch.tensor([[0.6, 0.4], [0.6, 0.4]])
    target = confidence_target(logits, weak, alpha=0.25)
    expected = 0.75 * weak + 0.25 * torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert torch.allclose(target, expected)


def test_confidence_loss_at_step_zero_is_plain_cross_entropy():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(16, 4, generator=gen)
    weak = torch.softmax(torch.randn(16, 4, generator=gen), -1)
    assert torch.allclose(ConfidenceLoss()(logits, weak, 0.0), F.cross_entropy(logits, weak))
    assert not torch.allclose(ConfidenceLoss()(logits, weak, 0.5), F.cross_entropy(logits, weak))


def test_confidence_loss_has_no_gradient_through_the_target():
    logits = torch.randn(8, 3, requires_grad=True)
    weak = torch.softmax(torch.randn(8, 3), -1)
    ConfidenceLoss()(logits, weak, 1.0).backward()
    alpha = 0.5
    target = confidence_target(logits.detach(), weak, alpha)
    manual = (torch.softmax(logits.detach(), -1) - target) / len(logits)
    assert torch.allclose(logits.grad, manual, atol=1e-6)


def test_distillation_matches_torch_kl_and_cross_entropy():
    gen = torch.Generator().manual_seed(4)
    student, teacher = torch.randn(10, 4, generator=gen), torch.randn(10, 4, generator=gen)
    y = torch.randint(0, 4, (10,), generator=gen)
    t, a = 3.0, 0.7
    kl = F.kl_div(F.log_softmax(student / t, -1), F.softmax(teacher / t, -1),
                  reduction="batchmean")
    expected = a * t * t * kl + (1 - a) * F.cross_entropy(student, y)
    assert torch.allclose(distillation_loss(student, teacher, y, t, a), expected, atol=1e-6)


def test_distillation_at_temperature_one_without_hard_term_is_xent_minus_entropy():
    gen = torch.Generator().manual_seed(5)
    student, teacher = torch.randn(10, 4, generator=gen), torch.randn(10, 4, generator=gen)
    p = torch.softmax(teacher, -1)
    entropy = -(p * torch.log(p)).sum(-1).mean()
    kd = distillation_loss(student, teacher, torch.zeros(10, dtype=torch.long), 1.0, 1.0)
    assert torch.allclose(kd, soft_cross_entropy(student, p) - entropy, atol=1e-5)
