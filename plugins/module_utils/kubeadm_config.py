# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render kubeadm configuration documents from the address plan.

Controller-side code: it turns the ``address_plan`` fact (see the address_plan role) into the
InitConfiguration, ClusterConfiguration, KubeletConfiguration, KubeProxyConfiguration and
JoinConfiguration documents that the kubeadm of the planned version accepts. Everything here is
a plain function of its arguments so that it can be tested without Ansible.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.dualstack.kubernetes.plugins.module_utils import node_labels, rules
from ansible_collections.dualstack.kubernetes.plugins.module_utils.address_plan import Plan
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError, Problem

KUBELET_API = "kubelet.config.k8s.io/v1beta1"
# The kubelet flags a node's own labels and taints travel by (kubeadm passes taints through
# nodeRegistration.taints instead, and writes the flag itself on a join).
LABELS_FLAG = "node-labels"
TAINTS_FLAG = "register-with-taints"
KUBE_PROXY_API = "kubeproxy.config.k8s.io/v1alpha1"

TOKEN_PATTERN = re.compile(r"^[a-z0-9]{6}\.[a-z0-9]{16}$")
CA_CERT_HASH_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")
# kubeadm's certificate key encrypts the control-plane certificates in the kubeadm-certs Secret:
# "a hex encoded string that is an AES key of size 32 bytes" (kubernetes/website,
# content/en/docs/reference/setup-tools/kubeadm/generated/kubeadm_init_phase_upload-certs.md).
CERTIFICATE_KEY_PATTERN = re.compile(r"^[0-9a-fA-F]{64}$")


def _plan(fact: Any) -> Plan:
    return Plan.from_fact(fact, distribution="kubeadm")


def _read(plan: Plan, *names: str) -> List[Any]:
    """Plan values and decisions by name, a missing one refused as this module's error."""
    return [plan.decision(name) if name == "kubeadm_api_version" else plan[name] for name in names]


def api_version_for(version: Any) -> str:
    """The kubeadm config API this collection writes for a Kubernetes version (the rule book's)."""
    return rules.kubeadm_api_version(rules.parse("kubernetes", version, "kubernetes_version"))


def extra_args(api_version: str, args: Mapping[str, Any]) -> Any:
    """Component flags in the shape the config API wants.

    v1beta4 turned the string maps into lists of name/value pairs; earlier APIs keep maps.
    Flags are sorted so that the rendered file does not change between runs.
    """
    names = sorted(args)
    if rules.kubeadm_extra_args_as_list(api_version):
        return [{"name": name, "value": str(args[name])} for name in names]
    return {name: str(args[name]) for name in names}


def node_addresses(plan: Any, node: str) -> List[str]:
    """The node's addresses, primary family first."""
    return _plan(plan).addresses(node)


def node_ip_addresses(plan: Any, node: str) -> List[str]:
    """What kubelet's --node-ip gets: the plan's node_ip (both addresses where the release's
    kubelet takes a pair, the primary one before)."""
    return list(_plan(plan).node(node).node_ip)


def bracket(address: str) -> str:
    """An address as the host part of host:port."""
    return "[%s]" % address if ":" in address else address


def plan_endpoint(plan: Any) -> str:
    """The plan's API endpoint as host:port (an IPv6 host in brackets), '' where it has none."""
    endpoint = _plan(plan).api_endpoint
    if not endpoint:
        return ""
    return "%s:%d" % (endpoint["url_host"], int(endpoint["port"]))


def _control_plane_endpoint(plan: Any, control_plane_endpoint: str) -> str:
    """The endpoint of the cluster: the plan's where it has one (the one place it is set)."""
    planned = plan_endpoint(plan)
    if planned and control_plane_endpoint and control_plane_endpoint != planned:
        raise DualstackError(
            "control_plane_endpoint %r differs from the plan's API endpoint %s; leave control_plane_endpoint "
            "empty and set the endpoint once, with address_plan_api_vips or address_plan_api_endpoint"
            % (control_plane_endpoint, planned))
    return planned or control_plane_endpoint


def api_server_endpoint(plan: Mapping[str, Any], node: str, bind_port: int = 6443,
                        control_plane_endpoint: str = "") -> str:
    """Where joining nodes reach the API server: the plan's API endpoint, else the control
    plane endpoint, else the master's primary-family address."""
    endpoint = _control_plane_endpoint(plan, control_plane_endpoint)
    if endpoint:
        if endpoint.startswith("["):
            return endpoint if "]:" in endpoint else "%s:%d" % (endpoint, bind_port)
        if endpoint.count(":") == 1:
            return endpoint
        return "%s:%d" % (bracket(endpoint), bind_port)
    return "%s:%d" % (bracket(node_addresses(plan, node)[0]), bind_port)


