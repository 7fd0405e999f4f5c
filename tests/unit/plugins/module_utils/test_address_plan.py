# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every rule of the address plan, each with a plan that passes and one that is refused."""

from __future__ import annotations

import copy
import ipaddress
import typing as t

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import address_plan as ap
from ansible_collections.dualstack.kubernetes.plugins.module_utils import rules
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils import article_plans

# The articles' inputs, from the one place the unit tests share (article_plans); each
# is a copy, so plan_with below may change it.
KUBEADM_ARTICLE: t.Dict[str, t.Any] = article_plans.kubeadm_params()
K3S_ARTICLE: t.Dict[str, t.Any] = article_plans.k3s_params()
refused = article_plans.refused
only_problem = article_plans.only_problem


def plan_with(base: t.Optional[t.Mapping[str, t.Any]] = None, **changes: t.Any) -> t.Dict[str, t.Any]:
    params = copy.deepcopy(dict(KUBEADM_ARTICLE if base is None else base))
    params.update(changes)
    return params


# --- the articles -------------------------------------------------------------------------

def test_kubeadm_article_plan_passes_with_everything_derived():
    plan = ap.build_plan(KUBEADM_ARTICLE)
    assert plan["primary_family"] == "ipv4"
    assert plan["families"] == ["ipv4", "ipv6"]
    assert plan["pod_subnet"] == "10.244.0.0/16,fd00:1::/48"
    assert plan["service_subnet"] == "10.96.0.0/12,fd00::/108"
    # 1.18's kubelet takes one node-ip, so the nodes get their primary address and the plan says why.
    assert plan["nodes"]["master"]["node_ip"] == "192.168.1.11"
    assert plan["nodes"]["worker"]["node_ip"] == "192.168.1.12"
    assert any("takes one node-ip" in w and "a pair from 1.20" in w for w in plan["warnings"])
    assert plan["api_service_ip"] == {"ipv4": "10.96.0.1", "ipv6": "fd00::1"}
    assert plan["dns_service_ip"] == {"ipv4": "10.96.0.10", "ipv6": "fd00::a"}
    assert plan["node_capacity"] == {"ipv4": 256, "ipv6": 65536}
    assert plan["feature_gates"] == {"IPv6DualStack": True}
    assert plan["calico"] == {
        "version": "3.15.1", "ipv4_pool_cidr": "10.244.0.0/16", "ipv6_pool_cidr": "fd00:1::/48",
        "ipv4_block_size": 26, "ipv6_block_size": 122, "ipv6_encapsulation": "none"}
    # fd00::/108 is allowed, but only a /112 of it is used.
    assert any("fd00::/108" in w and "/112" in w for w in plan["warnings"])


def test_kubeadm_article_ipv6_primary_variant_passes():
    # The article's closing section puts IPv6 first in both lists.
    plan = ap.build_plan(plan_with(pod_cidrs=["fd00:1::/48", "10.244.0.0/16"],
                                   service_cidrs=["fd00::/108", "10.96.0.0/12"]))
    assert plan["primary_family"] == "ipv6"
    assert plan["pod_subnet"] == "fd00:1::/48,10.244.0.0/16"
    assert plan["nodes"]["master"]["node_ip"] == "2001:db8::11"
    # From 1.20 the kubelet takes the pair, primary family first.
    later = ap.build_plan(plan_with(pod_cidrs=["fd00:1::/48", "10.244.0.0/16"],
                                    service_cidrs=["fd00::/108", "10.96.0.0/12"], kubernetes_version="1.20.0"))
    assert later["nodes"]["master"]["node_ip"] == "2001:db8::11,192.168.1.11"
    assert not any("takes one node-ip" in w for w in later["warnings"])


def test_k3s_article_plan_passes_for_one_node():
    plan = ap.build_plan(K3S_ARTICLE)
    assert plan["k3s_version"] == "v1.21.4+k3s1"
    assert plan["kubernetes_version"] == "1.21.4"
    assert plan["node_capacity"] == {"ipv4": 1, "ipv6": 1}
    assert plan["feature_gates"] == {"IPv6DualStack": True}
    assert any("experimental" in w for w in plan["warnings"])
    assert any("at most 1 node" in w for w in plan["warnings"])


