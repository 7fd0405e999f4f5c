# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API server's virtual IPs: inputs checked, keepalived/HAProxy/kube-vip settings derived.

One virtual IP per family, primary family first (the convention of the plan's CIDR lists).
keepalived cannot hold both in one VRRP instance: "all addresses in virtual_ipaddress must
be of the same family", and IPv6 instances always speak VRRP version 3 (keepalived.conf(5),
acassen/keepalived doc/man/man5/keepalived.conf.5.in). So each family gets an instance of
its own, with unicast peers from the nodes' own addresses of that family: the lab's podman
bridge and many clouds do not carry VRRP multicast.

Everything here is a plain function of plain data, so that the role, unit tests and a later
plan integration derive the same settings.
"""

from __future__ import annotations

import ipaddress
import json
import typing as t

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError, Problem

FAMILIES = ("ipv4", "ipv6")
FAMILY_NAMES = {"ipv4": "IPv4", "ipv6": "IPv6"}
HOST_PREFIX = {"ipv4": 32, "ipv6": 128}

# VRRP priorities run 1-254; 255 marks the address owner, whose priority track scripts may
# not lower (keepalived.conf(5), "priority"), so that no host of this role may reach it.
MAX_PRIORITY = 254

# keepalived reads only the first eight characters of auth_pass (keepalived.conf(5),
# "authentication"); a longer password would silently be cut, so it is refused instead.
AUTH_PASS_MAX = 8

# kube-vip's control-plane mode took one address per instance for most of its history
# (pkg/cluster/cluster.go, startNetworking: vip.NewConfig(address, ...)), so the pod runs one
# container per family, each with a Lease (vip_leasename) and a metrics port
# (prometheus_server) of its own, which works whether or not a release also splits lists.
# The image is pinned by tag, without a digest.
KUBE_VIP_IMAGE = "ghcr.io/kube-vip/kube-vip:v0.9.1"
KUBE_VIP_METRICS_PORTS = {"ipv4": 2112, "ipv6": 2113}

IPAddress = t.Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def _family(address: IPAddress) -> str:
    return "ipv4" if address.version == 4 else "ipv6"


def _parse_address(value: t.Any) -> t.Optional[IPAddress]:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _special_purpose(address: IPAddress) -> str:
    """Why an address cannot be a virtual IP on a LAN, or ''."""
    for test, why in (("is_unspecified", "the unspecified address"), ("is_loopback", "a loopback address"),
                      ("is_multicast", "a multicast address"), ("is_link_local", "a link-local address"),
                      ("is_reserved", "a reserved address")):
        if getattr(address, test):
            return why
    if address.version == 4 and address == ipaddress.IPv4Address("255.255.255.255"):
        return "the broadcast address"
    return ""


def family_order(order: t.Any, option: str = "api_vip_families") -> t.List[str]:
    """The families of the plan, primary first, from family names or from the plan's CIDRs."""
    if order in (None, "", []):
        return []
    if not isinstance(order, (list, tuple)):
        raise DualstackError(Problem(option, order, "is not a list",
                                     "Give the plan's families (e.g. [ipv4, ipv6]) or its CIDR list, primary first"))
    families: t.List[str] = []
    for item in order:
        if item in FAMILIES:
            family = item
        else:
            try:
                family = _family(ipaddress.ip_network(str(item), strict=False).network_address)
            except ValueError:
                raise DualstackError(Problem(option, order, f"holds {item!r}, neither a family name nor a CIDR",
                                             "Give ipv4/ipv6 or the plan's CIDR list, primary first")) from None
        if family in families:
            raise DualstackError(Problem(option, order, f"names {FAMILY_NAMES[family]} twice",
                                         "Give each family once, primary first"))
        families.append(family)
    return families


