"""Self-supervised pre-training of the strong students (SimCLR). Introduced in lesson 02.

In the paper the strong model already represents the concept before it sees a label; weak
supervision only has to *elicit* it. Here the MLP body learns, from unlabeled training
inputs only (never the test set, never a label), to map two random augmentations of the
same input close together (the NT-Xent loss of Chen et al., 2020).

``w2s pretrain`` writes the bodies to ``data/pretrained/<dataset>-<student>.pt`` and records
their SHA-256; ``load_body`` verifies and loads one in milliseconds.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from w2s import corpus
from w2s import data as data_mod
from w2s.corpus import VOCAB
from w2s.mlp import make_body
from w2s.registry import LM_MODELS, LM_ORDER, STRONG_MODELS
from w2s.settings import fast_mode
from w2s.threads import torch_threads
from w2s.transformer import TinyLM

PRETRAIN_SEED = 0


def augment(x: torch.Tensor, gen: torch.Generator, image_shape=None) -> torch.Tensor:
    """A random view: a one-pixel shift for images, then feature dropout and noise."""
    if image_shape is not None:
        h, w = image_shape
        img = x.view(-1, 1, h, w)
        img = F.pad(img, (1, 1, 1, 1))
        dy, dx = torch.randint(0, 3, (2,), generator=gen).tolist()
        x = img[:, :, dy:dy + h, dx:dx + w].reshape(len(x), -1)
    keep = (torch.rand(x.shape, generator=gen) > 0.2).float()
    return x * keep + 0.1 * torch.randn(x.shape, generator=gen)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """SimCLR's contrastive loss: each view must pick its partner out of the batch."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    n = len(z1)
    sim.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, targets)