def test_k3s_article_plan_is_refused_for_two_nodes_with_the_capacity_message():
    params = plan_with(K3S_ARTICLE, nodes=K3S_ARTICLE["nodes"] + [
        {"name": "k3s-2", "ipv4": "192.168.0.16", "ipv6": "2003:e9:f712:a22f::16"}])
    problems = refused(params)
    messages = [str(p) for p in problems]
    assert len(problems) == 2, messages
    assert messages[0].startswith("pod_cidrs: 10.42.0.0/24 holds 1 node CIDR of node_mask_ipv4 /24, but the inventory has 2 nodes")
    assert messages[1].startswith(
        "pod_cidrs: fd45:a71:55a6:1:2:2::/96 holds 1 node CIDR of node_mask_ipv6 /96, but the inventory has 2 nodes")
    assert "node_mask_ipv6 to /97 or longer" in messages[1]
    assert "node_cidr_allocation to false" in messages[1]


def test_k3s_article_advice_service_inside_cluster_network_is_refused():
    # "Das Service-Netz muss sich innerhalb des Cluster-Netz befinden!" taken at its word.
    problem = only_problem(plan_with(K3S_ARTICLE, service_cidrs=["10.43.0.0/16", "fd45:a71:55a6:1:2:2::/112"]))
    assert problem.option == "pod_cidrs"
    assert "contains service_cidrs fd45:a71:55a6:1:2:2::/112" in str(problem)


def test_k3s_article_home_network_as_node_network_is_refused():
    # The router hands out fd45:a71:55a6:1::/64, which holds both of the article's IPv6 ranges.
    problems = refused(plan_with(K3S_ARTICLE, node_cidrs=["fd45:a71:55a6:1::/64"],
                                 nodes=[{"name": "k3s", "ipv4": "192.168.0.15", "ipv6": "fd45:a71:55a6:1::15"}]))
    assert {(p.option, p.value) for p in problems} == {
        ("pod_cidrs", "fd45:a71:55a6:1:2:2::/96"), ("service_cidrs", "fd45:a71:55a6:1:2:1::/116")}
    assert all("node_cidrs fd45:a71:55a6:1::/64" in str(p) for p in problems)


# --- parsing ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, normalised", [
    ("10.244.0.0/16", "10.244.0.0/16"),
    ("FD00:0001::/48", "fd00:1::/48"),
    (" fd00::/108 ", "fd00::/108"),
])
def test_parse_cidr_accepts_and_normalises(text, normalised):
    assert str(ap.parse_cidr("pod_cidrs[0]", text)) == normalised


@pytest.mark.parametrize("text", [
    "bogus", "10.0.0.0", "10.0.0.0/33", "fd00::/129", "10.0.0.0/255.0.0.0", "fe80::%eth0/64",
    "010.0.0.0/8", "10.0.0/8", "", None, 42, "10.0.0.0/8,fd00::/48",
])
def test_parse_cidr_refuses_what_kubernetes_cannot_parse(text):
    with pytest.raises(ap.ProblemFound) as info:
        ap.parse_cidr("pod_cidrs[0]", text)
    assert info.value.problem.option == "pod_cidrs[0]"
    assert "e.g. 10.244.0.0/16" in info.value.problem.fix


def test_parse_cidr_refuses_host_bits_and_names_the_network():
    with pytest.raises(ap.ProblemFound) as info:
        ap.parse_cidr("service_cidrs[1]", "fd00::1/108")
    assert str(info.value.problem) == (
        "service_cidrs[1]: fd00::1/108 has host bits set (fd00::1 is not the first address of a /108). "
        "Use fd00::/108")


def test_cidr_lists_take_one_per_family():
    problems: t.List[ap.Problem] = []
    assert list(ap.parse_cidr_list("pod_cidrs", ["fd00:1::/48", "10.244.0.0/16"], problems)) == ["ipv6", "ipv4"]
    assert list(ap.parse_cidr_list("pod_cidrs", "10.244.0.0/16,fd00:1::/48", problems)) == ["ipv4", "ipv6"]
    assert problems == []


def test_cidr_list_with_two_cidrs_of_one_family_is_refused():
    problems = refused(plan_with(pod_cidrs=["10.244.0.0/16", "10.245.0.0/16", "fd00:1::/48"]))
    assert any(p.option == "pod_cidrs" and "lists 2 IPv4 CIDRs" in p.rule for p in problems)


