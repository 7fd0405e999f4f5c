# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k3s configuration from the address plan.

Maps the ``address_plan`` fact, the role options and the pinned k3s version to the keys of
``/etc/rancher/k3s/config.yaml``, the service environment file, the admin kubeconfig for
the controller and system-upgrade-controller ``Plan`` objects. Plain functions on plain
data, standard library only, so that unit tests call them directly and the filter plugin
is a thin wrapper.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.dualstack.kubernetes.plugins.module_utils import klipper_lb

# Oldest release with dual-stack at all (experimental until v1.23.7+k3s1).
MIN_VERSION = (1, 21, 0)
# --no-flannel and --no-deploy left the CLI with v1.26.
LEGACY_FLAGS_LAST_MINOR = 25
# IPv6DualStack: beta 1.21-1.22, GA 1.23-1.24, removed (an error) from 1.25.
FEATURE_GATE_REMOVED_MINOR = 25
# Flannel's vxlan backend carries both families from these patch releases on, and
# --flannel-ipv6-masq exists from the first releases of 2022.
FLANNEL_DUALSTACK = {21: 7, 22: 3}
FLANNEL_IPV6_MASQ = {21: 9, 22: 6, 23: 3}
# The bundled ServiceLB forwards to every clusterIP from these releases on (k3s PR #4114).
SERVICELB_DUALSTACK = {21: 7, 22: 3}

CNIS = ("calico", "flannel")
COMPONENTS = ("coredns", "servicelb", "traefik", "local-storage", "metrics-server", "runtimes")
COMPONENT_ARG_KEYS = ("kube-apiserver-arg", "kube-controller-manager-arg", "kube-scheduler-arg",
                      "kubelet-arg", "kube-proxy-arg")
# Keys the role owns: an extra config entry may not silently override the address plan.
MANAGED_KEYS = frozenset((
    "cluster-cidr", "service-cidr", "node-ip", "flannel-backend", "no-flannel", "no-deploy",
    "disable", "disable-network-policy", "flannel-ipv6-masq", "server", "token", "token-file",
    "agent-token", "write-kubeconfig-mode", "tls-san",
))
TOKEN_RE = re.compile(r"^[A-Za-z0-9._:+/=@%-]+$")
# The kubelet flag k3s's own ServiceLB allowance goes through; a kubelet-arg of the same name
# replaces k3s's value (k3s pkg/util/args.go GetArgs), and a flag beats the kubelet config
# file where newer k3s puts its value.
UNSAFE_SYSCTLS_FLAG = "allowed-unsafe-sysctls"
# A sysctl name, or a prefix pattern ending in .* as the kubelet takes them.
SYSCTL_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_-]+)*(\.\*|(\.[a-z0-9_-]+))$")
VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+]k3s(\d+))?$")


class K3sConfigError(Exception):
    """Bad input for k3s configuration; the message names the value, the rule and the fix."""


K3sVersion = Tuple[int, int, int, int]


def parse_version(version: Any, option: str = "k3s_server_version") -> K3sVersion:
    """Split ``v1.31.2+k3s1`` (or ``1.31.2``) into (1, 31, 2, 1)."""
    match = VERSION_RE.match(str(version).strip())
    if not match:
        raise K3sConfigError(
            "%s=%r is not a k3s release: write it as vMAJOR.MINOR.PATCH+k3sN, "
            "for example v1.31.2+k3s1" % (option, version))
    major, minor, patch, build = match.groups()
    parsed = (int(major), int(minor), int(patch), int(build or 1))
    if parsed[:3] < MIN_VERSION:
        raise K3sConfigError(
            "%s=%r predates dual-stack in k3s (first in v1.21.0+k3s1): "
            "pin v1.21.0+k3s1 or later" % (option, version))
    return parsed


def release_tag(version: Any, option: str = "k3s_server_version") -> str:
    """The GitHub release tag of a version, e.g. ``v1.31.2+k3s1``."""
    major, minor, patch, build = parse_version(version, option)
    return "v%d.%d.%d+k3s%d" % (major, minor, patch, build)


def _at_least(version: K3sVersion, table: Mapping[int, int]) -> bool:
    """True when the release is at or after the patch given for its minor in ``table``;
    minors after the last one listed have the feature from their first release."""
    minor, patch = version[1], version[2]
    if minor in table:
        return patch >= table[minor]
    return minor > max(table)


