"""Training a strong student on (weak or ground-truth) labels. Introduced in lesson 02.

``mode="probe"`` freezes the body and trains only the linear head (what the pretrained
features already hold is all it can use); ``mode="finetune"`` trains every weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from w2s.losses import ConfidenceLoss, distillation_loss, soft_cross_entropy
from w2s.threads import torch_threads

from w2s.registry import LOSSES  # noqa: E402


@dataclass
class History:
    """Per-epoch record of a training run (eval accuracy only when an eval set was given)."""
    epochs: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    eval_accuracy: list[float] = field(default_factory=list)
    best_epoch: int | None = None


def predict_proba(model, x) -> np.ndarray:
    """Softmax probabilities of a torch classifier on a numpy array."""
    model.eval()
    with torch.no_grad(), torch_threads():
        return torch.softmax(model(torch.as_tensor(x, dtype=torch.float32)), -1).numpy()


def train_student(model, x, targets, *, loss="xent", mode="probe", epochs=60, lr=None,
                  batch_size=64, seed=0, alpha_max=0.5, warmup_frac=0.2, temperature=2.0,
                  kd_alpha=0.5, x_eval=None, y_eval=None, x_val=None, val_targets=None,
                  progress=None):
    """Train ``model`` on inputs ``x`` and target distributions ``targets`` (n x classes).

    ``targets`` are the weak soft labels (or one-hot ground truth for the ceiling).
    ``loss`` is ``xent`` (soft cross-entropy), ``conf`` (auxiliary confidence loss) or
    ``kd`` (distillation at ``temperature``, treating ``targets`` as the teacher), or any
    callable ``loss(logits, targets, step_frac) -> scalar`` (lesson 03 builds variants).
    With ``x_val``/``val_targets`` the weights of the epoch with the lowest loss on that
    weak-labelled split are kept (early stopping). Returns ``(model, History)``.
    """
    if not callable(loss) and loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {LOSSES} or pass a callable "
                         "loss(logits, targets, step_frac)")
    if mode not in ("probe", "finetune"):
        raise ValueError(f"unknown mode {mode!r}; choose 'probe' or 'finetune'")
    lr = lr if lr is not None else (1e-2 if mode == "probe" else 1e-3)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    xt = torch.as_tensor(x, dtype=torch.float32)
    tt = torch.as_tensor(targets, dtype=torch.float32)
    conf = ConfidenceLoss(alpha_max, warmup_frac)
    params = model.head.parameters() if mode == "probe" else model.parameters()
    opt = torch.optim.Adam(params, lr=lr)
    history = History()
    steps_per_epoch = -(-len(xt) // batch_size)
    total_steps, step = epochs * steps_per_epoch, 0
    best = (float("inf"), None)

    with torch_threads():
        # A frozen body gives the same features every epoch: compute them once.
        features = None
        if mode == "probe":
            with torch.no_grad():
                model.body.eval()
                features = model.body(xt)
        for epoch in range(1, epochs + 1):
            model.train()
            perm = torch.randperm(len(xt), generator=gen)
            running = 0.0
            for i in range(0, len(xt), batch_size):
                idx = perm[i:i + batch_size]
                logits = model.head(features[idx]) if features is not None else model(xt[idx])
                target = tt[idx]
                if callable(loss):
                    value = loss(logits, target, step / total_steps)
                elif loss == "xent":
                    value = soft_cross_entropy(logits, target)
                elif loss == "conf":
                    value = conf(logits, target, step / total_steps)
                else:
                    teacher_logits = torch.log(target.clamp_min(1e-8))
                    value = distillation_loss(logits, teacher_logits, target.argmax(-1),
                                              temperature, kd_alpha)
                opt.zero_grad()
                value.backward()
                opt.step()
                running += value.item() * len(idx)
                step += 1
            history.epochs.append(epoch)
            history.train_loss.append(running / len(xt))
            if x_eval is not None:
                pred = predict_proba(model, x_eval).argmax(1)
                history.eval_accuracy.append(float((pred == np.asarray(y_eval)).mean()))
            if x_val is not None:
                # Early stopping must use *weak* labels: in the real setting no ground truth
                # exists for the task the strong model is being taught, so peeking at it
                # would smuggle in exactly the supervision we claim not to have.
                val_logits = torch.log(torch.as_tensor(predict_proba(model, x_val)).clamp_min(1e-8))
                val_loss = float(soft_cross_entropy(val_logits, torch.as_tensor(val_targets)))
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
