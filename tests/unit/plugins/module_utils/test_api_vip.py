# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The api_vip role's checks and derived keepalived/HAProxy/kube-vip settings."""

from __future__ import annotations

import json

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import api_vip
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError

VIPS = ["10.250.0.60", "fd42:1ab:250::60"]
HOSTS = ["cp-1", "cp-2", "cp-3"]
NODES = {f"cp-{n}": {"ipv4": f"10.250.0.6{n}", "ipv6": f"fd42:1ab:250::6{n}"} for n in (1, 2, 3)}


def settings(host="cp-1", vips=None, hosts=None, nodes=None, **options):
    return api_vip.settings(VIPS if vips is None else vips, HOSTS if hosts is None else hosts,
                            NODES if nodes is None else nodes, host, **options)


def test_one_instance_per_family_with_unicast_peers_of_that_family():
    result = settings("cp-2", families=["ipv4", "ipv6"])
    v4, v6 = result["instances"]
    assert (v4["name"], v4["vip"], v4["prefix"]) == ("api_vip_ipv4", "10.250.0.60", 32)
    assert (v6["name"], v6["vip"], v6["prefix"]) == ("api_vip_ipv6", "fd42:1ab:250::60", 128)
    assert v4["source"] == "10.250.0.62" and v4["peers"] == ["10.250.0.61", "10.250.0.63"]
    assert v6["source"] == "fd42:1ab:250::62" and v6["peers"] == ["fd42:1ab:250::61", "fd42:1ab:250::63"]
    assert result["check_address"] == "10.250.0.62"


def test_priorities_follow_host_order():
    assert [settings(host)["priority"] for host in HOSTS] == [150, 140, 130]
    assert [settings(host, priority=200, priority_step=1)["priority"] for host in HOSTS] == [200, 199, 198]


def test_a_failing_check_puts_a_host_below_every_healthy_one_and_keeps_the_order_when_all_fail():
    priorities = [settings(host)["priority"] for host in HOSTS]
    weight = settings()["track_weight"]
    assert weight == -30
    # The preferred host with a failing check ranks below the last healthy host.
    assert priorities[0] + weight < priorities[-1]
    # All failing (before any API server runs): the first host still ranks highest.
    failed = [p + weight for p in priorities]
    assert failed == sorted(failed, reverse=True) and failed[0] > failed[1]


def test_ipv6_primary_lists_the_ipv6_instance_first():
    result = settings(vips=list(reversed(VIPS)), families=["fd42:244::/56", "10.244.0.0/16"])
    assert [i["family"] for i in result["instances"]] == ["ipv6", "ipv4"]
    assert result["check_address"] == "fd42:1ab:250::61"


def test_haproxy_backends_hold_every_api_server_in_both_families():
    backends = settings(haproxy=True)["backends"]
    assert [b["endpoint"] for b in backends] == [
        "10.250.0.61:6443", "[fd42:1ab:250::61]:6443", "10.250.0.62:6443", "[fd42:1ab:250::62]:6443",
        "10.250.0.63:6443", "[fd42:1ab:250::63]:6443"]
    assert len({b["name"] for b in backends}) == 6


def test_password_goes_to_the_ipv4_instance_only():
    v4, v6 = settings(auth_pass="s3cret")["instances"]
    assert v4["auth"] and not v6["auth"]
    assert "s3cret" not in json.dumps(settings(auth_pass="s3cret"))


@pytest.mark.parametrize("vips, message", [
    ([], "api_vip_addresses: [] is not a list of virtual IPs"),
    ("10.250.0.60", "is not a list of virtual IPs"),
    (["10.250.0.60", "nonsense"], "holds 'nonsense', which is not an IP address"),
    (["10.250.0.60/24"], "which is a network, not one address"),
    (["10.250.0.60", "10.250.0.70"], "holds more than one address of a family"),
    (["127.0.0.1", "fd42:1ab:250::60"], "holds 127.0.0.1, a loopback address"),
    (["10.250.0.60", "fe80::60"], "holds fe80::60, a link-local address"),
    (["224.0.0.18", "fd42:1ab:250::60"], "a multicast address"),
    (["10.250.0.61", "fd42:1ab:250::60"], "holds 10.250.0.61, the address of cp-1. Pick virtual IPs no node has"),
    (["10.250.0.60", "fd42:1ab:250::63"], "holds fd42:1ab:250::63, the address of cp-3"),
])
def test_bad_virtual_ips_are_refused_naming_the_variable(vips, message):
    with pytest.raises(DualstackError, match="api_vip_addresses") as caught:
        settings(vips=vips)
    assert message in str(caught.value)


def test_family_order_must_match_the_plan():
    with pytest.raises(DualstackError) as caught:
        settings(vips=list(reversed(VIPS)), families=["10.244.0.0/16", "fd42:244::/56"])
    assert str(caught.value) == (
        "api_vip_addresses: [fd42:1ab:250::60, 10.250.0.60] lists IPv6 first but the plan's primary family "
        "is IPv4. List the IPv4 virtual IP first")
    with pytest.raises(DualstackError, match="covers IPv4 but the plan has IPv4, IPv6"):
        settings(vips=["10.250.0.60"], families=["ipv4", "ipv6"])
    with pytest.raises(DualstackError, match="api_vip_families: .* holds 'bogus'"):
        settings(families=["bogus"])