def _cri_socket(api_version: str, cri_socket: str) -> str:
    # kubeadm before 1.24 took the bare path; later releases warn about it and want a URL.
    if api_version.endswith("/v1beta2") and cri_socket.startswith("unix://"):
        return cri_socket[len("unix://"):]
    return cri_socket


def _bind_port(bind_port: Any) -> int:
    try:
        port = int(bind_port)
    except (TypeError, ValueError):
        port = -1
    if not 1 <= port <= 65535:
        raise DualstackError(
            "bind_port %r is not a TCP port; use a number from 1 to 65535, usually 6443" % (bind_port,)
        )
    return port


def _registration_args(plan: Any, node: str, kubelet_extra_args: Mapping[str, Any], option: str) -> None:
    """Where the plan gives a node labels or taints, kubelet arguments that would set them too
    are refused: one of the two would silently lose."""
    planned = _plan(plan).node(node)
    for flag, variable, given in ((LABELS_FLAG, "address_plan_node_labels", planned.labels),
                                  (TAINTS_FLAG, "address_plan_node_taints", planned.taints)):
        if given and flag in kubelet_extra_args:
            raise DualstackError(Problem(
                option, "%s=%s" % (flag, kubelet_extra_args[flag]),
                "sets the node's %s, which %s of %s sets too" % (
                    "labels" if flag == LABELS_FLAG else "taints", variable, node),
                "Remove %s from %s and keep them all in the host variable %s of %s" % (flag, option, variable, node)))


def _node_registration(api_version: str, plan: Mapping[str, Any], node: str, node_name: str,
                       cri_socket: str, kubelet_extra_args: Mapping[str, Any],
                       ignore_preflight_errors: Sequence[str], option: str) -> Dict[str, Any]:
    _registration_args(plan, node, kubelet_extra_args, option)
    args = dict(kubelet_extra_args)
    # Without node-ip the kubelet reports only the address of its default route, so the
    # Node object carries one family (what the kubeadm article shows).
    args["node-ip"] = ",".join(node_ip_addresses(plan, node))
    planned = _plan(plan).node(node)
    if planned.labels:
        args[LABELS_FLAG] = ",".join(node_labels.label_arguments(planned.labels))
    registration: Dict[str, Any] = {
        "name": node_name or node,
        "criSocket": _cri_socket(api_version, cri_socket),
        "kubeletExtraArgs": extra_args(api_version, args),
    }
    if planned.taints:
        # Given taints replace kubeadm's default control-plane taint: kubeadm defaults only a
        # nil list (NodeRegistrationOptions.Taints in the kubeadm API types.go).
        registration["taints"] = [dict(taint) for taint in planned.taints]
    if ignore_preflight_errors:
        registration["ignorePreflightErrors"] = [str(e) for e in ignore_preflight_errors]
    return registration


def _certificate_key(certificate_key: Any) -> str:
    key = str(certificate_key or "")
    if not CERTIFICATE_KEY_PATTERN.match(key):
        # The key is a secret: the message says what it must be, never what it is.
        raise DualstackError(
            "the certificate key is not 64 hex digits (a 32-byte AES key); generate one per join, "
            "for example with 'kubeadm certs certificate-key'")
    return key


def _component_feature_gates(plan: Mapping[str, Any]) -> Dict[str, bool]:
    return {str(k): bool(v) for k, v in (plan.get("feature_gates") or {}).items()}


