# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API server's limits and types on what the svclb DaemonSet is built from: names,
label values, ports, clusterIPs and source ranges. Every Service either gives a DaemonSet
an independent check accepts (the API's rules, re-checked with netaddr) or a refusal that
names the field and the rule."""

from __future__ import annotations

import copy
import re

import netaddr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.dualstack.kubernetes.plugins.module_utils import klipper_lb as lb
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils.klipper_fakes import article_service

# The API's rules, written out again here (not imported) so that the check is independent.
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def named(name, **spec):
    service = article_service(**spec)
    service["metadata"]["name"] = name
    return service


def assert_api_accepts(ds, service):
    """What the API server would check on the DaemonSet, and that it carries the Service."""
    meta = ds["metadata"]
    assert len(meta["name"]) <= 253 and DNS1123_SUBDOMAIN.match(meta["name"])
    labels = [meta["labels"], ds["spec"]["selector"]["matchLabels"], ds["spec"]["template"]["metadata"]["labels"]]
    for group in labels:
        for value in group.values():
            assert len(value) <= 63 and LABEL_VALUE.match(value), value
    assert ds["spec"]["selector"]["matchLabels"]["app"] == ds["spec"]["template"]["metadata"]["labels"]["app"]
    spec = service["spec"]
    cluster_ips = spec.get("clusterIPs") or [spec["clusterIP"]]
    wanted = {str(netaddr.IPAddress(ip)) for ip in cluster_ips}
    for container, port in zip(ds["spec"]["template"]["spec"]["containers"], spec["ports"]):
        assert len(container["name"]) <= 63 and DNS1123_LABEL.match(container["name"])
        assert len(container["ports"][0]["name"]) <= 15 and IANA_SVC_NAME.match(container["ports"][0]["name"])
        port_number = container["ports"][0]["containerPort"]
        assert isinstance(port_number, int) and not isinstance(port_number, bool)
        assert container["ports"][0]["hostPort"] == int(port["port"])
        env = {item["name"]: item["value"] for item in container["env"]}
        assert all(isinstance(value, str) for value in env.values())
        dest = env.get("DEST_IPS", " ".join(v for k, v in env.items() if k in ("DEST_IP", "DEST_IP6"))).split()
        assert set(dest) <= wanted and dest
        for cidr in env.get("SRC_RANGES", "0.0.0.0/0").split():
            netaddr.IPNetwork(cidr)


def refusal(service, **kwargs):
    before = copy.deepcopy(service)
    try:
        return lb.build_daemonset(service, **kwargs), None
    except DualstackError as exc:
        assert service == before, "the input is not changed"
        return None, str(exc)


def test_a_63_character_service_name_gives_labels_the_api_takes():
    name = "s" + "a" * 62
    ds, problem = refusal(named(name))
    assert problem is None
    assert ds["metadata"]["name"] == "svclb-" + name  # 69 characters: a valid DaemonSet name
    assert_api_accepts(ds, named(name))
    label = ds["metadata"]["labels"]["app"]
    assert len(label) == 63 and label.startswith("svclb-saaa")
    other = refusal(named("s" + "a" * 61 + "b"))
    assert other[0]["metadata"]["labels"]["app"] != label, "two long names keep different labels"


def test_a_short_name_keeps_the_daemonset_name_as_its_label():
    ds = refusal(named("traefik"))[0]
    assert ds["metadata"]["labels"]["app"] == "svclb-traefik"


@pytest.mark.parametrize("name, words", [
    ("s" + "a" * 63, "at most 63 characters"),
    ("Traefik", "DNS-1035 label"),
    ("1web", "starting with a letter"),
    ("web_1", "DNS-1035 label"),
])
def test_service_names_the_api_refuses_are_refused(name, words):
    _ds, problem = refusal(named(name))
    assert problem.startswith("service metadata.name: ") and words in problem


def test_a_daemonset_name_over_253_characters_is_refused():
    with pytest.raises(DualstackError, match="daemonset_name: .* at most 253 characters"):
        lb.build_daemonset(article_service(), name="a" * 254)
    ds = lb.build_daemonset(article_service(), name="a" * 253)
    assert_api_accepts(ds, article_service())


@pytest.mark.parametrize("port, words", [
    (80.9, "80.9 is not a whole number"),
    (True, "true is not a whole number"),
    ("80.0", "80.0 is not a whole number"),
    (None, "(not set) is not a whole number"),
    (0, "0 is outside 1-65535"),
    (70000, "70000 is outside 1-65535"),
])
def test_ports_are_whole_numbers_not_coerced(port, words):
    service = article_service(ports=[{"port": port, "protocol": "TCP"}])
    _ds, problem = refusal(service)
    assert problem == "Service kube-system/traefik spec.ports[0].port: %s. Give the port as a number from 1 to 65535." % words


def test_a_port_given_as_digits_is_the_number():
    ds = refusal(article_service(ports=[{"port": "8080", "protocol": "TCP"}]))[0]
    assert ds["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] == 8080


def test_cluster_ips_as_a_string_is_refused_not_read_letter_by_letter():
    _ds, problem = refusal(article_service(clusterIPs="10.43.0.10"))
    assert problem.startswith("Service kube-system/traefik spec.clusterIPs: 10.43.0.10 is not a list.")


@pytest.mark.parametrize("ranges, words", [
    ("10.0.0.0/8", "spec.loadBalancerSourceRanges: 10.0.0.0/8 is not a list"),
    (["10.0.0.0/8", "not-a-cidr"], "spec.loadBalancerSourceRanges[1]: not-a-cidr is not a CIDR"),
    (["10.0.0.1"], "spec.loadBalancerSourceRanges[0]: 10.0.0.1 is not a CIDR"),
    (["10.0.0.0/33"], "is not a CIDR"),
    ([42], "42 is not a CIDR"),
])
def test_source_ranges_are_checked_as_cidrs(ranges, words):
    _ds, problem = refusal(article_service(loadBalancerSourceRanges=ranges))
    assert words in problem


def test_source_ranges_reach_klipper_lb_as_networks():
    ds = refusal(article_service(loadBalancerSourceRanges=[" 192.0.2.7/24", "2001:db8::/64"]))[0]
    env = {e["name"]: e["value"] for e in ds["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SRC_RANGES"] == "192.0.2.0/24 2001:db8::/64"


@pytest.mark.parametrize("selector, words", [
    ({"edge": True}, "node_selector.edge: true is not a label value"),
    ({"zone": "x" * 64}, "is not a label value"),
    ({"bad key!": "x"}, "node_selector: bad key! is not a label key"),
])
def test_node_selector_values_are_label_values(selector, words):
    with pytest.raises(DualstackError, match=re.escape(words)):
        lb.build_daemonset(article_service(), node_selector=selector)


PORTS = st.one_of(st.integers(-5, 70000), st.floats(allow_nan=True), st.booleans(), st.none(),
                  st.text(max_size=6), st.sampled_from(["80", "443", "08", "1e3"]))
ADDRESSES = st.one_of(st.ip_addresses().map(str), st.text(max_size=12))
NETWORKS = st.builds(lambda address, prefix: "%s/%d" % (address, prefix % (33 if ":" not in str(address) else 129)),
                     st.ip_addresses(), st.integers(0, 140))
SERVICES = st.fixed_dictionaries({
    "name": st.one_of(st.from_regex(r"\A[a-z][-a-z0-9]{0,70}\Z"), st.text(max_size=70)),
    "ports": st.lists(st.fixed_dictionaries({"port": PORTS, "protocol": st.sampled_from(["TCP", "UDP", "tcp", "SCTP", 6])}),
                      min_size=1, max_size=3),
    "clusterIPs": st.one_of(st.lists(ADDRESSES, min_size=1, max_size=2), ADDRESSES),
    "ranges": st.one_of(st.none(), st.lists(st.one_of(NETWORKS, ADDRESSES), max_size=3),
                        st.text(max_size=10)),
    "policy": st.sampled_from([None, "SingleStack", "PreferDualStack", "RequireDualStack"]),
})
# Words of the fields and rules each refusal names.
FIELDS = ("metadata.name", "spec.ports", "spec.clusterIPs", "spec.loadBalancerSourceRanges", "ipFamilyPolicy",
          "protocol", "clusterIP", "daemonset_name")


@settings(derandomize=True, max_examples=300, deadline=None)
@given(SERVICES)
def test_every_service_gives_a_daemonset_the_api_takes_or_a_refusal_naming_the_field(draw):
    spec = {"ports": draw["ports"], "clusterIPs": draw["clusterIPs"]}
    if draw["ranges"] is not None:
        spec["loadBalancerSourceRanges"] = draw["ranges"]
    if draw["policy"]:
        spec["ipFamilyPolicy"] = draw["policy"]
    service = named(draw["name"], **spec)
    ds, problem = refusal(service)
    if problem is not None:
        assert any(field in problem for field in FIELDS), problem
        assert len(problem) < 1200
        return
    assert_api_accepts(ds, service)
    for port in draw["ports"]:
        assert not isinstance(port["port"], (bool, float)), "a float or a boolean port was taken"
