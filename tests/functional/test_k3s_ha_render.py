# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Three k3s servers and an agent behind the plan's API endpoint, rendered by the k3s_server and
k3s_agent roles themselves, as site.yml renders them for plan.yml: the first server gets
``cluster-init``, the other two join through the endpoint, every server's certificate names both
virtual IPs, the agent joins through the endpoint, and the joining servers come after the first.

The plan is the address_plan role's own, with both virtual IPs given as
``address_plan_api_vips``; the roles then find a plan of the same inputs and do not compute it
again.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
SERVERS = {"s1": 31, "s2": 32, "s3": 33}
AGENTS = {"a1": 41}
VIPS = ["192.0.2.10", "2001:db8:0:2::10"]


@pytest.fixture(scope="module", autouse=True)
def needs_ansible() -> None:
    if shutil.which("ansible-playbook") is None:
        pytest.skip("ansible-playbook is not on PATH: source tests/env.sh first")


def inventory(version: str) -> dict:
    def hosts(numbers: dict) -> dict:
        return {name: {"address_plan_node_ipv4": "192.0.2.%d" % n, "address_plan_node_ipv6": "2001:db8:0:2::%d" % n}
                for name, n in numbers.items()}
    return {"all": {
        "vars": {
            "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "address_plan_node_cidrs": ["192.0.2.0/24", "2001:db8:0:2::/64"],
            "address_plan_pod_cidrs": ["10.42.0.0/16", "fd7a:3c41:5e02:4200::/56"],
            "address_plan_service_cidrs": ["10.43.0.0/16", "fd7a:3c41:5e02:4300::/112"],
            "address_plan_distribution": "k3s", "address_plan_kubernetes_version": version,
            "address_plan_calico_version": "3.30.7",
            "address_plan_api_vips": VIPS,
        },
        "children": {"k3s_servers": {"hosts": hosts(SERVERS)}, "k3s_agents": {"hosts": hosts(AGENTS)}},
    }}


def playbook(out: pathlib.Path) -> list:
    render = "%s/{{ inventory_hostname }}/config.yaml" % out
    return [
        {"name": "The address plan, with the API endpoint of the servers",
         "hosts": "k3s_servers:k3s_agents", "gather_facts": False,
         "tasks": [
             {"name": "Plan", "ansible.builtin.include_role": {"name": "dualstack.kubernetes.address_plan"},
              "vars": {"address_plan_node_hosts": "{{ groups['k3s_servers'] + groups['k3s_agents'] }}"}},
         ]},
        {"name": "Servers", "hosts": "k3s_servers", "gather_facts": False,
         "tasks": [{"name": "Render the servers", "ansible.builtin.include_role": {"name": "dualstack.kubernetes.k3s_server"},
                    "vars": {"k3s_server_render_path": render, "k3s_server_prerequisites": False}}]},
        {"name": "Agents", "hosts": "k3s_agents", "gather_facts": False,
         "tasks": [{"name": "Render the agents", "ansible.builtin.include_role": {"name": "dualstack.kubernetes.k3s_agent"},
                    "vars": {"k3s_agent_render_path": render, "k3s_agent_prerequisites": False}}]},
    ]


def run(tmp: pathlib.Path, version: str) -> subprocess.CompletedProcess:
    (tmp / "inventory.json").write_text(json.dumps(inventory(version)))
    (tmp / "play.yml").write_text(yaml.safe_dump(playbook(tmp / "render"), sort_keys=False))
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    return subprocess.run(["ansible-playbook", "-i", str(tmp / "inventory.json"), str(tmp / "play.yml")],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False)


def recap(stdout: str) -> dict:
    return {host: int(changed) for host, changed in re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", stdout, re.M)}


def test_three_servers_render_one_cluster_init_and_two_joins(tmp_path: pathlib.Path) -> None:
    first = run(tmp_path, "v1.31.2+k3s1")
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-2000:]
    configs = {host: yaml.safe_load((tmp_path / "render" / host / "config.yaml").read_text())
               for host in list(SERVERS) + list(AGENTS)}

    assert [host for host in SERVERS if configs[host].get("cluster-init") is True] == ["s1"]
    assert "server" not in configs["s1"]
    for host in ("s2", "s3"):
        assert configs[host]["server"] == "https://192.0.2.10:6443", host
        assert "cluster-init" not in configs[host]
    for host, number in SERVERS.items():
        assert configs[host]["tls-san"] == ["192.0.2.%d" % number, "2001:db8:0:2::%d" % number] + VIPS, host
        assert configs[host]["node-ip"] == "192.0.2.%d,2001:db8:0:2::%d" % (number, number)
    assert configs["a1"]["server"] == "https://192.0.2.10:6443"
    assert configs["a1"]["node-ip"] == "192.0.2.41,2001:db8:0:2::41"
    # Three servers: a quorum that survives one failure, nothing to warn about.
    assert "an even number" not in first.stdout

    # The server that initialises etcd is set up before those that join it.
    includes = re.findall(r"^included: \S+/roles/k3s_server/tasks/install\.yml for (.+)$", first.stdout, re.M)
    assert [sorted(h.strip() for h in line.split(",")) for line in includes] == [["s1"], ["s2", "s3"]], includes

    again = run(tmp_path, "v1.31.2+k3s1")
    assert again.returncode == 0, again.stdout[-4000:]
    assert set(recap(again.stdout).values()) == {0}, recap(again.stdout)


def test_a_release_without_usable_dual_stack_etcd_is_refused_before_any_file(tmp_path: pathlib.Path) -> None:
    result = run(tmp_path, "v1.22.17+k3s1")
    assert result.returncode != 0
    assert "k3s_server_version: v1.22.17+k3s1 predates v1.23.7+k3s1" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "render").exists() or not any((tmp_path / "render").rglob("config.yaml"))
