# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The leftovers of a stopped cluster, against a node kept in memory: ip, ipset and nft answer
from its state and change it, /proc is a folder of the test's."""
from __future__ import annotations

import json
import pathlib
import signal
import typing as t

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import cluster_leftovers as cl
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError

SHIM = "/var/lib/rancher/k3s/data/4a8b9c/bin/containerd-shim-runc-v2"


class Node:
    """A node's devices, namespaces, IP sets and tables, as the tools report and change them."""

    def __init__(self, tmp_path: pathlib.Path) -> None:
        self.links = [{"ifname": "lo"}, {"ifname": "eth0"}, {"ifname": "cni0"},
                      {"ifname": "veth1a2b", "master": "cni0"}, {"ifname": "flannel.1"}, {"ifname": "flannel-v6.1"},
                      {"ifname": "cali0123456789a"}, {"ifname": "vxlan.calico"}, {"ifname": "vxlan-v6.calico"},
                      {"ifname": "tunl0"}, {"ifname": "calico-site"}, {"ifname": "docker0"}]
        self.tunnel = {"addr_info": [{"local": "10.42.7.0"}], "flags": ["NOARP", "UP"]}
        self.ipsets = ["cali40all-ipam-pools", "cali60all-hosts-net", "KUBE-CLUSTER-IP", "site-allow"]
        self.tables = ["table inet filter", "table ip kube-proxy", "table ip6 kube-proxy"]
        self.netns = tmp_path / "netns"
        self.netns.mkdir()
        for name in ("cni-1111", "cni-2222", "site-ns"):
            (self.netns / name).write_text("")
        self.calls: t.List[t.List[str]] = []

    def run(self, argv: t.List[str]) -> t.Tuple[int, str, str]:
        self.calls.append(argv)
        tool, args = argv[0].rsplit("/", 1)[-1], argv[1:]
        if tool == "ip" and args == ["-j", "link", "show"]:
            return 0, json.dumps(self.links), ""
        if tool == "ip" and args[:3] == ["-j", "addr", "show"]:
            return 0, json.dumps([self.tunnel]), ""
        if tool == "ip" and args[:2] == ["link", "delete"]:
            if args[2] == "tunl0":
                return 2, "", "RTNETLINK answers: Operation not permitted"
            self.links = [link for link in self.links if link["ifname"] != args[2]]
            return 0, "", ""
        if tool == "ip" and args[:2] == ["addr", "flush"]:
            self.tunnel["addr_info"] = []
            return 0, "", ""
        if tool == "ip" and args[:2] == ["link", "set"]:
            self.tunnel["flags"] = ["NOARP"]
            return 0, "", ""
        if tool == "ip" and args[:2] == ["netns", "delete"]:
            (self.netns / args[2]).unlink()
            return 0, "", ""
        if tool == "ipset" and args == ["list", "-n"]:
            return 0, "".join(name + "\n" for name in self.ipsets), ""
        if tool == "ipset" and args[0] == "destroy":
            self.ipsets.remove(args[1])
            return 0, "", ""
        if tool == "nft" and args == ["list", "tables"]:
            return 0, "".join(line + "\n" for line in self.tables), ""
        if tool == "nft" and args[:2] == ["delete", "table"]:
            self.tables.remove("table " + " ".join(args[2:]))
            return 0, "", ""
        raise AssertionError(f"unexpected command {argv}")


def proc_tree(tmp_path: pathlib.Path, processes: t.Sequence[t.Tuple[int, int, str]]) -> pathlib.Path:
    proc = tmp_path / "proc"
    for pid, ppid, command in processes:
        folder = proc / str(pid)
        folder.mkdir(parents=True)
        (folder / "stat").write_text(f"{pid} (name with ) paren) S {ppid} 1 1 0 -1\n")
        (folder / "cmdline").write_bytes(command.replace(" ", "\0").encode() + b"\0")
    (proc / "self").mkdir(exist_ok=True)
    return proc


PROCESSES = [(1, 0, "/sbin/init"), (200, 1, "/usr/local/bin/k3s agent"),
             (300, 1, SHIM + " -namespace k8s.io -id abc -address /run/k3s/containerd/containerd.sock"),
             (301, 300, "/pause"), (302, 300, "/usr/bin/calico-node -felix"), (303, 302, "sh -c sleep 1000"),
             (400, 1, "/usr/bin/containerd-shim-runc-v2 -namespace moby"), (500, 1, "grep containerd-shim")]


def clean(node: Node, tmp_path: pathlib.Path, check_mode: bool = False, **options: t.Any) -> cl.Leftovers:
    killed: t.List[int] = options.pop("killed", [])
    proc = options.pop("proc", None) or proc_tree(tmp_path, PROCESSES)
    return cl.clean(node.run, lambda name: "/usr/sbin/" + name, check_mode=check_mode, proc=str(proc),
                    netns_dir=str(node.netns), kill=lambda pid, sig: killed.append(pid),
                    alive=lambda pid: False, **options)


