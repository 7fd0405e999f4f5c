# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that render kubeadm configuration from the address plan (documented in the .yml files
next to this one)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Sequence

from ansible_collections.dualstack.kubernetes.plugins.module_utils.kubeadm_config import (
    api_server_endpoint,
    api_version_for,
    ca_cert_hash,
    init_documents,
    join_documents,
    render,
)
from ansible_collections.dualstack.kubernetes.plugins.plugin_utils.filters import filter_table


def kubeadm_init_config(plan: Mapping[str, Any], node: str, **options: Any) -> str:
    """The kubeadm init configuration file for ``node``."""
    return render(init_documents(plan, node, **options))


def kubeadm_join_config(plan: Mapping[str, Any], node: str, api_server: str, token: str,
                        ca_cert_hashes: Sequence[str], **options: Any) -> str:
    """The kubeadm join configuration file for ``node``."""
    return render(join_documents(plan, node, api_server=api_server, token=token,
                                 ca_cert_hashes=list(ca_cert_hashes), **options))


def kubeadm_ca_cert_hash(pem: str) -> str:
    """The discovery hash of a PEM CA certificate."""
    return ca_cert_hash(str(pem))


def kubeadm_api_server(plan: Mapping[str, Any], node: str, bind_port: int = 6443,
                       control_plane_endpoint: str = "") -> str:
    """host:port where joining nodes reach the API server of ``node``."""
    return api_server_endpoint(plan, node, int(bind_port), control_plane_endpoint or "")


def kubeadm_api_version(version: str) -> str:
    """The kubeadm config apiVersion this collection writes for a Kubernetes version."""
    return api_version_for(str(version))


class FilterModule:
    """kubeadm configuration filters."""

    def filters(self) -> Dict[str, Callable[..., Any]]:
        return filter_table(kubeadm_init_config, kubeadm_join_config, kubeadm_ca_cert_hash,
                            kubeadm_api_server, kubeadm_api_version)
