# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters hand the decisions to templates and turn bad input into filter errors."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.dualstack.kubernetes.plugins.filter.traefik_dualstack import FilterModule

FILTERS = FilterModule().filters()


def test_every_decision_is_a_filter():
    assert set(FILTERS) == {"traefik_chart_layout", "traefik_chart_from_manifest", "k3s_traefik_layout",
                            "k3s_servicelb_dual_stack", "traefik_load_balancer", "traefik_ip_families",
                            "traefik_service_values", "svclb_pod_sysctls"}


def test_filters_return_plain_values_for_templates():
    assert FILTERS["traefik_chart_layout"]("10.9.1") == "policy_key"
    assert FILTERS["traefik_chart_from_manifest"]("nothing here") == ""
    assert FILTERS["k3s_traefik_layout"]("v1.22.5+k3s1") == ""
    assert FILTERS["traefik_load_balancer"]("v1.21.4+k3s1") == "klipper_dualstack_lb"
    assert FILTERS["traefik_service_values"]("service_keys", ["IPv6", "IPv4"]) == {
        "service": {"ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv6", "IPv4"]}}
    assert FILTERS["svclb_pod_sysctls"](["IPv6", "IPv4"]) == ["net.ipv6.conf.all.forwarding"]


def test_bad_input_becomes_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="traefik_dualstack_load_balancer is 'nginx'"):
        FILTERS["traefik_load_balancer"]("v1.31.2+k3s1", "nginx")
