# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API endpoint of several control planes: virtual IPs, an external endpoint, and refusals."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import address_plan as ap
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils import article_plans

THREE = ["cp-1", "cp-2", "cp-3"]


def ha_params(**changes: t.Any) -> t.Dict[str, t.Any]:
    """The kubeadm article's networks with three control planes, a worker and both virtual IPs."""
    return article_plans.kubeadm_params(**{
        "service_cidrs": ["10.96.0.0/12", "fd00::/112"],
        "nodes": [{"name": name, "ipv4": f"192.168.1.{11 + i}", "ipv6": f"2001:db8::{11 + i}"}
                  for i, name in enumerate(THREE + ["worker"])],
        "kubernetes_version": "1.31.2",
        "calico_version": "3.30.7",
        "control_plane_hosts": list(THREE),
        "api_vips": ["192.168.1.10", "2001:db8::10"],
        **changes})


refused = article_plans.refused
only_problem = article_plans.only_problem


def test_three_control_planes_with_vips_give_the_endpoint_and_the_order():
    plan = ap.build_plan(ha_params())
    assert plan["control_planes"] == THREE
    assert plan["api_endpoint"] == {"host": "192.168.1.10", "port": 6443, "vips": ["192.168.1.10", "2001:db8::10"],
                                    "url_host": "192.168.1.10"}
    assert not any("etcd" in w for w in plan["warnings"])
    assert "API endpoint 192.168.1.10:6443 (virtual IPs 192.168.1.10, 2001:db8::10)" in ap.format_plan_table(plan)[-1]


def test_ipv6_primary_vips_are_bracketed_in_url_host():
    plan = ap.build_plan(ha_params(pod_cidrs=["fd00:1::/48", "10.244.0.0/16"], service_cidrs=["fd00::/112", "10.96.0.0/12"],
                                   api_vips=["2001:db8::10", "192.168.1.10"], api_port=8443))
    assert plan["api_endpoint"] == {"host": "2001:db8::10", "port": 8443, "vips": ["2001:db8::10", "192.168.1.10"],
                                    "url_host": "[2001:db8::10]"}


@pytest.mark.parametrize("endpoint, host, port, url_host", [
    ("lb.example.com", "lb.example.com", 6443, "lb.example.com"),
    ("lb.example.com:443", "lb.example.com", 443, "lb.example.com"),
    ("203.0.113.5:6443", "203.0.113.5", 6443, "203.0.113.5"),
    ("[2001:db8:1::5]:7443", "2001:db8:1::5", 7443, "[2001:db8:1::5]"),
    ("2001:db8:1::5", "2001:db8:1::5", 6443, "[2001:db8:1::5]"),
])
def test_an_external_endpoint_is_split_into_host_and_port(endpoint, host, port, url_host):
    plan = ap.build_plan(ha_params(api_vips=[], api_endpoint=endpoint))
    assert plan["api_endpoint"] == {"host": host, "port": port, "vips": [], "url_host": url_host}


def test_one_control_plane_without_endpoint_keeps_the_plan_as_before():
    plan = ap.build_plan(ha_params(control_plane_hosts=["cp-1"], api_vips=[]))
    assert plan["api_endpoint"] is None
    assert plan["control_planes"] == ["cp-1"]
    read = ap.Plan.from_fact(plan)
    assert read.api_endpoint is None and read.control_planes == ("cp-1",)


def test_plan_reads_the_endpoint_and_control_planes():
    read = ap.Plan.from_fact(ap.build_plan(ha_params()))
    assert read.control_planes == tuple(THREE)
    assert read.api_endpoint is not None and read.api_endpoint["url_host"] == "192.168.1.10"


def test_several_control_planes_without_endpoint_are_refused():
    problem = only_problem(ha_params(api_vips=[]))
    text = ap.as_variables(str(problem), "address_plan_")
    assert "address_plan_api_vips" in text and "address_plan_api_endpoint" in text
    assert "3 control planes" in text and "cluster of its own" in text


def test_vips_and_endpoint_together_are_refused():
    problem = only_problem(ha_params(api_endpoint="lb.example.com"))
    assert problem.option == "api_endpoint" and "together with api_vips" in problem.rule


@pytest.mark.parametrize("vips, words", [
    (["192.168.1.11", "2001:db8::10"], "is the address of node cp-1"),
    (["10.244.0.10", "2001:db8::10"], "inside pod_cidrs"),
    (["192.168.1.10", "fd00::10"], "inside service_cidrs"),
    (["127.0.0.10", "2001:db8::10"], "loopback"),
    (["192.168.1.10", "fe80::10"], "link-local"),
    (["192.168.1.10"], "exactly one virtual IP per family"),
    (["2001:db8::10", "192.168.1.10"], "primary family (IPv4) first"),
    (["192.168.1.10", "192.168.1.9"], "exactly one virtual IP per family"),
    (["192.168.1.10/24", "2001:db8::10"], "is a CIDR"),
    (["vip", "2001:db8::10"], "is not an IPv4 or IPv6 address"),
    (["192.168.1.10", "::ffff:192.168.1.10"], "IPv4-mapped"),
])
def test_bad_vips_are_refused_naming_the_value(vips, words):
    problem = only_problem(ha_params(api_vips=vips))
    assert problem.option.startswith("api_vips")
    assert words in str(problem)


def test_vips_outside_the_node_cidrs_are_refused():
    problems = refused(ha_params(node_cidrs=["192.168.1.0/24", "2001:db8::/64"],
                                 api_vips=["192.168.2.10", "2001:db8:1::10"]))
    assert [p.option for p in problems] == ["api_vips[0]", "api_vips[1]"]
    assert all("outside node_cidrs" in p.rule for p in problems)
    assert ap.build_plan(ha_params(node_cidrs=["192.168.1.0/24", "2001:db8::/64"]))["api_endpoint"]


@pytest.mark.parametrize("endpoint, words", [
    ("lb.example.com:99999", "not a TCP port"),
    ("lb_example", "neither an address nor a DNS name"),
    ("[lb.example.com]:6443", "only IPv6 addresses take"),
    ("[2001:db8::5:6443", "unclosed or misplaced bracket"),
    ("10.96.0.5", "inside service_cidrs"),
    ("127.0.0.1:6443", "loopback"),
])
def test_bad_external_endpoints_are_refused(endpoint, words):
    problem = only_problem(ha_params(api_vips=[], api_endpoint=endpoint))
    assert problem.option == "api_endpoint" and words in str(problem)


def test_a_bad_api_port_and_unknown_control_planes_are_refused():
    assert only_problem(ha_params(api_port=0)).option == "api_port"
    problem = only_problem(ha_params(control_plane_hosts=THREE + ["ghost"]))
    assert problem.option == "control_plane_hosts[3]" and problem.value == "ghost"
    assert only_problem(ha_params(control_plane_hosts=["cp-1", "cp-1", "cp-2"])).rule == "is listed twice"


def test_an_even_number_of_control_planes_is_warned_about():
    plan = ap.build_plan(ha_params(control_plane_hosts=["cp-1", "cp-2"]))
    assert any("2 etcd members" in w and "odd number (3)" in w for w in plan["warnings"])
    plan = ap.build_plan(ha_params(control_plane_hosts=THREE + ["worker"]))
    assert any("4 control planes make 4 etcd members, which lose quorum after 1 failure" in w for w in plan["warnings"])
