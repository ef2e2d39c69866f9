"""Losses for training a student on weak labels. Introduced in lesson 03.

- ``soft_cross_entropy``: cross-entropy against the weak soft labels (the paper's ``xent``;
  knowledge distillation at temperature 1).
- ``ConfidenceLoss``: the auxiliary confidence loss of Burns et al. (2023): the target mixes
  the weak label with the student's own *hardened* prediction,
  ``(1 - a) * weak + a * hard(student)``, where ``a`` warms up from 0 to ``alpha_max`` over
  the first ``warmup_frac`` of training and the hardening keeps the weak labels' class
  balance.
- ``distillation_loss``: Hinton et al. (2015), ``alpha * T^2 * KL(teacher_T || student_T)
  + (1 - alpha) * CE(hard label, student)``.

Every loss a training loop uses is an object with the reference code's shape,
``loss(logits, labels, step_frac) -> scalar``; ``make_loss(name)`` builds the named ones
once, before training starts (``XentLoss``, ``ConfidenceLoss``, ``DistillationLoss``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def soft_cross_entropy(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -sum_c target_c * log softmax(logits)_c."""
    return -(target_probs * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def balanced_hard_labels(probs: torch.Tensor, class_fractions: torch.Tensor) -> torch.Tensor:
    """One-hot labels from ``probs`` whose class counts follow ``class_fractions``.

    Greedy: the most confident (example, class) pairs are assigned first while that class
    still has room. For two classes this is the reference code's threshold at the quantile
    of the weak labels' mean; it extends the same idea to any number of classes.
    """
    n, k = probs.shape
    quota = torch.floor(class_fractions * n).long()
    # hand out the rounding remainder to the classes with the largest fractional parts
    remainder = n - int(quota.sum())
    if remainder > 0:
        order = torch.argsort(class_fractions * n - quota, descending=True)
        quota[order[:remainder]] += 1
    # plain Python ints: this loop runs once per batch and tensor indexing would dominate it
    order = np.argsort(-probs.detach().cpu().numpy().reshape(-1), kind="stable")
    assigned = [-1] * n
    room = quota.tolist()
    left = n
    for idx in order.tolist():
        i, c = divmod(idx, k)
        if assigned[i] < 0 and room[c] > 0:
            assigned[i] = c
            room[c] -= 1
            left -= 1
            if left == 0:
                break
    assigned = torch.tensor(assigned, dtype=torch.long)
    return F.one_hot(assigned, k).to(probs.dtype)


def warmup_alpha(step_frac: float, alpha_max: float = 0.5, warmup_frac: float = 0.2) -> float:
    """The intended schedule: linear from 0 to ``alpha_max`` over ``warmup_frac``, then flat.

    (The reference code multiplies by ``step_frac`` without dividing by ``warmup_frac``, so
    it reaches only 0.05 before jumping to 0.5; we implement the schedule the paper means.)
    """
    if not 0.0 <= step_frac <= 1.0:
        raise ValueError(f"step_frac must be in [0, 1], got {step_frac}")
    if warmup_frac <= 0:
        return alpha_max
    return alpha_max * min(1.0, step_frac / warmup_frac)


def confidence_target(logits: torch.Tensor, weak_probs: torch.Tensor, alpha: float) -> torch.Tensor:
    """``(1 - alpha) * weak + alpha * balanced_hard(student)``, with no gradient through it."""
    with torch.no_grad():
        student = torch.softmax(logits, dim=-1)
        hard = balanced_hard_labels(student, weak_probs.mean(dim=0))
        return (1.0 - alpha) * weak_probs + alpha * hard


class XentLoss:
    """Cross-entropy against the (soft) labels; ``step_frac`` is accepted and unused."""

    name = "xent"

    def __call__(self, logits, labels, step_frac: float) -> torch.Tensor:
        return soft_cross_entropy(logits, labels)

    def __repr__(self) -> str:
        return "XentLoss()"


class ConfidenceLoss:
    """The auxiliary confidence loss; call it with the fraction of training done so far."""

    name = "conf"

    def __init__(self, alpha_max: float = 0.5, warmup_frac: float = 0.2):
        if not 0.0 <= alpha_max <= 1.0:
            raise ValueError(f"alpha_max must be in [0, 1], got {alpha_max!r}")
        if not 0.0 <= warmup_frac <= 1.0:
            raise ValueError(f"warmup_frac must be in [0, 1], got {warmup_frac!r}")
        self.alpha_max = alpha_max
        self.warmup_frac = warmup_frac

    def __repr__(self) -> str:
        return f"ConfidenceLoss(alpha_max={self.alpha_max}, warmup_frac={self.warmup_frac})"

    def __call__(self, logits, weak_probs, step_frac: float) -> torch.Tensor:
        alpha = warmup_alpha(step_frac, self.alpha_max, self.warmup_frac)
        return soft_cross_entropy(logits, confidence_target(logits, weak_probs, alpha))


def distillation_loss(student_logits, teacher_logits, hard_labels, temperature=2.0, alpha=0.5):
    """Knowledge distillation: softened teacher-student KL plus cross-entropy on hard labels."""
    t = temperature
    kl = F.kl_div(F.log_softmax(student_logits / t, dim=-1),
                  F.log_softmax(teacher_logits / t, dim=-1),
                  reduction="batchmean", log_target=True)
    return alpha * t * t * kl + (1 - alpha) * F.cross_entropy(student_logits, hard_labels)


class DistillationLoss:
    """``distillation_loss`` with the labels as the teacher's probabilities."""

    name = "kd"

    def __init__(self, temperature: float = 2.0, alpha: float = 0.5):
        self.temperature = temperature
        self.alpha = alpha

    def __call__(self, logits, labels, step_frac: float) -> torch.Tensor:
        teacher_logits = torch.log(labels.clamp_min(1e-8))
        return distillation_loss(logits, teacher_logits, labels.argmax(-1), self.temperature,
                                 self.alpha)

    def __repr__(self) -> str:
        return f"DistillationLoss(temperature={self.temperature}, alpha={self.alpha})"


def make_loss(loss="xent", *, alpha_max: float = 0.5, warmup_frac: float = 0.2,
              temperature: float = 2.0, kd_alpha: float = 0.5):
    """The loss object for a name (``xent``, ``conf``, ``kd``); a callable passes through.

    A callable must have the shape ``loss(logits, labels, step_frac) -> scalar tensor``."""
    if callable(loss):
        return loss
    if loss == "xent":
        return XentLoss()
    if loss == "conf":
        return ConfidenceLoss(alpha_max, warmup_frac)
    if loss == "kd":
        return DistillationLoss(temperature, kd_alpha)
    raise ValueError(f"unknown loss {loss!r}; choose one of ('xent', 'conf', 'kd') or pass a "
                     "callable loss(logits, targets, step_frac)")
