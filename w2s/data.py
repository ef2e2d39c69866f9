"""Data sets by name, with the paper's split: weak half A, transfer half B, and a test set.

Introduced in lesson 01. Every split is deterministic: the test set is fixed per data set,
and the A/B split of the remaining examples is drawn from the seed. Generated data lives in
``data/`` beside its SHA-256 checksum and is verified on every load.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# data/ at the top of the repository; an installed wheel carries it as w2s/_data (pyproject.toml)
_INSTALLED_DATA = Path(__file__).resolve().parent / "_data"
DATA_DIR = _INSTALLED_DATA if _INSTALLED_DATA.is_dir() else Path(__file__).resolve().parent.parent / "data"
CHECKSUMS = DATA_DIR / "SHA256SUMS"
REGENERATE = ".venv/bin/w2s pretrain"


class DataIntegrityError(RuntimeError):
    """A file in data/ is missing or does not match its recorded checksum."""


@dataclass(frozen=True)
class Split:
    """One seeded split of a data set (arrays are float32 features and int64 labels)."""

    name: str
    n_classes: int
    x_a: np.ndarray
    y_a: np.ndarray
    x_b: np.ndarray
    y_b: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, int] | None = None

    @property
    def x_unlabeled(self) -> np.ndarray:
        """All training inputs without labels: what self-supervised pre-training may see."""
        return np.concatenate([self.x_a, self.x_b])

    def describe(self) -> str:
        return (f"{self.name}: {self.n_classes} classes, {self.x_a.shape[1]} features; "
                f"A={len(self.y_a)} (weak training), B={len(self.y_b)} (transfer), "
                f"test={len(self.y_test)}")


# ---------------------------------------------------------------- checksums

def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_checksums() -> dict[str, str]:
    if not CHECKSUMS.exists():
        return {}
    sums = {}
    for line in CHECKSUMS.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip()] = digest
    return sums


def record_checksums(paths: list[Path]) -> None:
    """Add or update the checksums of ``paths`` (relative to data/) in data/SHA256SUMS."""
    sums = read_checksums()
    for path in paths:
        sums[str(Path(path).relative_to(DATA_DIR))] = sha256(path)
    CHECKSUMS.write_text("".join(f"{d}  {n}\n" for n, d in sorted(sums.items())))


def verified_path(relative: str) -> Path:
    """Return data/<relative> after checking it against SHA256SUMS, or explain how to fix it."""
    path = DATA_DIR / relative
    expected = read_checksums().get(relative)
    if not path.exists():
        raise DataIntegrityError(f"data/{relative} is missing. Regenerate it with `{REGENERATE}`.")
    if expected is None:
        raise DataIntegrityError(f"data/{relative} has no entry in data/SHA256SUMS. "
                                 f"Regenerate it with `{REGENERATE}`.")
    if sha256(path) != expected:
        raise DataIntegrityError(f"data/{relative} failed its SHA-256 check (corrupted or edited). "
                                 f"Regenerate it with `{REGENERATE}`, or restore it with "
                                 f"`git checkout -- data/{relative}`.")
    return path


# ---------------------------------------------------------------- splitting

def _split(name, x, y, n_classes, seed, test_fraction=0.3, image_shape=None) -> Split:
    """Fixed stratified test set; A/B halves of the rest drawn from ``seed``."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    fixed = np.random.default_rng(12345)
    test_idx, rest_idx = [], []
    for c in range(n_classes):
        idx = fixed.permutation(np.flatnonzero(y == c))
        n_test = int(round(test_fraction * len(idx)))
        test_idx.append(idx[:n_test])
        rest_idx.append(idx[n_test:])
    test_idx = np.sort(np.concatenate(test_idx))
    rest_idx = np.sort(np.concatenate(rest_idx))
    perm = np.random.default_rng(seed).permutation(rest_idx)
    a_idx, b_idx = np.sort(perm[: len(perm) // 2]), np.sort(perm[len(perm) // 2:])
    return Split(name, n_classes, x[a_idx], y[a_idx], x[b_idx], y[b_idx],
                 x[test_idx], y[test_idx], image_shape)


def _digits(seed: int) -> Split:
    from sklearn.datasets import load_digits

    digits = load_digits()  # bundled with scikit-learn: no download
    return _split("digits", digits.data / 16.0, digits.target, 10, seed, image_shape=(8, 8))


# The synthetic task: a 3-class label decided by two latent factors that are mixed
# nonlinearly into 32 observed features together with 6 nuisance factors. Its knobs are
# arguments of generate_latent(); the stored copy uses the defaults.
LATENT_FILES = ("latent/x.npy", "latent/y.npy")


def generate_latent(n=3000, n_features=32, n_nuisance=6, label_noise=0.0, seed=0):
    """Build the synthetic data set (deterministic for a seed). Returns x, y."""
    rng = np.random.default_rng(seed)
    concept = rng.normal(size=(n, 2))
    nuisance = rng.normal(size=(n, n_nuisance)) * 1.5
    angle = np.arctan2(concept[:, 1], concept[:, 0])
    y = ((angle + np.pi) // (2 * np.pi / 3)).astype(np.int64) % 3
    flip = rng.random(n) < label_noise
    y[flip] = rng.integers(0, 3, size=flip.sum())
    latent = np.concatenate([concept, nuisance], axis=1)
    mixing = rng.normal(size=(latent.shape[1], n_features)) / np.sqrt(latent.shape[1])
    x = np.tanh(latent @ mixing) + 0.05 * rng.normal(size=(n, n_features))
    return x.astype(np.float32), y


def write_latent() -> list[Path]:
    """Regenerate data/latent/*.npy (called by ``w2s pretrain``)."""
    x, y = generate_latent()
    (DATA_DIR / "latent").mkdir(parents=True, exist_ok=True)
    paths = [DATA_DIR / f for f in LATENT_FILES]
    np.save(paths[0], x, allow_pickle=False)
    np.save(paths[1], y, allow_pickle=False)
    return paths


def _latent(seed: int) -> Split:
    x = np.load(verified_path(LATENT_FILES[0]), allow_pickle=False)
    y = np.load(verified_path(LATENT_FILES[1]), allow_pickle=False)
    return _split("latent", x, y, 3, seed)


# The language-model track: generated on the fly (fast and deterministic), never stored.
LM_SIZES = {"a": 500, "b": 1000, "test": 2000}


def lm_test_corpus():
    """The language-model track's test set with the cue variables behind each sequence
    (``w2s.corpus.Corpus``), the same for every seed. Lesson 04 reads its easy cue."""
    from w2s import corpus

    return corpus.generate(LM_SIZES["test"], 0, corpus.TEST_STREAM)


def _lm(seed: int) -> Split:
    """Token sequences (n, 49) with the hidden class of ``w2s.corpus``: A and B drawn from
    the seed, the test set the same for every seed (as for the other data sets)."""
    from w2s import corpus

    train = corpus.generate(LM_SIZES["a"] + LM_SIZES["b"], seed, corpus.SPLIT_STREAM)
    test = lm_test_corpus()
    a = slice(0, LM_SIZES["a"])
    b = slice(LM_SIZES["a"], None)
    return Split("lm", 2, train.tokens[a], train.y[a], train.tokens[b], train.y[b],
                 test.tokens, test.y)


DATASETS = {"digits": _digits, "latent": _latent, "lm": _lm}


def load(name: str = "digits", seed: int = 0) -> Split:
    """Load data set ``name`` split for ``seed`` (A and B change with the seed, test does not)."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    return DATASETS[name](int(seed))
