# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Properties of the address plan over random plans: valid ones pass, broken ones are refused."""

from __future__ import annotations

import ipaddress
import re
import typing as t

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import address_plan as ap
from ansible_collections.dualstack.kubernetes.plugins.module_utils import rules
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils import article_plans

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

# A fixed seed (derandomize) and a bounded budget: the file runs in well under a minute and
# fails the same way on every machine.
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)


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


@settings(max_examples=300, deadline=None, derandomize=True)
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


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(min_size=1, max_size=64))
def test_seeded_ula_prefixes_are_stable_rfc4193_48s(seed):
    prefix = ap.ula_prefix(seed)
    network = ipaddress.ip_network(prefix)
    assert prefix == ap.ula_prefix(seed)
    assert network.prefixlen == 48 and network.subnet_of(ap.ULA_PREFIX)


# ---------------------------------------------------------------------------------------
# Any plan at all: a refusal that names the variable and the rule, or a plan an independent
# reading (netaddr) confirms; never another exception.

OPTIONS = set(ap.ARGUMENT_SPEC) | {"feature_gates.IPv6DualStack"}
# Blocks the planner must refuse, from the IANA registries, and ranges it must take.
SPECIAL = ["127.0.0.0/8", "127.0.0.1/32", "169.254.0.0/16", "224.0.0.0/4", "239.1.0.0/16", "240.0.0.0/4",
           "0.0.0.0/8", "0.0.0.0/0", "255.255.255.255/32", "192.0.0.0/24", "::1/128", "::/128", "::/0",
           "fe80::/64", "ff02::/16", "::ffff:10.0.0.0/104", "::ffff:0:0/96", "64:ff9b::/96", "2002::/16",
           "2001::/32", "100::/64", "4000::/3", "fec0::/10"]
ALLOWED_PARENTS = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "192.0.2.0/24", "198.51.100.0/24",
    "fd00::/8", "2001:db8::/32", "3fff::/20", "2a01::/16")]
DOCUMENTATION = netaddr.IPSet(["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20"])
VERSIONS = ["1.31.2", "v1.31.2", "1.18.20", "1.20.0", "1.25.0", "1.31", "1.32.0-rc.1", "1.14.9", "1.38.0",
            "v1.31.2+k3s1", "v1.21.4+k3s1", "v1.23.7+k3s2", "v1.20.15+k3s1", "latest", "", 1.3, None]
CALICOS = ["3.30.7", "v3.15.1", "3.23.0", "3.22.9", "3.28", "3.31.0", "3.30.0-0.dev", "x"]


@st.composite
def good_cidr(draw: t.Callable[..., t.Any]) -> str:
    parent = draw(st.sampled_from(ALLOWED_PARENTS))
    return str(subnet(draw, parent, draw(st.integers(parent.prefixlen, min(parent.prefixlen + 24, parent.max_prefixlen)))))


@st.composite
def host_bits_cidr(draw: t.Callable[..., t.Any]) -> str:
    network = ipaddress.ip_network(draw(good_cidr()))
    if network.prefixlen == network.max_prefixlen:
        network = network.supernet()
    return f"{network.network_address + draw(st.integers(1, network.num_addresses - 1))}/{network.prefixlen}"


def cidr_values() -> t.Any:
    return st.one_of(good_cidr(), good_cidr(), host_bits_cidr(), st.sampled_from(SPECIAL),
                     st.text(alphabet="0123456789abcdef:./ x", max_size=30), st.integers(), st.none())


def address_values() -> t.Any:
    return st.one_of(good_cidr().map(lambda c: str(ipaddress.ip_network(c)[-1])),
                     st.sampled_from(["127.0.0.1", "0.0.0.0", "::1", "::", "fe80::1", "ff02::1", "::ffff:10.0.0.1",
                                      "224.0.0.1", "64:ff9b::a00:1", "10.0.0.1/24", "x", ""]),
                     st.none(), st.integers(0, 10))


