"""Take a student's files in: only regular files that really live inside the student's folder.

Every place the course reads student files (``w2s grade``, ``w2s check``) comes through here
first. Each path is looked at with ``lstat`` (links are never followed) and opened relative to
its already-opened parent folder with ``O_NOFOLLOW``, so a symbolic link (to a file or a
folder, absolute or relative), a hard link (link count above 1), a device, a socket or a FIFO
is refused before anything reads it, also when the folder changes between the look and the
read. A refused file counts as not submitted; the reason goes into the grader's summary.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 100 * 1024**2   # a notebook larger than this is refused, not read
MAX_ENTRIES = 5_000              # a folder tree with more entries is not walked further
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# What Jupyter and operating systems leave beside a notebook: never taken, never listed.
ROUTINE = {".ipynb_checkpoints", "__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini"}


class Refused(Exception):
    """A path that is not a plain file or folder of the student's own (the message says why)."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a student's or an assignment's folder, or None if it can.

    Spaces, accents and a trailing `` (1)`` are fine; ``..``, a path, or a control character
    (which would garble the summary and the CSVs) are not.
    """
    if name in ("", ".", ".."):
        return "is not a folder name"
    if "/" in name or "\0" in name or os.path.isabs(name):
        return "is a path, not a folder name"
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        return "holds a control character"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    return None


def why_refused(st: os.stat_result, link_target: str | None = None) -> str | None:
    """The refusal for a file with this ``lstat`` result, or None for a plain file or folder."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return f"symlink to {link_target}" if link_target is not None else "symlink"
    if stat.S_ISDIR(mode):
        return None
    if stat.S_ISREG(mode):
        return "hard link" if st.st_nlink > 1 else None
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    return "not a regular file"


def _readlink(name: str, dir_fd: int) -> str:
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError:
        return "?"


def open_folder(path: Path, below: Path | None = None) -> int:
    """A file descriptor for the folder ``path``; with ``below``, every component of ``path``
    under ``below`` is opened with O_NOFOLLOW, so none of them may be a link."""
    if below is None:
        return os.open(path, DIR_FLAGS & ~os.O_NOFOLLOW)
    fd = os.open(below, DIR_FLAGS & ~os.O_NOFOLLOW)
    try:
        for part in path.relative_to(below).parts:
            try:
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except OSError as exc:
                raise Refused(f"{part} cannot be read ({exc.strerror})") from None
            reason = why_refused(st, _readlink(part, fd))
            if reason is not None or not stat.S_ISDIR(st.st_mode):
                raise Refused(f"folder {part} is a {reason}" if reason else
                              f"{part} is not a folder")
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise Refused(f"folder {part} cannot be opened ({exc.strerror})") from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_file(name: str, dir_fd: int, expected: os.stat_result | None = None) -> bytes:
    """The bytes of the plain file ``name`` in the folder ``dir_fd``, or Refused."""
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # it became a symlink after we looked
            raise Refused(f"symlink to {_readlink(name, dir_fd)}") from None
        raise Refused(f"cannot be read ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        reason = why_refused(st)
        if reason is None and not stat.S_ISREG(st.st_mode):
            reason = "a folder"
        if reason is None and expected is not None and \
                (st.st_ino, st.st_dev) != (expected.st_ino, expected.st_dev):
            reason = "replaced while it was being read"
        if reason is not None:
            raise Refused(reason)
        if st.st_size > MAX_FILE_BYTES:
            raise Refused(f"larger than {MAX_FILE_BYTES // 1024**2} MiB")
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise Refused(f"larger than {MAX_FILE_BYTES // 1024**2} MiB")
        return b"".join(chunks)
    finally:
        os.close(fd)


@dataclass
class Folder:
    """What a student's folder holds: plain files (by relative path) and refused entries."""

    files: dict[str, os.stat_result] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)   # relative path -> reason
    truncated: bool = False