def test_cidr_list_missing_a_family_is_refused():
    problem = only_problem(plan_with(service_cidrs=["10.96.0.0/12"]))
    assert problem.option == "service_cidrs"
    assert "has no IPv6 CIDR" in problem.rule
    assert "fd00::/112" in problem.fix


def test_empty_cidr_list_is_refused():
    problem = only_problem(plan_with(service_cidrs=[]))
    assert problem.option == "service_cidrs" and "is empty" in problem.rule


def test_service_cidrs_in_the_other_primary_order_are_refused():
    problem = only_problem(plan_with(service_cidrs=["fd00::/108", "10.96.0.0/12"]))
    assert problem.option == "service_cidrs"
    assert "Put the IPv4 CIDR first: [10.96.0.0/12, fd00::/108]" in problem.fix


# --- overlaps -----------------------------------------------------------------------------

@pytest.mark.parametrize("changes, first, second", [
    ({"service_cidrs": ["10.244.0.0/20", "fd00::/108"]}, "pod_cidrs", "service_cidrs"),  # service inside pods
    ({"service_cidrs": ["10.96.0.0/12", "fd00::/16"]}, None, None),  # pods inside service (too big as well)
    ({"pod_cidrs": ["10.96.0.0/16", "fd00:1::/48"]}, "pod_cidrs", "service_cidrs"),  # pods inside service
    ({"pod_cidrs": ["10.244.0.0/16", "fd00::/108"], "service_cidrs": ["10.96.0.0/12", "fd00::/108"]},
     "pod_cidrs", "service_cidrs"),  # the same range
    ({"node_cidrs": ["10.0.0.0/8"]}, "pod_cidrs", "node_cidrs"),  # node network holds the pods
    ({"node_cidrs": ["fd00::/112"]}, "service_cidrs", "node_cidrs"),  # node network inside services
])
def test_overlaps_are_refused_in_either_direction(changes, first, second):
    problems = refused(plan_with(**changes))
    overlaps = [p for p in problems if "must not overlap" in p.rule]
    assert overlaps, [str(p) for p in problems]
    if first:
        assert overlaps[0].option == first and second in overlaps[0].rule


def test_overlap_message_names_both_ranges_and_the_relation():
    problem = only_problem(plan_with(pod_cidrs=["10.96.0.0/16", "fd00:1::/48"]))
    assert str(problem).startswith("pod_cidrs: 10.96.0.0/16 lies inside service_cidrs 10.96.0.0/12; ")


def test_disjoint_networks_with_node_networks_pass():
    plan = ap.build_plan(plan_with(node_cidrs=["2001:db8::/64", "192.168.1.0/24"]))
    assert plan["node_cidrs"] == ["192.168.1.0/24", "2001:db8::/64"]


def test_check_overlaps_ignores_the_other_family():
    nets = [("pod_cidrs", ipaddress.ip_network("10.0.0.0/8")), ("service_cidrs", ipaddress.ip_network("::/0"))]
    assert ap.check_overlaps(nets) == []


# --- Service CIDR size --------------------------------------------------------------------

def test_service_cidr_with_more_than_20_host_bits_is_refused_with_the_fix():
    problem = only_problem(plan_with(service_cidrs=["10.96.0.0/12", "fd00::/96"]))
    assert str(problem) == (
        "service_cidrs: fd00::/96 has 32 host bits; kube-apiserver allows at most 20 (mask >= 108 for IPv6). "
        "Use a /108../112, e.g. fd00::/112")


def test_ipv4_service_cidr_larger_than_a_12_is_refused():
    problem = only_problem(plan_with(service_cidrs=["10.96.0.0/11", "fd00::/112"]))
    assert problem.value == "10.96.0.0/11" and "at most 20" in problem.rule and "10.96.0.0/12" in problem.fix


def test_ipv6_service_cidr_between_108_and_112_warns_and_112_does_not():
    warned = ap.build_plan(plan_with(service_cidrs=["10.96.0.0/12", "fd00::/110"]))["warnings"]
    quiet = ap.build_plan(plan_with(service_cidrs=["10.96.0.0/12", "fd00::/112"]))["warnings"]
    assert any("65536" in w for w in warned)
    assert not any("service_cidrs" in w for w in quiet)