def simclr(body: nn.Module, x: np.ndarray, out_dim: int, image_shape=None, epochs=150,
           batch_size=256, lr=3e-3, seed=PRETRAIN_SEED, progress=None) -> nn.Module:
    """Pretrain ``body`` in place with SimCLR on unlabeled ``x``; returns the body."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    projector = nn.Sequential(nn.Linear(out_dim, 64), nn.ReLU(), nn.Linear(64, 32))
    params = list(body.parameters()) + list(projector.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    xt = torch.as_tensor(x, dtype=torch.float32)
    with torch_threads():
        for _ in range(epochs):
            perm = torch.randperm(len(xt), generator=gen)
            for i in range(0, len(xt), batch_size):
                batch = xt[perm[i:i + batch_size]]
                if len(batch) < 8:
                    continue
                loss = nt_xent(projector(body(augment(batch, gen, image_shape))),
                               projector(body(augment(batch, gen, image_shape))))
                opt.zero_grad()
                loss.backward()
                opt.step()
            if progress is not None:
                progress.update(1)
    return body


def pretrain_body(split: data_mod.Split, strong: str, epochs=150, seed=PRETRAIN_SEED,
                  progress=None) -> nn.Sequential:
    """A fresh body for student ``strong``, pretrained on ``split``'s unlabeled inputs.

    Seeded before the body is built, so the same call gives the same weights."""
    torch.manual_seed(seed)
    hidden = STRONG_MODELS[strong].hidden
    body = make_body(split.x_a.shape[1], hidden)
    return simclr(body, split.x_unlabeled, hidden[-1], split.image_shape, epochs=epochs,
                  seed=seed, progress=progress)


def weights_file(dataset: str, strong: str) -> str:
    return f"pretrained/{dataset}-{strong}.pt"


# ---------------------------------------------------------------- the language-model track

LM_PRETRAIN_SEQUENCES = 40_000


def next_token_pretrain(model: TinyLM, tokens: np.ndarray, epochs: float, batch_size: int = 64,
                        lr: float = 6e-3, seed: int = PRETRAIN_SEED, progress=None) -> TinyLM:
    """Train ``model`` in place to predict each next token of unlabeled ``tokens``.

    AdamW with a short warm-up and a linear decay to zero over ``epochs`` passes (a
    fraction of a pass is allowed). The labels of the corpus are never looked at."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    lm_head = nn.Linear(model.d, VOCAB)
    params = list(model.parameters()) + list(lm_head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    xt = torch.as_tensor(tokens)
    steps_per_epoch = -(-len(xt) // batch_size)
    total = max(1, int(round(epochs * steps_per_epoch)))
    warmup = min(100, total // 10 + 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup + 1))))
    model.train()
    step = 0
    with torch_threads():
        while step < total:
            perm = torch.randperm(len(xt), generator=gen)
            for i in range(0, len(xt), batch_size):
                if step == total:
                    break
                batch = xt[perm[i:i + batch_size]]
                logits = lm_head(model.states(batch[:, :-1]))
                loss = F.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                if progress is not None:
                    progress.update(1)
    model.eval()
    return model


def lm_weights_file(name: str) -> str:
    return f"pretrained/{name}.pt"


def make_lm(name: str) -> TinyLM:
    spec = LM_MODELS[name]
    return TinyLM(spec.d, spec.layers, spec.heads)


def pretrain_lm(names=None, progress=True, epochs_scale: float | None = None) -> list:
    """Pretrain every tiny LM (or ``names``) on the generated corpus; record checksums.

    Each model's pass count (``LmSpec.pretrain_epochs``) is sized so that all of them take
    at most ten minutes on one core; ``epochs_scale`` shrinks them (W2S_FAST: 1/50)."""
    from tqdm.auto import tqdm

    if epochs_scale is None:
        epochs_scale = 0.02 if fast_mode() else 1.0
        if fast_mode():
            print("W2S_FAST is set: LM pre-training shortened 50x "
                  "(for tests; do not commit these weights)")
    names = list(names or LM_MODELS)
    tokens = corpus.generate(LM_PRETRAIN_SEQUENCES, PRETRAIN_SEED, corpus.PRETRAIN_STREAM).tokens
    (data_mod.DATA_DIR / "pretrained").mkdir(parents=True, exist_ok=True)
    steps = {n: int(round(LM_MODELS[n].pretrain_epochs * epochs_scale * -(-len(tokens) // 64)))
             for n in names}
    bar = tqdm(total=sum(steps.values()), desc="pretraining LMs", unit="step",
               disable=not progress)
    paths = []
    for name in names:
        bar.set_postfix_str(name)
        torch.manual_seed(PRETRAIN_SEED)
        model = next_token_pretrain(make_lm(name), tokens,
                                    LM_MODELS[name].pretrain_epochs * epochs_scale, progress=bar)
        path = data_mod.DATA_DIR / lm_weights_file(name)
        torch.save(model.state_dict(), path)
        paths.append(path)
    bar.close()
    data_mod.record_checksums(paths)
    return paths


def load_lm(name: str) -> TinyLM:
    """A pretrained tiny LM, verified against data/SHA256SUMS."""
    path = data_mod.verified_path(lm_weights_file(name))
    model = make_lm(name)
    model.load_state_dict(torch.load(path, weights_only=True))
    return model.eval()


def pretrain_all(datasets=("digits", "latent"), students=None, epochs=150, progress=True):
    """Regenerate the synthetic data and every pretrained body; record checksums."""
    from tqdm.auto import tqdm

    if fast_mode():
        epochs = max(2, epochs // 10)
        print(f"W2S_FAST is set: pre-training shortened to {epochs} epochs "
              "(for tests; do not commit these weights)")
    written = data_mod.write_latent()
    data_mod.record_checksums(written)
    students = list(students or STRONG_MODELS)
    (data_mod.DATA_DIR / "pretrained").mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(datasets) * len(students) * epochs, desc="pretraining", unit="epoch",
               disable=not progress)
    paths = []
    for dataset in datasets:
        split = data_mod.load(dataset, seed=PRETRAIN_SEED)
        for name in students:
            bar.set_postfix_str(f"{dataset}/{name}")
            body = pretrain_body(split, name, epochs=epochs, progress=bar)
            path = data_mod.DATA_DIR / weights_file(dataset, name)
            torch.save(body.state_dict(), path)
            paths.append(path)
    bar.close()
    data_mod.record_checksums(paths)
    return paths


def load_body(dataset: str, strong: str, n_features: int | None = None) -> nn.Module:
    """A pretrained body, verified against data/SHA256SUMS (a TinyLM for ``lm-*``)."""
    if strong in LM_MODELS:
        return load_lm(strong)
    path = data_mod.verified_path(weights_file(dataset, strong))
    body = make_body(n_features, STRONG_MODELS[strong].hidden)
    body.load_state_dict(torch.load(path, weights_only=True))
    return body
