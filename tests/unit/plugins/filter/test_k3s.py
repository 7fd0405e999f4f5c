# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dualstack.kubernetes.plugins.filter.k3s import FilterModule

FILTERS = FilterModule().filters()

PLAN = {
    "distribution": "k3s", "primary_family": "ipv4", "families": ["ipv4", "ipv6"],
    "pod_subnet": "10.42.0.0/16,fd00:42::/56", "service_subnet": "10.43.0.0/16,fd00:43::/112",
    "node_mask": {"ipv4": 24, "ipv6": 64}, "node_cidr_allocation": True,
    "node_capacity": {"ipv4": 256, "ipv6": 256},
    "nodes": {"s": {"ipv4": "10.0.0.1", "ipv6": "fd00::1"}, "a": {"ipv4": "10.0.0.2", "ipv6": "fd00::2"}},
}


def test_server_and_agent_configs_through_one_filter():
    server = FILTERS["k3s_node_config"](PLAN, "s", "server", version="v1.31.2+k3s1")
    agent = FILTERS["k3s_node_config"](PLAN, "a", "agent", server="s", version="v1.31.2+k3s1")
    assert server["config"]["node-ip"] == "10.0.0.1,fd00::1"
    assert agent["config"]["server"] == "https://10.0.0.1:6443"


def test_svclb_sysctls_follow_the_servers_disable():
    assert FILTERS["k3s_svclb_sysctls"](PLAN, ["servicelb"]) == ["net.ipv6.conf.all.forwarding"]
    assert FILTERS["k3s_svclb_sysctls"](PLAN, []) == []
    with pytest.raises(AnsibleFilterError, match="run the dualstack.kubernetes.address_plan role"):
        FILTERS["k3s_svclb_sysctls"]({}, ["servicelb"])


def test_the_servers_decisions_through_the_filter():
    assert FILTERS["k3s_server_decisions"]("traefik,servicelb", ["net.ipv6.conf.all.forwarding"]) == {
        "disable": ["traefik", "servicelb"], "servicelb_disabled": True,
        "kubelet_unsafe_sysctls": ["net.ipv6.conf.all.forwarding"]}
    with pytest.raises(AnsibleFilterError, match="k3s_server_disable has 'lb'"):
        FILTERS["k3s_server_decisions"](["lb"])


def test_configuration_errors_become_filter_errors():
    with pytest.raises(AnsibleFilterError, match="k3s_server_version: latest is not a k3s release"):
        FILTERS["k3s_node_config"](PLAN, "s", "server", version="latest")


def test_unknown_role_is_refused():
    with pytest.raises(AnsibleFilterError, match="neither 'server' nor 'agent'"):
        FILTERS["k3s_node_config"](PLAN, "s", "worker", version="v1.31.2+k3s1")


def test_text_filters():
    assert FILTERS["k3s_config_yaml"]({"a": True}).endswith("a: true\n")
    assert FILTERS["k3s_env_file"]("tok", "k3s_agent_token").endswith("K3S_TOKEN=tok\n")
    assert FILTERS["k3s_release_tag"]("1.31.2+k3s1") == "v1.31.2+k3s1"
    assert FILTERS["k3s_allowed_unsafe_sysctls"]({"kubelet-arg": ["allowed-unsafe-sysctls=net.ipv6.*"]}) == ["net.ipv6.*"]
    assert FILTERS["k3s_upgrade_plans"]("v1.31.2+k3s1")[0]["kind"] == "Plan"
    assert "https://[fd00::1]:6443" in FILTERS["k3s_kubeconfig"]("    server: https://127.0.0.1:6443\n", "fd00::1")


def test_secret_values_are_written_only_from_the_extra_config():
    extra = {"etcd-s3-secret-key": "s3cr3t", "node-label": ["a=b"]}
    assert FILTERS["k3s_secret_keys"](extra) == ["etcd-s3-secret-key"]
    config = {"etcd-s3-secret-key": "(secret: k3s_server_extra_config.etcd-s3-secret-key)"}
    assert FILTERS["k3s_config_yaml"](config, secrets=extra).endswith('etcd-s3-secret-key: "s3cr3t"\n')


def test_token_error_names_the_option_and_hides_the_token():
    assert FILTERS["k3s_token_error"]("good-token") == ""
    message = FILTERS["k3s_token_error"]("bad token", "k3s_agent_token")
    assert "k3s_agent_token" in message and "bad token" not in message


def test_an_empty_token_is_usable_only_where_k3s_generates_it():
    assert "k3s_server_token is empty" in FILTERS["k3s_token_error"]("")
    assert FILTERS["k3s_token_error"]("", generated=True) == ""
    assert "K3S_TOKEN" not in FILTERS["k3s_env_file"]("", generated=True).replace("# No K3S_TOKEN", "")


def test_an_api_endpoint_makes_etcd_servers_and_agents_join_through_it():
    plan = dict(PLAN, nodes=dict(PLAN["nodes"], s2={"ipv4": "10.0.0.3", "ipv6": "fd00::3"}),
                control_planes=["s", "s2"],
                api_endpoint={"host": "fd00::10", "port": 6443, "vips": ["10.0.0.10", "fd00::10"],
                              "url_host": "[fd00::10]"})
    first = FILTERS["k3s_node_config"](plan, "s", "server", version="v1.31.2+k3s1")
    joiner = FILTERS["k3s_node_config"](plan, "s2", "server", version="v1.31.2+k3s1")
    agent = FILTERS["k3s_node_config"](plan, "a", "agent", server="s", version="v1.31.2+k3s1")
    assert first["config"]["cluster-init"] is True
    assert joiner["config"]["server"] == agent["config"]["server"] == "https://[fd00::10]:6443"
    assert first["config"]["tls-san"] == ["10.0.0.1", "fd00::1", "fd00::10", "10.0.0.10"]
    assert "an even number" in first["warnings"][0]
    with pytest.raises(AnsibleFilterError, match="k3s_server_version: v1.22.17"):
        FILTERS["k3s_node_config"](plan, "s2", "server", version="v1.22.17+k3s1")
