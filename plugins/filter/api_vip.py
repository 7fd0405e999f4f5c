# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the api_vip role (documented in the .yml files); the logic is in module_utils.api_vip."""

from __future__ import annotations

import typing as t

from ansible_collections.dualstack.kubernetes.plugins.module_utils import api_vip
from ansible_collections.dualstack.kubernetes.plugins.plugin_utils.filters import filter_table


def api_vip_settings(vips: t.Any, hosts: t.Any, nodes: t.Any, host: str, **options: t.Any) -> t.Dict[str, t.Any]:
    return api_vip.settings(vips, hosts, nodes, host, **options)


def api_vip_interface(ip_json: str, address: str) -> str:
    return api_vip.interface_of(ip_json, address)


def api_vip_kube_vip_pod(vips: t.Any, interface: str, **options: t.Any) -> t.Dict[str, t.Any]:
    return api_vip.kube_vip_pod(vips, interface, **options)


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return filter_table(api_vip_settings, api_vip_interface, api_vip_kube_vip_pod)