@st.composite
def any_plans(draw: t.Callable[..., t.Any]) -> t.Dict[str, t.Any]:
    names = st.one_of(st.text(min_size=1, max_size=6), st.integers(0, 9), st.none())
    return {
        "pod_cidrs": draw(st.lists(cidr_values(), max_size=3)),
        "service_cidrs": draw(st.lists(cidr_values(), max_size=3)),
        "node_cidrs": draw(st.lists(cidr_values(), max_size=2)),
        "node_mask_ipv4": draw(st.integers(-1, 40)),
        "node_mask_ipv6": draw(st.integers(-1, 140)),
        "node_cidr_allocation": draw(st.booleans()),
        "nodes": draw(st.lists(st.fixed_dictionaries({"name": names, "ipv4": address_values(), "ipv6": address_values()}),
                               max_size=4)),
        "distribution": draw(st.sampled_from(["kubeadm", "k3s"])),
        "kubernetes_version": draw(st.sampled_from(VERSIONS)),
        "calico_version": draw(st.sampled_from(CALICOS)),
        "calico_ipv4_block_size": draw(st.integers(18, 33)),
        "calico_ipv6_block_size": draw(st.integers(114, 129)),
        "calico_ipv6_encapsulation": draw(st.sampled_from(["none", "vxlan"])),
    }


@st.composite
def mutated_plans(draw: t.Callable[..., t.Any]) -> t.Dict[str, t.Any]:
    """A valid plan with one value replaced by anything: mostly refused, sometimes still valid."""
    params = draw(valid_plans())
    target = draw(st.sampled_from(["pod_cidrs", "service_cidrs", "node_cidrs", "nodes", "kubernetes_version",
                                   "calico_version"]))
    if target == "nodes":
        index = draw(st.integers(0, len(params["nodes"]) - 1))
        params["nodes"][index][draw(st.sampled_from(["ipv4", "ipv6", "name"]))] = draw(address_values())
    elif target.endswith("_version"):
        params[target] = draw(st.sampled_from(VERSIONS if target == "kubernetes_version" else CALICOS))
    elif params[target]:
        params[target][draw(st.integers(0, len(params[target]) - 1))] = draw(cidr_values())
    return params


def confirm_with_netaddr(params: t.Mapping[str, t.Any], plan: t.Mapping[str, t.Any]) -> None:
    """Re-check an accepted plan's networks without the planner's code."""
    sets = {}
    for key in ("pod_cidrs", "service_cidrs", "node_cidrs"):
        networks = [netaddr.IPNetwork(text) for text in plan[key]]
        assert all(str(n.cidr) == str(n) for n in networks), plan[key]  # no host bits
        assert len({n.version for n in networks}) == len(networks)
        if key != "node_cidrs":
            assert sorted(n.version for n in networks) == [4, 6]
        for network in networks:
            for address in (network.network, network.broadcast or network[-1]):
                assert not (address.is_loopback() or address.is_link_local() or address.is_multicast()
                            or address.is_ipv4_mapped()), network
                assert not address.is_reserved() or address in DOCUMENTATION, network
        sets[key] = netaddr.IPSet(networks)
    assert not sets["pod_cidrs"] & sets["service_cidrs"]
    assert not (sets["pod_cidrs"] | sets["service_cidrs"]) & sets["node_cidrs"]
    for network in (netaddr.IPNetwork(text) for text in plan["service_cidrs"]):
        assert network.size <= 2 ** ap.MAX_SERVICE_HOST_BITS and network.size > ap.DNS_SERVICE_INDEX
    node_addresses = [netaddr.IPAddress(node[family]) for node in plan["nodes"].values() for family in ("ipv4", "ipv6")]
    assert len(set(node_addresses)) == len(node_addresses) == 2 * len(params["nodes"])
    for address in node_addresses:
        assert address not in sets["pod_cidrs"] | sets["service_cidrs"]
        assert not sets["node_cidrs"] or any(address in n for n in sets["node_cidrs"].iter_cidrs())
    if plan["node_cidr_allocation"]:
        for text in plan["pod_cidrs"]:
            network = netaddr.IPNetwork(text)
            family = "ipv4" if network.version == 4 else "ipv6"
            assert 2 ** (plan["node_mask"][family] - network.prefixlen) >= len(params["nodes"])
    assert str(plan["kubernetes_version"]).count(".") == 2 and "-" not in str(plan["kubernetes_version"])


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.one_of(any_plans(), mutated_plans(), valid_plans()))
def test_every_plan_is_refused_by_rule_or_confirmed_independently(params):
    try:
        plan = ap.build_plan(params)
    except ap.AddressPlanError as exc:
        assert exc.problems
        for problem in exc.problems:
            option = re.split(r"[\[ ]", problem.option, maxsplit=1)[0]
            assert option in OPTIONS or option.startswith("feature_gates."), problem.option
            assert problem.rule and problem.fix, str(problem)
        # The message shows at most ten problems, each capped.
        assert len(str(exc).splitlines()) <= 12 and len(str(exc)) < 12 * 1200
        return
    confirm_with_netaddr(params, plan)


