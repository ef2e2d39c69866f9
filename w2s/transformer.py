"""Tiny pre-LN causal transformers: the language-model track's weak and strong models.

Lesson 01 introduces them as the GPT-2 / GPT-4 pair in miniature. ``TinyLM`` maps a batch
of token ids (n, T) to final states (n, T, d); ``pooled`` averages them over positions, the
representation a classification head reads. Pre-training (``w2s.pretrain``) adds a
next-token head on top of the same states.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from w2s.corpus import LENGTH, VOCAB


class CausalSelfAttention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(n, t, d))


class Block(nn.Module):
    """Pre-LN: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, heads)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyLM(nn.Module):
    """Token + position embeddings, ``layers`` pre-LN blocks, a final LayerNorm."""

    def __init__(self, d: int, layers: int, heads: int, vocab: int = VOCAB + 1,
                 length: int = LENGTH + 1):
        super().__init__()
        self.d = d
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(length, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)

    def states(self, tokens: torch.Tensor) -> torch.Tensor:
        """Final states (n, T, d) of a batch of token ids (n, T)."""
        tokens = tokens.long()
        x = self.tok(tokens) + self.pos(torch.arange(tokens.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """The pooled representation (n, d): the mean of the final states over positions."""
        return self.states(tokens).mean(dim=1)
