# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rule book: the address families, how each component writes its releases, which
releases the collection knows, and every behaviour that changes with the release.

Every other file asks here instead of comparing versions itself. The address plan turns
these rules into decisions (``address_plan.decisions``), so roles and templates read a
decision (``node_ip_pair``), never a version.

Grammar, one per component (a leading ``v`` is always allowed, leading zeros never):

============== ======================= ==========================================
component      form                    example
============== ======================= ==========================================
kubernetes     MAJOR.MINOR.PATCH       1.31.2 (kubeadm installs an exact release)
k3s            MAJOR.MINOR.PATCH+k3sN  v1.31.2+k3s1 (the GitHub release tag)
calico         MAJOR.MINOR.PATCH       3.30.7
traefik_chart  MAJOR.MINOR.PATCH       10.19.3
klipper_lb     MAJOR.MINOR.PATCH       v0.4.13 (the image tag)
============== ======================= ==========================================

Pre-releases (``1.32.0-rc.1``, ``v1.32.0-rc1+k3s1``) are refused, never read as their
release: the collection installs released packages and binaries, and a release candidate's
behaviour is not the release's. Releases outside a component's known range are refused with
one message that names the range.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError, Problem

# ---------------------------------------------------------------------------------------
# Address families

FAMILIES = ("ipv4", "ipv6")
FAMILY_LABEL = {"ipv4": "IPv4", "ipv6": "IPv6"}
# What Kubernetes calls them in Service.spec.ipFamilies.
FAMILY_API_NAME = FAMILY_LABEL
FAMILY_OF_VERSION = {4: "ipv4", 6: "ipv6"}


def family_of(item: t.Any) -> str:
    """'ipv4' or 'ipv6' for an ipaddress address or network."""
    return FAMILY_OF_VERSION[item.version]


# ---------------------------------------------------------------------------------------
# Releases

Release = t.Tuple[int, ...]


@dataclass(frozen=True)
class Component:
    """How one component writes its releases and which of them the collection knows."""

    name: str
    label: str
    pattern: t.Pattern[str]
    form: str
    example: str
    oldest: Release
    oldest_why: str
    # The newest release line known, as a prefix: (1, 37) takes every 1.37.x.
    newest: Release
    prefix: str = ""
    build: str = ""

    def show(self, release: Release) -> str:
        text = self.prefix + ".".join(map(str, release[:3]))
        if self.build and len(release) > 3:
            text += f"+{self.build}{release[3]}"
        return text

    @property
    def supported(self) -> str:
        """The supported range in words, the same in every message."""
        newest = self.prefix + ".".join(map(str, self.newest)) + (".x" if len(self.newest) < 3 else "")
        return f"{self.show(self.oldest)} to {newest}"


_NUMBER = r"(0|[1-9][0-9]*)"
_TRIPLE = rf"^v?{_NUMBER}\.{_NUMBER}\.{_NUMBER}"
# Kubernetes and k3s release lines known: k3s has published v1.37 (its Traefik chart 40
# announcement; see K3S_TRAEFIK_LAYOUTS) and follows the Kubernetes minor of the same number.
NEWEST_KUBERNETES_MINOR = (1, 37)

