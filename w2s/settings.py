"""Process-wide settings read from the environment (no side effects on import)."""

from __future__ import annotations

import os


def fast_mode() -> bool:
    """``W2S_FAST=1`` shrinks training for tests; the code path stays the same."""
    return os.environ.get("W2S_FAST", "") not in ("", "0")
