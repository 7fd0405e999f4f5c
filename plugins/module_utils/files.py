# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one way to change a file, on a node or on the controller (stdlib only).

A change is planned first (``plan_file``: what is there, what will be, whether it differs,
the diff) and applied second (``FileChange.apply``), so that check mode, diff mode and a real
run are decided by the same comparison.

The write goes to a temporary file in the target's folder, is flushed and fsynced, gets the
requested mode and owner, and is renamed over the target: a reader (systemd-sysctl at boot,
kubectl apply) sees the old file or the new one, never half of one, and a failure leaves the
old file as it was. A target that is a symlink is written at the link's target, so that the
link stays a link (the package or the admin that made it keeps its layout). Every OS error
becomes a ``DualstackError`` that names the path and what to do about it.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import tempfile
import typing as t
from dataclasses import dataclass

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import REDACTED, DualstackError

Content = t.Union[str, bytes]

# What to do about an OS error, by errno; the message always names the path as well.
_FIXES = {
    errno.EACCES: "the folder or file is not writable by this user; run the task with become: true "
                  "or choose a writable path",
    errno.EPERM: "the file or its folder is immutable or append-only (see lsattr); clear the flag "
                 "with chattr -i or -a, or choose another path",
    errno.EROFS: "the file system is mounted read-only; remount it read-write or choose another path",
    errno.ENOSPC: "the file system is full; free some space and run again",
    errno.EDQUOT: "the disk quota is used up; free some space and run again",
    errno.ENOTDIR: "a part of the path is a file, not a folder; fix the path",
    errno.EISDIR: "it is a directory; name a file instead",
    errno.ELOOP: "it is a symlink loop; fix the link or name the real file",
}


def under_root(root: str, path: str) -> str:
    """Map an absolute node path below ``root`` (``/`` on nodes, a scratch folder in tests).

    With the real root a path stays as given, so that a relative path keeps meaning the
    working directory.
    """
    if root in ("", "/"):
        return path
    return os.path.join(root, path.lstrip("/"))


def os_error(path: str, exc: OSError, doing: str = "write") -> DualstackError:
    """The refusal for an OS error on ``path``: the path, the system's words and the fix."""
    if exc.errno == errno.ENOENT:
        return DualstackError("cannot %s %s: its folder %s does not exist; create the folder first or fix "
                              "the path" % (doing, path, os.path.dirname(path)), path=path)
    fix = _FIXES.get(exc.errno or 0, "fix the cause and run again")
    reason = exc.strerror or str(exc)
    return DualstackError("cannot %s %s: %s; %s" % (doing, path, reason, fix), path=path)


def read_text(path: str) -> str | None:
    """Return a file's text, or None when it does not exist."""
    data = read_bytes(path)
    return None if data is None else data.decode("utf-8", "surrogateescape")


def read_bytes(path: str) -> bytes | None:
    """Return a file's content, or None when it does not exist; other OS errors are refusals."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise os_error(path, exc, "read") from None


def _encode(content: Content) -> bytes:
    return content if isinstance(content, bytes) else content.encode("utf-8", "surrogateescape")


def _account_id(kind: str, name: t.Union[str, int, None], lookup: t.Callable[[str], t.Any]) -> int | None:
    """A user's or group's numeric id: as given, looked up by name, or a name made of digits."""
    if name is None or isinstance(name, int):
        return name
    try:
        return int(lookup(name)[2])
    except KeyError:
        if name.isdigit():
            return int(name)
        raise DualstackError("%s: %s is not a %s on this host; create the %s or name another one"
                             % ("owner" if kind == "user" else "group", name, kind, kind)) from None


def _uid(owner: t.Union[str, int, None]) -> int | None:
    return _account_id("user", owner, pwd.getpwnam)


def _gid(group: t.Union[str, int, None]) -> int | None:
    return _account_id("group", group, grp.getgrnam)


def _resolve(path: str, follow_symlinks: bool) -> str:
    """The file the bytes go to: a link's final target when following links."""
    if not follow_symlinks:
        return path
    real = os.path.realpath(path)
    if os.path.islink(real):
        # realpath stops at a loop and returns a link; writing there would replace the link.
        raise os_error(path, OSError(errno.ELOOP, os.strerror(errno.ELOOP)))
    return real


