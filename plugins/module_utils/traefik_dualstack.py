# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Version decisions of the traefik_dualstack role, as plain functions.

* where each Traefik chart version reads ipFamilyPolicy, ipFamilies and externalIPs;
* which Traefik chart a k3s release bundles, as far as it is known;
* whether k3s's own ServiceLB serves both families, and so which load balancer to use.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from ansible_collections.dualstack.kubernetes.plugins.module_utils import rules
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError

# Where each layout (rules.TRAEFIK_LAYOUTS says which chart has which) reads each value, as a
# dotted path under the chart's values; service.externalIPs existed from the first layout on.
LAYOUTS = {
    "spec_only": {"ipFamilyPolicy": "service.spec", "ipFamilies": "service.spec", "externalIPs": "service"},
    "policy_key": {"ipFamilyPolicy": "service", "ipFamilies": "service.spec", "externalIPs": "service"},
    "service_keys": {"ipFamilyPolicy": "service", "ipFamilies": "service", "externalIPs": "service"},
    "spec_v40": {"ipFamilyPolicy": "service.spec", "ipFamilies": "service.spec", "externalIPs": "service.spec"},
}

FAMILY_POLICIES = ("SingleStack", "PreferDualStack", "RequireDualStack")
LOAD_BALANCERS = ("auto", "servicelb", "klipper_dualstack_lb")
# k3s packages the chart as traefik-<major>.<minor>.<patch><two-digit package>.tgz
# (traefik-10.19.300.tgz is chart 10.19.3); the CRD chart is traefik-crd-*.tgz.
_CHART_URL = re.compile(r"/traefik-(\d+)\.(\d+)\.(\d+)[^/\s]*?\.tgz")


def chart_layout(chart_version: Any) -> str:
    """The values layout (a key of LAYOUTS) that a Traefik chart version reads."""
    return rules.traefik_chart_layout(
        rules.parse("traefik_chart", chart_version, "traefik_dualstack_chart_version"))


def chart_version_from_manifest(text: str) -> Optional[str]:
    """The chart version in k3s's own traefik.yaml (its HelmChart's spec.chart URL)."""
    match = _CHART_URL.search(text or "")
    if not match:
        return None
    patch = match.group(3)
    if len(patch) > 2:
        patch = str(int(patch[:-2]))
    return "%s.%s.%s" % (match.group(1), match.group(2), patch)


def bundled_layout(k3s_version: Any) -> Optional[str]:
    """The chart layout k3s bundles, or None where that is not known for the release."""
    return rules.k3s_bundled_traefik_layout(rules.parse("k3s", k3s_version, "the k3s version"))


def servicelb_handles_dual_stack(k3s_version: Any) -> bool:
    """Whether k3s's own ServiceLB forwards every clusterIP (the rule book's rule)."""
    return rules.servicelb_dualstack(rules.parse("k3s", k3s_version, "the k3s version"))


def choose_load_balancer(k3s_version: str, requested: str = "auto", servicelb_disabled: bool = False) -> str:
    """"servicelb" (k3s's own) or "klipper_dualstack_lb" (ServiceLB off, the module's DaemonSet).

    auto picks ServiceLB where it serves both families, unless k3s runs with servicelb
    disabled: then the user has replaced it and the DaemonSet takes its place.
    """
    if requested not in LOAD_BALANCERS:
        raise DualstackError("traefik_dualstack_load_balancer is %r; it must be one of %s"
                             % (requested, ", ".join(LOAD_BALANCERS)))
    capable = servicelb_handles_dual_stack(k3s_version)
    if requested == "servicelb":
        if not capable:
            raise DualstackError(
                "traefik_dualstack_load_balancer is servicelb, but the ServiceLB of k3s %s serves one family only "
                "(dual-stack from v1.21.7 and v1.22.3): use auto or klipper_dualstack_lb, or a newer k3s"
                % k3s_version)
        if servicelb_disabled:
            raise DualstackError(
                "traefik_dualstack_load_balancer is servicelb, but k3s runs with servicelb disabled: remove "
                "servicelb from k3s_server_disable, or use auto or klipper_dualstack_lb")
    if requested == "auto":
        return "servicelb" if capable and not servicelb_disabled else "klipper_dualstack_lb"
    return requested


def ip_families(families: list, policy: str = "RequireDualStack") -> list:
    """Service ipFamilies from the address plan's families (primary first); SingleStack keeps the primary."""
    if policy not in FAMILY_POLICIES:
        raise DualstackError("traefik_dualstack_ip_family_policy is %r; it must be one of %s"
                             % (policy, ", ".join(FAMILY_POLICIES)))
    names = []
    for family in families or []:
        name = rules.FAMILY_API_NAME.get(str(family).lower()) or (
            str(family) if str(family) in rules.FAMILY_API_NAME.values() else None)
        if name is None:
            raise DualstackError("address_plan.families holds %r; families are ipv4 and ipv6" % family)
        if name not in names:
            names.append(name)
    if not names:
        raise DualstackError("address_plan.families is empty; run dualstack.kubernetes.address_plan first")
    if policy == "RequireDualStack" and len(names) < 2:
        raise DualstackError(
            "traefik_dualstack_ip_family_policy is RequireDualStack but the address plan has only %s: "
            "give the cluster both families or use PreferDualStack/SingleStack" % names[0])
    return names[:1] if policy == "SingleStack" else names


def _put(values: dict, path: str, key: str, value) -> None:
    node = values
    for part in path.split("."):
        node = node.setdefault(part, {})
    node[key] = value


def service_values(layout: str, families: list, policy: str, external_ips: Optional[list] = None) -> dict:
    """The chart values that make the Traefik Service dual-stack, placed where the layout reads them."""
    if layout not in LAYOUTS:
        raise DualstackError("unknown Traefik values layout %r; one of %s" % (layout, ", ".join(LAYOUTS)))
    places = LAYOUTS[layout]
    values: dict = {}
    _put(values, places["ipFamilyPolicy"], "ipFamilyPolicy", policy)
    _put(values, places["ipFamilies"], "ipFamilies", list(families))
    if external_ips:
        _put(values, places["externalIPs"], "externalIPs", [str(ip) for ip in external_ips])
    return values