def test_everything_of_the_cluster_goes_and_nothing_else(tmp_path: pathlib.Path) -> None:
    node = Node(tmp_path)
    killed: t.List[int] = []
    result = clean(node, tmp_path, killed=killed)
    assert killed == [300, 301, 302, 303]
    assert [entry.split()[0] for entry in result.processes] == ["300", "301", "302", "303"]
    assert result.netns == ["cni-1111", "cni-2222"] and sorted(p.name for p in node.netns.iterdir()) == ["site-ns"]
    assert result.interfaces[:2] == ["veth1a2b", "cni0"]
    assert [link["ifname"] for link in node.links] == ["lo", "eth0", "tunl0", "calico-site", "docker0"]
    assert any(entry.startswith("tunl0 (addresses flushed") for entry in result.interfaces)
    assert node.tunnel == {"addr_info": [], "flags": ["NOARP"]}
    assert result.ipsets == ["cali40all-ipam-pools", "cali60all-hosts-net", "KUBE-CLUSTER-IP"]
    assert node.ipsets == ["site-allow"]
    assert result.nft_tables == ["ip kube-proxy", "ip6 kube-proxy"] and node.tables == ["table inet filter"]
    assert result.changed and result.skipped == {}


def test_a_second_run_finds_nothing(tmp_path: pathlib.Path) -> None:
    node = Node(tmp_path)
    clean(node, tmp_path)
    again = clean(node, tmp_path / "again", proc=proc_tree(tmp_path / "again", PROCESSES[:2]))
    assert not again.changed and again.as_result()["changed"] is False


def test_check_mode_reports_and_changes_nothing(tmp_path: pathlib.Path) -> None:
    node = Node(tmp_path)
    links, ipsets, tables = list(node.links), list(node.ipsets), list(node.tables)
    killed: t.List[int] = []
    result = clean(node, tmp_path, check_mode=True, killed=killed)
    assert result.changed and killed == []
    assert len(result.processes) == 4 and len(result.ipsets) == 3 and len(result.netns) == 2
    assert node.links == links and node.ipsets == ipsets and node.tables == tables
    assert len(list(node.netns.iterdir())) == 3
    assert all(call[1:3] in (["-j", "link"], ["-j", "addr"], ["list", "-n"], ["list", "tables"]) for call in node.calls)


def test_missing_tools_are_skipped_by_name(tmp_path: pathlib.Path) -> None:
    node = Node(tmp_path)
    result = cl.clean(node.run, lambda name: "/usr/sbin/ip" if name == "ip" else None,
                      proc=str(proc_tree(tmp_path, PROCESSES[:1])), netns_dir=str(node.netns))
    assert set(result.skipped) == {"ipsets", "nft_tables"}
    assert node.ipsets and len(node.tables) == 3


def test_a_set_still_in_use_names_the_fix(tmp_path: pathlib.Path) -> None:
    node = Node(tmp_path)
    original = node.run

    def busy(argv: t.List[str]) -> t.Tuple[int, str, str]:
        if argv[1:2] == ["destroy"]:
            return 1, "", "ipset v7.17: Set cannot be destroyed: it is in use by a kernel component"
        return original(argv)
    node.run = busy  # type: ignore[method-assign]
    with pytest.raises(DualstackError, match="firewall_chains"):
        clean(node, tmp_path)


def test_a_process_that_does_not_end_is_an_error(tmp_path: pathlib.Path) -> None:
    found = cl.shim_trees(cl.read_processes(str(proc_tree(tmp_path, PROCESSES))), cl.DEFAULT_DATA_DIR, own_pid=1)
    signals: t.List[t.Tuple[int, int]] = []
    with pytest.raises(DualstackError, match="did not end after SIGKILL"):
        cl.kill_trees(found, lambda pid, sig: signals.append((pid, sig)), alive=lambda pid: pid == 302,
                      wait_seconds=0.2)
    assert signals == [(pid, signal.SIGKILL) for pid in (300, 301, 302, 303)]


def test_another_data_dir_is_matched_exactly(tmp_path: pathlib.Path) -> None:
    processes = cl.read_processes(str(proc_tree(tmp_path, PROCESSES + [(600, 1, "/srv/k3s/data/x/bin/containerd-shim-runc-v2")])))
    assert [p.pid for p in cl.shim_trees(processes, "/srv/k3s/", own_pid=0)] == [600]


@pytest.mark.parametrize("options, words", [
    ({"interface_pattern": "(cali"}, "interface_pattern '\\(cali' is not a regular expression"),
    ({"nft_tables": ["kube-proxy"]}, "write each as '<family> <name>'"),
])
def test_bad_options_are_refused_before_anything_changes(tmp_path: pathlib.Path, options: t.Dict[str, t.Any],
                                                         words: str) -> None:
    node = Node(tmp_path)
    with pytest.raises(DualstackError, match=words):
        clean(node, tmp_path, **options)
    assert node.calls == []
