"""The names of the course's tracks, supervisors, students and losses (lessons 01-04).

Kept free of torch so that listing them (``w2s --help``) is instant; the models that
carry these names live in ``w2s.models`` and ``w2s.transformer``.

Two tracks run the same protocol:

- ``lm`` (the default): the paper's NLP setting in miniature. Weak and strong models are
  tiny causal transformers of different sizes, pretrained by next-token prediction on the
  generated corpus of ``w2s.corpus``; the task is its hidden class.
- ``vision``: the paper's vision setting on scikit-learn's digits. The weak model is a
  linear probe on a weaker representation of the same image; the strong student a probe
  (or fine-tune) of an MLP body pretrained with SimCLR.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOSSES = ("xent", "conf", "kd")
MODES = ("probe", "finetune")


@dataclass(frozen=True)
class WeakSpec:
    """A supervisor: trained on half A's ground truth, deterministic once trained."""
    name: str
    kind: str          # noise | downsample | pca | probe (vision); bow | lm (language)
    level: float       # noise std, pooling factor or number of PCA components (else 0)
    description: str
    track: str = "vision"
    body: str = ""     # the pretrained body a "probe" or "lm" supervisor reads


WEAK_MODELS = {spec.name: spec for spec in [
    # vision: weaker representations of the same image (systematic errors) ...
    WeakSpec("pca-3", "pca", 3, "logistic regression on the first 3 principal components"),
    WeakSpec("downsample-4", "downsample", 4, "logistic regression on a 2x2 average-pooled image"),
    WeakSpec("probe-mlp-small", "probe", 0,
             "logistic regression on the 16 features of the small SimCLR body", body="mlp-small"),
    # ... and the label-noise contrast: fresh pixel noise at every call (random errors)
    WeakSpec("noisy-1.2", "noise", 1.2, "label-noise contrast: pixels + N(0, 1.2^2) noise"),
    WeakSpec("noisy-0.8", "noise", 0.8, "label-noise contrast: pixels + N(0, 0.8^2) noise"),
    WeakSpec("noisy-0.5", "noise", 0.5, "label-noise contrast: pixels + N(0, 0.5^2) noise"),
    # language: a bag of tokens (reads only the easy cue's unigrams) and small LMs
    WeakSpec("bow", "bow", 0, "logistic regression on token counts (order-blind)", track="lm"),
    WeakSpec("lm-s", "lm", 0, "the 1-layer LM fine-tuned on A (the GPT-2 of this world)",
             track="lm", body="lm-s"),
    WeakSpec("lm-m", "lm", 0, "the 2-layer LM fine-tuned on A (a mid-sized supervisor)",
             track="lm", body="lm-m"),
    WeakSpec("lm-s-brief", "lm", 0, "the 1-layer LM after only a sliver of pre-training, "
             "fine-tuned on A: it reads mostly the easy cue", track="lm", body="lm-s-brief"),
]}
NOISE_CONTRAST = ["noisy-1.2", "noisy-0.8", "noisy-0.5"]


@dataclass(frozen=True)
class StrongSpec:
    name: str
    hidden: tuple[int, ...]
    description: str = field(default="")


STRONG_MODELS = {spec.name: spec for spec in [
    StrongSpec("mlp-small", (32, 16), "MLP 64-32-16, pretrained with SimCLR"),
    StrongSpec("mlp-medium", (64, 32), "MLP 64-64-32, pretrained with SimCLR"),
    StrongSpec("mlp-large", (512, 256), "MLP 64-512-256, pretrained with SimCLR"),
]}
# Smallest first.
STRONG_ORDER = ["mlp-small", "mlp-medium", "mlp-large"]


@dataclass(frozen=True)
class LmSpec:
    """A tiny pre-LN causal transformer of the language-model track."""
    name: str
    layers: int
    d: int
    heads: int
    pretrain_epochs: float   # passes over the 40k-sequence pre-training corpus
    description: str = field(default="")


LM_MODELS = {spec.name: spec for spec in [
    LmSpec("lm-s", 1, 32, 2, 2.0, "1 layer, d 32 (17k parameters): the GPT-2 of this world"),
    LmSpec("lm-m", 2, 64, 4, 1.0, "2 layers, d 64 (109k parameters)"),
    LmSpec("lm-l", 4, 64, 4, 1.0, "4 layers, d 64 (209k parameters): the GPT-4 of this world"),
    LmSpec("lm-s-brief", 1, 32, 2, 0.1, "lm-s after a tenth of a pass (a few seconds)"),
]}
# The students, smallest first.
LM_ORDER = ["lm-s", "lm-m", "lm-l"]


@dataclass(frozen=True)
class TrackSpec:
    """Everything a track fixes: its data, its model families and its default recipe."""
    name: str
    dataset: str
    pretrain: str                  # the name of the students' pre-training
    weak: str                      # default supervisor
    strong: str                    # default student
    weak_order: tuple[str, ...]    # the sweep's supervisors, weakest first
    strong_order: tuple[str, ...]  # the sweep's students, smallest first
    recipe: dict                   # mode -> {"epochs", "lr"}: the same whatever --pretrain is
    datasets: tuple[str, ...] = ()
    description: str = ""

    @property
    def weak_names(self) -> list[str]:
        return [n for n, s in WEAK_MODELS.items() if s.track == self.name]

    @property
    def strong_names(self) -> list[str]:
        return list(self.strong_order)


TRACKS = {t.name: t for t in [
    TrackSpec("lm", "lm", "next-token", weak="lm-s", strong="lm-l",
              weak_order=("lm-s", "lm-m"), strong_order=tuple(LM_ORDER),
              # the fine-tune recipe was chosen on validation data (seed 100, fresh sequences):
              # benchmarks/choose_lm_finetune.py
              recipe={"probe": {"epochs": 40, "lr": 1e-2}, "finetune": {"epochs": 3, "lr": 3e-4}},
              datasets=("lm",),
              description="tiny causal LMs on a generated corpus with a hidden class"),
    TrackSpec("vision", "digits", "simclr", weak="probe-mlp-small", strong="mlp-large",
              weak_order=("pca-3", "downsample-4", "probe-mlp-small"),
              strong_order=tuple(STRONG_ORDER),
              recipe={"probe": {"epochs": 60, "lr": 1e-2}, "finetune": {"epochs": 60, "lr": 1e-3}},
              datasets=("digits", "latent"),
              description="scikit-learn digits, weaker representations of the same image"),
]}
DEFAULT_TRACK = "lm"
PRETRAIN_CHOICES = ("default", "next-token", "simclr", "none")

# Back-compatible names: the vision track's sweep supervisors.
WEAK_ORDER = list(TRACKS["vision"].weak_order)