@pytest.mark.parametrize("cidrs, ok", [
    (["10.96.0.0/28", "fd00::/124"], True),
    (["10.96.0.0/29", "fd00::/112"], False),
    (["10.96.0.0/12", "fd00::/125"], False),
])
def test_service_cidr_must_hold_the_dns_address(cidrs, ok):
    params = plan_with(service_cidrs=cidrs)
    if ok:
        assert ap.build_plan(params)["dns_service_ip"] == {"ipv4": "10.96.0.10", "ipv6": "fd00::a"}
    else:
        problem = only_problem(params)
        assert "cluster DNS takes address number 10" in problem.rule


# --- node masks and capacity --------------------------------------------------------------

def test_node_mask_shorter_than_the_pod_prefix_is_refused():
    problem = only_problem(plan_with(node_mask_ipv4=15))
    assert problem.option == "node_mask_ipv4" and problem.value == "/15"
    assert "is shorter than the IPv4 pod CIDR 10.244.0.0/16" in problem.rule


def test_node_mask_equal_to_the_pod_prefix_holds_one_node():
    plan = ap.build_plan(plan_with(node_mask_ipv4=16, nodes=KUBEADM_ARTICLE["nodes"][:1]))
    assert plan["node_capacity"]["ipv4"] == 1


def test_ipv6_node_mask_more_than_16_bits_longer_is_refused():
    problem = only_problem(plan_with(node_mask_ipv6=65, pod_cidrs=["10.244.0.0/16", "fd00:1::/48"]))
    assert problem.option == "node_mask_ipv6"
    assert "is 17 bits longer than the prefix of the IPv6 pod CIDR fd00:1::/48" in problem.rule
    assert "/64" in problem.fix


def test_ipv6_node_mask_16_bits_longer_passes():
    assert ap.build_plan(plan_with(node_mask_ipv6=64))["node_capacity"]["ipv6"] == 65536


def test_ipv4_node_mask_more_than_16_bits_longer_is_refused_by_kubeadm_only():
    params = plan_with(pod_cidrs=["100.0.0.0/8", "fd00:1::/48"], node_mask_ipv4=25)
    assert "kubeadm refuses" in only_problem(params).rule
    k3s = plan_with(params, distribution="k3s", kubernetes_version="v1.31.2+k3s1")
    assert ap.build_plan(k3s)["node_capacity"]["ipv4"] == 2 ** 17


@pytest.mark.parametrize("mask", [0, 33, "24", True])
def test_node_mask_that_is_no_prefix_length_is_refused(mask):
    problems = ap.check_node_mask("node_mask_ipv4", mask, ipaddress.ip_network("10.244.0.0/16"), "kubeadm")
    assert len(problems) == 1 and "prefix length" in problems[0].rule


def test_more_nodes_than_node_cidrs_is_refused():
    nodes = [{"name": f"n{i}", "ipv4": f"192.168.1.{i + 1}", "ipv6": f"2001:db8::{i + 1:x}"} for i in range(5)]
    problem = only_problem(plan_with(pod_cidrs=["10.244.0.0/22", "fd00:1::/48"], nodes=nodes))
    assert str(problem).startswith(
        "pod_cidrs: 10.244.0.0/22 holds 4 node CIDRs of node_mask_ipv4 /24, but the inventory has 5 nodes")
    assert "set node_mask_ipv4 to /25 or longer" in problem.fix
    assert "pod CIDR of /21 or shorter" in problem.fix


def test_as_many_nodes_as_node_cidrs_pass_with_a_warning():
    nodes = [{"name": f"n{i}", "ipv4": f"192.168.1.{i + 1}", "ipv6": f"2001:db8::{i + 1:x}"} for i in range(4)]
    plan = ap.build_plan(plan_with(pod_cidrs=["10.244.0.0/22", "fd00:1::/48"], nodes=nodes))
    assert plan["node_capacity"]["ipv4"] == 4
    assert any(w.startswith("IPv4: the plan holds at most 4 nodes") for w in plan["warnings"])


