# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Traefik chart reads which key, what k3s bundles, and which load balancer to use."""

from __future__ import annotations

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import traefik_dualstack as td
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError


@pytest.mark.parametrize("chart, layout", [
    ("9.18.2", "spec_only"),       # k3s v1.21, the article's chart
    ("10.3.0", "spec_only"),       # 10.0-10.6 still had no ipFamilyPolicy key
    ("10.6.2", "spec_only"),
    ("10.7.0", "policy_key"),      # service.ipFamilyPolicy added
    ("10.9.1", "policy_key"),
    ("10.12.9", "policy_key"),
    ("10.13.0", "service_keys"),   # service.ipFamilies added
    ("10.19.300", "service_keys"),  # k3s's packaged spelling of 10.19.3
    ("27.0.2", "service_keys"),
    ("39.0.9", "service_keys"),
    ("40.0.0", "spec_v40"),        # keys removed, all under service.spec
    ("40.9.1", "spec_v40"),
])
def test_chart_layout_boundaries(chart, layout):
    assert td.chart_layout(chart) == layout


@pytest.mark.parametrize("chart", ["1.81.0", "8.13.3", "41.0.2"])
def test_charts_outside_the_known_range_are_refused(chart):
    # Before 9 the chart is Traefik v1's; after 40 no chart is known to the rule book.
    with pytest.raises(DualstackError, match="is outside the Traefik chart releases this collection "
                                             "supports, 9.0.0 to 40.x"):
        td.chart_layout(chart)


def test_garbage_version_names_the_variable():
    with pytest.raises(DualstackError, match="^traefik_dualstack_chart_version: latest is not a Traefik chart release"):
        td.chart_layout("latest")


@pytest.mark.parametrize("manifest, chart", [
    ("spec:\n  chart: https://%{KUBERNETES_API}%/static/charts/traefik-9.18.2.tgz\n", "9.18.2"),
    ("chart: https://%{KUBERNETES_API}%/static/charts/traefik-crd-10.14.100.tgz\n---\n"
     "chart: https://%{KUBERNETES_API}%/static/charts/traefik-10.9.100.tgz\n", "10.9.1"),
    ("chart: https://%{KUBERNETES_API}%/static/charts/traefik-10.3.001.tgz", "10.3.0"),
    ("chart: https://%{KUBERNETES_API}%/static/charts/traefik-27.0.201.tgz", "27.0.2"),
    ("apiVersion: v1\nkind: ConfigMap\n", None),
])
def test_chart_version_from_k3s_manifest(manifest, chart):
    assert td.chart_version_from_manifest(manifest) == chart


@pytest.mark.parametrize("k3s, layout", [
    ("v1.21.4+k3s1", "spec_only"),
    ("v1.21.14+k3s1", "spec_only"),
    ("v1.22.5+k3s1", None),
    ("v1.23.17+k3s1", None),
    ("v1.24.17+k3s1", "service_keys"),
    ("v1.31.2+k3s1", "service_keys"),
    ("v1.33.13+k3s1", "service_keys"),
    ("v1.33.13+k3s2", "spec_v40"),
    ("v1.34.5+k3s1", None),
    ("v1.35.6+k3s1", "service_keys"),
    ("v1.35.7+k3s1", "spec_v40"),
    ("v1.36.2+k3s1", "service_keys"),
    ("v1.36.3+k3s1", None),
    ("v1.36.4+k3s1", "spec_v40"),
    ("v1.37.0+k3s1", "spec_v40"),
    ("v1.37.9+k3s2", "spec_v40"),
])
def test_bundled_layout_by_k3s_release(k3s, layout):
    assert td.bundled_layout(k3s) == layout


@pytest.mark.parametrize("k3s, capable", [
    ("v1.21.0+k3s1", False),
    ("v1.21.6+k3s1", False),
    ("v1.21.7+k3s1", True),
    ("v1.22.2+k3s1", False),
    ("v1.22.3+k3s1", True),
    ("v1.23.0+k3s1", True),
    ("v1.31.2+k3s1", True),
])
def test_servicelb_dual_stack_from_v1_21_7_and_v1_22_3(k3s, capable):
    assert td.servicelb_handles_dual_stack(k3s) is capable


def test_k3s_before_dual_stack_is_refused():
    with pytest.raises(DualstackError, match="v1.21.0\\+k3s1 is the first k3s with dual-stack"):
        td.servicelb_handles_dual_stack("v1.20.15+k3s1")


@pytest.mark.parametrize("k3s, requested, chosen", [
    ("v1.21.4+k3s1", "auto", "klipper_dualstack_lb"),   # the article's k3s
    ("v1.22.2+k3s2", "auto", "klipper_dualstack_lb"),
    ("v1.22.3+k3s1", "auto", "servicelb"),
    ("v1.31.2+k3s1", "auto", "servicelb"),
    ("v1.31.2+k3s1", "klipper_dualstack_lb", "klipper_dualstack_lb"),  # replacing ServiceLB on request
    ("v1.31.2+k3s1", "servicelb", "servicelb"),
])
def test_choose_load_balancer(k3s, requested, chosen):
    assert td.choose_load_balancer(k3s, requested) == chosen


def test_servicelb_disabled_in_k3s_means_the_user_replaced_it():
    assert td.choose_load_balancer("v1.31.2+k3s1", "auto", servicelb_disabled=True) == "klipper_dualstack_lb"
    with pytest.raises(DualstackError, match="runs with servicelb disabled"):
        td.choose_load_balancer("v1.31.2+k3s1", "servicelb", servicelb_disabled=True)


def test_servicelb_on_a_single_family_k3s_is_refused():
    with pytest.raises(DualstackError, match="serves one family only"):
        td.choose_load_balancer("v1.21.4+k3s1", "servicelb")


def test_unknown_load_balancer_names_the_variable():
    with pytest.raises(DualstackError, match="traefik_dualstack_load_balancer is 'metallb'"):
        td.choose_load_balancer("v1.31.2+k3s1", "metallb")


def test_ip_families_keep_the_primary_first():
    assert td.ip_families(["ipv6", "ipv4"]) == ["IPv6", "IPv4"]
    assert td.ip_families(["ipv4", "ipv6"], "SingleStack") == ["IPv4"]
    with pytest.raises(DualstackError, match="RequireDualStack but the address plan has only IPv4"):
        td.ip_families(["ipv4"])
    with pytest.raises(DualstackError, match="traefik_dualstack_ip_family_policy is 'Dual'"):
        td.ip_families(["ipv4", "ipv6"], "Dual")


def test_service_values_per_layout():
    fam = ["IPv4", "IPv6"]
    ext = ["192.168.0.15", "2003:e9:f712:a22f:a61f:72ff:fe56:1e9e"]
    assert td.service_values("spec_only", fam, "RequireDualStack", ext) == {"service": {
        "spec": {"ipFamilyPolicy": "RequireDualStack", "ipFamilies": fam}, "externalIPs": ext}}
    assert td.service_values("policy_key", fam, "RequireDualStack") == {"service": {
        "ipFamilyPolicy": "RequireDualStack", "spec": {"ipFamilies": fam}}}
    assert td.service_values("service_keys", fam, "PreferDualStack", ext) == {"service": {
        "ipFamilyPolicy": "PreferDualStack", "ipFamilies": fam, "externalIPs": ext}}
    assert td.service_values("spec_v40", fam, "RequireDualStack", ext) == {"service": {"spec": {
        "ipFamilyPolicy": "RequireDualStack", "ipFamilies": fam, "externalIPs": ext}}}
