# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report and the diagram show the API endpoint of several control planes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.dualstack.kubernetes.plugins.module_utils import plan_report as pr
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils import article_plans

NODES = [{"name": name, "ipv4": f"192.168.1.{11 + i}", "ipv6": f"2001:db8::{11 + i}"}
         for i, name in enumerate(["cp-1", "cp-2", "cp-3"])]


def texts(svg: str) -> str:
    return "\n".join(el.text or "" for el in ET.fromstring(svg.encode("utf-8")).iter("{http://www.w3.org/2000/svg}text"))


def test_vips_and_control_planes_are_in_the_report_and_the_diagram():
    plan = article_plans.kubeadm_plan(kubernetes_version="1.31.2", nodes=NODES, node_cidrs=["192.168.1.0/24", "2001:db8::/64"],
                                      control_plane_hosts=["cp-1", "cp-2", "cp-3"],
                                      api_vips=["192.168.1.10", "2001:db8::10"])
    report = pr.markdown(plan)
    assert "| API endpoint | `192.168.1.10:6443` (virtual IPs 192.168.1.10, 2001:db8::10) |" in report
    assert "| Control planes | cp-1 (initialises), cp-2 (joins), cp-3 (joins) |" in report
    body = texts(pr.svg(plan))
    assert "IPv4 node network 192.168.1.0/24, API virtual IP 192.168.1.10" in body
    assert "IPv6 node network 2001:db8::/64, API virtual IP 2001:db8::10" in body


def test_an_external_endpoint_is_named_and_a_single_control_plane_adds_nothing():
    plan = article_plans.kubeadm_plan(kubernetes_version="1.31.2", nodes=NODES, control_plane_hosts=["cp-1", "cp-2", "cp-3"],
                                      api_endpoint="[2001:db8:1::5]:443")
    assert "| API endpoint | `[2001:db8:1::5]:443` (external load balancer) |" in pr.markdown(plan)
    assert "API virtual IP" not in texts(pr.svg(plan))
    single = article_plans.kubeadm_plan(kubernetes_version="1.31.2", control_plane_hosts=["master"])
    report = pr.markdown(single)
    assert "API endpoint" not in report and "Control planes" not in report
