# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two articles' address plans for the unit tests, written down once.

The inputs of each article (CIDRs, nodes, versions) are kept here only, and every plan a
test receives is made by the collection's own planner (``address_plan.build_plan``). A
test that needs a plan therefore cannot drift from what the planner really returns, and a
change to the plan's shape shows up in every test that reads it.

Each call returns a fresh copy, so a test may change what it gets. Overrides are options
of the planner (``address_plan.ARGUMENT_SPEC``); a misspelt one is refused rather than
silently ignored. ``refused`` and ``only_problem`` give what the planner refuses options with.
"""

from __future__ import annotations

import copy
import typing as t

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import address_plan as ap

# The kubeadm article (seeds/000): two nodes, Kubernetes 1.18 with the feature gate, Calico 3.15.
_KUBEADM_ARTICLE: t.Dict[str, t.Any] = {
    "pod_cidrs": ["10.244.0.0/16", "fd00:1::/48"],
    "service_cidrs": ["10.96.0.0/12", "fd00::/108"],
    "nodes": [
        {"name": "master", "ipv4": "192.168.1.11", "ipv6": "2001:db8::11"},
        {"name": "worker", "ipv4": "192.168.1.12", "ipv6": "2001:db8::12"},
    ],
    "distribution": "kubeadm",
    "kubernetes_version": "1.18.5",
    "calico_version": "3.15.1",
}

# The k3s article (seeds/003), as published: cluster-cidr 10.42.0.0/24 and
# fd45:a71:55a6:1:2:2::/96, service-cluster-ip-range 10.43.0.0/16 and
# fd45:a71:55a6:1:2:1::/116, node-cidr-mask-size-ipv4=24 and -ipv6=96, the IPv6DualStack
# gate on every component, k3s v1.21.4+k3s1. Its node is the one whose addresses the
# article gives Traefik as externalIPs. The article names no Calico release; 3.20 is of its
# time. Although the article advises putting the Service network inside the cluster
# network, its own values do not: fd45:a71:55a6:1:2:1::/116 lies beside
# fd45:a71:55a6:1:2:2::/96, not inside it. So the plan needs no correction to pass for
# one node; it is refused for two because each /N cluster CIDR at mask /N holds one node.
_K3S_ARTICLE: t.Dict[str, t.Any] = {
    "pod_cidrs": ["10.42.0.0/24", "fd45:a71:55a6:1:2:2::/96"],
    "service_cidrs": ["10.43.0.0/16", "fd45:a71:55a6:1:2:1::/116"],
    "node_mask_ipv4": 24,
    "node_mask_ipv6": 96,
    "nodes": [{"name": "k3s", "ipv4": "192.168.0.15", "ipv6": "2003:e9:f712:a22f:a61f:72ff:fe56:1e9e"}],
    "distribution": "k3s",
    "kubernetes_version": "v1.21.4+k3s1",
    "calico_version": "3.20.0",
    "feature_gates": {"IPv6DualStack": True},
}

PRIMARY_FAMILIES = ("ipv4", "ipv6")


def _with(base: t.Mapping[str, t.Any], overrides: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    unknown = sorted(set(overrides) - set(ap.ARGUMENT_SPEC))
    if unknown:
        raise TypeError(f"not an option of the address plan: {', '.join(unknown)}")
    params = copy.deepcopy(dict(base))
    params.update(copy.deepcopy(dict(overrides)))
    return params


def _family_first(cidrs: t.Sequence[str], family: str) -> t.List[str]:
    # The planner takes the primary family from the order of the lists; ":" marks IPv6.
    return sorted(cidrs, key=lambda cidr: (":" in cidr) != (family == "ipv6"))


def kubeadm_params(*, primary: t.Optional[str] = None, **overrides: t.Any) -> t.Dict[str, t.Any]:
    """The kubeadm article's planner options, with ``overrides`` replacing options.

    With ``primary`` ("ipv4" or "ipv6"), pod_cidrs and service_cidrs list that family first
    once the overrides are applied (``"ipv6"`` is the article's closing variant); without
    it the lists keep their order, so a test can also give them in a wrong one.
    """
    params = _with(_KUBEADM_ARTICLE, overrides)
    if primary is not None:
        if primary not in PRIMARY_FAMILIES:
            raise ValueError(f"primary must be one of {', '.join(PRIMARY_FAMILIES)}, not {primary!r}")
        for option in ("pod_cidrs", "service_cidrs"):
            params[option] = _family_first(params[option], primary)
    return params


def k3s_params(**overrides: t.Any) -> t.Dict[str, t.Any]:
    """The k3s article's planner options as published, with ``overrides`` replacing options."""
    return _with(_K3S_ARTICLE, overrides)


def kubeadm_plan(*, primary: t.Optional[str] = None, **overrides: t.Any) -> t.Dict[str, t.Any]:
    """The plan the planner makes of the kubeadm article (see kubeadm_params)."""
    return ap.build_plan(kubeadm_params(primary=primary, **overrides))


def k3s_plan(**overrides: t.Any) -> t.Dict[str, t.Any]:
    """The plan the planner makes of the k3s article (see k3s_params)."""
    return ap.build_plan(k3s_params(**overrides))


def refused(params: t.Mapping[str, t.Any]) -> t.List[ap.Problem]:
    """The problems the planner refuses these options with; it must refuse them."""
    with pytest.raises(ap.AddressPlanError) as info:
        ap.build_plan(params)
    return info.value.problems


def only_problem(params: t.Mapping[str, t.Any]) -> ap.Problem:
    """The one problem the planner refuses these options with."""
    problems = refused(params)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]
