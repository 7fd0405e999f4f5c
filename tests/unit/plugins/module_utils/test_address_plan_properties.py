# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Properties of the address plan over random plans: valid ones pass, broken ones are refused."""

from __future__ import annotations

import ipaddress
import typing as t

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import address_plan as ap
from ansible_collections.dualstack.kubernetes.plugins.module_utils import rules

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")
given, settings = hypothesis.given, hypothesis.settings

# Valid plans keep their families' networks apart by construction: IPv4 pods in 10/8,
# Services in 172.16/12, nodes in 192.168/16; IPv6 out of one ULA /48, whose first /52
# holds the nodes, the second the pods and the third the Services.
IPV4_PODS = ipaddress.ip_network("10.0.0.0/8")
IPV4_SERVICES = ipaddress.ip_network("172.16.0.0/12")
IPV4_NODES = ipaddress.ip_network("192.168.0.0/16")
KUBEADM_VERSIONS = ["1.18.5", "1.20.15", "1.21.0", "1.24.17", "1.25.0", "v1.31.2", "1.33.0"]
K3S_VERSIONS = ["v1.21.4+k3s1", "v1.23.7+k3s1", "v1.31.2+k3s1"]
CALICO_VERSIONS = ["3.15.1", "3.22.4", "3.23.0", "3.26.5", "v3.30.7"]

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


def subnet(draw: t.Callable[..., t.Any], parent: ap.IPNetwork, prefix: int) -> ap.IPNetwork:
    index = draw(st.integers(0, 2 ** (prefix - parent.prefixlen) - 1))
    size = 2 ** (parent.max_prefixlen - prefix)
    return ipaddress.ip_network(f"{parent.network_address + index * size}/{prefix}")


def bits_for(count: int) -> int:
    return (count - 1).bit_length()


@st.composite
def valid_plans(draw: t.Callable[..., t.Any]) -> t.Dict[str, t.Any]:
    count = draw(st.integers(1, 40))
    need = bits_for(count)
    distribution = draw(st.sampled_from(ap.DISTRIBUTIONS))
    ula = ipaddress.ip_network(ap.ula_prefix(draw(st.text(min_size=1, max_size=8))))
    ipv6_nodes, ipv6_pods, ipv6_services = list(ula.subnets(new_prefix=52))[:3]

    pod4 = subnet(draw, IPV4_PODS, draw(st.integers(8, 22)))
    pod6 = subnet(draw, ipv6_pods, draw(st.integers(52, 120)))
    service4 = subnet(draw, IPV4_SERVICES, draw(st.integers(12, 28)))
    service6 = subnet(draw, ipv6_services, draw(st.integers(108, 124)))
    node_net4 = subnet(draw, IPV4_NODES, draw(st.integers(16, 24)))
    node_net6 = subnet(draw, ipv6_nodes, draw(st.integers(52, 120)))
    masks = {
        family: draw(st.integers(pod.prefixlen + need, min(pod.prefixlen + ap.MAX_NODE_MASK_DIFF, pod.max_prefixlen)))
        for family, pod in (("ipv4", pod4), ("ipv6", pod6))
    }
    blocks = {
        family: draw(st.integers(max(ap.BLOCK_SIZE_RANGE[family][0], pod.prefixlen + need), ap.BLOCK_SIZE_RANGE[family][1]))
        for family, pod in (("ipv4", pod4), ("ipv6", pod6))
    }
    calico_version = draw(st.sampled_from(CALICO_VERSIONS))
    vxlan_possible = rules.calico_ipv6_vxlan(rules.parse("calico", calico_version, "calico_version"))
    ipv6_first = draw(st.booleans())

    def ordered(ipv4: ap.IPNetwork, ipv6: ap.IPNetwork) -> t.List[str]:
        return [str(ipv6), str(ipv4)] if ipv6_first else [str(ipv4), str(ipv6)]

    return {
        "pod_cidrs": ordered(pod4, pod6),
        "service_cidrs": ordered(service4, service6),
        "node_cidrs": ordered(node_net4, node_net6) if draw(st.booleans()) else [],
        "node_mask_ipv4": masks["ipv4"],
        "node_mask_ipv6": masks["ipv6"],
        "nodes": [
            {"name": f"node-{i}", "ipv4": str(node_net4.network_address + i + 1),
             "ipv6": str(node_net6.network_address + i + 1)}
            for i in range(count)
        ],
        "distribution": distribution,
        "kubernetes_version": draw(st.sampled_from(K3S_VERSIONS if distribution == "k3s" else KUBEADM_VERSIONS)),
        "calico_version": calico_version,
        "calico_ipv4_block_size": blocks["ipv4"],
        "calico_ipv6_block_size": blocks["ipv6"],
        "calico_ipv6_encapsulation": draw(st.sampled_from(["none", "vxlan"])) if vxlan_possible else "none",
    }


