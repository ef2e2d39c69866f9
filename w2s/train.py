"""Training a strong student on (weak or ground-truth) labels. Introduced in lesson 02.

``mode="probe"`` freezes the body and trains only the linear head (what the pretrained
features already hold is all it can use); ``mode="finetune"`` trains every weight.
The loss is an object ``loss(logits, labels, step_frac)`` built once (``w2s.losses.make_loss``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from w2s.losses import make_loss, soft_cross_entropy
from w2s.registry import MODES
from w2s.threads import torch_threads


@dataclass(frozen=True)
class TrainOptions:
    """How to train: which weights, how long, how fast, in which order."""
    mode: str = "probe"           # probe (head only, frozen body) | finetune (all weights)
    epochs: int = 60
    lr: float = 1e-2
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; choose 'probe' or 'finetune'")
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if not self.lr > 0:
            raise ValueError(f"lr must be a positive number, got {self.lr}")


@dataclass
class History:
    """Per-epoch record of a training run (eval accuracy only when an eval set was given)."""
    epochs: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    eval_accuracy: list[float] = field(default_factory=list)
    best_epoch: int | None = None


def as_input(x) -> torch.Tensor:
    """Token ids stay integers; features become float32."""
    x = torch.as_tensor(np.asarray(x))
    return x if not x.is_floating_point() and x.dtype != torch.bool else x.float()


def encode(body, x, batch_size: int = 500) -> torch.Tensor:
    """The frozen body's features of ``x`` (no gradient), computed in batches."""
    xt = as_input(x)
    body.eval()
    with torch.no_grad(), torch_threads():
        return torch.cat([body(xt[i:i + batch_size]) for i in range(0, len(xt), batch_size)])


def predict_proba(model, x) -> np.ndarray:
    """Softmax probabilities of a torch classifier on a numpy array."""
    model.eval()
    with torch.no_grad(), torch_threads():
        return torch.softmax(model(as_input(x)), -1).numpy()


def head_proba(model, features: torch.Tensor) -> np.ndarray:
    model.eval()
    with torch.no_grad(), torch_threads():
        return torch.softmax(model.head(features), -1).numpy()


def train_student(model, x, targets, loss="xent", options: TrainOptions = TrainOptions(), *,
                  eval_data=None, val_data=None, features=None, progress=None):
    """Train ``model`` (``.body`` + ``.head``) on inputs ``x`` and targets (n x classes).

    ``targets`` are the weak soft labels (or one-hot ground truth for the ceiling).
    ``loss`` is a name for ``make_loss`` or a callable ``loss(logits, targets, step_frac)``.
    ``eval_data=(x, y)`` records test accuracy per epoch (for plots, never for choices).
    ``val_data=(x, weak_targets)`` keeps the epoch with the lowest loss on that
    weak-labelled split (early stopping). In probe mode, ``features`` may hold the body's
    features of ``x`` (they are computed here otherwise). Returns ``(model, History)``.
    """
    loss_fn = make_loss(loss)
    torch.manual_seed(options.seed)
    order = torch.Generator().manual_seed(options.seed)
    targets = torch.as_tensor(np.asarray(targets), dtype=torch.float32)
    history = History()

    # What one step trains on: frozen features once (probe) or the raw inputs (finetune).
    probe = options.mode == "probe"
    if probe:
        inputs = features if features is not None else encode(model.body, x)
        forward, params = model.head, model.head.parameters()
    else:
        inputs, forward, params = as_input(x), model, model.parameters()
    opt = torch.optim.Adam(params, lr=options.lr)

    n, bs = len(inputs), options.batch_size
    total_steps, step = options.epochs * -(-n // bs), 0
    eval_features = val_features = None
    best = (float("inf"), None)
    with torch_threads():
        for epoch in range(1, options.epochs + 1):
            model.train()
            if probe:
                model.body.eval()
            running = 0.0
            for idx in torch.randperm(n, generator=order).split(bs):
                value = loss_fn(forward(inputs[idx]), targets[idx], step / total_steps)
                opt.zero_grad()
                value.backward()
                opt.step()
                running += value.item() * len(idx)
                step += 1
            history.epochs.append(epoch)
            history.train_loss.append(running / n)

            if eval_data is not None:
                if probe and eval_features is None:
                    eval_features = encode(model.body, eval_data[0])
                probs = head_proba(model, eval_features) if probe else predict_proba(model, eval_data[0])
                history.eval_accuracy.append(float((probs.argmax(1) == np.asarray(eval_data[1])).mean()))
            if val_data is not None:
                # Early stopping must use *weak* labels: in the real setting no ground truth
                # exists for the task the strong model is being taught, so peeking at it
                # would smuggle in exactly the supervision we claim not to have.
                if probe and val_features is None:
                    val_features = encode(model.body, val_data[0])
                probs = head_proba(model, val_features) if probe else predict_proba(model, val_data[0])
                val_loss = float(soft_cross_entropy(torch.log(torch.as_tensor(probs).clamp_min(1e-8)),
                                                    torch.as_tensor(np.asarray(val_data[1]))))
                if val_loss < best[0]:
                    best = (val_loss, {k: v.clone() for k, v in model.state_dict().items()})
                    history.best_epoch = epoch
            if progress is not None:
                progress.update(1)
    if best[1] is not None:
        model.load_state_dict(best[1])
    model.eval()
    return model, history


def one_hot(y, n_classes: int) -> np.ndarray:
    return F.one_hot(torch.as_tensor(y, dtype=torch.long), n_classes).float().numpy()
