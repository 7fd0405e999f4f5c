"""A pytest plugin for tests/run: one line as each test file finishes, on the file descriptor
named by DUALSTACK_PROGRESS_FD.

tests/run runs pytest beside Molecule with both outputs kept in files until both are done;
without these lines the terminal would stay silent for the half hour that takes."""
from __future__ import annotations

import os
import time
import typing as t

_OUTCOMES = ("passed", "failed", "skipped")


class FileProgress:
    """Counts outcomes per test file and reports a file once its last test has finished."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.remaining: t.Dict[str, int] = {}
        self.counts: t.Dict[str, t.Dict[str, int]] = {}
        self.started: t.Dict[str, float] = {}
        self.outcome: t.Dict[str, str] = {}

    def pytest_collection_finish(self, session: t.Any) -> None:
        # The items left after deselection (-k, -m): those that will run.
        for item in session.items:
            path = item.nodeid.split("::", 1)[0]
            self.remaining[path] = self.remaining.get(path, 0) + 1
            self.counts.setdefault(path, dict.fromkeys(_OUTCOMES, 0))

    def pytest_runtest_logstart(self, nodeid: str, location: t.Any) -> None:
        self.started.setdefault(nodeid.split("::", 1)[0], time.monotonic())

    def pytest_runtest_logreport(self, report: t.Any) -> None:
        # A test counts once: failed if any phase failed (its teardown too), skipped if its
        # setup or call skipped, passed when its call passed.
        if report.failed:
            self.outcome[report.nodeid] = "failed"
        elif report.skipped and report.when in ("setup", "call"):
            self.outcome.setdefault(report.nodeid, "skipped")
        elif report.passed and report.when == "call":
            self.outcome.setdefault(report.nodeid, "passed")

    def pytest_runtest_logfinish(self, nodeid: str, location: t.Any) -> None:
        path = nodeid.split("::", 1)[0]
        counts = self.counts.setdefault(path, dict.fromkeys(_OUTCOMES, 0))
        counts[self.outcome.pop(nodeid, "passed")] += 1
        left = self.remaining.get(path, 1) - 1
        self.remaining[path] = left
        if left > 0:
            return
        seconds = time.monotonic() - self.started.get(path, time.monotonic())
        line = "pytest    %-60s %d passed, %d failed, %d skipped (%d s)\n" % (
            path, counts["passed"], counts["failed"], counts["skipped"], seconds)
        os.write(self.fd, line.encode("utf-8"))


def pytest_configure(config: t.Any) -> None:
    fd = os.environ.get("DUALSTACK_PROGRESS_FD")
    if fd and fd.isdigit():
        config.pluginmanager.register(FileProgress(int(fd)), "dualstack-file-progress")
