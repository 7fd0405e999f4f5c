# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The k3s article's v1.21 plan holds one node: with an agent added, the preflight refuses it
before any host is touched (the run is in check mode against local-connection hosts)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PLAN = {
    "address_plan_distribution": "k3s",
    "address_plan_kubernetes_version": "v1.21.4+k3s1",
    "address_plan_pod_cidrs": ["10.42.0.0/24", "fd45:a71:55a6:1:2:2::/96"],
    "address_plan_service_cidrs": ["10.43.0.0/16", "fd45:a71:55a6:1:2:1::/116"],
    "address_plan_node_mask_ipv4": 24,
    "address_plan_node_mask_ipv6": 96,
    "address_plan_calico_version": "3.15.1",
    "k3s_server_token": "K10articletoken::server:0a1b2c",
    "k3s_server_binary_sha256": "0" * 64,
    "k3s_server_kubeconfig_path": "",
    "k3s_server_disable": ["servicelb"],
    "k3s_server_feature_gates": {"IPv6DualStack": True},
}

PLAYBOOK = """---
- name: Article server
  hosts: k3s_servers
  gather_facts: false
  roles:
    - dualstack.kubernetes.k3s_server
- name: Article agent
  hosts: k3s_agents
  gather_facts: false
  roles:
    - dualstack.kubernetes.k3s_agent
"""


def inventory(hosts: dict, plan: dict = None) -> dict:
    groups = {}
    number = 15
    for group, names in hosts.items():
        groups[group] = {"hosts": {}}
        for name in names:
            groups[group]["hosts"][name] = {
                "ansible_connection": "local",
                "ansible_python_interpreter": os.environ.get("VIRTUAL_ENV", "/usr") + "/bin/python",
                "address_plan_node_ipv4": "192.168.0.%d" % number,
                "address_plan_node_ipv6": "fd45:a71:55a6:1::%d" % number,
            }
            number += 1
    return {"all": {"vars": PLAN if plan is None else plan, "children": groups}}


@pytest.fixture(name="play")
def fixture_play(tmp_path):
    if not (REPO / "roles" / "address_plan").is_dir():
        pytest.skip("the address_plan role (the preflight these roles start with) is not in the collection yet")

    def play(hosts: dict, plan: dict = None) -> subprocess.CompletedProcess:
        inv = tmp_path / "inventory.json"
        inv.write_text(json.dumps(inventory(hosts, plan)), encoding="utf-8")
        book = tmp_path / "site.yml"
        book.write_text(PLAYBOOK, encoding="utf-8")
        return subprocess.run(
            ["ansible-playbook", "--check", "-i", str(inv), str(book)],
            capture_output=True, text=True, timeout=300, check=False, cwd=REPO)
    return play


def test_article_plan_with_an_agent_is_refused_before_any_change(play):
    result = play({"k3s_servers": ["article-server"], "k3s_agents": ["article-agent"]})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    # Refused in the preflight: nothing got as far as the binary.
    assert "Install the k3s binary" not in output
    # The reason: the article's /96 with node mask /96 holds one node CIDR, not two.
    assert "fd45:a71:55a6:1:2:2::/96" in output
    assert "2 nodes" in output
    assert PLAN["k3s_server_token"] not in output


def test_release_without_a_recorded_checksum_is_refused_before_any_change(play):
    # The collection records no sha256 for v1.21.4+k3s1: without one of the user's, nothing
    # may be downloaded, and the run stops before the node is prepared.
    plan = {key: value for key, value in PLAN.items() if key != "k3s_server_binary_sha256"}
    plan["address_plan_pod_cidrs"] = ["10.42.0.0/16", "fd45:a71:55a6:1:2:2::/96"]
    plan["address_plan_node_mask_ipv6"] = 112
    result = play({"k3s_servers": ["article-server"]}, plan)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "k3s_server_binary_sha256 is \"\"" in " ".join(output.split()), output[-3000:]
    assert "v1.21.4+k3s1" in output and "sha256sum-amd64.txt" in output
    assert "Prepare the node" not in output
