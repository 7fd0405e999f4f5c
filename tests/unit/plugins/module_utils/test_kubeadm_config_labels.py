# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's planned labels and taints in kubeadm's nodeRegistration, per config API."""
from __future__ import annotations

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import address_plan as ap
from ansible_collections.dualstack.kubernetes.plugins.module_utils import kubeadm_config as kc
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils import article_plans

TOKEN = "abcdef.0123456789abcdef"
HASH = "sha256:" + "0" * 64
LABELS = {"example.com/rack": "r1", "disk": "ssd"}
TAINTS = ["example.com/dedicated=db:NoSchedule", {"key": "spot", "effect": "PreferNoSchedule"}]
PLANNED_TAINTS = [{"key": "example.com/dedicated", "value": "db", "effect": "NoSchedule"},
                  {"key": "spot", "effect": "PreferNoSchedule"}]


def plan(version: str, labels=None, taints=None):
    params = article_plans.kubeadm_params(kubernetes_version=version, feature_gates={})
    for node in params["nodes"]:
        node["labels"], node["taints"] = labels or {}, taints or []
    return ap.build_plan(params)


def registration(version: str, labels=None, taints=None, join=False, extra=None):
    fact = plan(version, labels, taints)
    if join:
        docs = kc.join_documents(fact, "worker", api_server="192.168.1.11:6443", token=TOKEN,
                                 ca_cert_hashes=[HASH], kubelet_extra_args=extra)
    else:
        docs = kc.init_documents(fact, "master", kubelet_extra_args=extra)
    return docs[0]["nodeRegistration"]


@pytest.mark.parametrize("join", [False, True])
@pytest.mark.parametrize("version", ["1.21.14", "1.30.9"])
def test_labels_are_a_kubelet_argument_in_the_map_of_v1beta2_and_v1beta3(version: str, join: bool) -> None:
    found = registration(version, LABELS, TAINTS, join)
    assert found["kubeletExtraArgs"]["node-labels"] == "disk=ssd,example.com/rack=r1"
    assert found["taints"] == PLANNED_TAINTS


@pytest.mark.parametrize("join", [False, True])
def test_labels_are_a_name_value_pair_in_v1beta4(join: bool) -> None:
    found = registration("1.31.2", LABELS, TAINTS, join)
    assert {"name": "node-labels", "value": "disk=ssd,example.com/rack=r1"} in found["kubeletExtraArgs"]
    assert found["taints"] == PLANNED_TAINTS


def test_without_labels_and_taints_kubeadm_keeps_its_defaults() -> None:
    found = registration("1.31.2")
    assert "taints" not in found
    assert [arg["name"] for arg in found["kubeletExtraArgs"]] == ["node-ip"]


@pytest.mark.parametrize("flag, variable", [("node-labels", "address_plan_node_labels"),
                                            ("register-with-taints", "address_plan_node_taints")])
@pytest.mark.parametrize("join", [False, True])
def test_kubelet_arguments_beside_the_plan_are_refused(flag: str, variable: str, join: bool) -> None:
    with pytest.raises(kc.DualstackError) as caught:
        registration("1.31.2", LABELS, TAINTS, join, extra={flag: "a=b"})
    message = str(caught.value)
    option = "kubeadm_worker_kubelet_extra_args" if join else "kubeadm_master_kubelet_extra_args"
    assert message.startswith(f"{option}: {flag}=a=b sets the node's")
    assert f"{variable} of {'worker' if join else 'master'}" in message and "Remove " + flag in message


def test_kubelet_arguments_without_planned_ones_stay() -> None:
    found = registration("1.30.9", join=True, extra={"node-labels": "legacy=yes"})
    assert found["kubeletExtraArgs"]["node-labels"] == "legacy=yes" and "taints" not in found