def scan(fd: int, prefix: str = "", into: Folder | None = None) -> Folder:
    """Every entry under the open folder ``fd``, looked at with lstat only."""
    into = into if into is not None else Folder()
    with os.scandir(fd) as entries:
        names = sorted(e.name for e in entries)
    for name in names:
        if len(into.files) + len(into.refused) >= MAX_ENTRIES:
            into.truncated = True
            return into
        if name in ROUTINE:
            continue
        rel = f"{prefix}{name}"
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError as exc:
            into.refused[rel] = f"cannot be read ({exc.strerror})"
            continue
        reason = why_refused(st, _readlink(name, fd) if stat.S_ISLNK(st.st_mode) else None)
        if reason is not None:
            into.refused[rel] = reason
        elif stat.S_ISDIR(st.st_mode):
            try:
                child = os.open(name, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                into.refused[rel] = f"folder cannot be opened ({exc.strerror})"
                continue
            try:
                scan(child, rel + "/", into)
            finally:
                os.close(child)
        else:
            into.files[rel] = st
    return into


def read_relative(fd: int, rel: str, expected: os.stat_result | None = None) -> bytes:
    """Read ``rel`` (found by ``scan``) under the open folder ``fd``, never following a link."""
    *folders, name = rel.split("/")
    if not folders:
        return read_file(name, fd, expected)
    sub = os.open(folders[0], DIR_FLAGS, dir_fd=fd)
    try:
        return read_relative(sub, "/".join(folders[1:] + [name]), expected)
    finally:
        os.close(sub)


# What nbgrader's exchange puts beside a submission; kept with the autograded notebook, as
# `nbgrader autograde` does, because `nbgrader release_feedback` reads them.
EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")


@dataclass
class Submission:
    """One student's submission of one assignment, as the grader takes it in."""

    notebooks: dict[str, bytes] = field(default_factory=dict)   # notebook name -> content
    renamed: dict[str, str] = field(default_factory=dict)       # notebook name -> file it came from
    refused: dict[str, str] = field(default_factory=dict)       # notebook name -> reason
    ignored: list[str] = field(default_factory=list)            # what was left out, and why
    timestamp: str | None = None                                # nbgrader's timestamp.txt
    exchange: dict[str, bytes] = field(default_factory=dict)    # EXCHANGE_FILES found
    problem: str | None = None                                  # the whole folder was refused


def take_submission(root: Path, student: str, assignment: str, notebooks: list[str],
                    release_files: set[str] = frozenset()) -> Submission:
    """Take in ``root/student/assignment``: its notebooks (by name) and its timestamp.

    ``release_files`` are the other files the release contains; the grader supplies its own
    copies of those, so the student's are neither taken nor listed. Anything else is left out
    and listed as ``ignored: extra file ...``.
    """
    out = Submission()
    for name in (student, assignment):
        problem = name_problem(name)
        if problem:
            out.problem = f"refused: folder name {name!r} {problem}"
            return out
    try:
        fd = open_folder(root / student / assignment, below=root)
    except Refused as exc:
        out.problem = f"refused: {exc}"
        return out
    try:
        folder = scan(fd)
        wanted = {f"{n}.ipynb": n for n in notebooks}
        candidates = []  # other notebooks at the top: a renamed download, perhaps
        for rel, reason in folder.refused.items():
            if rel in wanted:
                out.refused[wanted[rel]] = f"refused: {reason}"
            elif "/" not in rel and rel.endswith(".ipynb"):
                candidates.append((rel, None, reason))
            else:
                out.ignored.append(f"refused: {rel} ({reason})")
        for rel, st in folder.files.items():
            if rel in wanted:
                try:
                    out.notebooks[wanted[rel]] = read_relative(fd, rel, st)
                except Refused as exc:
                    out.refused[wanted[rel]] = f"refused: {exc}"
            elif rel in EXCHANGE_FILES:
                try:
                    out.exchange[rel] = read_relative(fd, rel, st)
                except Refused as exc:
                    out.ignored.append(f"refused: {rel} ({exc})")
                    continue
                if rel == "timestamp.txt":
                    out.timestamp = out.exchange[rel].decode("utf-8", "replace").strip()
            elif rel in release_files:
                continue
            elif "/" not in rel and rel.endswith(".ipynb"):
                candidates.append((rel, st, None))
            else:
                out.ignored.append(f"ignored: extra file {rel}")
        missing = [n for n in notebooks if n not in out.notebooks and n not in out.refused]
        if len(notebooks) == 1 and missing and len(candidates) == 1:
            # one notebook expected and one other there: a renamed download ("ps1 (1).ipynb")
            rel, st, reason = candidates.pop()
            try:
                if reason is not None:
                    raise Refused(reason)
                out.notebooks[missing[0]] = read_relative(fd, rel, st)
                out.renamed[missing[0]] = rel
            except Refused as exc:
                out.refused[missing[0]] = f"refused: {exc} ({rel})"
        for rel, _, reason in candidates:
            out.ignored.append(f"refused: {rel} ({reason})" if reason else
                               f"ignored: extra file {rel}")
        if folder.truncated:
            out.ignored.append(f"ignored: more than {MAX_ENTRIES} files (the rest not looked at)")
    finally:
        os.close(fd)
    return out


def take_notebook(path: Path) -> bytes:
    """A student's own notebook file (``w2s check``): its bytes, or Refused saying why."""
    parent, name = path.parent, path.name
    fd = open_folder(parent)
    try:
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError as exc:
            raise Refused(f"cannot be read ({exc.strerror})") from None
        reason = why_refused(st, _readlink(name, fd) if stat.S_ISLNK(st.st_mode) else None)
        if reason is not None:
            raise Refused(reason)
        return read_file(name, fd, st)
    finally:
        os.close(fd)