def test_without_node_cidr_allocation_the_node_masks_do_not_limit_nodes_and_the_plan_says_so():
    params = plan_with(K3S_ARTICLE, node_cidr_allocation=False, nodes=K3S_ARTICLE["nodes"] + [
        {"name": "k3s-2", "ipv4": "192.168.0.16", "ipv6": "2003:e9:f712:a22f::16"}])
    plan = ap.build_plan(params)
    assert plan["node_cidr_allocation"] is False
    assert any("node_cidr_allocation is off" in w and "Calico's own IPAM" in w for w in plan["warnings"])
    # Calico still limits: /24 at blocks of /26 holds four nodes.
    assert plan["node_capacity"] == {"ipv4": 4, "ipv6": 2 ** 26}


# --- Calico -------------------------------------------------------------------------------

def test_calico_pool_inside_the_pod_cidr_passes():
    plan = ap.build_plan(plan_with(calico_ipv4_pool_cidr="10.244.128.0/17", calico_ipv6_pool_cidr="fd00:1:0:8000::/49"))
    assert plan["calico"]["ipv4_pool_cidr"] == "10.244.128.0/17"
    assert plan["calico"]["ipv6_pool_cidr"] == "fd00:1:0:8000::/49"


@pytest.mark.parametrize("option, pool", [
    ("calico_ipv4_pool_cidr", "10.245.0.0/16"),
    ("calico_ipv4_pool_cidr", "10.0.0.0/8"),  # contains the pod CIDR: still not inside it
    ("calico_ipv6_pool_cidr", "fd00:2::/48"),
])
def test_calico_pool_outside_the_pod_cidr_is_refused(option, pool):
    problems = refused(plan_with(**{option: pool}))
    outside = [p for p in problems if p.option == option]
    assert outside and "lies outside the" in outside[0].rule


def test_calico_pool_of_the_wrong_family_is_refused():
    problem = only_problem(plan_with(calico_ipv4_pool_cidr="fd00:1::/64"))
    assert problem.option == "calico_ipv4_pool_cidr" and "is not an IPv4 CIDR" in problem.rule


@pytest.mark.parametrize("option, size, ok", [
    ("calico_ipv4_block_size", 20, True), ("calico_ipv4_block_size", 32, True),
    ("calico_ipv4_block_size", 19, False), ("calico_ipv4_block_size", 33, False),
    ("calico_ipv6_block_size", 116, True), ("calico_ipv6_block_size", 128, True),
    ("calico_ipv6_block_size", 115, False), ("calico_ipv6_block_size", 129, False),
])
def test_calico_block_size_range(option, size, ok):
    params = plan_with(**{option: size})
    if ok:
        assert ap.build_plan(params)["calico"][option.replace("calico_", "")] == size
    else:
        problem = only_problem(params)
        assert problem.option == option and "block sizes" in problem.rule


def test_calico_block_larger_than_the_pool_is_refused():
    problem = only_problem(plan_with(pod_cidrs=["10.244.0.0/24", "fd00:1::/48"], calico_ipv4_block_size=22,
                                     nodes=KUBEADM_ARTICLE["nodes"][:1]))
    assert problem.option == "calico_ipv4_block_size" and "larger than the Calico IPv4 pool" in problem.rule


def test_more_nodes_than_calico_blocks_is_refused():
    problem = only_problem(plan_with(calico_ipv6_pool_cidr="fd00:1::/121", calico_ipv6_block_size=122,
                                     nodes=KUBEADM_ARTICLE["nodes"] + [
                                         {"name": "third", "ipv4": "192.168.1.13", "ipv6": "2001:db8::13"}]))
    assert problem.option == "calico_ipv6_pool_cidr"
    assert "holds 2 blocks of /122, but the inventory has 3 nodes" in problem.rule
    assert "calico_ipv6_block_size to 123" in problem.fix


def test_as_many_nodes_as_calico_blocks_pass():
    plan = ap.build_plan(plan_with(calico_ipv6_pool_cidr="fd00:1::/121", calico_ipv6_block_size=122))
    assert plan["node_capacity"]["ipv6"] == 2


# --- nodes --------------------------------------------------------------------------------

def node(**fields: t.Any) -> t.Dict[str, t.Any]:
    entry = {"name": "master", "ipv4": "192.168.1.11", "ipv6": "2001:db8::11"}
    entry.update(fields)
    return entry