@dataclass(frozen=True)
class FileChange:
    """One file to bring to ``after``: ``before`` is None for a new file.

    ``path`` is the path the user knows (a node path below ``root``); ``current_*`` describe
    the file found, so that a wrong mode or owner is a change too. ``secret`` keeps the
    content out of diffs.
    """

    path: str
    before: Content | None
    after: Content
    mode: int = 0o644
    root: str = "/"
    uid: int | None = None
    gid: int | None = None
    current_mode: int | None = None
    current_uid: int | None = None
    current_gid: int | None = None
    follow_symlinks: bool = True
    create_folder: bool = False
    secret: bool = False

    @property
    def target(self) -> str:
        return under_root(self.root, self.path)

    @property
    def changed(self) -> bool:
        if self.before is None or _encode(self.before) != _encode(self.after):
            return True
        if self.current_mode is not None and self.current_mode != self.mode:
            return True
        if self.uid is not None and self.current_uid is not None and self.current_uid != self.uid:
            return True
        return self.gid is not None and self.current_gid is not None and self.current_gid != self.gid

    def diff(self) -> dict[str, str]:
        """Ansible's diff of this file; a secret file shows that it changes, not what it holds."""
        before, after = self.before, self.after
        if self.secret:
            before, after = ("" if before is None else REDACTED + "\n"), REDACTED + "\n"
        return {
            "before_header": self.path,
            "after_header": self.path,
            "before": _text(before or ""),
            "after": _text(after),
        }

    def apply(self) -> None:
        """Write the file when it differs (nothing happens when it is already as planned)."""
        if self.changed:
            write_file(self.target, self.after, self.mode, uid=self.uid, gid=self.gid, shown=self.path,
                       follow_symlinks=self.follow_symlinks, create_folder=self.create_folder)


def _text(content: Content) -> str:
    return content.decode("utf-8", "replace") if isinstance(content, bytes) else content


def plan_file(path: str, after: Content, mode: int | None = 0o644, *, root: str = "/",
              owner: t.Union[str, int, None] = None, group: t.Union[str, int, None] = None,
              follow_symlinks: bool = True, create_folder: bool = False, secret: bool = False) -> FileChange:
    """Read what is at ``path`` now and return the change that brings it to ``after``.

    ``mode`` None keeps the mode of the file found (0644 for a new file). Refusals that the
    write would meet anyway (a directory in the way, a missing folder) are raised here, so
    that check mode reports them too.
    """
    target = _resolve(under_root(root, path), follow_symlinks)
    if os.path.isdir(target) and not os.path.islink(target):
        raise os_error(path, OSError(errno.EISDIR, os.strerror(errno.EISDIR)))
    if not create_folder and not os.path.isdir(os.path.dirname(target) or "."):
        raise os_error(path, OSError(errno.ENOENT, os.strerror(errno.ENOENT)))
    data = read_bytes(target) if follow_symlinks or not os.path.islink(target) else None
    before: Content | None = data
    if data is not None and isinstance(after, str):
        before = data.decode("utf-8", "surrogateescape")
    state = None
    if data is not None:
        try:
            state = os.stat(target)
        except OSError as exc:
            raise os_error(path, exc, "read") from None
    current_mode = state.st_mode & 0o7777 if state else None
    if mode is None:
        mode = 0o644 if current_mode is None else current_mode
    return FileChange(
        path, before, after, mode, root, _uid(owner), _gid(group),
        current_mode=current_mode,
        current_uid=state.st_uid if state else None,
        current_gid=state.st_gid if state else None,
        follow_symlinks=follow_symlinks, create_folder=create_folder, secret=secret,
    )


def write_file(path: str, content: Content, mode: int = 0o644, *, uid: int | None = None,
               gid: int | None = None, shown: str | None = None, follow_symlinks: bool = True,
               create_folder: bool = False) -> None:
    """Replace ``path`` with ``content`` atomically; the one writer of the collection.

    ``mode`` is applied exactly (no umask). Without ``uid``/``gid`` a replaced file keeps its
    owner when this process may give it (root); a new file belongs to this process. A symlink
    is written at its target unless ``follow_symlinks`` is false (then the link itself is
    replaced by the file). On any OS error the old file is left as it was, no temporary file is
    left behind, and the error names ``shown`` (the path the user knows).
    """
    shown = shown or path
    target = _resolve(path, follow_symlinks)
    folder = os.path.dirname(target) or "."
    if os.path.isdir(target) and not os.path.islink(target):
        raise os_error(shown, OSError(errno.EISDIR, os.strerror(errno.EISDIR)))
    temp = None
    try:
        if create_folder:
            os.makedirs(folder, mode=0o755, exist_ok=True)
        try:
            old = os.lstat(target) if not follow_symlinks else os.stat(target)
        except FileNotFoundError:
            old = None
        handle, temp = tempfile.mkstemp(prefix=".dualstack-", dir=folder)
        with os.fdopen(handle, "wb") as stream:
            stream.write(_encode(content))
            stream.flush()
            os.fsync(stream.fileno())
            os.fchmod(stream.fileno(), mode)
            if uid is None and gid is None and old is not None and os.geteuid() == 0:
                uid, gid = old.st_uid, old.st_gid
            if uid is not None or gid is not None:
                os.fchown(stream.fileno(), -1 if uid is None else uid, -1 if gid is None else gid)
        os.replace(temp, target)
        temp = None
        _sync_folder(folder)
    except OSError as exc:
        raise os_error(shown, exc) from None
    finally:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable (a crash right after it keeps the new name)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
