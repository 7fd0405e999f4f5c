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
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.dualstack.kubernetes.plugins.module_utils import klipper_lb, node_labels, rules
from ansible_collections.dualstack.kubernetes.plugins.module_utils.address_plan import Plan
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError, Problem

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
# config.yaml keys whose values are credentials (k3s-io/k3s pkg/cli/cmds server.go and
# agent.go, as listed in the shared k3s flag table): the join tokens, the datastore URL
# (it carries the database password), the etcd S3 keys and the VPN auth string; and any
# key whose name says it holds one. Such a value never goes into a fact, a diff or a log.
SECRET_KEYS = frozenset((
    "token", "agent-token", "cluster-secret", "datastore-endpoint", "etcd-s3-access-key",
    "etcd-s3-secret-key", "etcd-s3-session-token", "vpn-auth",
))
SECRET_NAME_RE = re.compile(r"token|secret|passw|key|auth|credential", re.I)
# What stands in a config dict for a secret value until config_yaml writes the file.
_SECRET_REF_RE = re.compile(r"^\(secret: ([A-Za-z0-9_]+)\.([^\[\]\s]+?)(?:\[(\d+)\])?\)$")


def release_tag(version: Any, option: str = "k3s_server_version") -> str:
    """The GitHub release tag of a version, e.g. ``v1.31.2+k3s1``."""
    return str(rules.parse("k3s", version, option))


def _plan(fact: Any) -> Plan:
    return Plan.from_fact(fact, distribution="k3s")


def node_addresses(plan: Any, node: str) -> List[str]:
    """The node's addresses in primary-family order."""
    return _plan(plan).addresses(node)


def url_host(address: str) -> str:
    """An address as the host part of a URL: IPv6 in brackets."""
    address = str(address)
    if ":" in address and not address.startswith("["):
        return "[%s]" % address
    return address


def _field(plan: Plan, name: str) -> Any:
    return plan[name]


def api_endpoint(plan: Any) -> Optional[Dict[str, Any]]:
    """The cluster's API endpoint from the plan: ``{host, port, vips, url_host}``, or None for
    a cluster of one server without virtual IPs (where every node talks to that server)."""
    return _plan(plan).api_endpoint


def control_planes(plan: Any) -> List[str]:
    """The k3s servers in inventory order (the first initialises the cluster); empty when the
    plan does not list them."""
    found = _plan(plan).get("control_planes") or []
    if not isinstance(found, (list, tuple)):
        raise DualstackError(Problem(
            "address_plan.control_planes", found, "is not a list of inventory hosts",
            "Run the address_plan role to make the plan"))
    return [str(name) for name in found]


def endpoint_url(endpoint: Mapping[str, Any]) -> str:
    return "https://%s:%d" % (endpoint["url_host"], int(endpoint["port"]))


def _etcd_role(plan: Plan, node: str, ver: rules.Version,
               endpoint: Mapping[str, Any]) -> Dict[str, Any]:
    """What a server with an API endpoint adds: ``cluster-init`` on the first server, the
    endpoint as ``server`` on the others (k3s then runs embedded etcd on every server)."""
    servers = control_planes(plan)
    if not servers:
        raise DualstackError(Problem(
            "address_plan.control_planes", servers, "is empty, but the plan has an API endpoint",
            "Run the address_plan role to make the plan: it lists the k3s servers beside the endpoint"))
    if node not in servers:
        raise DualstackError(Problem(
            "address_plan.control_planes", servers, "does not hold %s, which is set up as a k3s server" % node,
            "Put %s in the k3s_servers group and run the address_plan role again" % node))
    if not rules.k3s_embedded_etcd_dual_stack(ver):
        raise DualstackError(Problem(
            "k3s_server_version", str(ver),
            "predates v%d.%d.%d+k3s1, the first k3s whose embedded etcd (cluster-init, needed behind "
            "an API endpoint) is usable in a dual-stack cluster" % rules.K3S_EMBEDDED_ETCD_DUAL_STACK,
            "Pin k3s v%d.%d.%d+k3s1 or later, or run a single k3s server without "
            "address_plan_api_vips/address_plan_api_endpoint" % rules.K3S_EMBEDDED_ETCD_DUAL_STACK))
    if node == servers[0]:
        return {"cluster-init": True}
    return {"server": endpoint_url(endpoint)}