def test_single_family_plans_need_one_address():
    result = settings(vips=["10.250.0.60"], families=["ipv4"])
    assert [i["family"] for i in result["instances"]] == ["ipv4"]


@pytest.mark.parametrize("hosts, nodes, message", [
    ([], NODES, "api_vip_hosts: [] is not a list of inventory host names"),
    (["cp-1", "cp-1"], NODES, "api_vip_hosts: [cp-1, cp-1] names a host twice"),
    (HOSTS + ["cp-4"], NODES, "api_vip_nodes[cp-4]: (not set) is missing"),
    (HOSTS, {**NODES, "cp-2": {"ipv4": "10.250.0.62", "ipv6": "10.250.0.62"}},
     "api_vip_nodes[cp-2].ipv6: 10.250.0.62 is not an IPv6 address"),
    (HOSTS, {**NODES, "cp-3": {"ipv4": "10.250.0.61", "ipv6": "fd42:1ab:250::63"}},
     "api_vip_nodes[cp-3].ipv4: 10.250.0.61 is also the address of cp-1"),
    (["cp-2", "cp-3"], NODES, "api_vip_hosts: [cp-2, cp-3] does not name cp-1, which runs the role"),
])
def test_bad_hosts_and_node_addresses_are_refused(hosts, nodes, message):
    with pytest.raises(DualstackError) as caught:
        settings(hosts=hosts, nodes=nodes)
    assert message in str(caught.value)


@pytest.mark.parametrize("overrides, message", [
    ({"virtual_router_id": 0}, "api_vip_virtual_router_id: 0 is not a VRRP router id from 1 to 255"),
    ({"virtual_router_id": "51"}, "api_vip_virtual_router_id: 51 is not a VRRP router id"),
    ({"priority": 255}, "api_vip_priority: 255 is not a VRRP priority from 1 to 254"),
    ({"priority": 15, "priority_step": 10}, "api_vip_priority_step: 10 takes the last of 3 hosts below priority 1"),
    ({"priority_step": 0}, "api_vip_priority_step: 0 is not a positive whole number"),
    ({"api_port": 70000}, "api_vip_api_server_port: 70000 is not a TCP port"),
    ({"haproxy": True, "haproxy_port": 6443}, "api_vip_haproxy_port: 6443 is the API server's own port"),
])
def test_bad_numbers_are_refused(overrides, message):
    with pytest.raises(DualstackError) as caught:
        settings(**overrides)
    assert message in str(caught.value)


def test_haproxy_port_may_equal_the_api_port_when_haproxy_is_off():
    assert settings(haproxy=False, haproxy_port=6443)["haproxy_port"] == 6443


@pytest.mark.parametrize("password", ["123456789", "with space", "quo'te", "hash#", "bang!", 12345678])
def test_bad_passwords_are_refused_without_showing_them(password):
    with pytest.raises(DualstackError) as caught:
        settings(auth_pass=password)
    message = str(caught.value)
    assert message.startswith("api_vip_auth_pass: (secret, not shown) is not 1 to 8 printable characters")
    assert str(password) not in message


IP_JSON = json.dumps([
    {"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1"}, {"family": "inet6", "local": "::1"}]},
    {"ifname": "eth0", "addr_info": [{"family": "inet", "local": "10.250.0.61"},
                                     {"family": "inet6", "local": "fd42:1ab:250::61"}]},
])


def test_interface_of_the_nodes_own_address():
    assert api_vip.interface_of(IP_JSON, "10.250.0.61") == "eth0"
    assert api_vip.interface_of(IP_JSON, "fd42:1ab:250:0::61") == "eth0"
    with pytest.raises(DualstackError, match="api_vip_nodes: 10.250.0.99 is on no interface of this host"):
        api_vip.interface_of(IP_JSON, "10.250.0.99")
    with pytest.raises(DualstackError, match="printed no JSON"):
        api_vip.interface_of("garbage", "10.250.0.61")


def test_kube_vip_pod_holds_one_address_per_container_with_own_lease_and_metrics_port():
    pod = api_vip.kube_vip_pod(VIPS, "eth0", families=["ipv4", "ipv6"])
    assert pod["kind"] == "Pod" and pod["spec"]["hostNetwork"] is True
    envs = [{e["name"]: e["value"] for e in c["env"]} for c in pod["spec"]["containers"]]
    assert [e["address"] for e in envs] == VIPS
    assert [e["vip_leasename"] for e in envs] == ["plndr-cp-lock-ipv4", "plndr-cp-lock-ipv6"]
    assert [e["prometheus_server"] for e in envs] == [":2112", ":2113"]
    assert {e["vip_interface"] for e in envs} == {"eth0"} and {e["port"] for e in envs} == {"6443"}
    assert {c["image"] for c in pod["spec"]["containers"]} == {"ghcr.io/kube-vip/kube-vip:v0.9.1"}


def test_kube_vip_pod_refuses_what_keepalived_refuses():
    with pytest.raises(DualstackError, match="api_vip_addresses"):
        api_vip.kube_vip_pod(["10.250.0.60", "10.250.0.61"], "eth0")
    with pytest.raises(DualstackError, match="api_vip_interface: \\(not set\\) is empty"):
        api_vip.kube_vip_pod(VIPS, "")
