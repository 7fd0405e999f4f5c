# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LoadBalancer pools of the address plan: what is accepted, what is refused and why."""

from __future__ import annotations

import ipaddress
import typing as t

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import address_plan as ap

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")
given, settings = hypothesis.given, hypothesis.settings

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)

NODE4 = ipaddress.ip_network("192.0.2.0/24")
NODE6 = ipaddress.ip_network("2001:db8:0:1::/64")
BASE: t.Dict[str, t.Any] = {
    "pod_cidrs": ["10.244.0.0/16", "fd00:1::/48"],
    "service_cidrs": ["10.96.0.0/12", "fd00::/112"],
    "node_cidrs": [str(NODE4), str(NODE6)],
    "nodes": [
        {"name": "cp1", "ipv4": "192.0.2.11", "ipv6": "2001:db8:0:1::11"},
        {"name": "cp2", "ipv4": "192.0.2.12", "ipv6": "2001:db8:0:1::12"},
        {"name": "cp3", "ipv4": "192.0.2.13", "ipv6": "2001:db8:0:1::13"},
    ],
    "control_plane_hosts": ["cp1", "cp2", "cp3"],
    "api_vips": ["192.0.2.10", "2001:db8:0:1::10"],
    "distribution": "kubeadm",
    "kubernetes_version": "1.31.2",
    "calico_version": "3.30.7",
}
GOOD = ["192.0.2.200-192.0.2.220", "2001:db8:0:1::200/120"]


def plan(**changes: t.Any) -> t.Dict[str, t.Any]:
    return ap.build_plan(dict(BASE, **changes))


def refusal(**changes: t.Any) -> t.List[str]:
    with pytest.raises(ap.AddressPlanError) as caught:
        plan(**changes)
    return [str(problem) for problem in caught.value.problems]


def test_no_pools_leaves_the_plan_as_it_was() -> None:
    result = plan()
    assert result["lb_pools"] == {}
    assert result["lb_mode"] == "l2"
    assert not any("LoadBalancer" in line for line in ap.format_plan_table(result))


def test_pools_of_both_families_are_kept_by_family_in_the_order_given() -> None:
    result = plan(lb_pools=["2001:db8:0:1::300-2001:db8:0:1::3ff"] + GOOD)
    assert result["lb_pools"] == {"ipv4": ["192.0.2.200-192.0.2.220"],
                                  "ipv6": ["2001:db8:0:1::300-2001:db8:0:1::3ff", "2001:db8:0:1::200/120"]}
    assert result["warnings"] == []
    assert ap.format_plan_table(result)[-1] == (
        "LoadBalancer pools (l2): 192.0.2.200-192.0.2.220; 2001:db8:0:1::300-2001:db8:0:1::3ff, 2001:db8:0:1::200/120")


def test_a_cidr_is_normalised_and_a_range_written_plainly() -> None:
    result = plan(lb_pools=["192.0.2.200 - 192.0.2.201", "2001:DB8:0:1::200/120"])
    assert result["lb_pools"] == {"ipv4": ["192.0.2.200-192.0.2.201"], "ipv6": ["2001:db8:0:1::200/120"]}


@pytest.mark.parametrize("pools, expected", [
    (["192.0.2.200-192.0.2.220"], "lb_pools: [192.0.2.200-192.0.2.220] has no IPv6 range"),
    (["192.0.2.200-2001:db8:0:1::1", GOOD[1]], "mixes an IPv4 and an IPv6 address"),
    (["192.0.2.220-192.0.2.200", GOOD[1]], "ends (192.0.2.200) before it starts (192.0.2.220). "
                                           "Write the lower address first: 192.0.2.200-192.0.2.220"),
    (["192.0.2.200/24", GOOD[1]], "has host bits set"),
    (["192.0.2.200", GOOD[1]], "is neither a CIDR nor a first-last address range"),
    (["192.0.2.200-192.0.2.300", GOOD[1]], "cannot be parsed"),
    (["::ffff:192.0.2.200-::ffff:192.0.2.201", GOOD[1]], "IPv4-mapped"),
    ([GOOD[0], "fe80::1-fe80::5"], "link-local (RFC 4291)"),
    (["169.254.1.1-169.254.1.9", GOOD[1]], "link-local (RFC 3927)"),
    (["10.244.3.0/24", GOOD[1]], "overlaps pod_cidrs 10.244.0.0/16"),
    ([GOOD[0], "fd00::100-fd00::1ff"], "overlaps service_cidrs fd00::/112"),
    (["192.0.2.5-192.0.2.15", GOOD[1]], "holds 192.0.2.11, the address of node cp1"),
    ([GOOD[0], "2001:db8:0:1::/120"], "holds 2001:db8:0:1::13, the address of node cp3"),
    (["192.0.2.10/32", GOOD[1]], "holds 192.0.2.10, an API virtual IP (api_vips)"),
    (["192.0.2.200-192.0.2.220", "192.0.2.210/31", GOOD[1]], "shares addresses with lb_pools[1] 192.0.2.210/31"),
    (["198.51.100.10-198.51.100.20", GOOD[1]], "lies outside node_cidrs 192.0.2.0/24"),
    (["192.0.2.240/28", GOOD[1]], "holds 192.0.2.255, the broadcast address of node_cidrs 192.0.2.0/24"),
    ([GOOD[0], 7], "is not an address range"),
])
def test_a_refused_pool_names_the_entry_the_value_the_rule_and_the_fix(pools: t.List[t.Any], expected: str) -> None:
    problems = refusal(lb_pools=pools)
    assert any(expected in problem for problem in problems), problems
    assert all(problem.startswith("lb_pools") for problem in problems), problems