@pytest.mark.parametrize("fields, rule", [
    ({"ipv6": None}, "is missing"),
    ({"ipv6": ""}, "is missing"),
    ({"ipv4": ["192.168.1.11", "192.168.1.12"]}, "lists 2 addresses"),
    ({"ipv4": "fd00::1"}, "is an IPv6 address where an IPv4 one belongs"),
    ({"ipv6": "192.168.1.11"}, "is an IPv4 address where an IPv6 one belongs"),
    ({"ipv4": "192.168.1.11/24"}, "is a CIDR, not an address"),
    ({"ipv4": "192.168.1"}, "cannot be parsed"),
    ({"ipv4": "127.0.0.1"}, "loopback"),
    ({"ipv6": "::1"}, "loopback"),
    ({"ipv6": "fe80::1"}, "link-local"),
    ({"ipv4": "169.254.1.1"}, "link-local"),
    ({"ipv6": "ff02::1"}, "multicast"),
    ({"ipv4": "0.0.0.0"}, "unspecified"),
])
def test_node_without_exactly_one_usable_address_per_family_is_refused(fields, rule):
    problem = only_problem(plan_with(nodes=[node(**fields)]))
    family = next(iter(fields))
    assert problem.option == f"nodes[0].{family} (master)"
    assert rule in problem.rule


def test_node_address_given_as_a_one_item_list_passes():
    plan = ap.build_plan(plan_with(nodes=[node(ipv4=["192.168.1.11"])]))
    assert plan["nodes"]["master"]["ipv4"] == "192.168.1.11"


def test_k3s_node_without_both_addresses_is_refused_with_the_k3s_reason():
    problem = only_problem(plan_with(K3S_ARTICLE, nodes=[node(ipv6=None)]))
    assert "k3s does not detect a dual-stack node-ip" in problem.rule


def test_node_outside_the_node_network_is_refused_and_inside_passes():
    params = plan_with(node_cidrs=["192.168.1.0/24", "2001:db8::/64"])
    assert ap.build_plan(params)
    problem = only_problem(plan_with(params, nodes=[node(ipv6="2001:db8:1::11")]))
    assert problem.option == "nodes[0].ipv6 (master)" and "lies outside node_cidrs 2001:db8::/64" in problem.rule


def test_node_address_inside_the_pod_or_service_network_is_refused():
    problems = refused(plan_with(nodes=[node(ipv4="10.244.1.1", ipv6="fd00::5")]))
    assert [p.rule.split(";")[0] for p in problems] == [
        "lies inside pod_cidrs 10.244.0.0/16", "lies inside service_cidrs fd00::/108"]


def test_nodes_sharing_an_address_or_a_name_are_refused():
    problems = refused(plan_with(nodes=[
        node(), node(name="worker", ipv6="2001:db8::12"), node(ipv4="192.168.1.13", ipv6="2001:db8::13")]))
    assert [(p.option, p.rule) for p in problems] == [
        ("nodes[1].ipv4 (worker)", "is also the address of master"),
        ("nodes[2].name", "is also the name of nodes[0]"),
    ]


def test_a_plan_without_nodes_is_refused():
    assert only_problem(plan_with(nodes=[])).option == "nodes"


# --- versions -----------------------------------------------------------------------------

@pytest.mark.parametrize("component, text, shown", [
    ("kubernetes", "1.31.2", "1.31.2"),
    ("kubernetes", "v1.31.2", "1.31.2"),
    ("k3s", "v1.21.1+k3s1", "v1.21.1+k3s1"),
    ("k3s", "1.21.1+k3s2", "v1.21.1+k3s2"),
    ("calico", "v3.30.7", "3.30.7"),
])
def test_versions_in_every_usual_form_are_read(component, text, shown):
    assert str(rules.parse(component, text, "kubernetes_version")) == shown


@pytest.mark.parametrize("text, words", [
    ("1", "is not a Kubernetes release number"),
    ("1.31.x", "is not a Kubernetes release number"),
    ("latest", "is not a Kubernetes release number"),
    ("", "is not a Kubernetes release number"),
    ("v1.031", "names a release line"),
    # The plan takes no release line that kubeadm_node would then refuse.
    ("1.31", "names a release line"),
    # A release candidate is never read as its release.
    ("1.32.0-rc.1", "is a pre-release"),
    ("1.14.10", "outside the Kubernetes releases this collection supports, 1.15.0 to 1.37.x"),
    ("1.38.0", "outside the Kubernetes releases this collection supports, 1.15.0 to 1.37.x"),
])
def test_versions_that_are_no_release_number_are_refused(text, words):
    problem = only_problem(plan_with(kubernetes_version=text))
    assert problem.option == "kubernetes_version" and words in problem.rule


