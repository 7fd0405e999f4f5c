# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a cluster leaves on a node once its services are stopped, found and removed (stdlib only).

Stopping k3s does not stop the containers it started: their containerd shims run on, and so do
the network devices, namespaces and IP sets of the CNI and of kube-proxy. k3s's own cleanup,
the k3s-killall.sh that install.sh writes (k3s-io/k3s install.sh, create_killall, at commit
0136cf25), kills every process tree whose command line names a containerd-shim under
``<data dir>/data/<hash>/bin/``, deletes the CNI network namespaces (``cni-*``), the veths
enslaved to cni0 and the devices cni0, flannel.1, flannel-v6.1, kube-ipvs0, flannel-wg and
flannel-wg-v6. A Calico node has its own: vxlan.calico and vxlan-v6.calico, wireguard.cali
and wg-v6.cali (projectcalico/calico felix/dataplane/linux/dataplanedefs/dataplane_defs.go),
tunl0 for IPIP, the host ends of the pods' veths, named cali and 11 hex digits of a SHA-1
(libcalico-go lib/converter VethNameForWorkload), and IP sets named
cali... (felix/ipsets, IPSetNamePrefix "cali"). kube-proxy's IPVS mode keeps IP sets named
KUBE-... (kubernetes pkg/proxy/ipvs/ipset.go) and its nftables mode one table named
kube-proxy per family (pkg/proxy/nftables/proxier.go, kubeProxyTable).

The iptables and ip6tables chains are firewall_chains' work and must go first: the kernel
refuses to destroy an IP set a rule still uses.

tunl0 is the kernel's fallback IPIP device: it exists while the ipip module is loaded and
cannot be deleted, so it is taken down and stripped of the address Calico gave it instead.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
import typing as t
from dataclasses import dataclass, field

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError

DEFAULT_DATA_DIR = "/var/lib/rancher/k3s"
DEFAULT_INTERFACES = ("cni0", "flannel.1", "flannel-v6.1", "kube-ipvs0", "flannel-wg", "flannel-wg-v6",
                      "vxlan.calico", "vxlan-v6.calico", "wireguard.cali", "wg-v6.cali", "tunl0")
DEFAULT_INTERFACE_PATTERN = r"^cali[0-9a-f]{11}$"
DEFAULT_IPSET_PATTERN = r"^(cali|KUBE-)"
DEFAULT_NETNS_PATTERN = r"^cni-"
DEFAULT_NFT_TABLES = ("ip kube-proxy", "ip6 kube-proxy")
# The device CNI's bridge plugin enslaves the pods' veths to (k3s-killall.sh deletes them first).
CNI_BRIDGE = "cni0"
# The fallback IPIP device: it cannot be deleted, only emptied.
FALLBACK_TUNNEL = "tunl0"

Runner = t.Callable[[t.List[str]], t.Tuple[int, str, str]]


@dataclass
class Process:
    pid: int
    ppid: int
    command: str


@dataclass
class Leftovers:
    """What was (or in check mode would be) removed, and what could not be looked at."""
    processes: t.List[str] = field(default_factory=list)
    netns: t.List[str] = field(default_factory=list)
    interfaces: t.List[str] = field(default_factory=list)
    ipsets: t.List[str] = field(default_factory=list)
    nft_tables: t.List[str] = field(default_factory=list)
    skipped: t.Dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.processes or self.netns or self.interfaces or self.ipsets or self.nft_tables)

    def as_result(self) -> t.Dict[str, t.Any]:
        return {"changed": self.changed, "processes": self.processes, "netns": self.netns,
                "interfaces": self.interfaces, "ipsets": self.ipsets, "nft_tables": self.nft_tables,
                "skipped": self.skipped}


def compile_pattern(option: str, pattern: str) -> t.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise DualstackError("%s %r is not a regular expression (%s): give a Python regular expression such as %r"
                             % (option, pattern, exc, {"interface_pattern": DEFAULT_INTERFACE_PATTERN,
                                                       "ipset_pattern": DEFAULT_IPSET_PATTERN,
                                                       "netns_pattern": DEFAULT_NETNS_PATTERN}.get(option, "^cali")),
                             **{option: pattern}) from None


# ---------------------------------------------------------------------------------------
# Processes

def read_processes(proc: str = "/proc") -> t.List[Process]:
    """Every process with its parent and command line; one that ends while being read is left out."""
    found = []
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "stat"), "rb") as handle:
                stat = handle.read().decode("utf-8", "replace")
            with open(os.path.join(proc, name, "cmdline"), "rb") as handle:
                cmdline = handle.read().decode("utf-8", "replace")
        except OSError:
            continue
        # The command name in parentheses may itself hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) < 2:
            continue
        found.append(Process(int(name), int(fields[1]), " ".join(part for part in cmdline.split("\0") if part)))
    return found


