"""Shared test set-up: the repository root and the venv's executables."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture
def fast(monkeypatch):
    """W2S_FAST=1: shrink training without changing the code path."""
    monkeypatch.setenv("W2S_FAST", "1")


def pytest_configure(config):
    # notebooks and subprocesses run side by side with pytest: one torch thread each
    os.environ.setdefault("W2S_THREADS", "1")
