# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's planned labels and taints as k3s's node-label and node-taint."""
from __future__ import annotations

import pytest
import yaml

from ansible_collections.dualstack.kubernetes.plugins.module_utils import address_plan as ap
from ansible_collections.dualstack.kubernetes.plugins.module_utils import k3s_config
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError

VERSION = "v1.31.2+k3s1"


def plan(labels=None, taints=None):
    params = {
        "pod_cidrs": ["10.42.0.0/16", "fd00:42::/56"], "service_cidrs": ["10.43.0.0/16", "fd00:43::/112"],
        "nodes": [{"name": "server", "ipv4": "10.250.0.51", "ipv6": "fd42:1ab:250::51"},
                  {"name": "agent", "ipv4": "10.250.0.52", "ipv6": "fd42:1ab:250::52",
                   "labels": labels or {}, "taints": taints or []}],
        "distribution": "k3s", "kubernetes_version": VERSION, "calico_version": "3.30.7",
    }
    return ap.build_plan(params)


def test_the_agent_gets_its_labels_and_taints_and_the_file_reads_back() -> None:
    fact = plan({"example.com/rack": "r1", "disk": "ssd"}, ["example.com/gpu=true:NoSchedule", "spot:PreferNoSchedule"])
    config = k3s_config.agent_config(fact, "agent", "server", VERSION)["config"]
    assert config["node-label"] == ["disk=ssd", "example.com/rack=r1"]
    assert config["node-taint"] == ["example.com/gpu=true:NoSchedule", "spot:PreferNoSchedule"]
    assert yaml.safe_load(k3s_config.config_yaml(config))["node-label"] == ["disk=ssd", "example.com/rack=r1"]
    server = k3s_config.server_config(fact, "server", VERSION)["config"]
    assert "node-label" not in server and "node-taint" not in server


def test_a_server_gets_them_too() -> None:
    params_plan = plan()
    params_plan["nodes"]["server"]["labels"] = {"tier": "control"}
    params_plan["nodes"]["server"]["taints"] = [{"key": "tier", "value": "control", "effect": "NoExecute"}]
    config = k3s_config.server_config(params_plan, "server", VERSION)["config"]
    assert config["node-label"] == ["tier=control"] and config["node-taint"] == ["tier=control:NoExecute"]


@pytest.mark.parametrize("key", ["node-label", "node-label+"])
def test_extra_config_beside_planned_labels_is_refused(key: str) -> None:
    with pytest.raises(DualstackError) as caught:
        k3s_config.agent_config(plan({"a": "b"}), "agent", "server", VERSION, extra_config={key: ["c=d"]})
    message = str(caught.value)
    assert message.startswith("k3s_agent_extra_config.node-label: [c=d] sets the node's labels")
    assert "address_plan_node_labels of agent" in message


def test_extra_config_without_planned_labels_stays() -> None:
    config = k3s_config.agent_config(plan(), "agent", "server", VERSION, extra_config={"node-label": ["c=d"]})["config"]
    assert config["node-label"] == ["c=d"]
