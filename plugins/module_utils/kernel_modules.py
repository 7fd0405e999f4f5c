# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel modules a Kubernetes node needs: found, loaded and persisted (stdlib only).

Whether a module is "there" is decided by what it provides, not by its name in
/proc/modules: a kernel may have it built in (no /proc/modules entry, sometimes no
/proc/modules at all when the kernel has no loadable module support).
"""

from __future__ import annotations

import os
import re
import typing as t

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError
from ansible_collections.dualstack.kubernetes.plugins.module_utils.files import (
    FileChange,
    plan_file,
    read_text,
    under_root,
)

DEFAULT_MODULES_LOAD_FILE = "/etc/modules-load.d/dualstack-kubernetes.conf"
MODULES_LOAD_HEADER = (
    "# Kernel modules for dualstack.kubernetes nodes, loaded at boot by systemd-modules-load.\n"
    "# Lines are added by the collection's modules; lines added by hand are kept.\n"
)
_MODULE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def _filesystems(root: str) -> set[str]:
    text = read_text(under_root(root, "/proc/filesystems")) or ""
    return {line.split()[-1] for line in text.splitlines() if line.strip()}


# What each module provides once it is in the kernel, built in or loaded.
def _probe_br_netfilter(root: str) -> bool:
    return os.path.isdir(under_root(root, "/proc/sys/net/bridge"))


def _probe_overlay(root: str) -> bool:
    return "overlay" in _filesystems(root)


FUNCTIONAL_PROBES: dict[str, t.Callable[[str], bool]] = {
    "br_netfilter": _probe_br_netfilter,
    "overlay": _probe_overlay,
}


def has_loadable_modules(root: str = "/") -> bool:
    """A kernel built without CONFIG_MODULES has no /proc/modules (and no modprobe use)."""
    return os.path.exists(under_root(root, "/proc/modules"))


def module_present(name: str, root: str = "/") -> bool:
    """True when the module's function is in the running kernel, built in or loaded."""
    probe = FUNCTIONAL_PROBES.get(name)
    if probe is not None:
        return probe(root)
    loaded = read_text(under_root(root, "/proc/modules")) or ""
    if any(line.split(" ", 1)[0] == name for line in loaded.splitlines()):
        return True
    # Built-in modules with parameters show up here too.
    return os.path.isdir(under_root(root, "/sys/module/" + name))


def validate_names(names: t.Sequence[str], option: str) -> list[str]:
    result: list[str] = []
    for name in names:
        if not isinstance(name, str) or not _MODULE_NAME.match(name):
            raise DualstackError(
                "%s: %r is not a kernel module name; use names such as br_netfilter or overlay "
                "(letters, digits, '_' and '-')" % (option, name)
            )
        if name not in result:
            result.append(name)
    return result


def render_modules_load(existing: str | None, names: t.Sequence[str]) -> str:
    """The modules-load.d file with every name listed once; other lines are left alone.

    Adding and never removing lets several modules of the collection share one file
    without undoing each other.
    """
    text = existing if existing is not None else MODULES_LOAD_HEADER
    listed = set()
    for line in text.splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            listed.add(word)
    missing = [name for name in names if name not in listed]
    if not missing:
        return text
    if text and not text.endswith("\n"):
        text += "\n"
    return text + "".join(name + "\n" for name in missing)


class ModulesPlan(t.NamedTuple):
    """What ensuring a set of modules will do on a node."""

    names: list[str]
    to_load: list[str]
    present: list[str]
    loadable: bool
    file: FileChange | None

    @property
    def changed(self) -> bool:
        return bool(self.to_load) or bool(self.file and self.file.changed)


def plan_modules(names: t.Sequence[str], modules_load_file: str, root: str = "/",
                 option: str = "names") -> ModulesPlan:
    """Decide what to load and what to persist; raises DualstackError when it cannot work."""
    names = validate_names(names, option)
    if not modules_load_file.startswith("/etc/modules-load.d/") or not modules_load_file.endswith(".conf") \
            or "/" in modules_load_file[len("/etc/modules-load.d/"):]:
        raise DualstackError(
            "modules_load_file: %r is not a file directly in /etc/modules-load.d ending in .conf, "
            "which is what systemd-modules-load reads; use for example %s"
            % (modules_load_file, DEFAULT_MODULES_LOAD_FILE)
        )
    loadable = has_loadable_modules(root)
    present = [name for name in names if module_present(name, root)]
    to_load = [name for name in names if name not in present]
    if to_load and not loadable:
        raise DualstackError(
            "%s: the kernel has no loadable module support (no /proc/modules) and does not have %s "
            "built in; boot a kernel that has %s built in or enables modules"
            % (option, ", ".join(to_load), ", ".join(to_load)),
            missing=to_load,
        )
    file_change = None
    if loadable:
        before = read_text(under_root(root, modules_load_file))
        file_change = plan_file(modules_load_file, render_modules_load(before, names), root=root,
                                create_folder=True)
    return ModulesPlan(names, to_load, present, loadable, file_change)


def apply_modules(plan: ModulesPlan, run: t.Callable[[list[str]], tuple[int, str, str]],
                  root: str = "/") -> None:
    """Persist the list, then load what is missing: a failed write leaves the kernel as it was."""
    if plan.file:
        plan.file.apply()
    load_modules(plan, run, root)


def load_modules(plan: ModulesPlan, run: t.Callable[[list[str]], tuple[int, str, str]],
                 root: str = "/") -> None:
    """modprobe what the plan says is missing and check that it is there afterwards."""
    for name in plan.to_load:
        rc, _out, err = run(["modprobe", "--", name])
        if rc != 0 or not module_present(name, root):
            raise DualstackError(
                "modprobe %s failed (rc %s): %s; install the kernel modules package for the running "
                "kernel (uname -r) or build %s into the kernel" % (name, rc, err.strip(), name),
                module=name,
            )