@st.composite
def one_broken_cidr(draw: t.Callable[..., t.Any]) -> t.Tuple[t.Dict[str, t.Any], str]:
    params = draw(valid_plans())
    target = draw(st.sampled_from(["pod_cidrs", "service_cidrs", "node_cidrs"]))
    if not params[target]:
        params[target] = [str(IPV4_NODES), "2001:db8:ffff::/48"][: 1]
        params["nodes"] = [dict(n, ipv4=str(IPV4_NODES.network_address + i + 1)) for i, n in enumerate(params["nodes"])]
    index = draw(st.integers(0, len(params[target]) - 1))
    params[target][index] = draw(st.one_of(host_bits_cidr(), st.sampled_from(SPECIAL),
                                           st.sampled_from(["10.0.0.0/33", "10.0.0.0", "fd00::/48/1", "x" * 100_000])))
    return params, f"{target}[{index}]"


@settings(max_examples=150, deadline=None, derandomize=True)
@given(one_broken_cidr())
def test_one_bad_cidr_gives_one_problem(case):
    """A CIDR that cannot be read is one problem: no order, family or overlap complaint follows from it."""
    params, option = case
    with pytest.raises(ap.AddressPlanError) as info:
        ap.build_plan(params)
    assert [p.option for p in info.value.problems] == [option], [str(p) for p in info.value.problems]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.sampled_from(sorted(rules.COMPONENTS)), st.one_of(
    st.text(max_size=24),
    st.builds(lambda v, a, b, c, pre, build: f"{v}{a}.{b}.{c}{pre}{build}",
              st.sampled_from(["", "v", "V"]), st.integers(0, 45), st.integers(0, 45), st.integers(0, 30),
              st.sampled_from(["", "", "-rc.1", "-alpha.0", "-0.dev"]), st.sampled_from(["", "", "+k3s1", "+k3s12", "+k3s0"]))))
def test_a_release_is_read_within_its_range_or_refused_by_name(component, text):
    spec = rules.COMPONENTS[component]
    try:
        version = rules.parse(component, text, "some_version")
    except rules.DualstackError as exc:
        assert exc.problems[0].option == "some_version"
        return
    # Read independently: digits only, no pre-release, within the known range.
    numbers = [int(part) for part in re.findall(r"[0-9]+", text)]
    assert "-" not in text and text.lstrip("v").split("+")[0].count(".") == 2
    assert tuple(numbers[:3]) == version.key
    assert version.key >= spec.oldest[:3] and version.key[:len(spec.newest)] <= spec.newest
    assert rules.parse(component, str(version), "again") == version


