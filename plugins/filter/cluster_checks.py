# -*- coding: utf-8 -*-
# Copyright: contributors to the dualstack.kubernetes collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of playbooks/verify.yml: which probes to run, and the verdict on what the cluster printed."""

from __future__ import annotations

import typing as t

from ansible_collections.dualstack.kubernetes.plugins.module_utils.cluster_checks import (
    read_plan,
    verify_probes as _verify_probes,
    verify_report as _verify_report,
)
from ansible_collections.dualstack.kubernetes.plugins.plugin_utils.filters import filter_table


def _plan(plan: t.Any) -> t.Any:
    return read_plan(plan)


def verify_probes(plan: t.Any, nodes: str = "", pods: str = "", outside: str = "", service: str = "",
                  port: int = 80, services: str = "", traefik: str = "") -> t.Dict[str, t.Any]:
    return _verify_probes(_plan(plan), nodes, pods, outside or "", service or "", int(port), services or "", traefik or "")


def verify_report(plan: t.Any, nodes: str = "", pods: str = "", ippools: str = "", ipamblocks: str = "",
                  service: t.Optional[t.Mapping[str, t.Any]] = None, http: t.Optional[t.Sequence[t.Any]] = None,
                  node_reports: t.Optional[t.Mapping[str, t.Any]] = None,
                  pod_pings: t.Optional[t.Sequence[t.Any]] = None, services: t.Optional[str] = None,
                  traefik: t.Optional[str] = None, traefik_name: str = "kube-system/traefik",
                  outside: t.Optional[t.Sequence[t.Any]] = None, outside_host: str = "",
                  loadbalancer: t.Optional[str] = None,
                  loadbalancer_name: str = "dualstack-verify/dualstack-verify-lb") -> t.Dict[str, t.Any]:
    return _verify_report(_plan(plan), nodes=nodes, pods=pods, ippools=ippools, ipamblocks=ipamblocks,
                          service=service, http=http, node_reports=node_reports, pod_pings=pod_pings,
                          services=services, traefik=traefik, traefik_name=traefik_name, outside=outside,
                          outside_host=outside_host or "", loadbalancer=loadbalancer,
                          loadbalancer_name=loadbalancer_name)


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return filter_table(verify_probes, verify_report)