def check_vips(vips: t.Any, families: t.Sequence[str] = (), option: str = "api_vip_addresses") -> t.List[IPAddress]:
    """The virtual IPs, one per family, in the plan's family order; refused otherwise."""
    fix_list = "Give one virtual IP per family, primary family first, e.g. [192.0.2.10, '2001:db8::10']"
    if not isinstance(vips, (list, tuple)) or not vips:
        raise DualstackError(Problem(option, vips, "is not a list of virtual IPs", fix_list))
    problems: t.List[Problem] = []
    parsed: t.List[IPAddress] = []
    for value in vips:
        address = _parse_address(value)
        if address is None:
            why = "is a network, not one address" if isinstance(value, str) and "/" in value else "is not an IP address"
            problems.append(Problem(option, vips, f"holds {value!r}, which {why}", fix_list))
            continue
        reason = _special_purpose(address)
        if reason:
            problems.append(Problem(option, vips, f"holds {address}, {reason}",
                                    "Pick unused addresses of the nodes' own networks"))
        parsed.append(address)
    if problems:
        raise DualstackError(problems)
    got = [_family(address) for address in parsed]
    if len(set(got)) != len(got):
        raise DualstackError(Problem(option, vips, "holds more than one address of a family", fix_list))
    if families:
        if sorted(got) != sorted(families):
            raise DualstackError(Problem(
                option, vips, f"covers {', '.join(FAMILY_NAMES[f] for f in got)} but the plan has "
                f"{', '.join(FAMILY_NAMES[f] for f in families)}", fix_list))
        if got != list(families):
            raise DualstackError(Problem(
                option, vips, f"lists {FAMILY_NAMES[got[0]]} first but the plan's primary family is "
                f"{FAMILY_NAMES[families[0]]}", f"List the {FAMILY_NAMES[families[0]]} virtual IP first"))
    return parsed


def check_nodes(hosts: t.Any, nodes: t.Any, families: t.Sequence[str],
                option_hosts: str = "api_vip_hosts", option_nodes: str = "api_vip_nodes"
                ) -> t.Dict[str, t.Dict[str, IPAddress]]:
    """Each host's own address of each family, the unicast peers of the VRRP instances."""
    if not isinstance(hosts, (list, tuple)) or not hosts or not all(isinstance(h, str) for h in hosts):
        raise DualstackError(Problem(option_hosts, hosts, "is not a list of inventory host names",
                                     "List the control-plane hosts in priority order, the preferred holder first"))
    if len(set(hosts)) != len(hosts):
        raise DualstackError(Problem(option_hosts, hosts, "names a host twice", "List each host once"))
    if not isinstance(nodes, dict):
        raise DualstackError(Problem(option_nodes, nodes, "is not a mapping of host to its addresses",
                                     "Give {host: {ipv4: ..., ipv6: ...}} (the address plan's nodes)"))
    problems: t.List[Problem] = []
    result: t.Dict[str, t.Dict[str, IPAddress]] = {}
    seen: t.Dict[IPAddress, str] = {}
    for host in hosts:
        entry = nodes.get(host)
        if not isinstance(entry, dict):
            problems.append(Problem(f"{option_nodes}[{host}]", entry, "is missing",
                                    "Give the host's ipv4 and ipv6 addresses (address_plan_node_ipv4/ipv6)"))
            continue
        result[host] = {}
        for family in families:
            value = entry.get(family)
            address = _parse_address(value)
            if address is None or _family(address) != family:
                problems.append(Problem(f"{option_nodes}[{host}].{family}", value,
                                        f"is not an {FAMILY_NAMES[family]} address",
                                        f"Give the host's own {FAMILY_NAMES[family]} address"))
                continue
            if address in seen:
                problems.append(Problem(f"{option_nodes}[{host}].{family}", value,
                                        f"is also the address of {seen[address]}", "Give each host its own address"))
            seen[address] = host
            result[host][family] = address
    if problems:
        raise DualstackError(problems)
    return result


def check_priorities(host_count: int, base: t.Any, step: t.Any) -> t.List[int]:
    """Priorities by host order: the first host highest, each next one ``step`` lower."""
    if not isinstance(base, int) or isinstance(base, bool) or not 1 <= base <= MAX_PRIORITY:
        raise DualstackError(Problem("api_vip_priority", base, f"is not a VRRP priority from 1 to {MAX_PRIORITY}",
                                     "Give the first host's priority, e.g. 150 (255 is the address owner's)"))
    if not isinstance(step, int) or isinstance(step, bool) or step < 1:
        raise DualstackError(Problem("api_vip_priority_step", step, "is not a positive whole number",
                                     "Give how much lower each next host's priority is, e.g. 10"))
    priorities = [base - step * index for index in range(host_count)]
    if priorities[-1] < 1:
        raise DualstackError(Problem(
            "api_vip_priority_step", step,
            f"takes the last of {host_count} hosts below priority 1 (from api_vip_priority {base})",
            "Lower api_vip_priority_step or raise api_vip_priority"))
    return priorities


