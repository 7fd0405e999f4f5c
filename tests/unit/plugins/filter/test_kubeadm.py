# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.dualstack.kubernetes.plugins.filter.kubeadm import FilterModule

FILTERS = FilterModule().filters()

PLAN = {
    "distribution": "kubeadm", "kubernetes_version": "1.31.2", "primary_family": "ipv6",
    "families": ["ipv6", "ipv4"],
    "pod_subnet": "fd00:1::/48,10.244.0.0/16", "service_subnet": "fd00::/108,10.96.0.0/12",
    "node_mask": {"ipv4": 24, "ipv6": 64}, "node_cidr_allocation": True, "feature_gates": {},
    "nodes": {"m": {"ipv4": "10.250.0.43", "ipv6": "fd42:1ab:250::43"},
              "w": {"ipv4": "10.250.0.44", "ipv6": "fd42:1ab:250::44"}},
}


def test_every_filter_is_exported():
    assert sorted(FILTERS) == ["kubeadm_api_server", "kubeadm_api_version", "kubeadm_ca_cert_hash",
                               "kubeadm_init_config", "kubeadm_join_config"]


def test_init_config_is_a_file_of_documents():
    docs = list(yaml.safe_load_all(FILTERS["kubeadm_init_config"](PLAN, "m", bind_port=6443)))
    assert [d["kind"] for d in docs] == ["InitConfiguration", "ClusterConfiguration",
                                         "KubeletConfiguration", "KubeProxyConfiguration"]
    assert docs[0]["localAPIEndpoint"]["advertiseAddress"] == "fd42:1ab:250::43"


def test_join_config_and_endpoint():
    endpoint = FILTERS["kubeadm_api_server"](PLAN, "m", "6443", None)
    assert endpoint == "[fd42:1ab:250::43]:6443"
    (doc,) = yaml.safe_load_all(FILTERS["kubeadm_join_config"](
        PLAN, "w", endpoint, "abcdef.0123456789abcdef", ("sha256:" + "0" * 64,)))
    assert doc["nodeRegistration"]["kubeletExtraArgs"] == [
        {"name": "node-ip", "value": "fd42:1ab:250::44,10.250.0.43".replace("43", "44")}]


def test_errors_become_filter_errors_named_after_the_filter():
    with pytest.raises(AnsibleFilterError, match=r"^dualstack.kubernetes.kubeadm_api_version: kubernetes_version: 1.12.0 is outside"):
        FILTERS["kubeadm_api_version"]("1.12.0")
    with pytest.raises(AnsibleFilterError, match="kubeadm_ca_cert_hash: .*not a PEM"):
        FILTERS["kubeadm_ca_cert_hash"]("nothing")
