"""Where submissions are graded: a process pool on this machine, or a Dask cluster.

Both take the same self-contained jobs (``worker.Job`` with the student's files as bytes,
``worker.Material`` with the assignment) and yield ``(job, result)`` as submissions finish;
only the caller records results, so the gradebook and the CSVs do not depend on where the
grading ran. Another backend (say one Kubernetes Job per submission) is one more class with
``start()``, ``results(jobs, materials)`` and ``close()``; see README, "Grading on a cluster".
"""

from __future__ import annotations

import os
import signal
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Iterator

from .course import prepare_nbgrader

GRADE_TOPIC = "w2s-grade"  # the event a Dask worker logs when it starts grading a submission


class ExecutorError(RuntimeError):
    """The executor cannot run here (the message says what to do)."""


def _failed(job, why: str) -> dict:
    return {"student": job.student, "assignment": job.assignment, "status": "grader error",
            "detail": why, "notebooks": {}, "seconds": 0}


def _worker_init() -> None:
    from .worker import fast_scratch_databases

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when to stop
    prepare_nbgrader()
    fast_scratch_databases()


class LocalPool:
    """``workers`` processes on this machine (the default)."""

    def __init__(self, workers: int):
        self.workers = workers
        self.pool = None

    def describe(self, jobs: int) -> str:
        return f"{min(self.workers, max(jobs, 1))} worker(s)"

    def start(self) -> None:
        """Nothing to check up front: the pool starts with the first job."""

    def results(self, jobs, materials) -> Iterator[tuple[object, dict]]:
        from .worker import grade

        if not jobs:
            return
        self.pool = ProcessPoolExecutor(max_workers=min(self.workers, len(jobs)),
                                        mp_context=get_context("spawn"), initializer=_worker_init)
        pending = {self.pool.submit(grade, job, materials[job.assignment]): job for job in jobs}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - a dead worker process
                    result = _failed(job, f"worker failed: {exc}")
                yield job, result

    def close(self, cancel: bool = False) -> None:
        if self.pool is None:
            return
        if cancel:
            for process in list(getattr(self.pool, "_processes", {}).values()):
                process.terminate()  # its kernels die with it (bubblewrap --die-with-parent)
        self.pool.shutdown(wait=True, cancel_futures=cancel)
        self.pool = None


def _dask_worker_ready(sandboxed: bool) -> str:
    """Run once on every Dask worker: ready nbgrader there, check its sandbox; '' when fine."""
    from . import worker
    from .sandbox import SandboxUnavailable, check_available

    prepare_nbgrader()
    worker.fast_scratch_databases()
    if sandboxed:
        try:
            check_available()
        except SandboxUnavailable as exc:
            return str(exc)
    return ""


def _material(material):
    return material


def _dask_grade(job, material) -> dict:
    """A grading task on a Dask worker: say that it started, then grade in the sandbox."""
    from distributed import get_worker

    from .worker import grade

    get_worker().log_event(GRADE_TOPIC, {"student": job.student, "assignment": job.assignment,
                                         "pid": os.getpid()})
    return grade(job, material)


class DaskCluster:
    """A Dask distributed cluster: ``tcp://HOST:PORT`` (a running scheduler) or ``local:N``
    (a LocalCluster of N worker processes on this machine). One task per worker thread;
    give each worker ``--nthreads 1`` so that one submission runs per process."""

    def __init__(self, address: str, sandboxed: bool = True):
        self.address = address
        self.sandboxed = sandboxed
        self.client = None
        self.cluster = None
        self.futures = []

    def describe(self, jobs: int) -> str:
        workers = len(self.client.scheduler_info().get("workers", {})) if self.client else 0
        return f"Dask cluster {self.address} ({workers} worker(s))"

    def start(self) -> None:
        try:
            import logging

            from distributed import Client, LocalCluster
        except ImportError:
            raise ExecutorError("--cluster needs dask and distributed: pip install -e . "
                                "(they are dependencies of the course)") from None
        try:
            if self.address.startswith("local:"):
                count = self.address.split(":", 1)[1]
                if not count.isdigit() or int(count) < 1:
                    raise ExecutorError(f"--cluster {self.address}: write local:N with N >= 1")
                self.cluster = LocalCluster(n_workers=int(count), threads_per_worker=1,
                                            processes=True, host="127.0.0.1",
                                            dashboard_address=None, silence_logs=logging.ERROR,
                                            memory_limit=0)
                self.client = Client(self.cluster)
            elif self.address.startswith(("tcp://", "tls://")):
                self.client = Client(self.address, timeout=30)
            else:
                raise ExecutorError(f"--cluster {self.address}: give a scheduler address "
                                    "(tcp://HOST:PORT) or local:N")
        except ExecutorError:
            raise
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(f"cannot reach the Dask scheduler at {self.address} ({exc}). "
                                "Start one with `dask scheduler` and workers with "
                                "`dask worker ADDRESS --nthreads 1`.") from None
        if not self.client.scheduler_info().get("workers"):
            self.client.wait_for_workers(1, timeout=60)
        problems = {a: p for a, p in self.client.run(_dask_worker_ready, self.sandboxed).items()
                    if p}
        if problems:
            address, problem = next(iter(problems.items()))
            raise ExecutorError(f"{len(problems)} Dask worker(s) cannot grade, e.g. {address}: "
                                f"{problem}")

    def results(self, jobs, materials) -> Iterator[tuple[object, dict]]:
        from distributed import as_completed

        if not jobs:
            return
        # Each assignment's material is one task the graders depend on (not scattered data):
        # if the worker holding it dies, the scheduler can make it again.
        shared = {a: self.client.submit(_material, m, pure=False, key=f"w2s-material-{a}-"
                                        f"{os.urandom(4).hex()}") for a, m in materials.items()}
        by_key = {}
        for job in jobs:
            future = self.client.submit(_dask_grade, job, shared[job.assignment], pure=False,
                                        key=f"w2s-grade-{job.student}-{job.assignment}-"
                                            f"{os.urandom(4).hex()}")
            by_key[future.key] = job
            self.futures.append(future)
        # A worker that dies mid-task has its tasks rescheduled on the others by the
        # scheduler; each future still gives exactly one result.
        for future in as_completed(self.futures):
            job = by_key[future.key]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker after repeated deaths
                result = _failed(job, f"worker failed: {type(exc).__name__}: {exc}")
            future.release()
            yield job, result

    def close(self, cancel: bool = False) -> None:
        if self.client is not None:
            if cancel and self.futures:
                self.client.cancel(self.futures, force=True)
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None


def make_executor(cluster: str | None, workers: int, sandboxed: bool):
    return DaskCluster(cluster, sandboxed) if cluster else LocalPool(workers)