COMPONENTS: t.Dict[str, Component] = {
    "kubernetes": Component(
        "kubernetes", "Kubernetes", re.compile(_TRIPLE + "$"), "MAJOR.MINOR.PATCH", "1.31.2",
        # The IPv6DualStack feature gate appeared in 1.15 (kubernetes/website feature-gates/IPv6DualStack.md).
        oldest=(1, 15, 0), oldest_why="the first release with dual-stack (the IPv6DualStack feature gate)",
        newest=NEWEST_KUBERNETES_MINOR),
    "k3s": Component(
        "k3s", "k3s", re.compile(_TRIPLE + r"\+k3s([1-9][0-9]*)$"), "vMAJOR.MINOR.PATCH+k3sN", "v1.31.2+k3s1",
        # docs.k3s.io/networking/basic-network-options: dual-stack from v1.21.0+k3s1.
        oldest=(1, 21, 0, 1), oldest_why="the first k3s with dual-stack",
        newest=NEWEST_KUBERNETES_MINOR, prefix="v", build="k3s"),
    "calico": Component(
        "calico", "Calico", re.compile(_TRIPLE + "$"), "MAJOR.MINOR.PATCH", "3.30.7",
        # The oldest and newest calico.yaml the manifest patcher is checked against: v3.15.1 (the
        # kubeadm article's) and v3.30.7 (projectcalico/calico tags, tests' shared manifests).
        oldest=(3, 15, 0), oldest_why="the oldest Calico manifest the collection patches",
        newest=(3, 30)),
    "traefik_chart": Component(
        "traefik_chart", "Traefik chart", re.compile(_TRIPLE + "$"), "MAJOR.MINOR.PATCH", "10.19.3",
        # traefik/traefik-helm-chart: 9.x is the first chart of Traefik v2 with a free-form service.spec;
        # 40 moved the Service keys under service.spec (chart PR #1686).
        oldest=(9, 0, 0), oldest_why="the first chart that can set the Service's IP families",
        newest=(40,)),
    "klipper_lb": Component(
        "klipper_lb", "klipper-lb", re.compile(_TRIPLE + "$"), "vMAJOR.MINOR.PATCH", "v0.4.13",
        # k3s-io/klipper-lb, file entry, tags v0.1.0 to v0.4.17.
        oldest=(0, 1, 0), oldest_why="the first klipper-lb tag",
        newest=(0, 4, 17), prefix="v"),
}


@dataclass(frozen=True, order=True)
class Version:
    """One release of one component; ``key`` is what release rules compare."""

    major: int
    minor: int
    patch: int
    build: int = 0
    component: str = field(default="kubernetes", compare=False)

    @property
    def key(self) -> t.Tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    @property
    def minor_line(self) -> t.Tuple[int, int]:
        return (self.major, self.minor)

    def __str__(self) -> str:
        return COMPONENTS[self.component].show((self.major, self.minor, self.patch, self.build))

    @property
    def bare(self) -> str:
        """MAJOR.MINOR.PATCH without prefix or build, as Kubernetes names its own release."""
        return ".".join(map(str, self.key))


_PRERELEASE = re.compile(_TRIPLE + r"-[0-9A-Za-z.-]+(\+[0-9A-Za-z.-]+)?$")
_SHORT = re.compile(rf"^v?{_NUMBER}\.([0-9]+)$")


def _float_hint(text: str) -> str:
    # An unquoted 1.30 in YAML is the float 1.3: say so where that is the likely cause.
    match = _SHORT.match(text)
    if match and len(match.group(2)) == 1:
        return f" (an unquoted 1.{match.group(2)}0 in YAML reads as {text}: quote versions)"
    return ""


def parse(component: str, value: t.Any, option: str,
          error: t.Callable[[str], Exception] = DualstackError) -> Version:
    """The one parser of releases; raises DualstackError naming ``option``, the rule and the range.

    ``error`` is the exception type a caller refuses input with, where that is its own (given the
    message); the default raises DualstackError with the Problem.
    """
    try:
        return _parse(component, value, option)
    except DualstackError as exc:
        if error is DualstackError:
            raise
        raise error(str(exc)) from None


def _parse(component: str, value: t.Any, option: str) -> Version:
    spec = COMPONENTS[component]
    text = value.strip() if isinstance(value, str) else ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(value)
    match = spec.pattern.match(text)
    if match:
        numbers = tuple(int(group) for group in match.groups())
        version = Version(*numbers[:4], component=component)  # type: ignore[arg-type]
        release = numbers
        if release < spec.oldest[:len(release)] or version.key[:len(spec.newest)] > spec.newest:
            raise DualstackError(Problem(
                option, value,
                f"is outside the {spec.label} releases this collection supports, {spec.supported}: "
                f"{spec.show(spec.oldest)} is {spec.oldest_why}, {spec.supported.split(' to ')[1]} the newest "
                f"release line it knows",
                f"Use a {spec.label} release from {spec.supported}"))
        return version
    fix = f"Write it as {spec.form}, e.g. {spec.example}"
    if _PRERELEASE.match(text):
        rule = (f"is a pre-release; the collection installs {spec.label} releases only and never takes a "
                f"release candidate for its release")
        fix = f"Use a {spec.label} release from {spec.supported}, e.g. {spec.example}"
    elif component == "kubernetes" and re.match(_TRIPLE + r"\+k3s", text):
        rule = "is a k3s release, but the distribution is kubeadm"
        fix = f"Use the Kubernetes release {text.lstrip('v').split('+')[0]}, or set the distribution to k3s"
    elif component == "k3s" and re.match(_TRIPLE + "$", text):
        rule = "names no k3s revision; k3s releases are tagged vMAJOR.MINOR.PATCH+k3sN"
        fix = f"Write the k3s release tag, e.g. v{text.lstrip('v')}+k3s1"
    elif _SHORT.match(text):
        rule = f"names a release line, not a {spec.label} release ({spec.form}){_float_hint(text)}"
        fix = f"Write the exact release, e.g. {spec.example}"
    else:
        rule = f"is not a {spec.label} release number ({spec.form})"
    raise DualstackError(Problem(option, value, rule, fix))