@PROPERTY_SETTINGS
@given(valid_plans())
def test_random_valid_plans_pass_and_hold_their_nodes(params):
    plan = ap.build_plan(params)
    families = ["ipv6", "ipv4"] if params["pod_cidrs"][0].count(":") else ["ipv4", "ipv6"]
    assert plan["families"] == families
    assert plan["pod_subnet"] == ",".join(params["pod_cidrs"])
    assert all(plan["node_capacity"][family] >= len(params["nodes"]) for family in families)
    # kubeadm releases before 1.20 have a kubelet that takes one node-ip: the primary address.
    one_address = params["distribution"] == "kubeadm" and not rules.node_ip_pair(
        "kubeadm", rules.parse("kubernetes", params["kubernetes_version"], "kubernetes_version"))
    for entry in params["nodes"]:
        expected = ",".join(entry[family] for family in (families[:1] if one_address else families))
        assert plan["nodes"][entry["name"]]["node_ip"] == expected
    for family in families:
        service = ipaddress.ip_network(plan["service_cidr_by_family"][family])
        assert ipaddress.ip_address(plan["api_service_ip"][family]) in service
        assert ipaddress.ip_address(plan["dns_service_ip"][family]) in service


@PROPERTY_SETTINGS
@given(valid_plans(), st.sampled_from(["ipv4", "ipv6"]), st.data())
def test_random_overlapping_plans_are_refused(params, family, data):
    """A Service or node network put inside (or around) the pod network is always refused."""
    index = [ipaddress.ip_network(c).version for c in params["pod_cidrs"]].index(4 if family == "ipv4" else 6)
    pod = ipaddress.ip_network(params["pod_cidrs"][index])
    target = data.draw(st.sampled_from(["service_cidrs", "node_cidrs"]))
    if target == "service_cidrs":
        shortest = pod.max_prefixlen - ap.MAX_SERVICE_HOST_BITS
        intruder = subnet(data.draw, pod, data.draw(st.integers(max(pod.prefixlen, shortest), pod.max_prefixlen - 4)))
    else:
        # A node network around the pod network.
        intruder = pod.supernet(new_prefix=data.draw(st.integers(max(pod.prefixlen - 8, 1), pod.prefixlen)))
    if target == "node_cidrs":
        cidrs = [str(intruder)]
    else:
        cidrs = list(params[target])
        cidrs[index] = str(intruder)
    with pytest.raises(ap.AddressPlanError) as info:
        ap.build_plan(dict(params, **{target: cidrs}))
    if ap.special_purpose(intruder):
        # A network that large takes in special-purpose addresses too: that is its one problem.
        assert any(p.value == str(intruder) and "special-purpose" in p.rule for p in info.value.problems)
        return
    overlaps = [p for p in info.value.problems if "must not overlap" in p.rule]
    assert any(p.option == "pod_cidrs" and p.value == str(pod) and target in p.rule for p in overlaps), \
        [str(p) for p in info.value.problems]


@PROPERTY_SETTINGS
@given(valid_plans(), st.sampled_from(["ipv4", "ipv6"]), st.data())
def test_random_undersized_plans_are_refused(params, family, data):
    """Fewer node CIDRs, or fewer Calico blocks, than nodes is always refused with the count."""
    pod = next(ipaddress.ip_network(c) for c in params["pod_cidrs"] if ap.family_of(ipaddress.ip_network(c)) == family)
    count = data.draw(st.integers(2, 64))
    params = dict(params, nodes=[
        {"name": f"n{i}", "ipv4": str(ipaddress.ip_address("192.168.0.0") + i + 1),
         "ipv6": str(ipaddress.ip_address("2001:db8::") + i + 1)} for i in range(count)], node_cidrs=[])
    short = bits_for(count) - 1
    if data.draw(st.booleans()):
        mask = pod.prefixlen + data.draw(st.integers(0, min(short, pod.max_prefixlen - pod.prefixlen)))
        params[f"node_mask_{family}"] = mask
        expected = f"holds {2 ** (mask - pod.prefixlen)} node CIDR"
    else:
        low, high = ap.BLOCK_SIZE_RANGE[family]
        block = data.draw(st.integers(max(low, pod.prefixlen), high))
        pool_prefix = max(pod.prefixlen, block - data.draw(st.integers(0, short)))
        params[f"calico_{family}_pool_cidr"] = str(subnet(data.draw, pod, pool_prefix))
        params[f"calico_{family}_block_size"] = block
        expected = f"holds {2 ** (block - pool_prefix)} block"
    with pytest.raises(ap.AddressPlanError) as info:
        ap.build_plan(params)
    assert any(expected in p.rule and f"has {count} nodes" in p.rule for p in info.value.problems), \
        [str(p) for p in info.value.problems]


netaddr = pytest.importorskip("netaddr")


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(alphabet="0123456789abcdefABCDEF:./% x", max_size=45),
    st.builds(lambda a, b: f"{a}/{b}", st.ip_addresses().map(str), st.integers(-1, 140)),
))
def test_anything_netaddr_cannot_parse_is_refused(text):
    try:
        netaddr.IPNetwork(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        with pytest.raises(ap.ProblemFound):
            ap.parse_cidr("pod_cidrs[0]", text)
    else:
        try:
            network = ap.parse_cidr("pod_cidrs[0]", text)
        except ap.ProblemFound:
            return  # stricter than netaddr (no bare addresses, netmasks or host bits): allowed
        # Both read the same network (they may print it differently, e.g. ::ffff:0.0.0.0).
        assert network == ipaddress.ip_network(str(netaddr.IPNetwork(text).cidr))


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=64))
def test_seeded_ula_prefixes_are_stable_rfc4193_48s(seed):
    prefix = ap.ula_prefix(seed)
    network = ipaddress.ip_network(prefix)
    assert prefix == ap.ula_prefix(seed)
    assert network.prefixlen == 48 and network.subnet_of(ap.ULA_PREFIX)
