# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the address plan into k3s configuration (documented in the .yml files)."""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict

from ansible.errors import AnsibleFilterError

from ansible_collections.dualstack.kubernetes.plugins.module_utils import k3s_config


def _filter(func: Callable[..., Any]) -> Callable[..., Any]:
    """The one place where a configuration error becomes an Ansible error."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except k3s_config.K3sConfigError as exc:
            raise AnsibleFilterError(str(exc)) from None
    return wrapper


@_filter
def k3s_node_config(plan: Any, node: str, role: str = "server", **options: Any) -> Dict[str, Any]:
    if role == "server":
        return k3s_config.server_config(plan, node, **options)
    if role == "agent":
        return k3s_config.agent_config(plan, node, **options)
    raise k3s_config.K3sConfigError("role=%r is neither 'server' nor 'agent'" % (role,))


@_filter
def k3s_config_yaml(config: Any, owner: str = "dualstack.kubernetes") -> str:
    return k3s_config.config_yaml(config, owner)


@_filter
def k3s_env_file(token: Any, option: str = "k3s_server_token") -> str:
    return k3s_config.env_file(token, option)


def k3s_token_error(token: Any, option: str = "k3s_server_token") -> str:
    """What is wrong with a token, or '' when it is usable; never the token itself."""
    try:
        k3s_config.env_file(token, option)
    except k3s_config.K3sConfigError as exc:
        return str(exc)
    return ""


@_filter
def k3s_kubeconfig(text: str, address: str, port: int = 6443) -> str:
    return k3s_config.kubeconfig_for(text, address, port)


@_filter
def k3s_upgrade_plans(version: Any, **options: Any) -> Any:
    return k3s_config.upgrade_plans(version, **options)


@_filter
def k3s_check_capacity(plan: Any) -> Any:
    k3s_config.check_capacity(plan)
    return plan


@_filter
def k3s_release_tag(version: Any, option: str = "k3s_server_version") -> str:
    return k3s_config.release_tag(version, option)


@_filter
def k3s_svclb_sysctls(plan: Any, disable: Any = ()) -> Any:
    return k3s_config.svclb_sysctls(plan, disable)


@_filter
def k3s_allowed_unsafe_sysctls(config: Any) -> Any:
    return k3s_config.allowed_unsafe_sysctls(config)


class FilterModule:
    def filters(self) -> Dict[str, Callable[..., Any]]:
        return {
            "k3s_node_config": k3s_node_config,
            "k3s_config_yaml": k3s_config_yaml,
            "k3s_env_file": k3s_env_file,
            "k3s_token_error": k3s_token_error,
            "k3s_kubeconfig": k3s_kubeconfig,
            "k3s_upgrade_plans": k3s_upgrade_plans,
            "k3s_check_capacity": k3s_check_capacity,
            "k3s_release_tag": k3s_release_tag,
            "k3s_svclb_sysctls": k3s_svclb_sysctls,
            "k3s_allowed_unsafe_sysctls": k3s_allowed_unsafe_sysctls,
        }
