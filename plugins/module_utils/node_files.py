# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small helpers shared by the modules that change files on nodes (stdlib only)."""

from __future__ import annotations

import os
import tempfile
import typing as t


class NodeConfigError(Exception):
    """Bad input or a node state the modules refuse to work with.

    Raised by the module_utils code; each module turns it into fail_json in one place.
    ``details`` go into the failed result next to the message.
    """

    def __init__(self, message: str, **details: t.Any) -> None:
        super().__init__(message)
        self.details = details


def under_root(root: str, path: str) -> str:
    """Map an absolute node path below ``root`` (``/`` on nodes, a scratch folder in tests)."""
    return os.path.join(root, path.lstrip("/"))


def read_text(path: str) -> str | None:
    """Return a file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


class FileChange(t.NamedTuple):
    """One file a module will write: ``before`` is None for a new file."""

    path: str
    before: str | None
    after: str
    mode: int = 0o644

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> dict[str, str]:
        return {
            "before_header": self.path,
            "after_header": self.path,
            "before": self.before or "",
            "after": self.after,
        }


def write_atomic(module: t.Any, change: FileChange, root: str = "/") -> None:
    """Write ``change.after`` through a temporary file in the target folder and atomic_move.

    A reader such as systemd-sysctl at boot sees the old or the new file, never half of one.
    When the target is a symlink, the link itself is replaced by a regular file: callers
    that want to edit a link's target pass that target as the path.
    """
    path = under_root(root, change.path)
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o755, exist_ok=True)
    if os.path.islink(path):
        os.unlink(path)
    fd, tmp = tempfile.mkstemp(prefix=".dualstack-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(change.after)
        os.chmod(tmp, change.mode)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
