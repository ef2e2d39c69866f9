"""Keep hidden tests out of the feedback students get (an nbgrader preprocessor).

nbgrader's autograded copy of a notebook holds the hidden tests (they are restored from the
source before grading), and ``generate_feedback`` would render them. ``HideHiddenTests``
removes every ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` region from the test
cells and cuts a failing test's traceback — which quotes the lines around the failure — down
to its last line, ``ErrorName: message``. The messages of hidden tests say what is wrong
without giving the answer. Plugged into ``GenerateFeedback.preprocessors`` by
``nbgrader_config.py``; the grader (``autograder``) may reuse ``strip_hidden_tests``.
"""

from __future__ import annotations

BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"


def strip_hidden_tests(source: str) -> str:
    """``source`` without its hidden-test regions (the marker lines included)."""
    kept, hidden = [], False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            hidden = True
        elif END_HIDDEN in line:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept).rstrip("\n")


def is_test_cell(cell) -> bool:
    """An autograded test cell: graded, not a solution, code."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def short_error(output):
    """An error output whose traceback is only ``ErrorName: message`` (no source lines)."""
    import nbformat

    output = nbformat.from_dict(dict(output))
    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
    return output


def _make_preprocessor():
    from nbgrader.preprocessors import NbGraderPreprocessor

    class HideHiddenTests(NbGraderPreprocessor):
        """Strip hidden-test source and failing tracebacks from test cells before rendering."""

        def preprocess_cell(self, cell, resources, cell_index):
            if is_test_cell(cell):
                cell.source = strip_hidden_tests(cell.source)
                cell.outputs = [short_error(o) if o.get("output_type") == "error" else o
                                for o in cell.get("outputs", [])]
            return cell, resources

    HideHiddenTests.__module__ = __name__
    HideHiddenTests.__qualname__ = "HideHiddenTests"
    return HideHiddenTests


def __getattr__(name):
    # nbgrader takes seconds to import; `w2s check` only needs the functions above, so the
    # preprocessor class is built when nbgrader's config first asks for it.
    if name == "HideHiddenTests":
        globals()[name] = _make_preprocessor()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