def _unique(items: Sequence[str]) -> List[str]:
    seen: List[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _feature_gate_args(version: rules.Version, gates: Mapping[str, Any]) -> List[str]:
    if not gates:
        return []
    if not isinstance(gates, Mapping):
        raise DualstackError(
            "feature gates %r are not a mapping: give them as {Name: true}" % (gates,))
    if rules.DUAL_STACK_GATE in gates and rules.gate_removed(version):
        raise DualstackError(
            "feature gate IPv6DualStack was removed in Kubernetes 1.25 and k3s %s refuses it: "
            "drop it from k3s_server_feature_gates/k3s_agent_feature_gates" % version)
    pairs = []
    for name in sorted(gates):
        value = gates[name]
        if not isinstance(value, bool):
            raise DualstackError(
                "feature gate %s=%r is not a boolean: write true or false" % (name, value))
        pairs.append("%s=%s" % (name, "true" if value else "false"))
    return ["feature-gates=" + ",".join(pairs)]


def is_secret_key(key: Any) -> bool:
    """Whether a config.yaml key (or a component argument's name) holds a credential."""
    name = str(key).lstrip("-")
    return name in SECRET_KEYS or bool(SECRET_NAME_RE.search(name))


def _secret_item(item: Any) -> bool:
    # A component argument "oidc-client-secret=..." carries its secret after the '='.
    return is_secret_key(str(item).partition("=")[0])


def secret_keys(extra: Any) -> List[str]:
    """The keys of an extra config whose values are secret (for no_log and file modes)."""
    if not isinstance(extra, Mapping):
        return []
    found = []
    for key, value in extra.items():
        items = value if isinstance(value, list) else [value]
        if is_secret_key(key) or (key in COMPONENT_ARG_KEYS and any(_secret_item(item) for item in items)):
            found.append(str(key))
    return sorted(found)


def svclb_sysctls(plan: Any, disable: Any = ()) -> List[str]:
    """The sysctls the kubelet must allow on every node of a cluster whose servers disable
    k3s's ServiceLB: the traefik_dualstack role then deploys the svclb DaemonSet of
    klipper_dualstack_lb in its place, on every node, and its pods set these."""
    families = _plan(plan).families
    if "servicelb" not in _disable_items(disable):
        return []
    return klipper_lb.pod_sysctls(families)


def _disable_items(disable: Any) -> List[str]:
    # k3s takes disable as a list or as a comma separated string.
    items = disable.split(",") if isinstance(disable, str) else list(disable or [])
    return [str(item).strip() for item in items if str(item).strip()]


def _unsafe_sysctl_names(sysctls: Any, option: str) -> List[str]:
    if sysctls is None or isinstance(sysctls, (str, Mapping)) or not isinstance(sysctls, (list, tuple)):
        raise DualstackError(Problem(option, sysctls, "is not a list",
                                     "Give the sysctl names, for example [net.ipv6.conf.all.forwarding], or [] for none."))
    names = [str(name).strip() for name in sysctls]
    bad = [name for name in names if not SYSCTL_RE.match(name)]
    if bad:
        raise DualstackError(Problem(option, bad, "holds what is not a sysctl name",
                                     "Write names such as net.ipv6.conf.all.forwarding (or a prefix such as net.ipv6.*)."))
    return names


def _unsafe_sysctl_args(sysctls: Any, option: str) -> List[str]:
    names = _unsafe_sysctl_names(sysctls, option)
    return ["%s=%s" % (UNSAFE_SYSCTLS_FLAG, ",".join(names))] if names else []


def server_decisions(disable: Any = (), kubelet_unsafe_sysctls: Any = ()) -> Dict[str, Any]:
    """What a server's config.yaml settles for the add-ons on it, from the k3s_server options.

    ``disable``: the bundled components k3s does not deploy; ``servicelb_disabled``: whether
    k3s's own ServiceLB is among them; ``kubelet_unsafe_sysctls``: what the kubelet allows
    (empty: only the allowance k3s gives its own ServiceLB). server_config writes these same
    values, so a role that depends on them (traefik_dualstack) reads this decision from the
    controller instead of reading the file back from the node.
    """
    items = _disable_items(disable)
    unknown = [item for item in items if item not in COMPONENTS]
    if unknown:
        raise DualstackError(
            "k3s_server_disable has %s, which k3s does not bundle: use items of %s"
            % (", ".join(map(repr, unknown)), ", ".join(COMPONENTS)))
    return {
        "disable": items,
        "servicelb_disabled": "servicelb" in items,
        "kubelet_unsafe_sysctls": _unsafe_sysctl_names(kubelet_unsafe_sysctls, "k3s_server_kubelet_unsafe_sysctls"),
    }


def allowed_unsafe_sysctls(config: Any) -> List[str]:
    """The unsafe sysctls a config.yaml's kubelet-arg allows (the last such argument wins, as
    for any repeated flag); empty when it sets none."""
    args = (config or {}).get("kubelet-arg") if isinstance(config, Mapping) else None
    allowed: List[str] = []
    for arg in args if isinstance(args, list) else ([args] if args else []):
        name, _sep, value = str(arg).lstrip("-").partition("=")
        if name == UNSAFE_SYSCTLS_FLAG:
            allowed = [item.strip() for item in value.split(",") if item.strip()]
    return allowed


def _merge_extra(config: Dict[str, Any], extra: Optional[Mapping[str, Any]], option: str,
                 managed: Sequence[str] = ()) -> None:
    """Add the extra keys; a secret value is put in as a reference that config_yaml resolves.

    ``managed`` are keys the role owns in this cluster besides MANAGED_KEYS (cluster-init
    behind an API endpoint, where the role decides which server initialises etcd)."""
    if extra is not None and not isinstance(extra, Mapping):
        raise DualstackError("%s is a %s, not a mapping of config.yaml keys to values: write it as "
                             "{key: value}" % (option, type(extra).__name__))
    for key, value in (extra or {}).items():
        if key in MANAGED_KEYS or key in managed:
            raise DualstackError(
                "%s sets %r, which the role derives from the address plan and its own "
                "options: remove it from %s and use the role option instead" % (option, key, option))
        if key in COMPONENT_ARG_KEYS:
            items = value if isinstance(value, list) else [value]
            if key == "kubelet-arg" and any(str(item).lstrip("-").startswith(UNSAFE_SYSCTLS_FLAG) for item in items):
                raise DualstackError(
                    "%s sets kubelet-arg %s, which the role writes from %s_kubelet_unsafe_sysctls: "
                    "remove it from %s and set that option instead"
                    % (option, UNSAFE_SYSCTLS_FLAG, option.rsplit("_extra_config", 1)[0], option))
            config.setdefault(key, [])
            config[key] = list(config[key]) + [
                "(secret: %s.%s[%d])" % (option, key, index) if _secret_item(item) else str(item)
                for index, item in enumerate(items)]
        elif is_secret_key(key):
            _scalar(value, "%s.%s" % (option, key), secret=True)
            config[key] = "(secret: %s.%s)" % (option, key)
        else:
            config[key] = value


def _registration(config: Dict[str, Any], plan: Plan, node: str, extra: Any, option: str) -> None:
    """The node's planned labels and taints as node-label and node-taint, which k3s hands to its
    kubelet as --node-labels and --register-with-taints (pkg/daemons/agent/agent_linux.go).
    Where the plan gives them, the extra config may not set them too: one would silently lose."""
    planned = plan.node(node)
    for key, variable, items in (
            ("node-label", "address_plan_node_labels", node_labels.label_arguments(planned.labels)),
            ("node-taint", "address_plan_node_taints", node_labels.taint_arguments(planned.taints))):
        if not items:
            continue
        if isinstance(extra, Mapping) and (key in extra or key + "+" in extra):
            raise DualstackError(Problem(
                "%s.%s" % (option, key), extra.get(key, extra.get(key + "+")),
                "sets the node's %s, which %s of %s sets too" % (
                    "labels" if key == "node-label" else "taints", variable, node),
                "Remove %s from %s and keep them all in the host variable %s of %s" % (key, option, variable, node)))
        config[key] = items


def has_secrets(config: Mapping[str, Any]) -> bool:
    """Whether a config dict holds references to secret values."""
    for value in config.values():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, str) and _SECRET_REF_RE.match(item):
                return True
    return False


