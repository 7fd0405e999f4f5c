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
from typing import Optional
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError


# Where the chart reads each value, as a dotted path under the chart's values.
#   spec_only      9.x and 10.0-10.6: only the free-form service.spec reaches the Service
#                  (service.externalIPs existed already).
#   policy_key     10.7-10.12: service.ipFamilyPolicy was added (chart PR #526, 10.7.0);
#                  ipFamilies still only through service.spec.
#   service_keys   10.13-39: service.ipFamilies too (chart PR #545, 10.13.0).
#   spec_v40       40+: the service keys were removed; everything that is Service spec
#                  is written under service.spec (chart PR #1686, 40.0.0).
LAYOUTS = {
    "spec_only": {"ipFamilyPolicy": "service.spec", "ipFamilies": "service.spec", "externalIPs": "service"},
    "policy_key": {"ipFamilyPolicy": "service", "ipFamilies": "service.spec", "externalIPs": "service"},
    "service_keys": {"ipFamilyPolicy": "service", "ipFamilies": "service", "externalIPs": "service"},
    "spec_v40": {"ipFamilyPolicy": "service.spec", "ipFamilies": "service.spec", "externalIPs": "service.spec"},
}

FAMILY_POLICIES = ("SingleStack", "PreferDualStack", "RequireDualStack")
LOAD_BALANCERS = ("auto", "servicelb", "klipper_dualstack_lb")
FAMILY_NAMES = {"ipv4": "IPv4", "ipv6": "IPv6"}

# The Traefik chart layout each k3s release bundles. None marks releases where the
# bundled chart changed inside a minor line at a patch release not pinned down here;
# there the role reads k3s's own traefik.yaml or asks for the chart version.
# Sources: k3s scripts/download (v1.21: 9.18.2), k3s releases v1.24-v1.32 (charts 10.19.3,
# 12, 18, 19, 21, 25, 27, 34 and later, all 10.13-39), and the releases that announce
# "upgrades Traefik chart to v40.x": v1.33.13+k3s2, v1.35.7+k3s1, v1.36.4+k3s1 and v1.37.
K3S_TRAEFIK_LAYOUTS = [
    ((1, 21, 0, 0), "spec_only"),
    ((1, 22, 0, 0), None),       # 10.3.0, then 10.9.1, 10.14.1, 10.19.3 in patch releases
    ((1, 24, 0, 0), "service_keys"),
    ((1, 33, 13, 2), "spec_v40"),
    ((1, 34, 0, 0), None),       # moved to chart 40 in a 2026 patch release
    ((1, 35, 0, 0), "service_keys"),
    ((1, 35, 7, 1), "spec_v40"),
    ((1, 36, 0, 0), "service_keys"),
    ((1, 36, 3, 0), None),
    ((1, 36, 4, 1), "spec_v40"),
    ((1, 37, 0, 0), "spec_v40"),
]

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*?)?(?:\+k3s(\d+))?$")
_K3S_REVISION = re.compile(r"\+k3s(\d+)")
# k3s packages the chart as traefik-<major>.<minor>.<patch><two-digit package>.tgz
# (traefik-10.19.300.tgz is chart 10.19.3); the CRD chart is traefik-crd-*.tgz.
_CHART_URL = re.compile(r"/traefik-(\d+)\.(\d+)\.(\d+)[^/\s]*?\.tgz")


def parse_version(text: str, what: str) -> tuple:
    """(major, minor, patch, k3s revision) from "v1.21.4+k3s1", "1.31.2", "10.19.3"."""
    value = str(text).strip()
    match = _VERSION.match(value)
    if not match:
        raise DualstackError(
            "%s is %r; expected a version like v1.31.2+k3s1 or 10.19.3" % (what, text))
    revision = _K3S_REVISION.search(value)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0),
            int(revision.group(1)) if revision else 0)


def chart_layout(chart_version: str) -> str:
    """The values layout (a key of LAYOUTS) that a Traefik chart version reads."""
    major, minor = parse_version(chart_version, "traefik_dualstack_chart_version")[:2]
    if major < 9:
        raise DualstackError(
            "traefik_dualstack_chart_version is %s: Traefik charts before 9 (Traefik v1, bundled by k3s before "
            "v1.21) have no ipFamilyPolicy or ipFamilies; k3s dual-stack needs v1.21 or later" % chart_version)
    if (major, minor) < (10, 7):
        return "spec_only"
    if (major, minor) < (10, 13):
        return "policy_key"
    if major < 40:
        return "service_keys"
    return "spec_v40"


def chart_version_from_manifest(text: str) -> Optional[str]:
    """The chart version in k3s's own traefik.yaml (its HelmChart's spec.chart URL)."""
    match = _CHART_URL.search(text or "")
    if not match:
        return None
    patch = match.group(3)
    if len(patch) > 2:
        patch = str(int(patch[:-2]))
    return "%s.%s.%s" % (match.group(1), match.group(2), patch)


def _require_k3s_dual_stack(k3s_version: str) -> tuple:
    version = parse_version(k3s_version, "the k3s version")
    if version[:2] < (1, 21):
        raise DualstackError(
            "the k3s version is %s; k3s supports dual-stack from v1.21.0+k3s1 (and bundles Traefik v1 before it): "
            "set address_plan_kubernetes_version to v1.21 or later" % k3s_version)
    return version


def bundled_layout(k3s_version: str) -> Optional[str]:
    """The chart layout k3s bundles, or None where that is not known for the release."""
    version = _require_k3s_dual_stack(k3s_version)
    layout = None
    for start, entry in K3S_TRAEFIK_LAYOUTS:
        if version >= start:
            layout = entry
    return layout


def servicelb_handles_dual_stack(k3s_version: str) -> bool:
    """k3s ServiceLB puts all clusterIPs into DEST_IPS since v1.21.7 and v1.22.3 (k3s PR #4114)."""
    version = _require_k3s_dual_stack(k3s_version)
    if version[:2] == (1, 21):
        return version[2] >= 7
    if version[:2] == (1, 22):
        return version[2] >= 3
    return True


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
        name = FAMILY_NAMES.get(str(family).lower()) or (str(family) if str(family) in FAMILY_NAMES.values() else None)
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