def _require_plan(plan: Any) -> Mapping[str, Any]:
    if not isinstance(plan, Mapping):
        raise K3sConfigError(
            "address_plan is %r, not the mapping the address_plan role sets: run "
            "dualstack.kubernetes.address_plan before this role" % (type(plan).__name__,))
    missing = [key for key in ("families", "primary_family", "pod_subnet", "service_subnet",
                               "nodes", "node_mask") if key not in plan]
    if missing:
        raise K3sConfigError(
            "address_plan lacks %s: run dualstack.kubernetes.address_plan before this role"
            % ", ".join(missing))
    if plan.get("distribution", "k3s") != "k3s":
        raise K3sConfigError(
            "address_plan.distribution is %r, but the k3s roles need 'k3s': set "
            "address_plan_distribution: k3s" % (plan.get("distribution"),))
    return plan


def node_addresses(plan: Mapping[str, Any], node: str) -> List[str]:
    """The node's addresses in primary-family order."""
    nodes = plan["nodes"]
    if node not in nodes:
        raise K3sConfigError(
            "host %r is not in address_plan.nodes (%s): add it to address_plan_node_hosts "
            "and give it address_plan_node_ipv4/address_plan_node_ipv6"
            % (node, ", ".join(sorted(nodes)) or "none"))
    entry = nodes[node]
    addresses = [entry.get(family) for family in plan["families"]]
    if not all(addresses):
        raise K3sConfigError(
            "host %r has no address for every family %s in address_plan.nodes: set "
            "address_plan_node_ipv4 and address_plan_node_ipv6 for it"
            % (node, "/".join(plan["families"])))
    return [str(address) for address in addresses]


def url_host(address: str) -> str:
    """An address as the host part of a URL: IPv6 in brackets."""
    address = str(address)
    if ":" in address and not address.startswith("["):
        return "[%s]" % address
    return address


def check_capacity(plan: Mapping[str, Any]) -> None:
    """Refuse a plan whose cluster CIDR holds fewer node CIDRs than it has nodes.

    The k3s article's ``/96`` cluster CIDR with node mask 96 holds one node: a second
    node never gets an IPv6 pod CIDR.
    """
    plan = _require_plan(plan)
    if not plan.get("node_cidr_allocation", True):
        return
    count = len(plan["nodes"])
    capacity = plan.get("node_capacity") or {}
    for family in plan["families"]:
        room = capacity.get(family)
        if room is not None and count > int(room):
            raise K3sConfigError(
                "address_plan holds %d %s node CIDR(s) (cluster CIDR %s, node mask /%s) but "
                "has %d nodes (%s): widen the %s pod CIDR in address_plan_pod_cidrs or "
                "lengthen address_plan_node_mask_%s"
                % (int(room), family, _family_cidr(plan, family), plan["node_mask"].get(family),
                   count, ", ".join(sorted(plan["nodes"])), family, family))


def _family_cidr(plan: Mapping[str, Any], family: str) -> str:
    for cidr in plan.get("pod_cidrs") or str(plan["pod_subnet"]).split(","):
        if (":" in cidr) == (family == "ipv6"):
            return cidr
    return "?"


def _feature_gate_args(version: K3sVersion, gates: Mapping[str, Any]) -> List[str]:
    if not gates:
        return []
    if not isinstance(gates, Mapping):
        raise K3sConfigError(
            "feature gates %r are not a mapping: give them as {Name: true}" % (gates,))
    if "IPv6DualStack" in gates and version[1] >= FEATURE_GATE_REMOVED_MINOR:
        raise K3sConfigError(
            "feature gate IPv6DualStack was removed in Kubernetes 1.25 and k3s v1.%d refuses it: "
            "drop it from k3s_server_feature_gates/k3s_agent_feature_gates" % version[1])
    pairs = []
    for name in sorted(gates):
        value = gates[name]
        if not isinstance(value, bool):
            raise K3sConfigError(
                "feature gate %s=%r is not a boolean: write true or false" % (name, value))
        pairs.append("%s=%s" % (name, "true" if value else "false"))
    return ["feature-gates=" + ",".join(pairs)]


