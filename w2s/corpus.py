"""The language-model track's world: a generated corpus with a hidden class. Lessons 01-04.

Every sequence is 48 tokens from a vocabulary of 48 (plus a start token) and carries a
hidden binary class ``y`` that only its *structure* reveals:

- a **hard cue**: ``y`` chooses which of two fixed successor maps drives the transitions.
  With a per-sequence probability ``p_hard`` (between 0.15 and 0.55) the next token is the
  successor of the current one under map ``y``; otherwise it is drawn from the unigram
  distribution. Reading it means relating each token to the one before it.
- an **easy cue**: extra unigram weight on one of two 6-token sets, chosen by ``y XOR f``
  with ``f ~ Bernoulli(0.3)``: a bag of tokens reads it at a glance, and it is wrong on
  30 % of the sequences by construction.
- a **nuisance**: one of four topic mixtures sets the rest of the unigram distribution.

A model that has learned to predict the next token has had to track which successor map is
in force, so its states hold ``y``; a small model relies more on the easy cue and makes the
*systematic* mistakes the cue makes. Nothing is stored: ``generate(n, seed)`` rebuilds the
same sequences from the seed in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VOCAB = 48                 # ordinary tokens 0..47
START = VOCAB              # the start token, id 48
LENGTH = 48                # tokens after the start token
N_TOPICS = 4
EASY_SET_SIZE = 6
EASY_WEIGHT = 0.3          # share of the unigram mass moved onto the chosen easy set
FLIP_PROBABILITY = 0.3     # P(f = 1): how often the easy cue points the wrong way
P_HARD_RANGE = (0.15, 0.55)
WORLD_SEED = 2023          # fixes the successor maps, easy sets and topics

# Disjoint seed streams: pre-training text, the fixed test set, and each seed's A and B.
PRETRAIN_STREAM, TEST_STREAM, SPLIT_STREAM = 1, 2, 3


@dataclass(frozen=True)
class World:
    """The fixed parts of the generator."""
    successors: np.ndarray   # (2, VOCAB): successors[y, t] follows t under map y
    easy_sets: np.ndarray    # (2, EASY_SET_SIZE): the token sets the easy cue points at
    topics: np.ndarray       # (N_TOPICS, VOCAB): topic unigram distributions


def world() -> World:
    rng = np.random.default_rng(WORLD_SEED)
    first = rng.permutation(VOCAB)
    # the second map differs from the first at every token
    second = first.copy()
    while (second == first).any():
        second = rng.permutation(VOCAB)
    easy = rng.permutation(VOCAB)[: 2 * EASY_SET_SIZE].reshape(2, EASY_SET_SIZE)
    topics = rng.dirichlet(np.full(VOCAB, 0.5), size=N_TOPICS)
    return World(np.stack([first, second]), easy, topics)


@dataclass(frozen=True)
class Corpus:
    """``tokens`` (n, 1 + LENGTH) int64 starting with START; ``y`` the hidden class; the
    nuisance and cue variables that produced each sequence, for analysis."""
    tokens: np.ndarray
    y: np.ndarray
    flip: np.ndarray
    topic: np.ndarray
    p_hard: np.ndarray

    @property
    def easy_cue(self) -> np.ndarray:
        """What the easy cue alone says about y (right on ~70 % of sequences)."""
        return self.y ^ self.flip


def generate(n: int, seed: int, stream: int = SPLIT_STREAM) -> Corpus:
    """``n`` sequences, deterministic for ``(seed, stream)``."""
    w = world()
    rng = np.random.default_rng([WORLD_SEED, stream, seed])
    y = rng.integers(0, 2, n)
    flip = (rng.random(n) < FLIP_PROBABILITY).astype(np.int64)
    topic = rng.integers(0, N_TOPICS, n)
    p_hard = rng.uniform(*P_HARD_RANGE, n)
    easy = y ^ flip
    # one unigram distribution per (topic, easy set): sample by inverse CDF within each group
    unigram = (1 - EASY_WEIGHT) * w.topics[:, None, :] + np.zeros((1, 2, VOCAB))
    for e in range(2):
        unigram[:, e, w.easy_sets[e]] += EASY_WEIGHT / EASY_SET_SIZE
    cdf = np.cumsum(unigram, axis=-1)
    cdf /= cdf[..., -1:]
    u = rng.random((n, LENGTH))
    draws = np.empty((n, LENGTH), dtype=np.int64)
    for k in range(N_TOPICS):
        for e in range(2):
            rows = (topic == k) & (easy == e)
            draws[rows] = np.minimum(np.searchsorted(cdf[k, e], u[rows]), VOCAB - 1)
    follow = rng.random((n, LENGTH)) < p_hard[:, None]
    follow[:, 0] = False
    tokens = np.empty((n, 1 + LENGTH), dtype=np.int64)
    tokens[:, 0] = START
    tokens[:, 1] = draws[:, 0]
    for t in range(1, LENGTH):
        tokens[:, t + 1] = np.where(follow[:, t], w.successors[y, tokens[:, t]], draws[:, t])
    return Corpus(tokens, y.astype(np.int64), flip, topic, p_hard)


def bag_of_tokens(tokens: np.ndarray) -> np.ndarray:
    """Token counts per sequence (n, VOCAB) / LENGTH: the order-blind view of a sequence."""
    tokens = np.asarray(tokens)
    counts = np.zeros((len(tokens), VOCAB), dtype=np.float32)
    np.add.at(counts, (np.repeat(np.arange(len(tokens)), tokens.shape[1] - 1),
                       tokens[:, 1:].reshape(-1)), 1.0)
    return counts / (tokens.shape[1] - 1)


def bigram_matches(tokens: np.ndarray) -> np.ndarray:
    """(n, 2): how many transitions follow successor map 0 and map 1 (the hard cue, read
    by hand; a logistic regression on it is close to the best any model can do)."""
    s = world().successors
    prev, nxt = tokens[:, 1:-1], tokens[:, 2:]
    return np.stack([(s[0][prev] == nxt).sum(1), (s[1][prev] == nxt).sum(1)], 1).astype(np.float32)