def _from_patch(version: Version, table: t.Mapping[int, int]) -> bool:
    """True at or after the patch given for the release's minor in ``table``; minors after
    the last one listed have the feature from their first release."""
    if version.minor in table:
        return version.patch >= table[version.minor]
    return version.minor > max(table)


# ---------------------------------------------------------------------------------------
# Kubernetes
#
# IPv6DualStack: alpha 1.15-1.20 (must be set), beta and on by default 1.21-1.22, GA
# 1.23-1.24, removed from 1.25 (setting it is then an error).
# Source: kubernetes/website content/en/docs/reference/command-line-tools-reference/feature-gates/IPv6DualStack.md
DUAL_STACK_GATE = "IPv6DualStack"
GATE_FIRST = (1, 15, 0)
GATE_DEFAULT_ON = (1, 21, 0)
GATE_REMOVED = (1, 25, 0)
# Service spec.ipFamilies, spec.ipFamilyPolicy and spec.clusterIPs replaced the alpha
# spec.ipFamily in 1.20 (Kubernetes 1.20 changelog, kubernetes/kubernetes PR #91824).
SERVICE_IP_FAMILIES = (1, 20, 0)
# kubelet --node-ip takes an IPv4,IPv6 pair from 1.20 (same PR); before, one address.
KUBELET_NODE_IP_PAIR = (1, 20, 0)
# pkgs.k8s.io, the Kubernetes apt repository, has packages from v1.24 on; the legacy
# apt.kubernetes.io that held older releases went away in March 2024
# (kubernetes.io/blog/2023/08/15/pkgs-k8s-io-introduction).
KUBERNETES_APT_FIRST = (1, 24, 0)

# kubeadm config API: kubeadm.k8s.io/v1beta2 from 1.15 (kubeadm v1.27 and newer no longer read it,
# v1beta4 doc.go), v1beta3 from 1.22, v1beta4 from 1.31, where extraArgs became lists of
# name/value pairs. Source: cmd/kubeadm/app/apis/kubeadm/<version>/doc.go and types.go
# (/work/shared/upstream/kubeadm-config-fields.json). The collection writes the newest API the
# release reads.
KUBEADM_GROUP = "kubeadm.k8s.io"
KUBEADM_APIS = (((1, 31, 0), "v1beta4"), ((1, 22, 0), "v1beta3"), ((1, 15, 0), "v1beta2"))


def gate_needed(kubernetes: Version) -> bool:
    """Whether every component must be given IPv6DualStack=true (the alpha releases)."""
    return kubernetes.key < GATE_DEFAULT_ON


def gate_removed(kubernetes: Version) -> bool:
    return kubernetes.key >= GATE_REMOVED


def node_ip_pair(distribution: str, kubernetes: Version) -> bool:
    """Whether kubelet's --node-ip holds both addresses (k3s dual-stack starts after 1.20)."""
    return distribution != "kubeadm" or kubernetes.key >= KUBELET_NODE_IP_PAIR


def service_ip_families(kubernetes: Version) -> bool:
    """Whether Services take spec.ipFamilies/ipFamilyPolicy/clusterIPs."""
    return kubernetes.key >= SERVICE_IP_FAMILIES


def kubeadm_api_version(kubernetes: Version) -> str:
    for first, api in KUBEADM_APIS:
        if kubernetes.key >= first:
            return f"{KUBEADM_GROUP}/{api}"
    raise DualstackError(Problem(
        "kubernetes_version", str(kubernetes), "predates every kubeadm config API with dual-stack settings",
        f"Use a Kubernetes release from {COMPONENTS['kubernetes'].supported}"))