def check_auth_pass(value: t.Any, option: str = "api_vip_auth_pass") -> str:
    """The VRRP password of the IPv4 instance, or '' for none; the value is never shown."""
    if value in (None, ""):
        return ""
    if (not isinstance(value, str) or len(value) > AUTH_PASS_MAX
            or any(not ch.isprintable() or ch.isspace() or ch in "\"'#!\\" for ch in value)):
        raise DualstackError(Problem(
            option, value, f"is not 1 to {AUTH_PASS_MAX} printable characters without spaces, quotes, "
            "'#', '!' or backslashes (keepalived reads only the first 8 and takes # and ! as comments)",
            "Give a short password from a vault, or '' for none", secret=True))
    return value


def _port(value: t.Any, option: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise DualstackError(Problem(option, value, "is not a TCP port from 1 to 65535", "Give a port number"))
    return value


def settings(vips: t.Any, hosts: t.Any, nodes: t.Any, host: str, *, families: t.Any = None,
             virtual_router_id: t.Any = 51, priority: t.Any = 150, priority_step: t.Any = 10,
             api_port: t.Any = 6443, haproxy: bool = False, haproxy_port: t.Any = 8443,
             auth_pass: t.Any = "") -> t.Dict[str, t.Any]:
    """Everything one host's keepalived and HAProxy configuration need, checked.

    Raises ``DualstackError`` naming the variable on any input that cannot work, before any
    host changes.
    """
    order = family_order(families)
    addresses = check_vips(vips, order)
    vip_families = [_family(address) for address in addresses]
    node_addresses = check_nodes(hosts, nodes, vip_families)
    if host not in node_addresses:
        raise DualstackError(Problem("api_vip_hosts", hosts, f"does not name {host}, which runs the role",
                                     "Run the role on the hosts of api_vip_hosts only, or add this one"))
    taken = {address: name for name, by_family in node_addresses.items() for address in by_family.values()}
    clashes = [Problem("api_vip_addresses", [str(a) for a in addresses], f"holds {address}, the address of {taken[address]}",
                       "Pick virtual IPs no node has") for address in addresses if address in taken]
    if clashes:
        raise DualstackError(clashes)
    if not isinstance(virtual_router_id, int) or isinstance(virtual_router_id, bool) or not 1 <= virtual_router_id <= 255:
        raise DualstackError(Problem("api_vip_virtual_router_id", virtual_router_id, "is not a VRRP router id from 1 to 255",
                                     "Give an id no other VRRP router on the network uses"))
    priorities = dict(zip(hosts, check_priorities(len(hosts), priority, priority_step)))
    api = _port(api_port, "api_vip_api_server_port")
    balancer = _port(haproxy_port, "api_vip_haproxy_port")
    if haproxy and balancer == api:
        raise DualstackError(Problem("api_vip_haproxy_port", haproxy_port,
                                     f"is the API server's own port (api_vip_api_server_port {api}); HAProxy runs on "
                                     "the same hosts and could not bind it", "Give HAProxy another port, e.g. 8443"))
    password = check_auth_pass(auth_pass)
    instances = []
    for address in addresses:
        family = _family(address)
        instances.append({
            "name": f"api_vip_{family}",
            "family": family,
            "vip": str(address),
            "prefix": HOST_PREFIX[family],
            "virtual_router_id": virtual_router_id,
            "priority": priorities[host],
            "source": str(node_addresses[host][family]),
            "peers": [str(node_addresses[other][family]) for other in hosts if other != host],
            # VRRP version 3, which IPv6 always uses, has no authentication; keepalived logs
            # that it ignores the block and its config test fails, so only IPv4 carries it.
            "auth": family == "ipv4" and bool(password),
        })
    backends = [{"name": f"{name}-{_family(a)}", "address": str(a), "port": api,
                 "endpoint": f"{a}:{api}" if a.version == 4 else f"[{a}]:{api}"}
                for name in hosts for a in node_addresses[name].values()]
    return {
        "families": vip_families,
        "vips": {_family(a): str(a) for a in addresses},
        "instances": instances,
        "check_address": str(node_addresses[host][vip_families[0]]),
        "own": {family: str(address) for family, address in node_addresses[host].items()},
        "priority": priorities[host],
        # A failing health check lowers a host's priority by this much (keepalived's track_script
        # weight), below that of every host whose API server answers, whatever its place: the VIPs
        # move away from a dead API server. While no API server answers yet, before the first
        # kubeadm init, every host is lowered alike and the first host still holds the VIPs, so that
        # init can reach its own API server through them (the advice of kubeadm's HA considerations,
        # kubernetes/kubeadm docs/ha-considerations.md: a weighted check script, not a fault state).
        "track_weight": -(priority_step * len(hosts)),
        "backends": backends,
        "api_port": api,
        "haproxy_port": balancer,
    }


def interface_of(ip_json: str, address: str) -> str:
    """The interface that holds ``address``, from ``ip -json address show``."""
    wanted = _parse_address(address)
    try:
        links = json.loads(ip_json)
    except ValueError:
        raise DualstackError(f"'ip -json address show' printed no JSON ({ip_json[:80]!r}); "
                             "set api_vip_interface to the interface of the node's own address") from None
    for link in links if isinstance(links, list) else []:
        for info in link.get("addr_info", []):
            if wanted is not None and _parse_address(info.get("local")) == wanted:
                return str(link.get("ifname"))
    raise DualstackError(Problem("api_vip_nodes", address, "is on no interface of this host",
                                 "Give the host's own addresses, or set api_vip_interface"))


def kube_vip_pod(vips: t.Any, interface: str, *, families: t.Any = None, port: t.Any = 6443,
                 image: str = KUBE_VIP_IMAGE, kubeconfig: str = "/etc/kubernetes/admin.conf",
                 namespace: str = "kube-system", lease_prefix: str = "plndr-cp-lock") -> t.Dict[str, t.Any]:
    """A kube-vip static Pod holding both virtual IPs: one container, Lease and metrics port per family.

    The environment variable names are kube-vip's (pkg/kubevip/config_environment.go):
    address, port, vip_interface, vip_arp, cp_enable, cp_namespace, vip_leaderelection,
    vip_leasename, prometheus_server (pkg/kubevip/config_envvar.go). Without vip_subnet the
    address gets a /32 or /128 (pkg/vip/util.go, GetFullMask).
    """
    addresses = check_vips(vips, family_order(families))
    api = _port(port, "api_vip_api_server_port")
    if not isinstance(interface, str) or not interface:
        raise DualstackError(Problem("api_vip_interface", interface, "is empty",
                                     "Give the interface of the nodes' own addresses, e.g. eth0"))
    containers = []
    for address in addresses:
        family = _family(address)
        env = {
            "vip_arp": "true",
            "port": str(api),
            "vip_interface": interface,
            "cp_enable": "true",
            "cp_namespace": namespace,
            "vip_leaderelection": "true",
            "vip_leasename": f"{lease_prefix}-{family}",
            "prometheus_server": f":{KUBE_VIP_METRICS_PORTS[family]}",
            "address": str(address),
        }
        containers.append({
            "name": f"kube-vip-{family}",
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "args": ["manager"],
            "env": [{"name": key, "value": value} for key, value in env.items()],
            "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
            "volumeMounts": [{"name": "kubeconfig", "mountPath": "/etc/kubernetes/admin.conf", "readOnly": True}],
        })
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kube-vip", "namespace": namespace,
                     "labels": {"app.kubernetes.io/name": "kube-vip",
                                "app.kubernetes.io/managed-by": "dualstack.kubernetes"}},
        "spec": {
            "hostNetwork": True,
            # The API server's name inside the kubeconfig resolves to this host, so that
            # kube-vip reaches the local API server before any VIP exists.
            "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["kubernetes"]}],
            "containers": containers,
            "volumes": [{"name": "kubeconfig", "hostPath": {"path": kubeconfig, "type": "File"}}],
        },
    }