def svclb_sysctls(plan: Any, disable: Any = ()) -> List[str]:
    """The sysctls the kubelet must allow on every node of a cluster whose servers disable
    k3s's ServiceLB: the traefik_dualstack role then deploys the svclb DaemonSet of
    klipper_dualstack_lb in its place, on every node, and its pods set these."""
    plan = _require_plan(plan)
    items = disable.split(",") if isinstance(disable, str) else list(disable or [])
    if "servicelb" not in [str(item).strip() for item in items]:
        return []
    return klipper_lb.pod_sysctls(plan["families"])


def _unsafe_sysctl_args(sysctls: Any, option: str) -> List[str]:
    if sysctls is None or isinstance(sysctls, (str, Mapping)) or not isinstance(sysctls, (list, tuple)):
        raise K3sConfigError(
            "%s=%r is not a list: give the sysctl names, for example "
            "[net.ipv6.conf.all.forwarding], or [] for none" % (option, sysctls))
    names = [str(name).strip() for name in sysctls]
    bad = [name for name in names if not SYSCTL_RE.match(name)]
    if bad:
        raise K3sConfigError(
            "%s holds %s, which %s not a sysctl name: write names such as "
            "net.ipv6.conf.all.forwarding (or a prefix such as net.ipv6.*)"
            % (option, ", ".join(map(repr, bad)), "is" if len(bad) == 1 else "are"))
    return ["%s=%s" % (UNSAFE_SYSCTLS_FLAG, ",".join(names))] if names else []


def allowed_unsafe_sysctls(config: Any) -> List[str]:
    """The unsafe sysctls a config.yaml's kubelet-arg allows (the last such argument wins, as
    for any repeated flag); empty when it sets none."""
    args = (config or {}).get("kubelet-arg") if isinstance(config, Mapping) else None
    allowed: List[str] = []
    for arg in args if isinstance(args, list) else ([args] if args else []):
        name, dummy, value = str(arg).lstrip("-").partition("=")
        if name == UNSAFE_SYSCTLS_FLAG:
            allowed = [item.strip() for item in value.split(",") if item.strip()]
    return allowed


def _merge_extra(config: Dict[str, Any], extra: Optional[Mapping[str, Any]], option: str) -> None:
    for key, value in (extra or {}).items():
        if key in MANAGED_KEYS:
            raise K3sConfigError(
                "%s sets %r, which the role derives from the address plan and its own "
                "options: remove it from %s and use the role option instead" % (option, key, option))
        if key in COMPONENT_ARG_KEYS:
            items = value if isinstance(value, list) else [value]
            if key == "kubelet-arg" and any(str(item).lstrip("-").startswith(UNSAFE_SYSCTLS_FLAG) for item in items):
                raise K3sConfigError(
                    "%s sets kubelet-arg %s, which the role writes from %s_kubelet_unsafe_sysctls: "
                    "remove it from %s and set that option instead"
                    % (option, UNSAFE_SYSCTLS_FLAG, option.rsplit("_extra_config", 1)[0], option))
            config.setdefault(key, [])
            config[key] = list(config[key]) + [str(item) for item in items]
        else:
            config[key] = value