def kubeadm_extra_args_as_list(api_version: str) -> bool:
    """v1beta4 turned the extraArgs string maps into lists of name/value pairs."""
    return api_version.endswith("/v1beta4")


def kubernetes_apt_packages(kubernetes: Version) -> bool:
    return kubernetes.key >= KUBERNETES_APT_FIRST


# ---------------------------------------------------------------------------------------
# k3s (docs.k3s.io/networking/basic-network-options; k3s-io/k3s pkg/cli/cmds, read in
# /work/shared/upstream/k3s-flags.json)

# Dual-stack: experimental from v1.21.0+k3s1, stable from v1.23.7+k3s1.
K3S_DUAL_STACK_STABLE = (1, 23, 7)
# --no-flannel and --no-deploy left the CLI in v1.26: --flannel-backend=none and --disable.
K3S_LEGACY_FLAGS_LAST_MINOR = 25
# Flannel's vxlan backend carries both families from these patch releases on, and
# --flannel-ipv6-masq exists from the first releases of 2022.
K3S_FLANNEL_DUALSTACK = {21: 7, 22: 3}
K3S_FLANNEL_IPV6_MASQ = {21: 9, 22: 6, 23: 3}
# The bundled ServiceLB puts every clusterIP into DEST_IPS from v1.21.7 / v1.22.3 (k3s PR #4114,
# pkg/cloudprovider/servicelb.go).
K3S_SERVICELB_DUALSTACK = {21: 7, 22: 3}


def k3s_dual_stack_stable(k3s: Version) -> bool:
    return k3s.key >= K3S_DUAL_STACK_STABLE


def k3s_legacy_flags(k3s: Version) -> bool:
    """Whether this k3s still takes --no-flannel (and wants it rather than --flannel-backend=none)."""
    return k3s.minor <= K3S_LEGACY_FLAGS_LAST_MINOR


def k3s_flannel_dualstack(k3s: Version) -> bool:
    return _from_patch(k3s, K3S_FLANNEL_DUALSTACK)


def k3s_flannel_ipv6_masq(k3s: Version) -> bool:
    return _from_patch(k3s, K3S_FLANNEL_IPV6_MASQ)


def servicelb_dualstack(k3s: Version) -> bool:
    return _from_patch(k3s, K3S_SERVICELB_DUALSTACK)


# Several servers on k3s's embedded etcd (config.yaml cluster-init on the first, server on the
# others). Both keys are in every k3s release read (k3s-io/k3s pkg/cli/cmds/server.go, in
# /work/shared/upstream/k3s-flags.json from v1.21.4+k3s1 on), but etcd's peer and client URLs
# bracket an IPv6 address only from k3s PR #5325 (March 2022; on v1.22 from v1.22.9, k3s issue
# #5384), and dual-stack itself is experimental until v1.23.7+k3s1: HA is built from there on.
K3S_EMBEDDED_ETCD_DUAL_STACK = K3S_DUAL_STACK_STABLE


def k3s_embedded_etcd_dual_stack(k3s: Version) -> bool:
    """Whether this k3s runs several servers on embedded etcd in a dual-stack cluster."""
    return k3s.key >= K3S_EMBEDDED_ETCD_DUAL_STACK


# ---------------------------------------------------------------------------------------
# Traefik chart values layout (traefik/traefik-helm-chart):
#   spec_only      9.x and 10.0-10.6: only the free-form service.spec reaches the Service.
#   policy_key     10.7-10.12: service.ipFamilyPolicy (chart PR #526, 10.7.0).
#   service_keys   10.13-39: service.ipFamilies too (chart PR #545, 10.13.0).
#   spec_v40       40 on: the service keys were removed again; everything under service.spec
#                  (chart PR #1686, 40.0.0).
TRAEFIK_LAYOUTS = (((40, 0, 0), "spec_v40"), ((10, 13, 0), "service_keys"), ((10, 7, 0), "policy_key"),
                   ((9, 0, 0), "spec_only"))

