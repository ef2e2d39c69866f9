"""Keep hidden tests out of the feedback students get: the course's one hidden-test stripper.

nbgrader's autograded copy of a notebook holds the hidden tests (they are restored from the
source before grading), and feedback would render them. ``hide_hidden_tests`` removes every
``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` region from a test cell with nbgrader's
own ``ClearHiddenTests``, and when it removed one, cuts each error traceback of that cell -
which quotes the lines around the failure - down to ``ErrorName: message`` and a note. The
messages of hidden tests say what is wrong without giving the answer; a test cell without
hidden tests keeps its traceback, which quotes only code the student can see.

Both feedback paths use it: ``w2s grade`` (``autograder.worker``) and nbgrader's own
``generate_feedback``, through the ``HideHiddenTests`` preprocessor that ``nbgrader_config.py``
plugs into ``GenerateFeedback.preprocessors``. ``w2s check`` compares test cells with
``visible_source``.
"""

from __future__ import annotations

import re

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from .cells import is_test_cell

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# errors the grader itself puts in a cell: their message quotes no test code
GRADER_ERRORS = ("NotRun", "GradingStopped", "CellTimeoutError")
HIDDEN_NOTE = "(the traceback is not shown because this cell also runs hidden tests)"


def visible_source(source: str) -> str:
    """``source`` without its hidden-test regions (the marker lines included)."""
    cell = new_code_cell(source)
    cell, _ = ClearHiddenTests(enforce_metadata=False).preprocess_cell(cell, {}, 0)
    return cell.source


def short_error(output: NotebookNode) -> NotebookNode:
    """An error output whose traceback is ``ErrorName: message`` and a note, no source lines."""
    message = f"{output.get('ename', 'Error')}: {ANSI.sub('', str(output.get('evalue', '')))}"
    note = [] if output.get("ename") in GRADER_ERRORS else [HIDDEN_NOTE]
    output.traceback = [message.rstrip(": ")] + note
    return output


def hide_hidden_tests(cell: NotebookNode) -> NotebookNode:
    """Strip a test cell's hidden tests and, if it had any, the tracebacks that would quote them."""
    if is_test_cell(cell):
        visible = visible_source(cell.source)
        if visible != cell.source:
            cell.source = visible
            cell.outputs = [short_error(o) if o.get("output_type") == "error" else o
                            for o in cell.get("outputs", [])]
    return cell


def strip_hidden_tests(nb: NotebookNode) -> NotebookNode:
    """``nb`` with ``hide_hidden_tests`` applied to every cell (in place)."""
    for cell in nb.cells:
        hide_hidden_tests(cell)
    return nb


class HideHiddenTests(NbGraderPreprocessor):
    """nbgrader's feedback step: ``hide_hidden_tests`` on every cell before rendering."""

    def preprocess_cell(self, cell, resources, cell_index):
        return hide_hidden_tests(cell), resources