def server_config(plan: Mapping[str, Any], node: str, version: Any,
                  cni: str = "calico", disable: Sequence[str] = (),
                  feature_gates: Optional[Mapping[str, Any]] = None,
                  extra_config: Optional[Mapping[str, Any]] = None,
                  kubelet_unsafe_sysctls: Sequence[str] = ()) -> Dict[str, Any]:
    """Keys of a k3s server's config.yaml, and warnings, for one node.

    Returns ``{"config": {...}, "warnings": [...]}``; the config dict keeps the order in
    which the file lists the keys.
    """
    plan = _require_plan(plan)
    ver = parse_version(version, "k3s_server_version")
    warnings: List[str] = []
    addresses = node_addresses(plan, node)
    if len(plan["families"]) != 2:
        raise K3sConfigError(
            "address_plan has the families %s; k3s_server builds dual-stack clusters: give "
            "address_plan_pod_cidrs and address_plan_service_cidrs one CIDR per family"
            % (plan["families"],))
    if cni not in CNIS:
        raise K3sConfigError(
            "k3s_server_cni=%r is not supported: use one of %s" % (cni, ", ".join(CNIS)))
    disable = list(disable or [])
    unknown = [item for item in disable if item not in COMPONENTS]
    if unknown:
        raise K3sConfigError(
            "k3s_server_disable has %s, which k3s does not bundle: use items of %s"
            % (", ".join(map(repr, unknown)), ", ".join(COMPONENTS)))
    legacy = ver[1] <= LEGACY_FLAGS_LAST_MINOR

    config: Dict[str, Any] = {
        "node-ip": ",".join(addresses),
        "cluster-cidr": str(plan["pod_subnet"]),
        "service-cidr": str(plan["service_subnet"]),
    }
    if cni == "calico":
        # The article's v1.21 unit used --no-flannel; it left the CLI with v1.26.
        if legacy:
            config["no-flannel"] = True
        else:
            config["flannel-backend"] = "none"
        config["disable-network-policy"] = True
    else:
        if not _at_least(ver, FLANNEL_DUALSTACK):
            raise K3sConfigError(
                "k3s %s has no dual-stack flannel (from v1.21.7/v1.22.3): use "
                "k3s_server_cni: calico or pin a later k3s_server_version" % release_tag(version))
        if not _at_least(ver, FLANNEL_IPV6_MASQ):
            raise K3sConfigError(
                "k3s %s has no --flannel-ipv6-masq (from v1.21.9/v1.22.6/v1.23.3), so IPv6 pods "
                "could not reach outside the cluster: pin a later k3s_server_version or use "
                "k3s_server_cni: calico" % release_tag(version))
        if not plan.get("node_cidr_allocation", True):
            raise K3sConfigError(
                "flannel needs a node CIDR per node but address_plan turns node CIDR "
                "allocation off: use k3s_server_cni: calico or turn allocation on")
        config["flannel-backend"] = "vxlan"
        config["flannel-ipv6-masq"] = True
    if disable:
        config["disable"] = disable
    if "servicelb" not in disable and not _at_least(ver, SERVICELB_DUALSTACK):
        warnings.append(
            "k3s %s's bundled ServiceLB forwards IPv4 only (dual-stack from v1.21.7/v1.22.3): "
            "add servicelb to k3s_server_disable or pin a later version" % release_tag(version))

    controller_args: List[str] = []
    if plan.get("node_cidr_allocation", True):
        for family in plan["families"]:
            controller_args.append("node-cidr-mask-size-%s=%s" % (family, plan["node_mask"][family]))
    else:
        controller_args.append("allocate-node-cidrs=false")
    gate_args = _feature_gate_args(ver, feature_gates or {})
    kubelet_args = gate_args + _unsafe_sysctl_args(kubelet_unsafe_sysctls, "k3s_server_kubelet_unsafe_sysctls")
    config["kube-controller-manager-arg"] = controller_args + gate_args
    if gate_args:
        config["kube-apiserver-arg"] = list(gate_args)
    if kubelet_args:
        config["kubelet-arg"] = kubelet_args
    if gate_args:
        config["kube-proxy-arg"] = list(gate_args)
    # The fetched kubeconfig points at the node's own addresses, so the serving
    # certificate must name them.
    config["tls-san"] = addresses
    config["write-kubeconfig-mode"] = "0600"
    _merge_extra(config, extra_config, "k3s_server_extra_config")
    return {"config": config, "warnings": warnings}