@pytest.mark.parametrize("version, gates", [
    ("1.18.5", {"IPv6DualStack": True}),
    ("1.20.15", {"IPv6DualStack": True}),
    ("1.21.0", {}),
    ("v1.24.17", {}),
    ("1.25.0", {}),
    ("1.31.2", {}),
])
def test_kubeadm_feature_gate_is_returned_only_where_the_release_needs_it(version, gates):
    assert ap.build_plan(plan_with(kubernetes_version=version))["feature_gates"] == gates


def test_feature_gate_set_from_1_25_is_refused_and_before_it_is_kept():
    problem = only_problem(plan_with(kubernetes_version="1.25.0", feature_gates={"IPv6DualStack": True}))
    assert problem.option == "feature_gates.IPv6DualStack" and "removed in 1.25" in problem.rule
    kept = ap.build_plan(plan_with(kubernetes_version="1.24.0", feature_gates={"IPv6DualStack": True}))
    assert kept["feature_gates"] == {"IPv6DualStack": True}


def test_feature_gate_turned_off_is_refused():
    problem = only_problem(plan_with(kubernetes_version="1.22.0", feature_gates={"IPv6DualStack": False}))
    assert problem.option == "feature_gates.IPv6DualStack" and "turns dual-stack off" in problem.rule


def test_other_feature_gates_are_passed_on():
    plan = ap.build_plan(plan_with(kubernetes_version="1.31.2", feature_gates={"SomeGate": True}))
    assert plan["feature_gates"] == {"SomeGate": True}


def test_kubeadm_without_dual_stack_is_refused():
    problem = only_problem(plan_with(kubernetes_version="1.14.10"))
    assert "first release with dual-stack" in problem.rule


def test_unquoted_yaml_version_gets_a_hint():
    problem = only_problem(plan_with(kubernetes_version="1.3"))
    assert "an unquoted 1.30 in YAML reads as 1.3: quote versions" in problem.rule


def test_k3s_before_1_21_is_refused_and_from_1_21_passes():
    problem = only_problem(plan_with(K3S_ARTICLE, kubernetes_version="v1.20.15+k3s1"))
    assert problem.option == "kubernetes_version" and "first k3s with dual-stack" in problem.rule
    assert ap.build_plan(plan_with(K3S_ARTICLE, kubernetes_version="v1.21.0+k3s1"))


def test_k3s_stable_dual_stack_has_no_experimental_warning():
    plan = ap.build_plan(plan_with(K3S_ARTICLE, kubernetes_version="v1.23.7+k3s1"))
    assert not any("experimental" in w for w in plan["warnings"])


def test_k3s_release_with_kubeadm_is_refused():
    problem = only_problem(plan_with(kubernetes_version="v1.31.2+k3s1"))
    assert "is a k3s release, but the distribution is kubeadm" in problem.rule


def test_unknown_distribution_is_refused():
    assert only_problem(plan_with(distribution="kind")).option == "distribution"


def test_calico_ipv6_vxlan_needs_3_23():
    problem = only_problem(plan_with(calico_version="3.22.4", calico_ipv6_encapsulation="vxlan"))
    assert problem.option == "calico_ipv6_encapsulation" and "needs Calico 3.23 or later" in problem.rule
    plan = ap.build_plan(plan_with(calico_version="v3.23.0", calico_ipv6_encapsulation="vxlan"))
    assert plan["calico"]["ipv6_encapsulation"] == "vxlan" and plan["calico"]["version"] == "3.23.0"


def test_unknown_ipv6_encapsulation_is_refused():
    assert only_problem(plan_with(calico_ipv6_encapsulation="ipip")).option == "calico_ipv6_encapsulation"


# --- all problems at once -----------------------------------------------------------------

