# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Forwarding and bridge sysctls for dual-stack nodes: live, persisted, checked (stdlib only).

How the boot-time readers order their files (sysctl.d(5) of systemd, sysctl(8) of
procps-ng 4):

* systemd-sysctl reads ``*.conf`` from /etc/sysctl.d, /run/sysctl.d,
  /usr/local/lib/sysctl.d, /usr/lib/sysctl.d (and /lib/sysctl.d on split-/usr systems).
  A name in an earlier folder hides the same name in a later one (so /etc shadows the
  vendor's file); the remaining files are applied sorted by name across all folders, so
  for a key set twice the file with the later name wins. It does not read
  /etc/sysctl.conf itself; Debian links it in as /etc/sysctl.d/99-sysctl.conf.
* ``sysctl --system`` reads the same folders with the same shadowing and order and then
  /etc/sysctl.conf last of all.

So a file that would undo one of our keys at boot is any file read after ours: a name
that sorts after our file's name, or /etc/sysctl.conf. Glob keys (``net.*.x = 0``) are
skipped: systemd-sysctl never lets a glob override a key some file sets explicitly.

Keys are compared in their /proc/sys path form. Both readers accept either separator:
when the first separator of a key is '.', dots and slashes swap (an interface
``eth0.100`` is written ``net.ipv6.conf.eth0/100.accept_ra``); when it is '/', the
key is a path as it stands.
"""

from __future__ import annotations

import os
import re
import typing as t

from ansible_collections.dualstack.kubernetes.plugins.module_utils.kernel_modules import (
    ModulesPlan,
    apply_modules,
    plan_modules,
)
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError
from ansible_collections.dualstack.kubernetes.plugins.module_utils.files import (
    FileChange,
    plan_file,
    read_text,
    under_root,
)

SYSCTL_DIRS = (
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
)
SYSCTL_CONF = "/etc/sysctl.conf"
DEFAULT_SYSCTL_FILE = "/etc/sysctl.d/90-dualstack-kubernetes.conf"
PROC_SYS = "/proc/sys"

IPV4_FORWARD = "net/ipv4/ip_forward"
IPV6_FORWARD = "net/ipv6/conf/all/forwarding"
BRIDGE_KEYS = ("net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables")
# RTF_ADDRCONF marks routes the kernel made from router advertisements (proto ra).
RTF_ADDRCONF = 0x40000

OVERRIDE_MARK = "dualstack_sysctl:"
HEADER = (
    "# Managed by dualstack.kubernetes.dualstack_sysctl: changes here are overwritten.\n"
    "# accept_ra lines come before forwarding: turning forwarding on drops RA-learned\n"
    "# default routes on every interface whose accept_ra is not 2 at that moment.\n"
)

_KEY_CHARS = re.compile(r"^[A-Za-z0-9_./:@+-]+$")
_IFNAME = re.compile(r"^[^/\s]{1,15}$")


# --- keys -------------------------------------------------------------------------------

def key_path(key: str) -> str:
    """The /proc/sys-relative path of a key written either way (see the module docstring)."""
    key = key.strip().strip("/")
    first = re.search(r"[./]", key)
    if first is None or first.group(0) == "/":
        return key
    return key.translate(str.maketrans("./", "/."))


def key_name(path: str) -> str:
    """The dotted form sysctl prints for a path; dots inside a component become slashes."""
    return path.translate(str.maketrans("./", "/."))


def normalise_value(value: t.Any) -> str:
    """Values as the kernel echoes them: booleans as 1/0, runs of blanks as one space."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return " ".join(str(value).split())


def valid_key(key: t.Any) -> bool:
    return isinstance(key, str) and bool(_KEY_CHARS.match(key)) and ".." not in key and "//" not in key


# --- config files -----------------------------------------------------------------------

class Entry(t.NamedTuple):
    lineno: int
    path: str
    value: str


def parse_sysctl_text(text: str) -> list[Entry]:
    """Assignments of a sysctl.d file: comments start with '#' or ';', a leading '-' on a
    key only tells systemd to ignore a failure to set it."""
    entries = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;" or "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        key = key.strip().lstrip("-").strip()
        if not key:
            continue
        entries.append(Entry(lineno, key_path(key), normalise_value(value)))
    return entries


class ConfigFile(t.NamedTuple):
    name: str
    path: str


def boot_files(root: str = "/") -> list[ConfigFile]:
    """Every file the boot-time readers apply, in the order they apply them (procps order:
    the sysctl.d files as systemd orders them, then /etc/sysctl.conf)."""
    seen: dict[str, str] = {}
    for folder in SYSCTL_DIRS:
        real = under_root(root, folder)
        try:
            names = os.listdir(real)
        except OSError:
            continue
        for name in names:
            if name.endswith(".conf") and name not in seen:
                seen[name] = folder + "/" + name
    files = [ConfigFile(name, seen[name]) for name in sorted(seen)]
    if os.path.exists(under_root(root, SYSCTL_CONF)):
        files.append(ConfigFile("sysctl.conf", SYSCTL_CONF))
    return files


def _real_node_path(path: str, root: str) -> str:
    """A node path with symlinks resolved, still as seen from the node (not from root)."""
    real = os.path.realpath(under_root(root, path))
    base = os.path.realpath(root)
    if base != "/" and (real == base or real.startswith(base + "/")):
        real = "/" + os.path.relpath(real, base)
    return real.replace("//", "/") if real != "/" else real


class Conflict(t.NamedTuple):
    file: str
    real: str
    line: int
    key: str
    value: str
    wanted: str

    def as_dict(self, action: str) -> dict[str, t.Any]:
        return {"file": self.file, "real_file": self.real, "line": self.line, "key": key_name(self.key),
                "value": self.value, "wanted": self.wanted, "action": action}


def find_conflicts(wanted: dict[str, str], own_file: str, root: str = "/") -> list[Conflict]:
    """Lines of files read after ``own_file`` that set one of our keys to another value.

    A file reached twice (Debian's 99-sysctl.conf link to /etc/sysctl.conf) is reported
    once, under its real path, which is also the file to edit.
    """
    own_name = os.path.basename(own_file)
    conflicts: list[Conflict] = []
    done: set[str] = set()
    for config in boot_files(root):
        if config.name == own_name or (config.path != SYSCTL_CONF and config.name < own_name):
            continue
        real = _real_node_path(config.path, root)
        if real in done or real == "/dev/null":
            continue
        done.add(real)
        text = read_text(under_root(root, real))
        if text is None:
            continue
        for entry in parse_sysctl_text(text):
            if "*" in entry.path:
                continue
            want = wanted.get(entry.path)
            if want is not None and entry.value != want:
                conflicts.append(Conflict(config.path, real, entry.lineno, entry.path, entry.value, want))
    return conflicts


def disabled_in_files(root: str = "/") -> list[str]:
    """Files that turn IPv6 off at boot, as 'file:line'."""
    found = []
    for config in boot_files(root):
        text = read_text(under_root(root, config.path)) or ""
        for entry in parse_sysctl_text(text):
            if entry.path in ("net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6") \
                    and entry.value == "1":
                found.append("%s:%d" % (config.path, entry.lineno))
    return found


def override_changes(conflicts: list[Conflict], own_file: str, root: str = "/") -> list[FileChange]:
    """Comment out each conflicting line, leaving a note that names our file.

    Editing the later line (rather than renaming our file to sort last) is what survives:
    /etc/sysctl.conf is read last by procps whatever our name is, and any name can be
    outsorted by the next package. Files under /etc are edited where they are (through a
    symlink, at its target); a vendor file outside /etc is shadowed by a copy of the same
    name in /etc/sysctl.d, which both readers prefer and package updates do not touch.
    """
    by_file: dict[str, tuple[str, set[int]]] = {}
    for conflict in conflicts:
        target = conflict.real
        if not target.startswith("/etc/"):
            target = "/etc/sysctl.d/" + os.path.basename(conflict.file)
        by_file.setdefault(target, (conflict.real, set()))[1].add(conflict.line)
    changes = []
    for target, (source, lines) in sorted(by_file.items()):
        text = read_text(under_root(root, source)) or ""
        out = []
        for lineno, line in enumerate(text.splitlines(keepends=True), start=1):
            if lineno in lines:
                end = "\n" if line.endswith("\n") else ""
                line = "# %s set by %s instead: %s%s" % (OVERRIDE_MARK, own_file, line.rstrip("\n"), end)
            out.append(line)
        try:
            mode = os.stat(under_root(root, source)).st_mode & 0o7777
        except OSError:
            mode = 0o644
        # A file in /etc is edited at its real path (through a link); a shadow copy in
        # /etc/sysctl.d replaces a link pointing outside /etc instead of writing through it.
        changes.append(plan_file(target, "".join(out), mode, root=root, follow_symlinks=target == source))
    return changes


# --- live values ------------------------------------------------------------------------

def read_live(path: str, root: str = "/") -> str | None:
    text = read_text(under_root(root, PROC_SYS + "/" + path))
    return None if text is None else normalise_value(text)


def write_live(path: str, value: str, root: str = "/") -> None:
    target = under_root(root, PROC_SYS + "/" + path)
    try:
        with open(target, "w", encoding="ascii") as handle:
            handle.write(value + "\n")
    except OSError as exc:
        raise DualstackError(
            "cannot set %s = %s live (%s): %s; check that the key exists and is writable here "
            "(a container without privileges cannot set it)" % (key_name(path), value, target, exc),
            key=key_name(path),
        ) from exc


def ra_default_route_interfaces(root: str = "/") -> list[str]:
    """Interfaces holding an IPv6 default route learned from router advertisements.

    Read from /proc/net/ipv6_route (destination ::/0 with RTF_ADDRCONF), which needs no
    iproute2 on the node.
    """
    text = read_text(under_root(root, "/proc/net/ipv6_route")) or ""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 10:
            continue
        dest, plen, flags, dev = fields[0], fields[1], int(fields[8], 16), fields[9]
        if int(dest, 16) == 0 and int(plen, 16) == 0 and flags & RTF_ADDRCONF and dev not in found:
            found.append(dev)
    return sorted(found)


def ipv6_disabled_reason(root: str = "/") -> str | None:
    """Why this node cannot forward IPv6, naming the setting to change, or None."""
    if not os.path.isdir(under_root(root, PROC_SYS + "/net/ipv6")):
        return ("IPv6 is disabled in the kernel (no /proc/sys/net/ipv6): remove ipv6.disable=1 from the "
                "kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub) and reboot")
    for scope in ("all", "default"):
        if read_live("net/ipv6/conf/%s/disable_ipv6" % scope, root) == "1":
            where = disabled_in_files(root)
            hint = (" (set in %s)" % ", ".join(where)) if where else ""
            return ("IPv6 is disabled on this node: net.ipv6.conf.%s.disable_ipv6 = 1%s; set it to 0 "
                    "(sysctl -w net.ipv6.conf.%s.disable_ipv6=0 and in that file) so that the node keeps "
                    "its IPv6 addresses" % (scope, hint, scope))
    where = disabled_in_files(root)
    if where:
        return ("IPv6 would be disabled at the next boot: %s sets disable_ipv6 = 1; remove that line "
                "or set it to 0" % ", ".join(where))
    return None


# --- the plan ---------------------------------------------------------------------------

class SysctlPlan(t.NamedTuple):
    """Everything one run decides; check mode reports it, a real run applies it."""

    wanted: dict[str, str]
    live_before: dict[str, str | None]
    file: FileChange
    conflicts: list[Conflict]
    conflict_files: list[FileChange]
    accept_ra_interfaces: list[str]
    modules: ModulesPlan | None

    @property
    def live_changes(self) -> list[str]:
        return [path for path, value in self.wanted.items() if self.live_before.get(path) != value]

    @property
    def changed_keys(self) -> list[str]:
        persisted = {e.path: e.value for e in parse_sysctl_text(self.file.before or "")}
        return [key_name(path) for path, value in self.wanted.items()
                if self.live_before.get(path) != value or persisted.get(path) != value]

    @property
    def changed(self) -> bool:
        return bool(self.live_changes) or self.file.changed or any(c.changed for c in self.conflict_files) \
            or bool(self.modules and self.modules.changed)

    def live_text(self, after: bool) -> str:
        lines = []
        for path, value in self.wanted.items():
            shown = value if after else self.live_before.get(path)
            lines.append("%s = %s\n" % (key_name(path), "(absent)" if shown is None else shown))
        return "".join(lines)

    def diffs(self) -> list[dict[str, str]]:
        result = [self.file.diff()]
        result.extend(change.diff() for change in self.conflict_files)
        if self.modules and self.modules.file:
            result.append(self.modules.file.diff())
        result.append({"before_header": "live values", "after_header": "live values",
                       "before": self.live_text(False), "after": self.live_text(True)})
        return result


def render_file(wanted: dict[str, str]) -> str:
    return HEADER + "".join("%s = %s\n" % (key_name(path), value) for path, value in wanted.items())


def _validate_sysctl_file(path: str) -> None:
    folder, name = os.path.split(path)
    if folder != "/etc/sysctl.d" or not name.endswith(".conf") or name == ".conf":
        raise DualstackError(
            "sysctl_file: %r is not a file directly in /etc/sysctl.d ending in .conf, the only place "
            "both systemd-sysctl and sysctl --system read it from /etc; use for example %s"
            % (path, DEFAULT_SYSCTL_FILE))


def _accept_ra(option: t.Any, own_before: str | None, root: str) -> list[str]:
    if option == "auto":
        interfaces = set()
        for dev in ra_default_route_interfaces(root):
            # 2 counts too: set live by hand, it still has to be persisted.
            if read_live("net/ipv6/conf/%s/accept_ra" % dev, root) in ("1", "2"):
                interfaces.add(dev)
        # Keep what an earlier run persisted while the interface exists, so that a route
        # that is momentarily absent (RA lifetime, link flap) does not flip the file.
        for entry in parse_sysctl_text(own_before or ""):
            parts = entry.path.split("/")
            if len(parts) == 5 and parts[:3] == ["net", "ipv6", "conf"] and parts[4] == "accept_ra" \
                    and parts[3] not in ("all", "default") and entry.value == "2" \
                    and os.path.isdir(under_root(root, PROC_SYS + "/net/ipv6/conf/" + parts[3])):
                interfaces.add(parts[3])
        return sorted(interfaces)
    if not isinstance(option, list):
        raise DualstackError(
            "accept_ra_interfaces: %r is neither 'auto' nor a list of interface names; use auto, "
            "[] or a list such as [eth0]" % (option,))
    result = []
    for name in option:
        if not isinstance(name, str) or not _IFNAME.match(name) or name in ("all", "default", ".", ".."):
            raise DualstackError(
                "accept_ra_interfaces: %r is not an interface name; list names such as eth0 or bond0.100"
                % (name,))
        if not os.path.isdir(under_root(root, PROC_SYS + "/net/ipv6/conf/" + name)):
            raise DualstackError(
                "accept_ra_interfaces: interface %r does not exist on this node (no "
                "/proc/sys/net/ipv6/conf/%s); list interfaces that exist, or use auto" % (name, name))
        if name not in result:
            result.append(name)
    return sorted(result)


def build_plan(params: dict[str, t.Any], root: str = "/") -> SysctlPlan:
    """Read the node and decide every change; raises DualstackError before anything changes."""
    sysctl_file = params.get("sysctl_file") or DEFAULT_SYSCTL_FILE
    _validate_sysctl_file(sysctl_file)
    conflicts_mode = params.get("conflicts") or "fail"
    if conflicts_mode not in ("fail", "warn", "override"):
        raise DualstackError("conflicts: %r is not one of fail, warn, override" % (conflicts_mode,))

    ipv6 = bool(params.get("ipv6_forwarding", True))
    extra = params.get("extra") or {}
    if ipv6 or any(key_path(str(k)).startswith("net/ipv6/") for k in extra):
        reason = ipv6_disabled_reason(root)
        if reason:
            raise DualstackError(reason)

    own_before = read_text(under_root(root, sysctl_file))
    wanted: dict[str, str] = {}
    interfaces: list[str] = []
    if ipv6:
        interfaces = _accept_ra(params.get("accept_ra_interfaces", "auto"), own_before, root)
        for name in interfaces:
            wanted["net/ipv6/conf/%s/accept_ra" % name] = "2"
    if params.get("ipv4_forwarding", True):
        wanted[IPV4_FORWARD] = "1"
    if ipv6:
        wanted[IPV6_FORWARD] = "1"

    modules = None
    if params.get("bridge_nf_call", True):
        modules = plan_modules(["br_netfilter"], params["modules_load_file"], root, option="bridge_nf_call")
        for path in BRIDGE_KEYS:
            wanted[path] = "1"

    managed = dict(wanted)
    for key in sorted(extra, key=str):
        if not valid_key(key):
            raise DualstackError(
                "extra: %r is not a sysctl key; write keys as sysctl prints them, e.g. "
                "net.ipv4.conf.all.rp_filter" % (key,))
        path = key_path(key)
        value = normalise_value(extra[key])
        if path in managed and managed[path] != value:
            raise DualstackError(
                "extra: %s = %s contradicts the value %s this module sets from its own options; drop "
                "it from extra or turn the option that sets it off" % (key, value, managed[path]))
        if not value:
            raise DualstackError("extra: %s has an empty value; give the value to set" % key)
        wanted[path] = value

    live_before: dict[str, str | None] = {}
    bridge_pending = modules is not None and "br_netfilter" in modules.to_load
    for path in wanted:
        live_before[path] = read_live(path, root)
        if live_before[path] is None and not (bridge_pending and path in BRIDGE_KEYS):
            raise DualstackError(
                "%s does not exist on this node (no /proc/sys/%s); drop it from extra or fix its "
                "spelling (an interface in a key must exist)" % (key_name(path), path),
                key=key_name(path))

    new_text = render_file(wanted)
    conflicts = find_conflicts(wanted, sysctl_file, root)
    conflict_files: list[FileChange] = []
    if conflicts and conflicts_mode == "fail":
        raise DualstackError(
            "files read after %s at boot would set other values: %s; remove or change those lines, "
            "or run with conflicts=override to comment them out (conflicts=warn to go on anyway)"
            % (sysctl_file, "; ".join("%s line %d sets %s = %s (wanted %s)"
                                      % (c.file, c.line, key_name(c.key), c.value, c.wanted)
                                      for c in conflicts)),
            conflicts=[c.as_dict("failed") for c in conflicts])
    if conflicts and conflicts_mode == "override":
        conflict_files = override_changes(conflicts, sysctl_file, root)
    own_file = plan_file(sysctl_file, new_text, root=root, create_folder=True)
    return SysctlPlan(wanted, live_before, own_file, conflicts, conflict_files, interfaces, modules)


def apply_plan(plan: SysctlPlan, run: t.Callable[[list[str]], tuple[int, str, str]], root: str = "/") -> None:
    """Persist, then load the bridge module, then set live values.

    Files first: a write that fails leaves the node as it was, whereas live values set before
    a failed write would be lost at the next boot with nothing saying so.
    """
    for change in [plan.file] + plan.conflict_files:
        change.apply()
    if plan.modules:
        apply_modules(plan.modules, run, root)
    apply_live(plan, root)


def apply_live(plan: SysctlPlan, root: str = "/") -> None:
    """Set the live values in the plan's order (accept_ra before forwarding)."""
    for path in plan.live_changes:
        write_live(path, plan.wanted[path], root)
