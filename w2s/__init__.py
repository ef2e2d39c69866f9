"""w2s: the small library behind the weak-to-strong course.

Importing it is cheap and has no side effects: torch and scikit-learn load only when a
submodule that needs them is imported (``from w2s import experiment``).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
