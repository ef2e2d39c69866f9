"""nbgrader configuration of the course: the repository is the course directory.

- ``solutions/<assignment>/<notebook>.ipynb`` is nbgrader's *source* (answers between
  ``### BEGIN SOLUTION``/``### END SOLUTION``, hidden tests between
  ``### BEGIN HIDDEN TESTS``/``### END HIDDEN TESTS``);
- ``exercises/<assignment>/`` is the *release* that students work in. Regenerate it with
  ``.venv/bin/w2s release`` (it wraps ``nbgrader generate_assignment`` and keeps the output
  byte-stable); plain ``nbgrader generate_assignment <assignment>`` works too.
- ``submitted/``, ``autograded/``, ``feedback/``, ``gradebook.db`` and the exchange folder are
  working state and never committed (see .gitignore).

``w2s release`` and ``w2s check`` read this file too, so the course has one configuration.
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 - injected by nbgrader/traitlets when this file is loaded

COURSE_ROOT = Path(__file__).resolve().parent

c.CourseDirectory.root = str(COURSE_ROOT)
c.CourseDirectory.course_id = "w2s-weak-to-strong"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.db_url = f"sqlite:///{COURSE_ROOT / 'gradebook.db'}"

# `nbgrader release_assignment` / `fetch` / `submit` / `collect` go through this folder
# (ignored by git). Reading this file creates nothing: `make lab` creates the folder.
c.Exchange.root = str(COURSE_ROOT / "nbgrader_exchange")

# On the course's JupyterHub (hub/README.md) the exchange is the hub's shared folder, and the
# formgrader hand-grades what `w2s grade submitted --out grades_out` autograded: the hub
# says where through these two variables.
if os.environ.get("W2S_EXCHANGE_ROOT"):
    c.Exchange.root = os.environ["W2S_EXCHANGE_ROOT"]
if os.environ.get("W2S_GRADED_COURSE"):
    graded = COURSE_ROOT / os.environ["W2S_GRADED_COURSE"]
    c.CourseDirectory.db_url = f"sqlite:///{graded / 'gradebook.db'}"
    c.CourseDirectory.autograded_directory = str(graded.relative_to(COURSE_ROOT) / "autograded")

# Per-cell limit while autograding (the slowest cell of any assignment takes ~10 s).
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# What students see in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearSolutions.enforce_metadata = True

# Feedback must not show the hidden tests: their source is stripped from test cells, and a
# failing test's traceback (which quotes the failing line) is cut down to its message.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
