# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry mirror files of an offline install (documented in the .yml files)."""

from __future__ import annotations

import typing as t

from ansible_collections.dualstack.kubernetes.plugins.module_utils import offline_mirror
from ansible_collections.dualstack.kubernetes.plugins.plugin_utils.filters import filter_table


def offline_mirror_registries_yaml(registries: t.Any) -> str:
    return offline_mirror.registries_yaml(registries)


def offline_mirror_registries_secret(registries: t.Any) -> bool:
    return offline_mirror.registries_secret(registries)


def offline_mirror_hosts_toml(registries: t.Any) -> t.Dict[str, str]:
    return offline_mirror.hosts_toml(registries)


class FilterModule:
    """k3s's registries.yaml and containerd's hosts.toml from offline_mirror_registries."""

    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return filter_table(offline_mirror_registries_yaml, offline_mirror_registries_secret, offline_mirror_hosts_toml)