def init_documents(plan: Any, node: str, *, node_name: str = "",
                   bind_port: Any = 6443, control_plane_endpoint: str = "",
                   cluster_name: str = "kubernetes", cgroup_driver: str = "systemd",
                   cri_socket: str = "unix:///run/containerd/containerd.sock",
                   kubelet_extra_args: Optional[Mapping[str, Any]] = None,
                   ignore_preflight_errors: Sequence[str] = (),
                   certificate_key: str = "") -> List[Dict[str, Any]]:
    """Documents for ``kubeadm init --config`` on ``node``, in the config API of the plan's version.

    With the plan's API endpoint, ClusterConfiguration gets it as ``controlPlaneEndpoint`` and
    the API server certificate names every virtual IP (kubeadm adds the endpoint's host, not
    the other family's address). ``certificate_key`` goes into the InitConfiguration, for
    ``kubeadm init phase upload-certs --config``: the key then never is on a command line.
    """
    plan = _plan(plan)
    control_plane_endpoint = _control_plane_endpoint(plan, control_plane_endpoint)
    api, version = _read(plan, "kubeadm_api_version", "kubernetes_version")
    port = _bind_port(bind_port)
    primary = plan.primary_family
    addresses = node_addresses(plan, node)
    gates = _component_feature_gates(plan)

    init: Dict[str, Any] = {
        "apiVersion": api,
        "kind": "InitConfiguration",
        "localAPIEndpoint": {"advertiseAddress": addresses[0], "bindPort": port},
        "nodeRegistration": _node_registration(api, plan, node, node_name, cri_socket,
                                               kubelet_extra_args or {}, ignore_preflight_errors,
                                               "kubeadm_master_kubelet_extra_args"),
    }
    if certificate_key:
        init["certificateKey"] = _certificate_key(certificate_key)

    controller_manager: Dict[str, Any] = {}
    if plan.get("node_cidr_allocation", True):
        mask = plan.node_mask
        controller_manager["node-cidr-mask-size-ipv4"] = int(mask["ipv4"])
        controller_manager["node-cidr-mask-size-ipv6"] = int(mask["ipv6"])
    else:
        # Calico IPAM hands out pod addresses; node CIDRs would only be unused bookkeeping.
        controller_manager["allocate-node-cidrs"] = "false"
    scheduler: Dict[str, Any] = {}
    api_server: Dict[str, Any] = {}
    if primary == "ipv6":
        # kubeadm binds these two to 127.0.0.1 by default; the kubeadm article edited the
        # static pod manifests by hand to change that, extraArgs do it at init time.
        controller_manager["bind-address"] = "::"
        scheduler["bind-address"] = "::"
    if gates:
        gate_flag = ",".join("%s=%s" % (k, str(v).lower()) for k, v in sorted(gates.items()))
        api_server["feature-gates"] = gate_flag
        controller_manager["feature-gates"] = gate_flag

    cluster: Dict[str, Any] = {
        "apiVersion": api,
        "kind": "ClusterConfiguration",
        "clusterName": cluster_name,
        "kubernetesVersion": "v" + str(version).lstrip("v"),
        "networking": {
            "podSubnet": str(_read(plan, "pod_subnet")[0]),
            "serviceSubnet": str(_read(plan, "service_subnet")[0]),
        },
        "controllerManager": {"extraArgs": extra_args(api, controller_manager)},
    }
    if control_plane_endpoint:
        cluster["controlPlaneEndpoint"] = control_plane_endpoint
    sans = list((plan.api_endpoint or {}).get("vips") or [])
    if api_server or sans:
        cluster["apiServer"] = {}
    if api_server:
        cluster["apiServer"]["extraArgs"] = extra_args(api, api_server)
    if sans:
        cluster["apiServer"]["certSANs"] = sans
    if scheduler:
        cluster["scheduler"] = {"extraArgs": extra_args(api, scheduler)}
    # kubeadm's own gate list knows IPv6DualStack but no other component gate.
    if "IPv6DualStack" in gates:
        cluster["featureGates"] = {"IPv6DualStack": gates["IPv6DualStack"]}

    kubelet: Dict[str, Any] = {
        "apiVersion": KUBELET_API,
        "kind": "KubeletConfiguration",
        "cgroupDriver": cgroup_driver,
    }
    proxy: Dict[str, Any] = {
        "apiVersion": KUBE_PROXY_API,
        "kind": "KubeProxyConfiguration",
        "clusterCIDR": str(_read(plan, "pod_subnet")[0]),
    }
    if gates:
        kubelet["featureGates"] = dict(sorted(gates.items()))
        proxy["featureGates"] = dict(sorted(gates.items()))
    return [init, cluster, kubelet, proxy]