# The chart layout each k3s release bundles. None marks releases where the bundled chart
# changed inside a minor line at a patch release not pinned down here. Sources: k3s
# scripts/download (v1.21: 9.18.2), k3s releases v1.24-v1.32 (charts 10.19.3, 12, 18, 19, 21,
# 25, 27, 34 and later, all 10.13-39), and the releases that announce "upgrades Traefik chart to
# v40.x": v1.33.13+k3s2, v1.35.7+k3s1, v1.36.4+k3s1 and v1.37.
K3S_TRAEFIK_LAYOUTS: t.Sequence[t.Tuple[t.Tuple[int, int, int, int], t.Optional[str]]] = (
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
)


def traefik_chart_layout(chart: Version) -> str:
    for first, layout in TRAEFIK_LAYOUTS:
        if chart.key >= first:
            return layout
    raise AssertionError("parse() refuses charts before 9")  # pragma: no cover


def k3s_bundled_traefik_layout(k3s: Version) -> t.Optional[str]:
    """The chart layout k3s bundles, or None where that is not known for the release."""
    layout = None
    release = (k3s.major, k3s.minor, k3s.patch, k3s.build)
    for first, entry in K3S_TRAEFIK_LAYOUTS:
        if release >= first:
            layout = entry
    return layout


# ---------------------------------------------------------------------------------------
# Calico (docs.tigera.io/calico/latest/networking/ipam/ipv6; projectcalico/calico manifests)

# veth_mtu "0" means auto-detect from v3.17.
CALICO_MTU_AUTO = (3, 17, 0)
# IPv6 pools can be VXLAN-encapsulated from v3.23 (CALICO_IPV6POOL_VXLAN); IPIP never carries IPv6.
CALICO_IPV6_VXLAN = (3, 23, 0)


def calico_mtu_auto(calico: Version) -> bool:
    return calico.key >= CALICO_MTU_AUTO


def calico_ipv6_vxlan(calico: Version) -> bool:
    return calico.key >= CALICO_IPV6_VXLAN


# ---------------------------------------------------------------------------------------
# klipper-lb (k3s-io/klipper-lb, file entry, tags v0.1.0-v0.4.17): DEST_IP (one IPv4 address)
# up to v0.3.0; DEST_IPS (both families, told apart by ':') from v0.3.2; SRC_RANGES from
# v0.4.0; a family whose forwarding sysctl is 0 is skipped instead of failing from v0.4.9.
KLIPPER_DEST_IPS = (0, 3, 2)
KLIPPER_SRC_RANGES = (0, 4, 0)


def klipper_dest_ips(image: Version) -> bool:
    """Whether the image reads DEST_IPS and SRC_RANGES, as the dest_ips format writes them."""
    return image.key >= KLIPPER_SRC_RANGES


# ---------------------------------------------------------------------------------------
# Decisions: what the roles and templates read instead of versions.

def decisions(distribution: str, kubernetes: Version, calico: t.Optional[Version]) -> t.Dict[str, t.Any]:
    """Every release-dependent choice of a cluster, by name (the Calico ones None without a Calico release)."""
    kubeadm = distribution == "kubeadm"
    api = kubeadm_api_version(kubernetes) if kubeadm else None
    return {
        "feature_gate_needed": gate_needed(kubernetes),
        "node_ip_pair": node_ip_pair(distribution, kubernetes),
        "service_ip_families": service_ip_families(kubernetes),
        "kubeadm_api_version": api,
        "kubeadm_extra_args_list": bool(api) and kubeadm_extra_args_as_list(api or ""),
        "kubernetes_apt_packages": kubeadm and kubernetes_apt_packages(kubernetes),
        "k3s_dual_stack_stable": not kubeadm and k3s_dual_stack_stable(kubernetes),
        "k3s_legacy_flags": not kubeadm and k3s_legacy_flags(kubernetes),
        "k3s_flannel_dualstack": not kubeadm and k3s_flannel_dualstack(kubernetes),
        "k3s_flannel_ipv6_masq": not kubeadm and k3s_flannel_ipv6_masq(kubernetes),
        "servicelb_dualstack": not kubeadm and servicelb_dualstack(kubernetes),
        "traefik_layout": None if kubeadm else k3s_bundled_traefik_layout(kubernetes),
        "calico_mtu_auto": None if calico is None else calico_mtu_auto(calico),
        "calico_ipv6_vxlan": None if calico is None else calico_ipv6_vxlan(calico),
    }