def _resolve(value: Any, secrets: Optional[Mapping[str, Any]]) -> Any:
    match = _SECRET_REF_RE.match(value) if isinstance(value, str) else None
    if not match:
        return value
    option, key, index = match.group(1), match.group(2), match.group(3)
    if secrets is None or key not in secrets:
        raise DualstackError(
            "the config refers to the secret %s.%s but it was not given: pass %s as secrets= to "
            "k3s_config_yaml" % (option, key, option))
    found = secrets[key]
    if index is None:
        return found
    items = found if isinstance(found, list) else [found]
    return str(items[int(index)])


def server_config(plan: Any, node: str, version: Any,
                  cni: str = "calico", disable: Any = (),
                  feature_gates: Optional[Mapping[str, Any]] = None,
                  extra_config: Optional[Mapping[str, Any]] = None,
                  kubelet_unsafe_sysctls: Sequence[str] = ()) -> Dict[str, Any]:
    """Keys of a k3s server's config.yaml, and warnings, for one node.

    Returns ``{"config": {...}, "warnings": [...]}``; the config dict keeps the order in
    which the file lists the keys.
    """
    plan = _plan(plan)
    ver = rules.parse("k3s", version, "k3s_server_version")
    warnings: List[str] = []
    addresses = node_addresses(plan, node)
    if cni not in CNIS:
        raise DualstackError(
            "k3s_server_cni=%r is not supported: use one of %s" % (cni, ", ".join(CNIS)))
    decided = server_decisions(disable, kubelet_unsafe_sysctls)
    disable = decided["disable"]
    legacy = rules.k3s_legacy_flags(ver)
    endpoint = api_endpoint(plan)

    config: Dict[str, Any] = {}
    if endpoint is not None:
        config.update(_etcd_role(plan, node, ver, endpoint))
        servers = control_planes(plan)
        if len(servers) % 2 == 0:
            # etcd needs a majority of its members: 2 of 2, 3 of 4; one server more or fewer
            # makes the cluster survive as many failures with one member less to lose.
            warnings.append(
                "address_plan.control_planes holds %d k3s servers, an even number: etcd keeps "
                "working only while a majority (%d) of them does, so it survives no more failures "
                "than with %d; use an odd number of servers (3 or 5)"
                % (len(servers), len(servers) // 2 + 1, len(servers) - 1))
    config.update({
        "node-ip": ",".join(addresses),
        "cluster-cidr": str(_field(plan, "pod_subnet")),
        "service-cidr": str(_field(plan, "service_subnet")),
    })
    if cni == "calico":
        # The article's v1.21 unit used --no-flannel; it left the CLI with v1.26.
        if legacy:
            config["no-flannel"] = True
        else:
            config["flannel-backend"] = "none"
        config["disable-network-policy"] = True
    else:
        if not rules.k3s_flannel_dualstack(ver):
            raise DualstackError(
                "k3s %s has no dual-stack flannel (from v1.21.7/v1.22.3): use "
                "k3s_server_cni: calico or pin a later k3s_server_version" % ver)
        if not rules.k3s_flannel_ipv6_masq(ver):
            raise DualstackError(
                "k3s %s has no --flannel-ipv6-masq (from v1.21.9/v1.22.6/v1.23.3), so IPv6 pods "
                "could not reach outside the cluster: pin a later k3s_server_version or use "
                "k3s_server_cni: calico" % ver)
        if not plan.node_cidr_allocation:
            raise DualstackError(
                "flannel needs a node CIDR per node but address_plan turns node CIDR "
                "allocation off: use k3s_server_cni: calico or turn allocation on")
        config["flannel-backend"] = "vxlan"
        config["flannel-ipv6-masq"] = True
    if disable:
        config["disable"] = disable
    if "servicelb" not in disable and not rules.servicelb_dualstack(ver):
        warnings.append(
            "k3s %s's bundled ServiceLB forwards IPv4 only (dual-stack from v1.21.7/v1.22.3): "
            "add servicelb to k3s_server_disable or pin a later version" % ver)

    controller_args: List[str] = []
    if plan.node_cidr_allocation:
        for family in plan.families:
            controller_args.append("node-cidr-mask-size-%s=%s" % (family, plan.node_mask[family]))
    else:
        controller_args.append("allocate-node-cidrs=false")
    gate_args = _feature_gate_args(ver, feature_gates or {})
    kubelet_args = gate_args + _unsafe_sysctl_args(decided["kubelet_unsafe_sysctls"], "k3s_server_kubelet_unsafe_sysctls")
    config["kube-controller-manager-arg"] = controller_args + gate_args
    if gate_args:
        config["kube-apiserver-arg"] = list(gate_args)
    if kubelet_args:
        config["kubelet-arg"] = kubelet_args
    if gate_args:
        config["kube-proxy-arg"] = list(gate_args)
    # The fetched kubeconfig points at the node's own addresses, so the serving
    # certificate must name them; behind an endpoint it must name that too (both VIPs,
    # or the external load balancer's name), which is where the agents and the other
    # servers connect.
    if endpoint is None:
        config["tls-san"] = addresses
    else:
        config["tls-san"] = _unique(addresses + [endpoint["host"]] + endpoint["vips"])
    config["write-kubeconfig-mode"] = "0600"
    _registration(config, plan, node, extra_config, "k3s_server_extra_config")
    _merge_extra(config, extra_config, "k3s_server_extra_config",
                 managed=("cluster-init",) if endpoint is not None else ())
    return {"config": config, "warnings": warnings, "secret": has_secrets(config)}


def agent_config(plan: Any, node: str, server: str, version: Any,
                 port: int = 6443, feature_gates: Optional[Mapping[str, Any]] = None,
                 extra_config: Optional[Mapping[str, Any]] = None,
                 kubelet_unsafe_sysctls: Sequence[str] = ()) -> Dict[str, Any]:
    """Keys of a k3s agent's config.yaml: the server it joins and its two addresses.

    Behind an API endpoint the agent joins through it, whichever server answers; ``server``
    and ``port`` name the server only for a cluster of one server without one."""
    plan = _plan(plan)
    ver = rules.parse("k3s", version, "k3s_agent_version")
    addresses = node_addresses(plan, node)
    endpoint = api_endpoint(plan)
    if endpoint is not None:
        if node in control_planes(plan):
            raise DualstackError(Problem(
                "address_plan.control_planes", control_planes(plan), "holds %s, which is set up as a k3s agent" % node,
                "Keep %s in one of the groups k3s_servers and k3s_agents" % node))
        join = endpoint_url(endpoint)
    else:
        if server == node:
            raise DualstackError(
                "k3s_agent_server=%r is this agent itself: name the inventory host of a k3s server"
                % (server,))
        join = "https://%s:%d" % (url_host(node_addresses(plan, server)[0]), int(port))
    config: Dict[str, Any] = {
        "server": join,
        "node-ip": ",".join(addresses),
    }
    gate_args = _feature_gate_args(ver, feature_gates or {})
    kubelet_args = gate_args + _unsafe_sysctl_args(kubelet_unsafe_sysctls, "k3s_agent_kubelet_unsafe_sysctls")
    if kubelet_args:
        config["kubelet-arg"] = kubelet_args
    if gate_args:
        config["kube-proxy-arg"] = list(gate_args)
    _registration(config, plan, node, extra_config, "k3s_agent_extra_config")
    _merge_extra(config, extra_config, "k3s_agent_extra_config")
    return {"config": config, "warnings": [], "secret": has_secrets(config)}


def _scalar(value: Any, key: str = "", secret: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple, dict)) or value is None:
        raise DualstackError(Problem(key or "config value", value, "is not a scalar",
                                     "Give a string, number or boolean.", secret=secret))
    # A JSON string is a YAML double-quoted scalar, so every value reads back unchanged.
    return json.dumps(str(value))


def config_yaml(config: Mapping[str, Any], owner: str = "dualstack.kubernetes",
                secrets: Optional[Mapping[str, Any]] = None) -> str:
    """config.yaml text: one key per line, lists in block style, strings double-quoted.

    Secret values stand in ``config`` as references; ``secrets`` (the extra config they came
    from) gives their values, here and nowhere earlier, so that only the file holds them.
    """
    lines = ["# Managed by %s; local edits are overwritten." % owner]
    for key, value in config.items():
        secret = is_secret_key(key)
        if isinstance(value, (list, tuple)):
            if not value:
                continue
            lines.append("%s:" % key)
            lines.extend("  - %s" % _scalar(_resolve(item, secrets), key, secret or _secret_item(item))
                         for item in value)
        else:
            lines.append("%s: %s" % (key, _scalar(_resolve(value, secrets), key, secret)))
    return "\n".join(lines) + "\n"


def env_file(token: Any, option: str = "k3s_server_token", generated: bool = False) -> str:
    """The systemd EnvironmentFile that hands the token to k3s (never its command line).

    ``generated``: the server that starts the cluster may run without a token; k3s then makes
    one (16 random bytes, hex) and keeps it in ``<data-dir>/server/token`` (k3s-io/k3s
    pkg/daemons/control/deps/deps.go getServerPass, pkg/server/server.go writeToken), from
    where the role reads it back for the other nodes. The file then sets nothing."""
    if (token is None or str(token) == "") and generated:
        return ("# Managed by dualstack.kubernetes.\n"
                "# No K3S_TOKEN: k3s generated the cluster's token into server/token of its data-dir.\n")
    if token is None or str(token) == "":
        raise DualstackError(
            "%s is empty: set it (from a vault) to the cluster's shared secret, or leave "
            "k3s_server_token empty everywhere for k3s to generate one" % option)
    token = str(token)
    if not TOKEN_RE.match(token):
        # The value itself stays out of the message: it is a secret.
        raise DualstackError(
            "%s holds characters other than letters, digits and . _ : + / = @ %% -: "
            "systemd would need quoting for them; generate a token of those characters" % option)
    return "# Managed by dualstack.kubernetes.\nK3S_TOKEN=%s\n" % token


_SERVER_LINE = re.compile(r"^(\s*server:\s*)https://[^\s]+?(:\d+)?(/?)\s*$", re.M)


def kubeconfig_for(text: str, address: str, port: int = 6443) -> str:
    """The admin kubeconfig k3s writes, pointed at ``address`` instead of the loopback."""
    text = str(text)
    if not _SERVER_LINE.search(text):
        raise DualstackError(
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