def shim_pattern(data_dir: str) -> t.Pattern[str]:
    """k3s-killall.sh's match: a containerd-shim of one of k3s's unpacked data folders."""
    return re.compile(r"(^|\s)" + re.escape(data_dir.rstrip("/")) + r"/data/[^/\s]*/bin/containerd-shim")


def shim_trees(processes: t.Sequence[Process], data_dir: str, own_pid: int) -> t.List[Process]:
    """The shims of k3s and every process below them (the containers), parents first."""
    pattern = shim_pattern(data_dir)
    children: t.Dict[int, t.List[Process]] = {}
    for process in processes:
        children.setdefault(process.ppid, []).append(process)
    found: t.List[Process] = []
    seen = set()
    queue = [process for process in processes if pattern.search(process.command)]
    while queue:
        process = queue.pop(0)
        if process.pid in seen or process.pid == own_pid:
            continue
        seen.add(process.pid)
        found.append(process)
        queue.extend(children.get(process.pid, []))
    return found


def kill_trees(found: t.Sequence[Process], kill: t.Callable[[int, int], None],
               alive: t.Callable[[int], bool], wait_seconds: float = 10.0) -> t.List[str]:
    """SIGKILL every process found and wait until each has gone; one that stays is an error."""
    for process in found:
        try:
            kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + wait_seconds
    remaining = [process for process in found if alive(process.pid)]
    while remaining and time.monotonic() < deadline:
        time.sleep(0.1)
        remaining = [process for process in remaining if alive(process.pid)]
    if remaining:
        raise DualstackError(
            "processes %s did not end after SIGKILL within %ds (a process in uninterruptible sleep, D state, waits "
            "for its I/O): check them with ps -o pid,stat,args and run the reset again"
            % (", ".join("%d (%s)" % (p.pid, p.command[:80]) for p in remaining), int(wait_seconds)))
    return ["%d %s" % (process.pid, process.command) for process in found]


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting for its parent."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            stat = handle.read().decode("utf-8", "replace")
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2:].split()
    return bool(fields) and fields[0] != "Z"


# ---------------------------------------------------------------------------------------
# Network devices, namespaces, IP sets, nftables tables

def read_links(run: Runner, ip: str) -> t.List[t.Dict[str, t.Any]]:
    """``ip -j link show``: every device with its name and the device it is enslaved to."""
    rc, out, err = run([ip, "-j", "link", "show"])
    if rc != 0:
        raise DualstackError("ip -j link show failed (rc %d): %s; the node's devices could not be read" % (rc, err.strip()))
    try:
        links = json.loads(out or "[]")
    except ValueError as exc:
        raise DualstackError("ip -j link show gave no JSON (%s): iproute2 4.14 or later is needed" % exc) from None
    return [link for link in links if isinstance(link, dict) and link.get("ifname")]


def cluster_links(links: t.Sequence[t.Mapping[str, t.Any]], names: t.Sequence[str],
                  pattern: t.Pattern[str]) -> t.List[str]:
    """The cluster's devices, those enslaved to cni0 first, then in the order ``ip`` lists them."""
    enslaved = [str(link["ifname"]) for link in links if link.get("master") == CNI_BRIDGE]
    own = [str(link["ifname"]) for link in links
           if str(link["ifname"]) in names or pattern.search(str(link["ifname"]))]
    return enslaved + [name for name in own if name not in enslaved]


def _tunnel_in_use(run: Runner, ip: str) -> bool:
    rc, out, _err = run([ip, "-j", "addr", "show", "dev", FALLBACK_TUNNEL])
    if rc != 0:
        return False
    try:
        entries = json.loads(out or "[]")
    except ValueError:
        return False
    for entry in entries:
        if entry.get("addr_info") or "UP" in (entry.get("flags") or []):
            return True
    return False


def remove_links(run: Runner, ip: str, found: t.Sequence[str], check_mode: bool) -> t.List[str]:
    removed = []
    for name in found:
        if name == FALLBACK_TUNNEL:
            if not _tunnel_in_use(run, ip):
                continue
            if not check_mode:
                for argv in ([ip, "addr", "flush", "dev", name], [ip, "link", "set", name, "down"]):
                    rc, _out, err = run(argv)
                    if rc != 0:
                        raise DualstackError("%s failed (rc %d): %s" % (" ".join(argv), rc, err.strip()))
            removed.append(name + " (addresses flushed, set down: the fallback tunnel cannot be deleted)")
            continue
        if not check_mode:
            rc, _out, err = run([ip, "link", "delete", name])
            # A veth goes with its peer: deleting one end may already have removed this one.
            if rc != 0 and "Cannot find device" not in err:
                raise DualstackError("ip link delete %s failed (rc %d): %s; the device stays" % (name, rc, err.strip()))
        removed.append(name)
    return removed