def test_the_role_names_the_variable() -> None:
    problems = refusal(lb_pools=["10.244.3.0/24", GOOD[1]])
    assert ap.as_variables(problems[0], "address_plan_").startswith("address_plan_lb_pools[0]: 10.244.3.0/24 overlaps "
                                                                    "address_plan_pod_cidrs 10.244.0.0/16")


def test_bgp_pools_may_lie_off_the_node_network_but_never_on_cluster_addresses() -> None:
    routed = ["198.51.100.0/28", "2001:db8:ffff::/120"]
    assert plan(lb_pools=routed, lb_mode="bgp")["lb_pools"] == {"ipv4": ["198.51.100.0/28"],
                                                                "ipv6": ["2001:db8:ffff::/120"]}
    assert any("overlaps pod_cidrs" in problem
               for problem in refusal(lb_pools=["10.244.0.0/28", routed[1]], lb_mode="bgp"))


def test_l2_pools_without_node_networks_are_warned_about() -> None:
    result = plan(lb_pools=GOOD, node_cidrs=[])
    assert any("cannot check that the pools lie on the node network" in warning for warning in result["warnings"])


def test_an_unknown_mode_is_refused() -> None:
    assert any("lb_mode: ospf is not a way MetalLB announces addresses" in problem
               for problem in refusal(lb_pools=GOOD, lb_mode="ospf"))


# ---------------------------------------------------------------------------------------
# Properties: a range is refused exactly when it shares an address with what it must not.

def _range_text(first: ap.IPAddress, last: ap.IPAddress) -> str:
    return f"{first}-{last}"


@st.composite
def ranges_in(draw: t.Callable[..., t.Any], network: ap.IPNetwork, lowest: int = 0) -> t.Tuple[ap.IPAddress, ap.IPAddress]:
    size = network.num_addresses
    low = draw(st.integers(lowest, min(size - 2, 4095)))
    high = draw(st.integers(low, min(size - 2, low + 64)))
    return network.network_address + low, network.network_address + high


def _held(first: ap.IPAddress, last: ap.IPAddress, address: ap.IPAddress) -> bool:
    return first.version == address.version and first <= address <= last


@PROPERTY_SETTINGS
@given(ranges_in(NODE4, 1), ranges_in(NODE6))
def test_a_range_on_the_node_network_is_refused_exactly_when_it_holds_a_node_or_vip(
        four: t.Tuple[ap.IPAddress, ap.IPAddress], six: t.Tuple[ap.IPAddress, ap.IPAddress]) -> None:
    taken = [ipaddress.ip_address(node[f]) for node in BASE["nodes"] for f in ("ipv4", "ipv6")] \
        + [ipaddress.ip_address(vip) for vip in BASE["api_vips"]]
    clash = [address for address in taken if _held(*four, address) or _held(*six, address)]
    pools = [_range_text(*four), _range_text(*six)]
    if clash:
        problems = refusal(lb_pools=pools)
        assert len(problems) == len(clash)
        assert all(any(str(address) in problem for problem in problems) for address in clash)
    else:
        assert plan(lb_pools=pools)["lb_pools"] == {"ipv4": [pools[0]], "ipv6": [pools[1]]}


@PROPERTY_SETTINGS
@given(st.integers(0, 2 ** 16 - 1), st.integers(0, 255), st.integers(0, 255))
def test_two_ranges_are_refused_exactly_when_they_share_an_address(start: int, length: int, offset: int) -> None:
    base = ipaddress.ip_address("2001:db8:0:1::1:0")
    first = (base + start, base + start + length)
    second = (base + start + offset, base + start + offset + length)
    pools = ["192.0.2.200-192.0.2.220", _range_text(*first), _range_text(*second)]
    shared = first[0] <= second[1] and second[0] <= first[1]
    if shared:
        problems = refusal(lb_pools=pools)
        assert problems == [f"lb_pools[1]: {pools[1]} shares addresses with lb_pools[2] {pools[2]}; two Services "
                            f"could get the same address. Make the ranges disjoint"]
    else:
        plan(lb_pools=pools)


@PROPERTY_SETTINGS
@given(st.integers(8, 30), st.integers(0, 2 ** 22), st.booleans())
def test_a_pool_is_refused_exactly_when_it_meets_a_pod_or_service_network(prefix: int, index: int, bgp: bool) -> None:
    # Any IPv4 CIDR in 10/8 or 172.16/12 (BGP mode: no node-network rule applies); it meets the
    # pod network 10.244/16 or the Service network 10.96/12 exactly when the networks overlap.
    parent = ipaddress.ip_network("10.0.0.0/8")
    size = 2 ** (32 - prefix)
    pool = ipaddress.ip_network(f"{parent.network_address + (index * size) % parent.num_addresses}/{prefix}")
    reserved = [ipaddress.ip_network("10.244.0.0/16"), ipaddress.ip_network("10.96.0.0/12")]
    meets = [network for network in reserved if pool.overlaps(network)]
    changes = {"lb_pools": [str(pool), GOOD[1]], "lb_mode": "bgp" if bgp else "l2", "node_cidrs": []}
    if meets:
        problems = refusal(**changes)
        assert {p.split(" overlaps ")[1].split(";")[0] for p in problems if " overlaps " in p} \
            == {f"{'pod_cidrs' if n.prefixlen == 16 else 'service_cidrs'} {n}" for n in meets}
    else:
        assert plan(**changes)["lb_pools"]["ipv4"] == [str(pool)]