def test_every_problem_is_reported_together():
    params = plan_with(
        pod_cidrs=["10.96.0.0/16", "fd00:1::1/48"],
        service_cidrs=["10.96.0.0/12", "fd00::/96"],
        nodes=[node(ipv6="fe80::1")],
        kubernetes_version="1.30.1",
        feature_gates={"IPv6DualStack": True},
        calico_version="3.20.0",
        calico_ipv6_encapsulation="vxlan",
    )
    with pytest.raises(ap.AddressPlanError) as info:
        ap.build_plan(params)
    options = [p.option for p in info.value.problems]
    assert options == ["pod_cidrs[1]", "pod_cidrs", "service_cidrs", "nodes[0].ipv6 (master)",
                       "feature_gates.IPv6DualStack", "calico_ipv6_encapsulation"]
    message = str(info.value)
    assert message.startswith("The address plan is refused (6 problems); no host was changed:\n- pod_cidrs[1]: ")
    assert message.count("\n- ") == 6


def test_every_message_names_option_value_rule_and_fix():
    problems = refused(plan_with(
        pod_cidrs=["10.96.0.0/16", "fd00:1::/48"], service_cidrs=["10.96.0.0/12", "fd00::/96"], node_mask_ipv6=40,
        calico_ipv4_block_size=40, nodes=[node(ipv4=None)], kubernetes_version="1.10"))
    assert len(problems) == 6
    for problem in problems:
        text = str(problem)
        assert text.startswith(f"{problem.option}: {ap.show(problem.value)} {problem.rule}. ")
        assert problem.fix and problem.fix[0].isupper()


# --- table and ULA prefixes ---------------------------------------------------------------

def test_table_shows_both_families_and_every_node():
    lines = ap.format_plan_table(ap.build_plan(KUBEADM_ARTICLE))
    assert lines[0] == "kubeadm 1.18.5, Calico 3.15.1, primary family ipv4, feature gates IPv6DualStack=true"
    assert lines[1].split() == ["family", "pods", "services", "node", "mask", "max", "nodes", "API", "IP", "DNS",
                                "IP", "Calico", "pool"]
    assert lines[2].split() == ["ipv4", "10.244.0.0/16", "10.96.0.0/12", "/24", "256", "10.96.0.1", "10.96.0.10",
                                "10.244.0.0/16", "/26"]
    assert lines[3].split()[:2] == ["ipv6", "fd00:1::/48"]
    assert [line.split() for line in lines[5:]] == [["master", "192.168.1.11"], ["worker", "192.168.1.12"]]
    later = ap.format_plan_table(ap.build_plan(plan_with(kubernetes_version="1.31.2", calico_version="3.30.7")))
    assert [line.split() for line in later[5:]] == [
        ["master", "192.168.1.11,2001:db8::11"], ["worker", "192.168.1.12,2001:db8::12"]]


def test_seeded_ula_prefix_is_stable_and_random_one_is_not():
    first = ap.ula_prefix("prod-cluster-1")
    assert first == ap.ula_prefix("prod-cluster-1")
    assert first != ap.ula_prefix("prod-cluster-2")
    network = ipaddress.ip_network(first)
    assert network.prefixlen == 48 and network.subnet_of(ipaddress.ip_network("fd00::/8"))
    randoms = {ap.ula_prefix() for attempt in range(8)}
    assert len(randoms) == 8
    assert all(ipaddress.ip_network(p).subnet_of(ipaddress.ip_network("fd00::/8")) for p in randoms)


# --- messages in the role's variable names ------------------------------------------------

def test_messages_name_the_role_variables_when_given_a_prefix():
    problems = refused(plan_with(K3S_ARTICLE, distribution="k3s", nodes=[node(ipv6=None), node(name="worker", ipv4="192.168.1.12", ipv6="2001:db8::12")]))
    texts = [ap.as_variables(str(p), "address_plan_") for p in problems]
    assert texts[0].startswith("address_plan_node_ipv6 of master: (not set) is missing")
    assert texts[1].startswith(
        "address_plan_pod_cidrs: 10.42.0.0/24 holds 1 node CIDR of address_plan_node_mask_ipv4 /24, "
        "but the inventory has 2 nodes")
    assert "set address_plan_node_cidr_allocation to false" in texts[1]
    assert "address_plan_address_plan" not in " ".join(texts)


def test_messages_keep_the_option_names_without_a_prefix():
    text = str(only_problem(plan_with(service_cidrs=["10.96.0.0/12", "fd00::/96"])))
    assert ap.as_variables(text, "") == text
    assert ap.as_variables(text, "address_plan_").startswith("address_plan_service_cidrs: fd00::/96 has 32 host bits")