def remove_netns(run: Runner, ip: str, netns_dir: str, pattern: t.Pattern[str], check_mode: bool) -> t.List[str]:
    try:
        names = sorted(name for name in os.listdir(netns_dir) if pattern.search(name))
    except FileNotFoundError:
        return []
    for name in names if not check_mode else ():
        rc, _out, err = run([ip, "netns", "delete", name])
        if rc != 0:
            raise DualstackError("ip netns delete %s failed (rc %d): %s" % (name, rc, err.strip()))
    return names


def remove_ipsets(run: Runner, ipset: str, pattern: t.Pattern[str], check_mode: bool) -> t.List[str]:
    rc, out, err = run([ipset, "list", "-n"])
    if rc != 0:
        raise DualstackError("ipset list -n failed (rc %d): %s" % (rc, err.strip()))
    names = [name.strip() for name in out.splitlines() if name.strip() and pattern.search(name.strip())]
    for name in names if not check_mode else ():
        rc, _out, err = run([ipset, "destroy", name])
        if rc != 0:
            raise DualstackError(
                "ipset destroy %s failed (rc %d): %s; a rule that still uses the set keeps it: remove the cluster's "
                "iptables chains first (dualstack.kubernetes.firewall_chains)" % (name, rc, err.strip()))
    return names


def remove_nft_tables(run: Runner, nft: str, wanted: t.Sequence[str], check_mode: bool) -> t.List[str]:
    rc, out, err = run([nft, "list", "tables"])
    if rc != 0:
        raise DualstackError("nft list tables failed (rc %d): %s" % (rc, err.strip()))
    present = {" ".join(line.split()[1:3]) for line in out.splitlines() if line.startswith("table ")}
    found = [table for table in wanted if " ".join(table.split()) in present]
    for table in found if not check_mode else ():
        rc, _out, err = run([nft, "delete", "table"] + table.split())
        if rc != 0:
            raise DualstackError("nft delete table %s failed (rc %d): %s" % (table, rc, err.strip()))
    return found


def clean(run: Runner, find_tool: t.Callable[[str], t.Optional[str]], *, data_dir: str = DEFAULT_DATA_DIR,
          interfaces: t.Sequence[str] = DEFAULT_INTERFACES, interface_pattern: str = DEFAULT_INTERFACE_PATTERN,
          ipset_pattern: str = DEFAULT_IPSET_PATTERN, netns_pattern: str = DEFAULT_NETNS_PATTERN,
          nft_tables: t.Sequence[str] = DEFAULT_NFT_TABLES, check_mode: bool = False,
          proc: str = "/proc", netns_dir: str = "/run/netns",
          kill: t.Callable[[int, int], None] = os.kill, alive: t.Callable[[int], bool] = _alive) -> Leftovers:
    """Kill k3s's shims and their containers, then remove the namespaces, devices, IP sets and
    nftables tables of the cluster; a tool that is not installed skips its part, named in ``skipped``."""
    matchers = {option: compile_pattern(option, pattern) for option, pattern in (
        ("interface_pattern", interface_pattern), ("ipset_pattern", ipset_pattern), ("netns_pattern", netns_pattern))}
    for table in nft_tables:
        if len(table.split()) != 2 or table.split()[0] not in ("ip", "ip6", "inet", "arp", "bridge", "netdev"):
            raise DualstackError("nft_tables holds %r: write each as '<family> <name>', e.g. 'ip kube-proxy'" % table,
                                 nft_tables=list(nft_tables))
    result = Leftovers()
    found = shim_trees(read_processes(proc), data_dir, os.getpid())
    result.processes = (["%d %s" % (p.pid, p.command) for p in found] if check_mode
                        else kill_trees(found, kill, alive))
    ip = find_tool("ip")
    if ip is None:
        result.skipped["netns"] = result.skipped["interfaces"] = "ip (iproute2) is not installed"
    else:
        result.netns = remove_netns(run, ip, netns_dir, matchers["netns_pattern"], check_mode)
        result.interfaces = remove_links(run, ip, cluster_links(read_links(run, ip), interfaces,
                                                                matchers["interface_pattern"]), check_mode)
    ipset = find_tool("ipset")
    if ipset is None:
        result.skipped["ipsets"] = "ipset is not installed (so no IP set can have been made on this node)"
    else:
        result.ipsets = remove_ipsets(run, ipset, matchers["ipset_pattern"], check_mode)
    nft = find_tool("nft") if nft_tables else None
    if nft_tables and nft is None:
        result.skipped["nft_tables"] = "nft is not installed"
    elif nft is not None:
        result.nft_tables = remove_nft_tables(run, nft, nft_tables, check_mode)
    return result