def join_documents(plan: Any, node: str, *, api_server: str, token: str,
                   ca_cert_hashes: Sequence[str], node_name: str = "",
                   cri_socket: str = "unix:///run/containerd/containerd.sock",
                   kubelet_extra_args: Optional[Mapping[str, Any]] = None,
                   ignore_preflight_errors: Sequence[str] = (),
                   control_plane: bool = False, certificate_key: str = "",
                   bind_port: Any = 6443) -> List[Dict[str, Any]]:
    """The JoinConfiguration for ``kubeadm join --config`` on ``node``.

    With ``control_plane`` the node joins as a further control plane: its API server advertises
    its primary-family address (``APIEndpoint`` holds one address in every config API) and
    it fetches the certificates with ``certificate_key``. That needs the plan's API endpoint;
    without it, kubeadm refuses (the cluster has no controlPlaneEndpoint).
    The error messages never quote the token or the key: they are credentials.
    """
    plan = _plan(plan)
    api = _read(plan, "kubeadm_api_version")[0]
    if control_plane and not plan.api_endpoint:
        raise DualstackError(
            "node %s joins as a further control plane, but the plan has no API endpoint; set address_plan_api_vips "
            "(one virtual IP per family) or address_plan_api_endpoint" % node)

    if not TOKEN_PATTERN.match(str(token)):
        raise DualstackError(
            "the bootstrap token is not of the form [a-z0-9]{6}.[a-z0-9]{16}; create it "
            "with 'kubeadm token create' on the master"
        )
    hashes = [str(h) for h in ca_cert_hashes]
    bad = [h for h in hashes if not CA_CERT_HASH_PATTERN.match(h)]
    if not hashes or bad:
        raise DualstackError(
            "ca_cert_hashes %r must be one or more 'sha256:<64 hex digits>' values, the hash "
            "of the cluster CA's public key" % (bad or hashes,)
        )
    if not api_server or api_server.startswith(("http://", "https://")):
        raise DualstackError(
            "api_server %r must be host:port (an IPv6 host in brackets), for example "
            "[2001:db8::11]:6443" % (api_server,)
        )
    join = {
        "apiVersion": api,
        "kind": "JoinConfiguration",
        "nodeRegistration": _node_registration(api, plan, node, node_name, cri_socket,
                                               kubelet_extra_args or {}, ignore_preflight_errors,
                                               "kubeadm_master_kubelet_extra_args" if control_plane
                                               else "kubeadm_worker_kubelet_extra_args"),
        "discovery": {
            "bootstrapToken": {
                "apiServerEndpoint": api_server,
                "token": token,
                "caCertHashes": hashes,
            },
        },
    }
    if control_plane:
        join["controlPlane"] = {
            "localAPIEndpoint": {"advertiseAddress": node_addresses(plan, node)[0], "bindPort": _bind_port(bind_port)},
            "certificateKey": _certificate_key(certificate_key),
        }
    return [join]


def render(documents: Sequence[Mapping[str, Any]]) -> str:
    """One file with the documents separated by ``---`` lines.

    Each document is written as JSON, which is YAML too: kubeadm reads it, and the stand-ins
    and checks on the nodes can read it with the Python standard library alone.
    """
    return "".join("---\n%s\n" % json.dumps(doc, indent=2) for doc in documents)


def _der_element(data: bytes, offset: int) -> Tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at ``offset``."""
    if offset + 2 > len(data):
        raise DualstackError("the CA certificate is truncated")
    tag = data[offset]
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise DualstackError("the CA certificate has a malformed DER length")
        length = int.from_bytes(data[offset:offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise DualstackError("the CA certificate is truncated")
    return tag, offset, offset + length


def ca_cert_hash(pem: str) -> str:
    """kubeadm's discovery hash: SHA-256 of the CA certificate's DER SubjectPublicKeyInfo."""
    match = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S)
    if not match:
        raise DualstackError("the CA certificate is not a PEM 'CERTIFICATE' block")
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
    except ValueError as exc:
        raise DualstackError("the CA certificate's base64 is invalid: %s" % exc) from exc
    tag, start, _end = _der_element(der, 0)
    if tag != 0x30:
        raise DualstackError("the CA certificate does not start with a DER SEQUENCE")
    tag, tbs_start, tbs_end = _der_element(der, start)
    if tag != 0x30:
        raise DualstackError("the CA certificate has no tbsCertificate")
    offset = tbs_start
    tag, _s, end = _der_element(der, offset)
    if tag == 0xA0:  # explicit [0] version, absent in v1 certificates
        offset = end
    # serialNumber, signature, issuer, validity, subject, then subjectPublicKeyInfo
    for _skip in range(5):
        _tag, _s, offset = _der_element(der, offset)
    tag, _s, end = _der_element(der, offset)
    if tag != 0x30 or end > tbs_end:
        raise DualstackError("the CA certificate has no subjectPublicKeyInfo")
    return "sha256:" + hashlib.sha256(der[offset:end]).hexdigest()
