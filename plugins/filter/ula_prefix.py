# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ula_prefix filter (documented in ula_prefix.yml)."""

from __future__ import annotations

import typing as t

from ansible_collections.dualstack.kubernetes.plugins.module_utils.address_plan import ula_prefix as make_ula_prefix
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError
from ansible_collections.dualstack.kubernetes.plugins.plugin_utils.filters import filter_table


def ula_prefix(seed: t.Any = None) -> str:
    if seed is not None and not isinstance(seed, (str, int)):
        raise DualstackError(
            f"the seed must be a string (a cluster name, say) or empty for a random prefix, "
            f"not a {type(seed).__name__}")
    return make_ula_prefix(None if seed is None else str(seed))


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return filter_table(ula_prefix)
