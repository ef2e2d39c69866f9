"""What a notebook cell is to the grader, in nbgrader's own terms (``nbgrader.utils``).

nbgrader marks a cell's role in its metadata: ``grade`` (it earns points), ``solution`` (the
student writes it) and ``locked`` (the student may not change it). Its helpers ``is_grade``,
``is_solution`` and ``is_locked`` read those flags; the roles the course talks about are
combinations of them.
"""

from __future__ import annotations

from nbgrader.utils import is_grade, is_locked, is_solution


def is_test_cell(cell) -> bool:
    """An autograded test: a graded code cell that the student does not write."""
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def is_manual_cell(cell) -> bool:
    """A written answer graded by hand: graded, and written by the student."""
    return is_grade(cell) and is_solution(cell)


def cell_kind(cell) -> str:
    """``test``, ``locked`` (the instructor's code, not graded) or ``student``."""
    if is_test_cell(cell):
        return "test"
    if is_locked(cell):
        return "locked"
    return "student"