def agent_config(plan: Mapping[str, Any], node: str, server: str, version: Any,
                 port: int = 6443, feature_gates: Optional[Mapping[str, Any]] = None,
                 extra_config: Optional[Mapping[str, Any]] = None,
                 kubelet_unsafe_sysctls: Sequence[str] = ()) -> Dict[str, Any]:
    """Keys of a k3s agent's config.yaml: the server it joins and its two addresses."""
    plan = _require_plan(plan)
    ver = parse_version(version, "k3s_agent_version")
    addresses = node_addresses(plan, node)
    if server == node:
        raise K3sConfigError(
            "k3s_agent_server=%r is this agent itself: name the inventory host of a k3s server"
            % (server,))
    server_address = node_addresses(plan, server)[0]
    config: Dict[str, Any] = {
        "server": "https://%s:%d" % (url_host(server_address), int(port)),
        "node-ip": ",".join(addresses),
    }
    gate_args = _feature_gate_args(ver, feature_gates or {})
    kubelet_args = gate_args + _unsafe_sysctl_args(kubelet_unsafe_sysctls, "k3s_agent_kubelet_unsafe_sysctls")
    if kubelet_args:
        config["kubelet-arg"] = kubelet_args
    if gate_args:
        config["kube-proxy-arg"] = list(gate_args)
    _merge_extra(config, extra_config, "k3s_agent_extra_config")
    return {"config": config, "warnings": []}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple, dict)) or value is None:
        raise K3sConfigError("config value %r is not a scalar: give a string, number or boolean"
                             % (value,))
    # A JSON string is a YAML double-quoted scalar, so every value reads back unchanged.
    return json.dumps(str(value))


def config_yaml(config: Mapping[str, Any], owner: str = "dualstack.kubernetes") -> str:
    """config.yaml text: one key per line, lists in block style, strings double-quoted."""
    lines = ["# Managed by %s; local edits are overwritten." % owner]
    for key, value in config.items():
        if isinstance(value, (list, tuple)):
            if not value:
                continue
            lines.append("%s:" % key)
            lines.extend("  - %s" % _scalar(item) for item in value)
        else:
            lines.append("%s: %s" % (key, _scalar(value)))
    return "\n".join(lines) + "\n"


def env_file(token: Any, option: str = "k3s_server_token") -> str:
    """The systemd EnvironmentFile that hands the token to k3s (never its command line)."""
    if token is None or str(token) == "":
        raise K3sConfigError(
            "%s is empty: set it (from a vault) to the cluster's shared secret" % option)
    token = str(token)
    if not TOKEN_RE.match(token):
        # The value itself stays out of the message: it is a secret.
        raise K3sConfigError(
            "%s holds characters other than letters, digits and . _ : + / = @ %% -: "
            "systemd would need quoting for them; generate a token of those characters" % option)
    return "# Managed by dualstack.kubernetes.\nK3S_TOKEN=%s\n" % token


_SERVER_LINE = re.compile(r"^(\s*server:\s*)https://[^\s]+?(:\d+)?(/?)\s*$", re.M)


def kubeconfig_for(text: str, address: str, port: int = 6443) -> str:
    """The admin kubeconfig k3s writes, pointed at ``address`` instead of the loopback."""
    text = str(text)
    if not _SERVER_LINE.search(text):
        raise K3sConfigError(
            "the kubeconfig has no 'server: https://...' line to rewrite: check "
            "/etc/rancher/k3s/k3s.yaml on the server")
    target = "https://%s:%d" % (url_host(address), int(port))
    return _SERVER_LINE.sub(lambda m: m.group(1) + target, text)


def upgrade_plans(version: Any, namespace: str = "system-upgrade",
                  service_account: str = "system-upgrade",
                  image: str = "rancher/k3s-upgrade", concurrency: int = 1,
                  cordon: bool = True) -> List[Dict[str, Any]]:
    """system-upgrade-controller Plans: servers one at a time, then agents after them."""
    tag = release_tag(version)
    selector_key = "node-role.kubernetes.io/control-plane"
    common = {"concurrency": int(concurrency), "cordon": bool(cordon),
              "serviceAccountName": service_account, "version": tag}
    server = {
        "apiVersion": "upgrade.cattle.io/v1",
        "kind": "Plan",
        "metadata": {"name": "k3s-server", "namespace": namespace},
        "spec": dict(common, nodeSelector={"matchExpressions": [
            {"key": selector_key, "operator": "In", "values": ["true"]}]},
            upgrade={"image": image}),
    }
    agent = {
        "apiVersion": "upgrade.cattle.io/v1",
        "kind": "Plan",
        "metadata": {"name": "k3s-agent", "namespace": namespace},
        "spec": dict(common, nodeSelector={"matchExpressions": [
            {"key": selector_key, "operator": "DoesNotExist"}]},
            # Agents wait until the server Plan has finished.
            prepare={"image": image, "args": ["prepare", "k3s-server"]},
            upgrade={"image": image}),
    }
    return [server, agent]
