# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the address plan into k3s configuration (documented in the .yml files)."""

from __future__ import annotations

from typing import Any, Callable, Dict, List

from ansible_collections.dualstack.kubernetes.plugins.module_utils import k3s_config
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError
from ansible_collections.dualstack.kubernetes.plugins.plugin_utils.filters import filter_table


def k3s_node_config(plan: Any, node: str, role: str = "server", **options: Any) -> Dict[str, Any]:
    if role == "server":
        return k3s_config.server_config(plan, node, **options)
    if role == "agent":
        return k3s_config.agent_config(plan, node, **options)
    raise DualstackError("role=%r is neither 'server' nor 'agent'" % (role,))


def k3s_config_yaml(config: Any, owner: str = "dualstack.kubernetes", secrets: Any = None) -> str:
    return k3s_config.config_yaml(config, owner, secrets)


def k3s_secret_keys(extra_config: Any) -> List[str]:
    return k3s_config.secret_keys(extra_config)


def k3s_env_file(token: Any, option: str = "k3s_server_token", generated: bool = False) -> str:
    return k3s_config.env_file(token, option, generated)


def k3s_token_error(token: Any, option: str = "k3s_server_token", generated: bool = False) -> str:
    """What is wrong with a token, or '' when it is usable; never the token itself."""
    try:
        k3s_config.env_file(token, option, generated)
    except DualstackError as exc:
        return str(exc)
    return ""


def k3s_kubeconfig(text: str, address: str, port: int = 6443) -> str:
    return k3s_config.kubeconfig_for(text, address, port)


def k3s_upgrade_plans(version: Any, **options: Any) -> Any:
    return k3s_config.upgrade_plans(version, **options)


def k3s_svclb_sysctls(plan: Any, disable: Any = ()) -> Any:
    return k3s_config.svclb_sysctls(plan, disable)


def k3s_server_decisions(disable: Any, kubelet_unsafe_sysctls: Any = ()) -> Any:
    return k3s_config.server_decisions(disable, kubelet_unsafe_sysctls)


def k3s_allowed_unsafe_sysctls(config: Any) -> Any:
    return k3s_config.allowed_unsafe_sysctls(config)


def k3s_release_tag(version: Any, option: str = "k3s_server_version") -> str:
    return k3s_config.release_tag(version, option)


class FilterModule:
    def filters(self) -> Dict[str, Callable[..., Any]]:
        return filter_table(k3s_node_config, k3s_config_yaml, k3s_env_file, k3s_token_error, k3s_kubeconfig,
                            k3s_upgrade_plans, k3s_release_tag, k3s_secret_keys,
                            k3s_svclb_sysctls, k3s_allowed_unsafe_sysctls, k3s_server_decisions)
