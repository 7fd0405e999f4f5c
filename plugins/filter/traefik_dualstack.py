# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the traefik_dualstack role decides with; the logic is in module_utils.traefik_dualstack."""

from __future__ import annotations

from ansible_collections.dualstack.kubernetes.plugins.module_utils import klipper_lb
from ansible_collections.dualstack.kubernetes.plugins.module_utils import traefik_dualstack as td
from ansible_collections.dualstack.kubernetes.plugins.plugin_utils.filters import filter_table


def traefik_chart_layout(chart_version):
    return td.chart_layout(chart_version)


def traefik_chart_from_manifest(text):
    return td.chart_version_from_manifest(text) or ""


def k3s_traefik_layout(k3s_version):
    return td.bundled_layout(k3s_version) or ""


def k3s_servicelb_dual_stack(k3s_version):
    return td.servicelb_handles_dual_stack(k3s_version)


def traefik_load_balancer(k3s_version, requested="auto", servicelb_disabled=False):
    return td.choose_load_balancer(k3s_version, requested, bool(servicelb_disabled))


def traefik_ip_families(families, policy="RequireDualStack"):
    return td.ip_families(families, policy)


def traefik_service_values(layout, families, policy="RequireDualStack", external_ips=None):
    return td.service_values(layout, families, policy, external_ips)


def svclb_pod_sysctls(families):
    return klipper_lb.pod_sysctls(families)


class FilterModule:
    """Traefik chart and k3s ServiceLB version decisions."""

    def filters(self):
        return filter_table(traefik_chart_layout, traefik_chart_from_manifest, k3s_traefik_layout,
                            k3s_servicelb_dual_stack, traefik_load_balancer, traefik_ip_families,
                            traefik_service_values, svclb_pod_sysctls)