def test_values_and_counts_in_messages_are_capped():
    huge = "1" * 100_000
    with pytest.raises(ap.AddressPlanError) as info:
        ap.build_plan(dict(article_plans.kubeadm_params(), pod_cidrs=[huge, "fd00:1::/48"]))
    assert len(str(info.value)) < 1000 and "characters left out" in str(info.value)
    many = [{"name": f"n{i}", "ipv4": "192.168.1.11", "ipv6": "2001:db8::11"} for i in range(70_000)]
    with pytest.raises(ap.AddressPlanError) as info:
        ap.build_plan(dict(article_plans.kubeadm_params(), nodes=many, node_cidr_allocation=False,
                           calico_ipv4_block_size=32, calico_ipv6_block_size=128))
    assert len(str(info.value).splitlines()) <= 12
    assert str(info.value).splitlines()[-1].startswith("- ... and ")


def test_a_node_named_with_a_number_is_that_node():
    params = article_plans.kubeadm_params()
    params["nodes"][0]["name"] = 5
    assert "5" in ap.build_plan(params)["nodes"]


# --- the API endpoint of several control planes ---------------------------------------------

@st.composite
def ha_plans(draw: t.Callable[..., t.Any]) -> t.Tuple[t.Dict[str, t.Any], t.List[str]]:
    """A valid plan whose first nodes are control planes, and free virtual IPs in primary order:
    the last but one address of each node network, which no node of a valid plan has."""
    params = draw(valid_plans())
    nodes = params["nodes"]
    params["control_plane_hosts"] = [node["name"] for node in nodes[:draw(st.integers(1, len(nodes)))]]
    first = nodes[0]
    vips = {}
    for family in ("ipv4", "ipv6"):
        # Without node_cidrs, the /24 or /64 around the first node: its at most 40 nodes count up from there.
        given = [c for c in params["node_cidrs"] if (":" in c) == (family == "ipv6")]
        around = f"{first[family]}/{64 if family == 'ipv6' else 24}"
        network = ipaddress.ip_network(given[0] if given else around, strict=False)
        vips[family] = str(network.network_address + network.num_addresses - 2)
    order = ["ipv6", "ipv4"] if params["pod_cidrs"][0].count(":") else ["ipv4", "ipv6"]
    return params, [vips[family] for family in order]


@PROPERTY_SETTINGS
@given(ha_plans())
def test_random_control_planes_get_the_endpoint_of_their_vips(case):
    params, vips = case
    plan = ap.build_plan(dict(params, api_vips=vips))
    assert plan["control_planes"] == params["control_plane_hosts"]
    assert plan["api_endpoint"]["vips"] == vips and plan["api_endpoint"]["host"] == vips[0]
    assert plan["api_endpoint"]["url_host"] == (f"[{vips[0]}]" if ":" in vips[0] else vips[0])
    read = ap.Plan.from_fact(plan)
    assert read.control_planes == tuple(params["control_plane_hosts"]) and read.api_endpoint == plan["api_endpoint"]
    count = len(params["control_plane_hosts"])
    assert any("etcd members" in w for w in plan["warnings"]) == (count % 2 == 0)


@PROPERTY_SETTINGS
@given(ha_plans(), st.data())
def test_random_control_planes_without_a_free_endpoint_are_refused(case, data):
    params, vips = case
    count = len(params["control_plane_hosts"])
    if count > 1:
        with pytest.raises(ap.AddressPlanError) as info:
            ap.build_plan(params)
        assert [p.option for p in info.value.problems] == ["api_vips"]
    else:
        assert ap.build_plan(params)["api_endpoint"] is None
    # A virtual IP that a node has, or that lies in the pod network, is refused by name.
    index = data.draw(st.integers(0, 1))
    family = "ipv6" if ":" in vips[index] else "ipv4"
    node = data.draw(st.sampled_from(params["nodes"]))
    pods = ipaddress.ip_network(next(c for c in params["pod_cidrs"] if (":" in c) == (family == "ipv6")))
    taken = data.draw(st.sampled_from([node[family], str(pods.network_address + 1)]))
    broken = list(vips)
    broken[index] = taken
    with pytest.raises(ap.AddressPlanError) as info:
        ap.build_plan(dict(params, api_vips=broken))
    assert {p.option for p in info.value.problems} == {f"api_vips[{index}]"}
