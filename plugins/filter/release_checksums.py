# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recorded checksums of upstream release files (documented in the .yml files)."""

from __future__ import annotations

import typing as t

from ansible_collections.dualstack.kubernetes.plugins.module_utils import release_checksums
from ansible_collections.dualstack.kubernetes.plugins.plugin_utils.filters import filter_table


def k3s_binary_sha256(tag: str, arch: str = "amd64") -> str:
    return release_checksums.k3s_binary_sha256(tag, arch)


def k3s_binary_asset(arch: str = "amd64") -> str:
    return release_checksums.k3s_binary_asset(arch)


class FilterModule:
    """Checksums and asset names of the upstream files the roles download."""

    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return filter_table(k3s_binary_sha256, k3s_binary_asset)
