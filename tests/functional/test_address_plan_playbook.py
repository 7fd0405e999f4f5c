"""A refused address plan stops a playbook at its preflight: nothing changes on any node.

Runs tests/functional/address_plan/playbook.yml (the address_plan role, then a file
written on every node) against two lab nodes, dsplan-1 and dsplan-2 at host numbers 61
and 62, with plans from the same folder.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import typing as t

import pytest
import yaml

PREFIX = "dsplan"
FIRST_HOST_NUMBER = 61
NODE_COUNT = 2
HERE = pathlib.Path(__file__).resolve().parent / "address_plan"
MARKER = "/root/address-plan-node-ip"
PLAN_TASK = "dualstack.kubernetes.address_plan : Check the address plan and derive it"


class Run(t.NamedTuple):
    returncode: int
    tasks: t.List[t.Dict[str, t.Any]]
    stats: t.Dict[str, t.Dict[str, int]]
    stderr: str


@pytest.fixture(scope="module")
def lab(repo: pathlib.Path) -> t.Iterator[t.Tuple[pathlib.Path, t.List[str]]]:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed: the lab nodes are podman containers")
    lab_sh = str(repo / "tests" / "lab" / "lab.sh")
    try:
        up = subprocess.run([lab_sh, "up", "-n", str(NODE_COUNT), "-p", PREFIX, "-f", str(FIRST_HOST_NUMBER)],
                            capture_output=True, text=True, check=False)
        assert up.returncode == 0, f"lab.sh up failed:\n{up.stderr}"
        inventory = repo / ".lab" / f"{PREFIX}.inventory.yml"
        hosts = sorted(yaml.safe_load(inventory.read_text())["all"]["hosts"])
        assert hosts == [f"{PREFIX}-{i}" for i in range(1, NODE_COUNT + 1)]
        yield inventory, hosts
    finally:
        subprocess.run([lab_sh, "down", "-p", PREFIX], capture_output=True, text=True, check=False)


@pytest.fixture()
def nodes(lab: t.Tuple[pathlib.Path, t.List[str]]) -> t.Tuple[pathlib.Path, t.List[str]]:
    """The lab, with no marker left on any node by an earlier test."""
    for host in lab[1]:
        subprocess.run(["podman", "exec", host, "rm", "-f", MARKER], check=True)
    return lab


def playbook(repo: pathlib.Path, inventory: pathlib.Path, plan: str, *extra: str) -> Run:
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CONFIG=str(repo / "ansible.cfg"))
    result = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), "-e", f"@{HERE / plan}", *extra, str(HERE / "playbook.yml")],
        cwd=repo, env=env, capture_output=True, text=True, check=False)
    output = json.loads(result.stdout[result.stdout.index("{"):])
    tasks = [task for play in output["plays"] for task in play["tasks"]]
    return Run(result.returncode, tasks, output["stats"], result.stderr)


def marker(host: str) -> t.Optional[str]:
    found = subprocess.run(["podman", "exec", host, "cat", MARKER], capture_output=True, text=True, check=False)
    return found.stdout if found.returncode == 0 else None


def assert_stopped_at_the_preflight(run: Run, hosts: t.List[str]) -> str:
    """The plan task failed, no task ran after it, no host changed; returns the message."""
    assert run.returncode != 0
    assert run.tasks[-1]["task"]["name"] == PLAN_TASK
    assert [task["task"]["name"] for task in run.tasks].count(PLAN_TASK) == 1
    assert sorted(run.stats) == hosts
    assert all(run.stats[host]["changed"] == 0 for host in hosts), run.stats
    for host in hosts:
        assert marker(host) is None, f"{host} was changed"
    (result,) = run.tasks[-1]["hosts"].values()
    assert result["failed"] is True and result["changed"] is False
    return result["msg"]


def test_k3s_article_plan_for_two_nodes_is_refused_at_the_preflight(repo, nodes):
    inventory, hosts = nodes
    message = assert_stopped_at_the_preflight(playbook(repo, inventory, "k3s_article.yml"), hosts)
    assert message.startswith("The address plan is refused (2 problems); no host was changed:")
    # The messages name the role's variables, which is what the inventory sets.
    assert ("address_plan_pod_cidrs: 10.42.0.0/24 holds 1 node CIDR of address_plan_node_mask_ipv4 /24, "
            "but the inventory has 2 nodes") in message
    assert ("address_plan_pod_cidrs: fd45:a71:55a6:1:2:2::/96 holds 1 node CIDR of address_plan_node_mask_ipv6 /96, "
            "but the inventory has 2 nodes") in message


def test_k3s_article_plan_for_one_node_passes(repo, nodes):
    inventory, hosts = nodes
    run = playbook(repo, inventory, "k3s_article.yml", "--limit", hosts[0])
    assert run.returncode == 0, run.stderr
    assert marker(hosts[0]) == f"10.250.0.{FIRST_HOST_NUMBER},fd42:1ab:250::{FIRST_HOST_NUMBER}\n"
    assert marker(hosts[1]) is None


def test_plan_with_many_mistakes_lists_them_all_at_the_preflight(repo, nodes):
    inventory, hosts = nodes
    message = assert_stopped_at_the_preflight(playbook(repo, inventory, "broken.yml"), hosts)
    problems = re.findall(r"^- ([^:]+):", message, flags=re.MULTILINE)
    assert problems == ["address_plan_pod_cidrs[1]", "address_plan_pod_cidrs", "address_plan_service_cidrs",
                        "address_plan_feature_gates.IPv6DualStack", "address_plan_calico_ipv6_encapsulation"]
    assert "fd00:1::1/48 has host bits set" in message
    assert "10.96.0.0/16 lies inside address_plan_service_cidrs 10.96.0.0/12" in message
    assert "fd00::/96 has 32 host bits; kube-apiserver allows at most 20 (mask >= 108 for IPv6)" in message


def test_node_without_an_ipv6_address_is_refused_at_the_preflight(repo, nodes):
    inventory, hosts = nodes
    message = assert_stopped_at_the_preflight(
        playbook(repo, inventory, "kubeadm_article.yml", "-e", "address_plan_node_ipv6="), hosts)
    for host in hosts:
        assert f"- address_plan_node_ipv6 of {host}: (not set) is missing" in message


def test_accepted_plan_reaches_every_node(repo, nodes):
    inventory, hosts = nodes
    run = playbook(repo, inventory, "kubeadm_article.yml")
    assert run.returncode == 0, run.stderr
    assert all(run.stats[host]["changed"] == 1 for host in hosts), run.stats
    for number, host in enumerate(hosts, FIRST_HOST_NUMBER):
        assert marker(host) == f"10.250.0.{number},fd42:1ab:250::{number}\n"
    table = next(task for task in run.tasks if task["task"]["name"].endswith("Show the address plan"))
    (shown,) = table["hosts"].values()
    assert shown["msg"][0] == "kubeadm 1.31.2, Calico 3.30.7, primary family ipv4"
    # The plan is computed once per run: the second play's role finds it current on every host
    # and skips the check (a run_once task, so one host reports for all).
    first, again = [task["hosts"] for task in run.tasks if task["task"]["name"] == PLAN_TASK]
    assert len(first) == 1 and not any(result.get("skipped") for result in first.values())
    assert len(again) == 1 and all(result.get("skipped") for result in again.values()), again


def test_article_plans_are_the_seeds_values(shared):
    """The plans above and in the unit tests carry the articles' own numbers."""
    kubeadm = next((shared / "seeds").glob("000_*.txt")).read_text(encoding="utf-8")
    assert '--pod-network-cidr="10.244.0.0/16,fd00:1::/48"' in kubeadm
    assert '--service-cidr="10.96.0.0/12,fd00::/108"' in kubeadm
    k3s = next((shared / "seeds").glob("003_*.txt")).read_text(encoding="utf-8")
    plan = yaml.safe_load((HERE / "k3s_article.yml").read_text())
    assert f"cluster-cidr={','.join(plan['address_plan_pod_cidrs'])}" in k3s
    assert f"service-cluster-ip-range={','.join(plan['address_plan_service_cidrs'])}" in k3s
    assert f"node-cidr-mask-size-ipv4={plan['address_plan_node_mask_ipv4']}" in k3s
    assert f"node-cidr-mask-size-ipv6={plan['address_plan_node_mask_ipv6']}" in k3s
    assert f"version: {plan['address_plan_kubernetes_version']}" in k3s
