# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The address plan of a dual-stack cluster: every rule it must meet, everything derived from it.

The plan is checked on the controller before any host changes. Every function here is
plain Python on the standard library (``ipaddress`` is strict where Kubernetes is strict:
no netmask notation, no zone, no leading zeros), so nothing extra is needed anywhere.

Where a limit comes from:

* Service CIDR: kube-apiserver refuses more than 20 host bits; the IPv6 allocator uses
  at most 65536 addresses, so a /112 is the largest range it fills. The API service takes
  the first address of each range and cluster DNS (kubeadm, k3s) the tenth.
* Node CIDRs: kube-controller-manager gives each node one CIDR of the node mask out of
  the pod CIDR, so a pod CIDR /P at mask /M holds 2^(M-P) nodes; it refuses an IPv6 mask
  more than 16 bits longer than the pod prefix, and kubeadm refuses that for IPv4 too.
* Calico: IPv4 blocks /20../32, IPv6 blocks /116../128; each node claims at least one
  block of its pool, and VXLAN carries IPv6 only from v3.23.
* Versions and everything that depends on them: the rule book, ``rules.py``; the plan
  carries its decisions (``decisions``), so roles read a decision, never a version.
* Special-purpose addresses (loopback, link-local, multicast, reserved, ...) are refused
  in every CIDR and node address, after the IANA IPv4 and IPv6 Special-Purpose Address
  Registries; the documentation prefixes stay allowed, since the articles use them.
* kubelet refuses a loopback, link-local, multicast or unspecified ``--node-ip``.

Problems are collected, not raised one by one: a refused plan lists every problem at once,
and a check that depends on a value runs only where that value was read, so one bad value
gives one problem.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import re
import secrets
import typing as t
from dataclasses import dataclass, field

from ansible_collections.dualstack.kubernetes.plugins.module_utils import node_labels, rules
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import (
    DualstackError,
    Problem,
    show,
    summarise,
)
from ansible_collections.dualstack.kubernetes.plugins.module_utils.rules import (
    FAMILIES,
    FAMILY_LABEL,
    Version,
    family_of,
)

IPNetwork = t.Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IPAddress = t.Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

DISTRIBUTIONS = ("kubeadm", "k3s")
IPV6_ENCAPSULATIONS = ("none", "vxlan")

MAX_SERVICE_HOST_BITS = 20
IPV6_SERVICE_ALLOCATOR_HOST_BITS = 16
API_SERVICE_INDEX = 1
DNS_SERVICE_INDEX = 10
MAX_NODE_MASK_DIFF = 16
DEFAULT_NODE_MASK = {"ipv4": 24, "ipv6": 64}
DEFAULT_BLOCK_SIZE = {"ipv4": 26, "ipv6": 122}
BLOCK_SIZE_RANGE = {"ipv4": (20, 32), "ipv6": (116, 128)}
EXAMPLE_CIDR = {
    "pod_cidrs": {"ipv4": "10.244.0.0/16", "ipv6": "fd00:1::/48"},
    "service_cidrs": {"ipv4": "10.96.0.0/12", "ipv6": "fd00::/112"},
    "node_cidrs": {"ipv4": "192.168.1.0/24", "ipv6": "2001:db8::/64"},
}

# How LoadBalancer addresses reach the network: l2 answers ARP/NDP for them on the node
# network, bgp announces them to routers.
LB_MODES = ("l2", "bgp")

# kube-apiserver's --secure-port as kubeadm and k3s set it.
DEFAULT_API_PORT = 6443

# The version of the fact's layout: a consumer handed something else is told to run the role.
PLAN_SCHEMA = 2

ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = {
    "pod_cidrs": {"type": "list", "elements": "str", "required": True},
    "service_cidrs": {"type": "list", "elements": "str", "required": True},
    "node_cidrs": {"type": "list", "elements": "str", "default": []},
    "node_mask_ipv4": {"type": "int", "default": DEFAULT_NODE_MASK["ipv4"]},
    "node_mask_ipv6": {"type": "int", "default": DEFAULT_NODE_MASK["ipv6"]},
    "node_cidr_allocation": {"type": "bool", "default": True},
    "nodes": {"type": "list", "elements": "dict", "required": True},
    "distribution": {"type": "str", "required": True, "choices": list(DISTRIBUTIONS)},
    "kubernetes_version": {"type": "str", "required": True},
    "calico_version": {"type": "str", "required": True},
    "calico_ipv4_block_size": {"type": "int", "default": DEFAULT_BLOCK_SIZE["ipv4"]},
    "calico_ipv6_block_size": {"type": "int", "default": DEFAULT_BLOCK_SIZE["ipv6"]},
    "calico_ipv6_encapsulation": {"type": "str", "default": "none", "choices": list(IPV6_ENCAPSULATIONS)},
    "calico_ipv4_pool_cidr": {"type": "str"},
    "calico_ipv6_pool_cidr": {"type": "str"},
    "feature_gates": {"type": "dict", "default": {}},
    # The control-plane hosts, in inventory order (the first one initialises the cluster), and
    # the one endpoint every member and node reaches the API servers through when there are
    # several: a virtual IP per family, or an external load balancer's name or address.
    "control_plane_hosts": {"type": "list", "elements": "str", "default": []},
    "api_vips": {"type": "list", "elements": "str", "default": []},
    "api_endpoint": {"type": "str", "default": ""},
    "api_port": {"type": "int", "default": DEFAULT_API_PORT},
    # LoadBalancer address pools (MetalLB) and how they are announced; see check_lb_pools.
    "lb_pools": {"type": "list", "elements": "str", "default": []},
    "lb_mode": {"type": "str", "default": "l2", "choices": list(LB_MODES)},
    "variable_prefix": {"type": "str", "default": ""},
    # Set by the address_plan role: a digest of its inputs, kept in the plan so that a later
    # role of the same run sees the plan is current and does not compute it again.
    "fingerprint": {"type": "str", "default": ""},
}


class ProblemFound(DualstackError):
    """Raised by a parser that cannot go on with one value; the caller records it."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        self.problem = problem


class AddressPlanError(DualstackError):
    """The plan is refused; ``problems`` lists every broken rule (the message shows the first ones)."""

    def __init__(self, problems: t.Sequence[Problem]) -> None:
        count = len(problems)
        super().__init__(
            problems, summary=f"The address plan is refused ({count} problem{'s' if count != 1 else ''}); "
                              f"no host was changed")


# Option names as they appear in messages; "nodes" is left out, being a common word there.
_OPTION_NAME = re.compile(r"\b(" + "|".join(sorted((o for o in ARGUMENT_SPEC if o != "nodes"), key=len, reverse=True)) + r")\b")
_NODE_OPTION = re.compile(r"\bnodes\[[0-9]+\]\.(ipv4|ipv6|labels|taints) \(([^)]*)\)")


def as_variables(text: str, prefix: str) -> str:
    """Name options in a message by the variables a role user sets, e.g. pod_cidrs as
    address_plan_pod_cidrs and nodes[0].ipv6 (node-1) as address_plan_node_ipv6 of node-1."""
    if not prefix:
        return text
    text = _NODE_OPTION.sub(lambda m: f"{prefix}node_{m.group(1)} of {m.group(2)}", text)
    return _OPTION_NAME.sub(lambda m: prefix + m.group(1), text)


# ---------------------------------------------------------------------------------------
# Parsing

# Only the address/prefix-length form: Go's net.ParseCIDR, which Kubernetes uses, takes
# nothing else (no netmask, no zone, no bare address).
_CIDR_FORM = re.compile(r"^[0-9A-Fa-f:.]+/[0-9]{1,3}$")
_ADDRESS_FORM = re.compile(r"^[0-9A-Fa-f:.]+$")


# Address blocks no cluster network may use, after the IANA IPv4 Special-Purpose Address
# Registry (iana.org/assignments/iana-ipv4-special-registry), the IPv4 Multicast Address Space
# Registry, the IANA IPv6 Special-Purpose Address Registry
# (iana.org/assignments/iana-ipv6-special-registry) and the IPv6 Address Space Registry: the
# blocks that are not forwardable, are reserved by protocol, or mean something else on the
# wire. Private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7), benchmarking and the
# documentation prefixes (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32,
# 3fff::/20) stay allowed: the articles use the documentation prefixes.
SPECIAL_PURPOSE: t.Tuple[t.Tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(block), name) for block, name in (
        ("0.0.0.0/8", "\"this network\" (RFC 791), whose addresses are never a destination"),
        ("0.0.0.0/32", "the unspecified address (RFC 1122)"),
        ("127.0.0.0/8", "loopback (RFC 1122)"),
        ("169.254.0.0/16", "link-local (RFC 3927)"),
        ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
        ("224.0.0.0/4", "multicast (RFC 5771)"),
        ("240.0.0.0/4", "reserved for future use (RFC 1112)"),
        ("255.255.255.255/32", "limited broadcast (RFC 919)"),
        ("::/128", "the unspecified address (RFC 4291)"),
        ("::1/128", "loopback (RFC 4291)"),
        ("::ffff:0:0/96", "IPv4-mapped (RFC 4291)"),
        ("64:ff9b::/96", "IPv4/IPv6 translation (RFC 6052), which NAT64 turns into IPv4"),
        ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation (RFC 8215)"),
        ("100::/64", "discard-only (RFC 6666)"),
        ("2001::/32", "Teredo (RFC 4380)"),
        ("2001:10::/28", "ORCHID (RFC 4843, deprecated)"),
        ("2001:20::/28", "ORCHIDv2 (RFC 7343)"),
        ("2002::/16", "6to4 (RFC 3056)"),
        ("::/8", "reserved by the IETF (RFC 4291)"),
        ("fe80::/10", "link-local (RFC 4291)"),
        ("fec0::/10", "site-local, deprecated (RFC 3879)"),
        ("ff00::/8", "multicast (RFC 4291)"),
    ))


# The IPv6 Address Space registry (iana.org/assignments/ipv6-address-space) allocates global
# unicast (2000::/3) and unique local (fc00::/7) space; the rest is link-local, multicast or
# reserved by the IETF.
IPV6_ALLOCATED = (ipaddress.IPv6Network("2000::/3"), ipaddress.IPv6Network("fc00::/7"))


# The same blocks as integer ranges: a node address is checked against them without building
# a network, so that a plan of many thousands of nodes stays quick.
_SPECIAL_RANGES = tuple((block.version, int(block.network_address), int(block.broadcast_address), block.prefixlen, name)
                        for block, name in SPECIAL_PURPOSE)
_IPV6_ALLOCATED_RANGES = tuple((int(block.network_address), int(block.broadcast_address)) for block in IPV6_ALLOCATED)


def special_purpose(item: t.Union[IPNetwork, IPAddress]) -> t.Optional[str]:
    """The special-purpose block a network or address touches: the most specific one holding
    it, else the largest one inside it; None where it touches none."""
    if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        first, last = int(item.network_address), int(item.broadcast_address)
    else:
        first = last = int(item)
    holding: t.Optional[t.Tuple[int, str]] = None
    inside: t.Optional[t.Tuple[int, str]] = None
    for version, low, high, prefixlen, name in _SPECIAL_RANGES:
        if version != item.version or high < first or low > last:
            continue
        if low <= first and last <= high:
            if holding is None or prefixlen > holding[0]:
                holding = (prefixlen, name)
        elif inside is None or prefixlen < inside[0]:
            inside = (prefixlen, name)
    if holding or inside:
        return (holding or inside)[1]  # type: ignore[index]
    if item.version == 6 and not any(low <= first and last <= high for low, high in _IPV6_ALLOCATED_RANGES):
        return "outside the IPv6 unicast space (2000::/3 global, fc00::/7 unique local), reserved by the IETF (RFC 4291)"
    return None


def _ipv4_mapped(option: str, text: str, address: IPAddress) -> None:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        # Go's net.ParseIP and net.ParseCIDR return ::ffff:a.b.c.d as the IPv4 address a.b.c.d, so
        # Kubernetes would read an IPv4 value where an IPv6 one is meant.
        raise ProblemFound(Problem(
            option, text, f"is an IPv4-mapped IPv6 address, which Kubernetes (Go) reads as the IPv4 address {mapped}",
            f"Give {mapped} as the IPv4 value and a real IPv6 address or CIDR as the IPv6 one"))


def parse_cidr(option: str, value: t.Any) -> IPNetwork:
    """Parse one CIDR strictly; host bits set is a problem, not something to fix silently."""
    example = "e.g. 10.244.0.0/16 or fd00:1::/48"
    if not isinstance(value, str) or not value.strip():
        raise ProblemFound(Problem(option, value, "is not a CIDR", f"Write it as address/prefix-length, {example}"))
    text = value.strip()
    if not _CIDR_FORM.match(text):
        raise ProblemFound(Problem(
            option, text, "is not in address/prefix-length form (Kubernetes reads no other)",
            f"Write it as address/prefix-length, {example}"))
    address_text, length_text = text.split("/")
    try:
        address = ipaddress.ip_address(address_text)
        network = ipaddress.ip_network(f"{address}/{int(length_text)}", strict=False)
    except ValueError as exc:
        raise ProblemFound(Problem(option, text, f"cannot be parsed ({exc})", f"Write a valid CIDR, {example}")) from None
    _ipv4_mapped(option, text, address)
    if network.network_address != address:
        raise ProblemFound(Problem(
            option, text,
            f"has host bits set ({address} is not the first address of a /{network.prefixlen})",
            f"Use {network}"))
    purpose = special_purpose(network)
    if purpose is not None:
        raise ProblemFound(Problem(
            option, text, f"overlaps a special-purpose block of the IANA registries, {purpose}; no cluster network "
                          f"may hold such addresses",
            f"Use a private range, e.g. {'10.244.0.0/16' if network.version == 4 else 'fd00:1::/48'}"))
    return network


NODE_IP_REASON = {
    "kubeadm": "without both, the node reports the addresses of one family only",
    "k3s": "k3s does not detect a dual-stack node-ip by itself",
}


def _parse_address_text(option: str, text: str, kind: str, example: str) -> IPAddress:
    """One address in the strict form Kubernetes reads (no CIDR, no zone, no IPv4-mapped form);
    ``kind`` names what belongs there, ``example`` shows it."""
    if "/" in text:
        raise ProblemFound(Problem(option, text, "is a CIDR, not an address",
                                   f"Give the address alone: {text.split('/', maxsplit=1)[0]}"))
    if not _ADDRESS_FORM.match(text):
        raise ProblemFound(Problem(option, text, f"is not {kind}", f"Write it like {example}"))
    try:
        address = ipaddress.ip_address(text)
    except ValueError as exc:
        raise ProblemFound(Problem(option, text, f"cannot be parsed ({exc})", f"Write it like {example}")) from None
    _ipv4_mapped(option, text, address)
    return address


def parse_address(option: str, value: t.Any, family: str, reason: str = "") -> IPAddress:
    """Parse one node address of the given family; ``reason`` says why it is required."""
    label = FAMILY_LABEL[family]
    example = "192.168.1.11" if family == "ipv4" else "2001:db8::11"
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ProblemFound(Problem(
                option, value, f"lists {len(value)} addresses; kubelet takes exactly one {label} address per node",
                f"Give the one {label} address the node is reached at, e.g. {example}"))
        value = value[0]
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ProblemFound(Problem(
            option, value,
            f"is missing; every node needs exactly one {label} address for kubelet's --node-ip"
            + (f" ({reason})" if reason else ""),
            f"Set the node's {label} address, e.g. {example}"))
    text = str(value).strip()
    address = _parse_address_text(option, text, f"an {label} address", example)
    if family_of(address) != family:
        raise ProblemFound(Problem(
            option, text, f"is an {FAMILY_LABEL[family_of(address)]} address where an {label} one belongs",
            f"Give an {label} address here, e.g. {example}, and this one under {family_of(address)}"))
    purpose = special_purpose(address)
    if purpose is not None:
        raise ProblemFound(Problem(
            option, text, f"is a special-purpose address of the IANA registries, {purpose}; kubelet refuses such a "
                          f"--node-ip, or other nodes cannot reach it",
            f"Use the node's routable {label} address, e.g. {example}"))
    return address


def _comma_list(value: t.Any) -> t.Any:
    """A comma-separated string (as given with -e) as its list of parts; any other value as it is."""
    if isinstance(value, str):
        return [part for part in value.split(",") if part.strip()]
    return value


def parse_cidr_list(option: str, values: t.Any, problems: t.List[Problem],
                    require_both: bool = True) -> t.Dict[str, IPNetwork]:
    """Parse a per-family CIDR list; returns family -> network in the order given."""
    result: t.Dict[str, IPNetwork] = {}
    values = _comma_list([] if values is None else values)
    if not isinstance(values, (list, tuple)):
        problems.append(Problem(option, values, "is not a list", "Give a list of CIDRs, primary family first"))
        return result
    examples = EXAMPLE_CIDR.get(option, EXAMPLE_CIDR["pod_cidrs"])
    if require_both and not values:
        problems.append(Problem(
            option, values, "is empty; a dual-stack cluster needs one IPv4 and one IPv6 CIDR",
            f"List both, primary family first, e.g. [{examples['ipv4']}, {examples['ipv6']}]"))
        return result
    seen: t.Dict[str, t.List[IPNetwork]] = {}
    for index, value in enumerate(values):
        try:
            network = parse_cidr(f"{option}[{index}]", value)
        except ProblemFound as found:
            problems.append(found.problem)
            continue
        seen.setdefault(family_of(network), []).append(network)
    for family, networks in seen.items():
        if len(networks) > 1:
            problems.append(Problem(
                option, values,
                f"lists {len(networks)} {FAMILY_LABEL[family]} CIDRs ({', '.join(map(str, networks))}); "
                f"Kubernetes takes exactly one CIDR per family",
                f"Keep one {FAMILY_LABEL[family]} CIDR, e.g. {networks[0]}"))
        else:
            result[family] = networks[0]
    # A value that did not parse is reported already; its family is not "missing" too.
    if require_both and len(values) == sum(len(networks) for networks in seen.values()):
        for family in FAMILIES:
            if family not in seen:
                problems.append(Problem(
                    option, values,
                    f"has no {FAMILY_LABEL[family]} CIDR; a dual-stack cluster needs one of each family",
                    f"Add one, e.g. {examples[family]}"
                    + (" (the ula_prefix filter makes a random RFC 4193 /48)" if family == "ipv6" else "")))
    return result


# ---------------------------------------------------------------------------------------
# Rules

def check_primary_order(option: str, networks: t.Mapping[str, IPNetwork], primary: str) -> t.List[Problem]:
    """The first CIDR of every list must be of the pod CIDRs' (primary) family."""
    if not networks:
        return []
    first = next(iter(networks))
    if first == primary or len(networks) < 2:
        return []
    ordered = [str(networks[family]) for family in (primary, first)]
    return [Problem(
        option, [str(n) for n in networks.values()],
        f"lists {FAMILY_LABEL[first]} first while pod_cidrs lists {FAMILY_LABEL[primary]} first; "
        f"the first CIDR of each list sets the primary family and the cluster has one",
        f"Put the {FAMILY_LABEL[primary]} CIDR first: [{', '.join(ordered)}]")]


def _relation(first: IPNetwork, second: IPNetwork) -> str:
    if first == second:
        return "is the same range as"
    if first.subnet_of(second):  # type: ignore[arg-type]
        return "lies inside"
    return "contains"


def check_overlaps(networks: t.Sequence[t.Tuple[str, IPNetwork]]) -> t.List[Problem]:
    """Pod, Service and node networks must not share an address, in either direction."""
    problems = []
    for (option_a, net_a), (option_b, net_b) in itertools.combinations(networks, 2):
        if net_a.version == net_b.version and net_a.overlaps(net_b):  # type: ignore[arg-type]
            problems.append(Problem(
                option_a, str(net_a),
                f"{_relation(net_a, net_b)} {option_b} {net_b}; pod, Service and node networks must not overlap "
                f"in either family (packets to one would be taken for the other)",
                "Move one of the two to a range that shares no address with the other"))
    return problems


def check_service_cidr(option: str, network: IPNetwork) -> t.Tuple[t.List[Problem], t.List[str]]:
    """Size limits of a Service CIDR: kube-apiserver's maximum, the DNS address's minimum."""
    problems: t.List[Problem] = []
    warnings: t.List[str] = []
    family = family_of(network)
    host_bits = network.max_prefixlen - network.prefixlen
    shortest = network.max_prefixlen - MAX_SERVICE_HOST_BITS
    if host_bits > MAX_SERVICE_HOST_BITS:
        if family == "ipv6":
            useful = network.max_prefixlen - IPV6_SERVICE_ALLOCATOR_HOST_BITS
            fix = f"Use a /{shortest}../{useful}, e.g. {network.network_address}/{useful}"
        else:
            fix = f"Use a /{shortest} or longer prefix, e.g. {network.network_address}/{shortest}"
        problems.append(Problem(
            option, str(network),
            f"has {host_bits} host bits; kube-apiserver allows at most {MAX_SERVICE_HOST_BITS} "
            f"(mask >= {shortest} for {FAMILY_LABEL[family]})", fix))
    elif family == "ipv6" and host_bits > IPV6_SERVICE_ALLOCATOR_HOST_BITS:
        useful = network.max_prefixlen - IPV6_SERVICE_ALLOCATOR_HOST_BITS
        warnings.append(
            f"{option}: {network} has {host_bits} host bits; the IPv6 Service allocator uses at most "
            f"65536 addresses of it, so /{useful} is the largest range fully used "
            f"(e.g. {network.network_address}/{useful})")
    if network.num_addresses <= DNS_SERVICE_INDEX:
        longest = network.max_prefixlen - (DNS_SERVICE_INDEX.bit_length())
        problems.append(Problem(
            option, str(network),
            f"holds {network.num_addresses} address{'es' if network.num_addresses != 1 else ''}; cluster DNS takes "
            f"address number {DNS_SERVICE_INDEX} of it",
            f"Use a /{longest} or shorter prefix, e.g. {ipaddress.ip_network(f'{network.network_address}/{longest}', strict=False)}"))
    return problems, warnings


def service_ip(network: IPNetwork, index: int) -> str:
    return str(network.network_address + index)


def node_capacity(cluster: IPNetwork, mask: int) -> int:
    """How many node CIDRs of size /mask the cluster CIDR holds."""
    if mask < cluster.prefixlen or mask > cluster.max_prefixlen:
        return 0
    return 2 ** (mask - cluster.prefixlen)


def check_node_mask(option: str, mask: t.Any, cluster: IPNetwork, distribution: str) -> t.List[Problem]:
    """The node mask against its family's pod CIDR, as kube-controller-manager and kubeadm check it."""
    family = family_of(cluster)
    label = FAMILY_LABEL[family]
    prefix = cluster.prefixlen
    top = min(prefix + MAX_NODE_MASK_DIFF, cluster.max_prefixlen)
    suggestion = f"Use a mask from /{prefix} to /{top}, e.g. /{min(max(DEFAULT_NODE_MASK[family], prefix), top)}"
    if not isinstance(mask, int) or isinstance(mask, bool) or not 0 < mask <= cluster.max_prefixlen:
        return [Problem(option, mask, f"is not an {label} prefix length (1..{cluster.max_prefixlen})", suggestion)]
    if mask < prefix:
        return [Problem(
            option, f"/{mask}",
            f"is shorter than the {label} pod CIDR {cluster}; a node's CIDR is cut out of the pod CIDR and "
            f"cannot be larger than it", suggestion)]
    difference = mask - prefix
    if difference > MAX_NODE_MASK_DIFF and (family == "ipv6" or distribution == "kubeadm"):
        who = "kube-controller-manager and kubeadm refuse" if family == "ipv6" else "kubeadm refuses"
        return [Problem(
            option, f"/{mask}",
            f"is {difference} bits longer than the prefix of the {label} pod CIDR {cluster}; {who} "
            f"more than {MAX_NODE_MASK_DIFF}",
            f"Use a mask up to /{prefix + MAX_NODE_MASK_DIFF} or a longer pod CIDR "
            f"(at least /{mask - MAX_NODE_MASK_DIFF})")]
    return []


def check_node_capacity(family: str, cluster: IPNetwork, mask: int, node_count: int) -> t.List[Problem]:
    """More nodes than node CIDRs: kube-controller-manager leaves the extra nodes without pod CIDRs."""
    capacity = node_capacity(cluster, mask)
    if node_count <= capacity or capacity == 0:
        return []
    needed = (node_count - 1).bit_length()
    label = FAMILY_LABEL[family]
    fixes = []
    if cluster.prefixlen + needed <= min(cluster.prefixlen + MAX_NODE_MASK_DIFF, cluster.max_prefixlen):
        fixes.append(f"set node_mask_{family} to /{cluster.prefixlen + needed} or longer")
    if mask - needed >= 1:
        fixes.append(f"use an {label} pod CIDR of /{mask - needed} or shorter")
    fixes.append("set node_cidr_allocation to false (Calico's own IPAM then hands out pod addresses "
                 "without node CIDRs)")
    return [Problem(
        "pod_cidrs", str(cluster),
        f"holds {capacity} node CIDR{'s' if capacity != 1 else ''} of node_mask_{family} /{mask}, but the inventory "
        f"has {node_count} nodes; kube-controller-manager gives every node one, so {node_count - capacity} "
        f"node{'s' if node_count - capacity != 1 else ''} would get no {label} pod CIDR",
        "To fix it, " + ", or ".join(fixes))]


def check_block_size(option: str, size: t.Any, family: str, pool: t.Optional[IPNetwork]) -> t.List[Problem]:
    low, high = BLOCK_SIZE_RANGE[family]
    label = FAMILY_LABEL[family]
    if not isinstance(size, int) or isinstance(size, bool) or not low <= size <= high:
        return [Problem(
            option, size, f"is outside Calico's {label} block sizes {low}..{high}",
            f"Use a size from {low} to {high}; Calico's default is {DEFAULT_BLOCK_SIZE[family]}")]
    if pool is not None and size < pool.prefixlen:
        return [Problem(
            option, size, f"makes a block (/{size}) larger than the Calico {label} pool {pool}",
            f"Use a block size of {pool.prefixlen} or more, or a larger pool")]
    return []


def calico_blocks(pool: IPNetwork, block_size: int) -> int:
    if block_size < pool.prefixlen:
        return 0
    return 2 ** (block_size - pool.prefixlen)


def check_calico_pool(option: str, pool: IPNetwork, pod: IPNetwork) -> t.List[Problem]:
    if pool.subnet_of(pod):  # type: ignore[arg-type]
        return []
    return [Problem(
        option, str(pool),
        f"lies outside the {FAMILY_LABEL[family_of(pod)]} pod CIDR {pod}; Calico would give pods addresses "
        f"that Kubernetes does not know as pod addresses",
        f"Use the pod CIDR itself ({pod}) or a range inside it, or leave the option unset")]


def check_calico_capacity(option: str, pool: IPNetwork, block_size: int, node_count: int,
                          block_option: str) -> t.List[Problem]:
    blocks = calico_blocks(pool, block_size)
    if blocks == 0 or node_count <= blocks:
        return []
    needed = (node_count - 1).bit_length()
    family = family_of(pool)
    high = BLOCK_SIZE_RANGE[family][1]
    fix = f"Use a larger pool (/{block_size - needed} or shorter)"
    if pool.prefixlen + needed <= high:
        fix = f"Set {block_option} to {pool.prefixlen + needed} or more, or use a larger pool"
    return [Problem(
        option, str(pool),
        f"holds {blocks} block{'s' if blocks != 1 else ''} of /{block_size}, but the inventory has {node_count} nodes; "
        f"Calico gives every node at least one block", fix)]


def _minor(release: t.Tuple[int, ...]) -> str:
    return f"{release[0]}.{release[1]}"


def check_versions(distribution: str, kubernetes: Version, calico: Version, ipv6_encapsulation: str,
                   feature_gates: t.Mapping[str, t.Any]) -> t.Tuple[t.Dict[str, t.Any], t.List[Problem], t.List[str]]:
    """Version rules; returns the feature gates the cluster must be given, problems, warnings.

    The releases are in their components' known ranges already (``rules.parse``)."""
    problems: t.List[Problem] = []
    warnings: t.List[str] = []
    gates: t.Dict[str, t.Any] = dict(feature_gates)
    gate_name = rules.DUAL_STACK_GATE
    if distribution == "k3s" and not rules.k3s_dual_stack_stable(kubernetes):
        warnings.append(
            f"kubernetes_version: k3s {kubernetes} has experimental dual-stack; it is stable from v1.23.7+k3s1")
    gate = gates.get(gate_name)
    if rules.gate_removed(kubernetes):
        if gate_name in gates:
            problems.append(Problem(
                f"feature_gates.{gate_name}", gate,
                f"names a feature gate that Kubernetes removed in {_minor(rules.GATE_REMOVED)}; "
                f"{kubernetes} refuses to start with it",
                f"Remove {gate_name} from feature_gates (dual-stack is always on from 1.23)"))
    elif gate is not None and gate is not True and str(gate).lower() != "true":
        problems.append(Problem(
            f"feature_gates.{gate_name}", gate,
            "turns dual-stack off (or cannot, where the gate is locked on), and this collection builds dual-stack clusters",
            f"Remove {gate_name} from feature_gates"))
    elif rules.gate_needed(kubernetes):
        # Alpha releases: every component needs the gate, so the roles pass it on.
        gates[gate_name] = True
    if not rules.node_ip_pair(distribution, kubernetes):
        warnings.append(
            f"kubernetes_version: the kubelet of {kubernetes} takes one node-ip address (a pair from "
            f"{_minor(rules.KUBELET_NODE_IP_PAIR)}), so nodes report only their primary address; pods and Services "
            f"still get both families")
    if ipv6_encapsulation not in IPV6_ENCAPSULATIONS:
        problems.append(Problem("calico_ipv6_encapsulation", ipv6_encapsulation, "is not an IPv6 encapsulation Calico has",
                                "Use none (routed, BGP) or vxlan"))
    elif ipv6_encapsulation == "vxlan" and not rules.calico_ipv6_vxlan(calico):
        problems.append(Problem(
            "calico_ipv6_encapsulation", "vxlan",
            f"needs Calico {_minor(rules.CALICO_IPV6_VXLAN)} or later, but calico_version is {calico} "
            f"(before 3.23 IPv6 pod traffic is routed, never encapsulated)",
            "Set calico_ipv6_encapsulation to none, or use Calico 3.23 or later"))
    return gates, problems, warnings


@dataclass(frozen=True)
class PlanNode:
    name: str
    addresses: t.Dict[str, IPAddress]


def check_nodes(nodes: t.Any, node_networks: t.Mapping[str, IPNetwork],
                reserved: t.Sequence[t.Tuple[str, IPNetwork]],
                distribution: str = "kubeadm") -> t.Tuple[t.List[PlanNode], t.List[Problem]]:
    """Every node: a unique name and exactly one usable address of each family.

    ``reserved`` are the pod and Service networks: a node address inside one of them would
    be taken for a pod or a Service.
    """
    problems: t.List[Problem] = []
    result: t.List[PlanNode] = []
    if not isinstance(nodes, (list, tuple)) or not nodes:
        problems.append(Problem(
            "nodes", nodes, "holds no node; the plan needs the cluster's nodes",
            "List the nodes as {name, ipv4, ipv6} (the address_plan role takes them from the inventory)"))
        return result, problems
    names: t.Dict[str, int] = {}
    owners: t.Dict[IPAddress, str] = {}
    for index, node in enumerate(nodes):
        if not isinstance(node, t.Mapping):
            problems.append(Problem(f"nodes[{index}]", node, "is not a mapping", "Write it as {name, ipv4, ipv6}"))
            continue
        name = node.get("name")
        # YAML reads a host named 5 as a number; it is still that host's name.
        if isinstance(name, int) and not isinstance(name, bool):
            name = str(name)
        if name is None or (isinstance(name, str) and not name.strip()):
            problems.append(Problem(f"nodes[{index}].name", name, "is missing", "Give every node its inventory name"))
            name = f"nodes[{index}]"
        elif not isinstance(name, str):
            problems.append(Problem(f"nodes[{index}].name", name, "is not a host name",
                                    "Give every node its inventory name"))
            name = f"nodes[{index}]"
        elif name in names:
            problems.append(Problem(
                f"nodes[{index}].name", name, f"is also the name of nodes[{names[name]}]",
                "List every node once"))
        else:
            names[name] = index
        addresses: t.Dict[str, IPAddress] = {}
        for family in FAMILIES:
            option = f"nodes[{index}].{family} ({show(name, 60)})"
            try:
                address = parse_address(option, node.get(family), family, NODE_IP_REASON.get(distribution, ""))
            except ProblemFound as found:
                problems.append(found.problem)
                continue
            addresses[family] = address
            if address in owners:
                problems.append(Problem(
                    option, str(address), f"is also the address of {owners[address]}",
                    "Give every node its own address"))
            else:
                owners[address] = name
            network = node_networks.get(family)
            if network is not None and address not in network:
                problems.append(Problem(
                    option, str(address), f"lies outside node_cidrs {network}",
                    "Fix the node's address, or node_cidrs so that it holds every node"))
            for reserved_option, reserved_network in reserved:
                if reserved_network.version == address.version and address in reserved_network:
                    problems.append(Problem(
                        option, str(address), f"lies inside {reserved_option} {reserved_network}; a node address "
                        f"there would be taken for a pod or a Service",
                        f"Move {reserved_option} away from the node network"))
        if len(addresses) == len(FAMILIES):
            result.append(PlanNode(name, addresses))
    return result, problems


def check_node_registrations(nodes: t.Any) -> t.Tuple[t.Dict[str, t.Dict[str, t.Any]], t.List[Problem]]:
    """Every node's own labels and taints (``labels``, ``taints``), as its kubelet registers them.

    The rules are node_labels'; a node without a usable name was named by check_nodes already.
    """
    registrations: t.Dict[str, t.Dict[str, t.Any]] = {}
    problems: t.List[Problem] = []
    if not isinstance(nodes, (list, tuple)):
        return registrations, problems
    for index, node in enumerate(nodes):
        if not isinstance(node, t.Mapping):
            continue
        name = str(node.get("name"))
        labels, label_problems = node_labels.check_labels(f"nodes[{index}].labels ({show(name, 60)})", node.get("labels"))
        taints, taint_problems = node_labels.check_taints(f"nodes[{index}].taints ({show(name, 60)})", node.get("taints"))
        problems.extend(label_problems + taint_problems)
        registrations[name] = {"labels": labels, "taints": [taint.as_dict() for taint in taints]}
    return registrations, problems


# ---------------------------------------------------------------------------------------
# The API endpoint of several control planes

EXAMPLE_VIP = {"ipv4": "192.168.1.10", "ipv6": "2001:db8::10"}
# RFC 1123 host names, as kubeadm's controlPlaneEndpoint and the API server certificate's
# DNS names take them: dot-separated labels of letters, digits and inner hyphens.
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_ENDPOINT_FIX = ("Write a DNS name or an address, with :port where it is not the API port, an IPv6 address in "
                 "brackets then: lb.example.com, lb.example.com:6443, 192.168.1.10:6443 or [2001:db8::10]:6443")


def _check_port(option: str, value: t.Any) -> t.List[Problem]:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return [Problem(option, value, "is not a TCP port", f"Use a number from 1 to 65535, usually {DEFAULT_API_PORT}")]
    return []


def _parse_any_address(option: str, text: str) -> IPAddress:
    """An address of either family, with the node addresses' strictness."""
    address = _parse_address_text(option, text, "an IPv4 or IPv6 address",
                                  f"{EXAMPLE_VIP['ipv4']} or {EXAMPLE_VIP['ipv6']}")
    purpose = special_purpose(address)
    if purpose is not None:
        raise ProblemFound(Problem(
            option, text, f"is a special-purpose address of the IANA registries, {purpose}; the nodes cannot reach "
                          f"the API servers there",
            f"Use a free routable address of the node network, e.g. {EXAMPLE_VIP[family_of(address)]}"))
    return address


def _check_endpoint_address(option: str, address: IPAddress, nodes: t.Sequence[PlanNode],
                            reserved: t.Sequence[t.Tuple[str, IPNetwork]],
                            node_networks: t.Optional[t.Mapping[str, IPNetwork]]) -> t.List[Problem]:
    """An endpoint address is nobody's: no node has it, no pod or Service gets it, and a
    virtual IP (``node_networks`` given) lies in the node network, where VRRP can move it."""
    problems: t.List[Problem] = []
    for node in nodes:
        if address in node.addresses.values():
            problems.append(Problem(
                option, str(address), f"is the address of node {node.name}; a virtual IP must be free, or it cannot "
                                      f"move to another control plane when that node fails",
                "Use an unused address of the node network"))
    for reserved_option, network in reserved:
        if network.version == address.version and address in network:
            problems.append(Problem(
                option, str(address), f"lies inside {reserved_option} {network}; the cluster would take it for a pod "
                                      f"or a Service", "Use an address of the node network, outside the pod and Service CIDRs"))
    network = (node_networks or {}).get(family_of(address))
    if network is not None and address not in network:
        problems.append(Problem(
            option, str(address), f"lies outside node_cidrs {network}; a virtual IP moves between the control planes "
                                  f"on their own network", f"Use a free address inside {network}"))
    return problems


def check_api_endpoint(values: t.Mapping[str, t.Any], primary: str, nodes: t.Sequence[PlanNode],
                       reserved: t.Sequence[t.Tuple[str, IPNetwork]], node_networks: t.Mapping[str, IPNetwork],
                       ) -> t.Tuple[t.Optional[t.Dict[str, t.Any]], t.List[str], t.List[Problem], t.List[str]]:
    """The API endpoint and the control planes: (endpoint or None, control planes, problems, warnings).

    With more than one control plane, every member and node must reach the API servers through
    one endpoint that outlives any of them; without it each control plane would build a
    cluster of its own.
    """
    problems: t.List[Problem] = []
    warnings: t.List[str] = []
    hosts = values.get("control_plane_hosts") or []
    control_planes: t.List[str] = []
    if not isinstance(hosts, (list, tuple)):
        problems.append(Problem("control_plane_hosts", hosts, "is not a list", "List the control-plane hosts' inventory names"))
        hosts = []
    planned = {node.get("name") for node in values.get("nodes") or [] if isinstance(node, t.Mapping)}
    for index, host in enumerate(hosts):
        name = str(host)
        if name in control_planes:
            problems.append(Problem(f"control_plane_hosts[{index}]", name, "is listed twice", "List every control plane once"))
            continue
        if name not in planned:
            problems.append(Problem(
                f"control_plane_hosts[{index}]", name, "is not one of the plan's nodes",
                "Add it to address_plan_node_hosts with its addresses, or remove it from the control planes"))
        control_planes.append(name)
    port = values.get("api_port", DEFAULT_API_PORT)
    port_problems = _check_port("api_port", port)
    problems.extend(port_problems)
    vips = _comma_list(values.get("api_vips") or [])
    endpoint = values.get("api_endpoint") or ""
    if not isinstance(vips, (list, tuple)):
        problems.append(Problem("api_vips", vips, "is not a list", "Give one virtual IP per family, primary family first"))
        return None, control_planes, problems, warnings
    example = f"[{EXAMPLE_VIP[primary]}, {EXAMPLE_VIP['ipv6' if primary == 'ipv4' else 'ipv4']}]"
    if vips and endpoint:
        problems.append(Problem(
            "api_endpoint", endpoint, "is set together with api_vips; the cluster has one API endpoint",
            "Keep api_vips for virtual IPs the control planes hold themselves, or api_endpoint for your own load "
            "balancer, not both"))
        return None, control_planes, problems, warnings
    count = len(control_planes)
    if count > 1 and not vips and not endpoint:
        problems.append(Problem(
            "api_vips", [],
            f"is empty and api_endpoint is not set, but there are {count} control planes "
            f"({summarise(control_planes)}); without one endpoint for all of them each would build a cluster of its own",
            f"Set api_vips to one free address per family of the node network, primary family first, e.g. {example}, "
            f"or api_endpoint to the name or address of your load balancer"))
    if count > 1 and count % 2 == 0:
        warnings.append(
            f"control_plane_hosts: {count} control planes make {count} etcd members, which lose quorum after "
            f"{count // 2 - 1} failure{'s' if count // 2 - 1 != 1 else ''}, as {count - 1} do; an odd number "
            f"({count + 1}) tolerates one more")
    if not vips and not endpoint:
        return None, control_planes, problems, warnings
    api_port = port if not port_problems else DEFAULT_API_PORT
    if vips:
        addresses: t.List[IPAddress] = []
        for index, value in enumerate(vips):
            option = f"api_vips[{index}]"
            try:
                address = _parse_any_address(option, str(value).strip())
            except ProblemFound as found:
                problems.append(found.problem)
                continue
            problems.extend(_check_endpoint_address(option, address, nodes, reserved, node_networks))
            addresses.append(address)
        if len(addresses) == len(vips):
            found_families = [family_of(address) for address in addresses]
            expected = [primary] + [family for family in FAMILIES if family != primary]
            if found_families != expected:
                problems.append(Problem(
                    "api_vips", [str(a) for a in addresses],
                    f"holds {', '.join(FAMILY_LABEL[f] for f in found_families) or 'nothing'}; the API endpoint needs "
                    f"exactly one virtual IP per family, the primary family ({FAMILY_LABEL[primary]}) first, like "
                    f"the CIDR lists", f"List one per family, e.g. {example}"))
        if problems:
            return None, control_planes, problems, warnings
        host = str(addresses[0])
        return ({"host": host, "port": api_port, "vips": [str(a) for a in addresses],
                 "url_host": f"[{host}]" if addresses[0].version == 6 else host},
                control_planes, problems, warnings)
    return _parse_endpoint(str(endpoint).strip(), api_port, reserved, control_planes, problems, warnings)


def _parse_endpoint(text: str, default_port: int,
                    reserved: t.Sequence[t.Tuple[str, IPNetwork]], control_planes: t.List[str],
                    problems: t.List[Problem], warnings: t.List[str],
                    ) -> t.Tuple[t.Optional[t.Dict[str, t.Any]], t.List[str], t.List[Problem], t.List[str]]:
    """host[:port] of an external load balancer; an IPv6 address in brackets where a port follows."""
    host, port_text = text, ""
    if text.startswith("["):
        closing = text.find("]")
        rest = text[closing + 1:] if closing > 0 else "?"
        if closing < 0 or (rest and not rest.startswith(":")):
            problems.append(Problem("api_endpoint", text, "has an unclosed or misplaced bracket", _ENDPOINT_FIX))
            return None, control_planes, problems, warnings
        host, port_text = text[1:closing], rest[1:]
        if ":" not in host:
            problems.append(Problem("api_endpoint", text, "puts a name or IPv4 address in brackets, which only "
                                                          "IPv6 addresses take", _ENDPOINT_FIX))
            return None, control_planes, problems, warnings
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    port = default_port
    if port_text or text.endswith(":"):
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            problems.append(Problem("api_endpoint", text, f"has the port {port_text!r}, which is not a TCP port",
                                    _ENDPOINT_FIX))
            return None, control_planes, problems, warnings
        port = int(port_text)
    looks_like_address = ":" in host or re.match(r"^[0-9.]+$", host) is not None
    if looks_like_address:
        try:
            address = _parse_any_address("api_endpoint", host)
        except ProblemFound as found:
            problems.append(found.problem)
            return None, control_planes, problems, warnings
        # A load balancer's address may be anywhere routable, a node's too (HAProxy on a node,
        # say), but never a pod or Service one.
        endpoint_problems = _check_endpoint_address("api_endpoint", address, [], reserved, None)
        problems.extend(endpoint_problems)
        if endpoint_problems:
            return None, control_planes, problems, warnings
        host = str(address)
    elif not _DNS_NAME.match(host):
        problems.append(Problem("api_endpoint", text, "is neither an address nor a DNS name (RFC 1123)", _ENDPOINT_FIX))
        return None, control_planes, problems, warnings
    return ({"host": host, "port": port, "vips": [], "url_host": f"[{host}]" if ":" in host else host},
            control_planes, problems, warnings)


# ---------------------------------------------------------------------------------------
# LoadBalancer address pools (MetalLB)

EXAMPLE_LB_POOL = {"ipv4": "192.168.1.240-192.168.1.250", "ipv6": "2001:db8::f0/124"}


@dataclass(frozen=True)
class LbRange:
    """One pool entry as MetalLB reads it: a CIDR or a first-last range of one family."""

    option: str
    text: str
    first: IPAddress
    last: IPAddress

    @property
    def family(self) -> str:
        return family_of(self.first)

    def overlaps(self, first: IPAddress, last: IPAddress) -> bool:
        return first.version == self.first.version and not (last < self.first or first > self.last)

    def holds(self, address: IPAddress) -> bool:
        return self.overlaps(address, address)

    def inside(self, network: IPNetwork) -> bool:
        return self.first.version == network.version and self.first in network and self.last in network


def _lb_bounds(network: IPNetwork) -> t.Tuple[IPAddress, IPAddress]:
    return network.network_address, network.broadcast_address


def parse_lb_pool(option: str, value: t.Any) -> LbRange:
    """A CIDR (strict, as the other CIDRs) or ``first-last`` of one family, first <= last:
    the two forms MetalLB's IPAddressPool takes (its CRD: "either a CIDR prefix, or an
    explicit start-end range of IPs")."""
    text = value.strip() if isinstance(value, str) else value
    example = f"e.g. {EXAMPLE_LB_POOL['ipv4']} or {EXAMPLE_LB_POOL['ipv6']}"
    if not isinstance(text, str) or not text:
        raise ProblemFound(Problem(option, value, "is not an address range", f"Give a CIDR or first-last, {example}"))
    if "/" in text:
        network = parse_cidr(option, text)
        first, last = _lb_bounds(network)
        return LbRange(option, str(network), first, last)
    parts = [part.strip() for part in text.split("-")]
    if len(parts) != 2 or not all(_ADDRESS_FORM.match(part) for part in parts):
        raise ProblemFound(Problem(option, text, "is neither a CIDR nor a first-last address range",
                                   f"Write it as MetalLB reads it, {example}"))
    try:
        first, last = (ipaddress.ip_address(part) for part in parts)
    except ValueError as exc:
        raise ProblemFound(Problem(option, text, f"cannot be parsed ({exc})", f"Write a valid range, {example}")) from None
    for address, part in ((first, parts[0]), (last, parts[1])):
        _ipv4_mapped(option, part, address)
    if first.version != last.version:
        raise ProblemFound(Problem(option, text, "mixes an IPv4 and an IPv6 address; a range lies in one family",
                                   f"Give one range per family, {example}"))
    if last < first:
        raise ProblemFound(Problem(option, text, f"ends ({last}) before it starts ({first})",
                                   f"Write the lower address first: {last}-{first}"))
    for network in ipaddress.summarize_address_range(first, last):  # type: ignore[type-var]
        purpose = special_purpose(network)
        if purpose is not None:
            raise ProblemFound(Problem(
                option, text, f"overlaps a special-purpose block of the IANA registries, {purpose}; no LoadBalancer "
                              f"address may be one", f"Use free addresses of your network, {example}"))
    return LbRange(option, f"{first}-{last}", first, last)


def check_lb_pools(values: t.Mapping[str, t.Any], families: t.Sequence[str],
                   node_networks: t.Mapping[str, IPNetwork], reserved: t.Sequence[t.Tuple[str, IPNetwork]],
                   nodes: t.Sequence[PlanNode], api_endpoint: t.Optional[t.Mapping[str, t.Any]],
                   ) -> t.Tuple[t.Dict[str, t.List[str]], t.List[Problem], t.List[str]]:
    """The LoadBalancer pools: (entries by family in the order given, problems, warnings).

    A pool address must be nobody else's: not a pod's or a Service's (the cluster would route
    it inside), not a node's or the API endpoint's (MetalLB would answer for it), not another
    pool's (two Services could get it). With l2 each pool lies in its family's node network,
    where the speakers answer ARP/NDP for it; an IPv4 pool there must spare that network's own
    first and last address. A dual-stack LoadBalancer Service needs a range of each family.
    """
    problems: t.List[Problem] = []
    warnings: t.List[str] = []
    given = _comma_list(values.get("lb_pools") or [])
    mode = values.get("lb_mode") or "l2"
    if not isinstance(given, (list, tuple)):
        problems.append(Problem("lb_pools", given, "is not a list", "List address ranges or CIDRs, both families"))
        return {}, problems, warnings
    if mode not in LB_MODES:
        problems.append(Problem("lb_mode", mode, "is not a way MetalLB announces addresses",
                                "Use l2 (ARP/NDP on the node network) or bgp (announced to your routers)"))
    ranges: t.List[LbRange] = []
    for index, value in enumerate(given):
        try:
            ranges.append(parse_lb_pool(f"lb_pools[{index}]", value))
        except ProblemFound as found:
            problems.append(found.problem)
    if not given:
        return {}, problems, warnings
    if len(ranges) == len(given):
        for family in families:
            if not any(entry.family == family for entry in ranges):
                problems.append(Problem(
                    "lb_pools", list(given),
                    f"has no {FAMILY_LABEL[family]} range; a dual-stack LoadBalancer Service gets one address of "
                    f"each family", f"Add one, e.g. {EXAMPLE_LB_POOL[family]}"))
    for entry in ranges:
        problems.extend(_check_lb_range(entry, mode, node_networks, reserved, nodes, api_endpoint))
    for one, other in itertools.combinations(ranges, 2):
        if one.overlaps(other.first, other.last):
            problems.append(Problem(
                one.option, one.text, f"shares addresses with {other.option} {other.text}; two Services could get "
                                      f"the same address", "Make the ranges disjoint"))
    if mode == "l2" and ranges:
        lacking = sorted({entry.family for entry in ranges if entry.family not in node_networks})
        if lacking:
            warnings.append(
                f"lb_pools: node_cidrs has no {' and no '.join(FAMILY_LABEL[f] for f in lacking)} network, so the "
                f"plan cannot check that the pools lie on the node network, where l2 mode answers for them")
    by_family: t.Dict[str, t.List[str]] = {family: [] for family in families}
    for entry in ranges:
        by_family.setdefault(entry.family, []).append(entry.text)
    return by_family, problems, warnings


def _check_lb_range(entry: LbRange, mode: str, node_networks: t.Mapping[str, IPNetwork],
                    reserved: t.Sequence[t.Tuple[str, IPNetwork]], nodes: t.Sequence[PlanNode],
                    api_endpoint: t.Optional[t.Mapping[str, t.Any]]) -> t.List[Problem]:
    problems: t.List[Problem] = []
    move = "Move the pool to free addresses of the node network"
    for option, network in reserved:
        first, last = _lb_bounds(network)
        if entry.overlaps(first, last):
            problems.append(Problem(
                entry.option, entry.text, f"overlaps {option} {network}; the cluster routes those addresses to pods or "
                                          f"Services inside, never to a LoadBalancer", move))
    for node in nodes:
        for address in node.addresses.values():
            if entry.holds(address):
                problems.append(Problem(
                    entry.option, entry.text, f"holds {address}, the address of node {node.name}; MetalLB would "
                                              f"answer for the node", f"{move}, leaving out every node's address"))
    for vip in (api_endpoint or {}).get("vips") or []:
        address = ipaddress.ip_address(vip)
        if entry.holds(address):
            problems.append(Problem(
                entry.option, entry.text, f"holds {address}, an API virtual IP (api_vips); a Service could take the "
                                          f"control planes' address", f"{move}, leaving out api_vips"))
    network = node_networks.get(entry.family)
    if mode == "l2" and network is not None:
        if not entry.inside(network):
            problems.append(Problem(
                entry.option, entry.text, f"lies outside node_cidrs {network}; in l2 mode the nodes answer ARP/NDP "
                                          f"for pool addresses on their own network only",
                f"Use free addresses inside {network}, or lb_mode bgp where your routers route the pool"))
        elif network.version == 4 and network.prefixlen < 31:
            for address, what in ((network.network_address, "network"), (network.broadcast_address, "broadcast")):
                if entry.holds(address):
                    problems.append(Problem(
                        entry.option, entry.text, f"holds {address}, the {what} address of node_cidrs {network}, "
                                                  f"which no host of that network can use",
                        f"Leave out {address}, e.g. with a first-last range"))
    return problems


# ---------------------------------------------------------------------------------------
# The plan

def _read_whole(given: t.Any, parsed: t.Mapping[str, IPNetwork]) -> bool:
    """Whether every entry of a CIDR list was read (so checks of its order mean something)."""
    return isinstance(given, (list, tuple)) and len(given) == len(parsed)


def build_plan(params: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """Check every rule and derive the plan; raises AddressPlanError listing every problem.

    ``params`` are the options of ARGUMENT_SPEC (missing ones take their defaults).
    """
    values = {name: spec.get("default") for name, spec in ARGUMENT_SPEC.items()}
    values.update({name: value for name, value in params.items() if value is not None})
    problems: t.List[Problem] = []
    warnings: t.List[str] = []

    pods = parse_cidr_list("pod_cidrs", values["pod_cidrs"], problems)
    services = parse_cidr_list("service_cidrs", values["service_cidrs"], problems)
    node_networks = parse_cidr_list("node_cidrs", values["node_cidrs"], problems, require_both=False)
    # The primary family is the first pod CIDR's; where that one did not parse, it is unknown
    # and the order of the Service CIDRs is not judged against a guess.
    primary = next(iter(pods), "ipv4")
    families = [primary] + [family for family in FAMILIES if family != primary]
    if _read_whole(values["pod_cidrs"], pods) and _read_whole(values["service_cidrs"], services):
        problems.extend(check_primary_order("service_cidrs", services, primary))

    named = [("pod_cidrs", n) for n in pods.values()] + [("service_cidrs", n) for n in services.values()] \
        + [("node_cidrs", n) for n in node_networks.values()]
    problems.extend(check_overlaps(named))
    for network in services.values():
        service_problems, service_warnings = check_service_cidr("service_cidrs", network)
        problems.extend(service_problems)
        warnings.extend(service_warnings)

    distribution = values["distribution"]
    allocation = bool(values["node_cidr_allocation"])
    masks = {family: values[f"node_mask_{family}"] for family in FAMILIES}
    reserved = [("pod_cidrs", n) for n in pods.values()] + [("service_cidrs", n) for n in services.values()]
    nodes, node_problems = check_nodes(values["nodes"], node_networks, reserved, distribution)
    problems.extend(node_problems)
    registrations, registration_problems = check_node_registrations(values["nodes"])
    problems.extend(registration_problems)
    api_endpoint, control_planes, endpoint_problems, endpoint_warnings = check_api_endpoint(
        values, primary, nodes, reserved, node_networks)
    problems.extend(endpoint_problems)
    warnings.extend(endpoint_warnings)
    node_count = len(values["nodes"]) if isinstance(values["nodes"], (list, tuple)) else 0
    lb_pools, lb_problems, lb_warnings = check_lb_pools(values, families, node_networks, reserved, nodes, api_endpoint)
    problems.extend(lb_problems)
    warnings.extend(lb_warnings)

    capacity: t.Dict[str, int] = {}
    for family, pod in pods.items():
        mask_problems = check_node_mask(f"node_mask_{family}", masks[family], pod, distribution)
        problems.extend(mask_problems)
        if not mask_problems:
            capacity[family] = node_capacity(pod, masks[family])
            if allocation:
                problems.extend(check_node_capacity(family, pod, masks[family], node_count))
    if not allocation:
        warnings.append(
            "node_cidr_allocation is off: kube-controller-manager hands out no node CIDRs and Calico's own IPAM "
            "gives pods their addresses, so the node masks do not limit the number of nodes")

    calico: t.Dict[str, t.Any] = {"ipv6_encapsulation": values["calico_ipv6_encapsulation"]}
    for family in FAMILIES:
        pool_option = f"calico_{family}_pool_cidr"
        block_option = f"calico_{family}_block_size"
        pool: t.Optional[IPNetwork] = pods.get(family)
        if values.get(pool_option):
            try:
                pool = parse_cidr(pool_option, values[pool_option])
            except ProblemFound as found:
                problems.append(found.problem)
                pool = None
            else:
                if family_of(pool) != family:
                    problems.append(Problem(
                        pool_option, str(pool), f"is not an {FAMILY_LABEL[family]} CIDR",
                        f"Give an {FAMILY_LABEL[family]} range inside the pod CIDR, or leave it unset"))
                    pool = None
                elif family in pods:
                    problems.extend(check_calico_pool(pool_option, pool, pods[family]))
        block_size = values[block_option]
        block_problems = check_block_size(block_option, block_size, family, pool)
        problems.extend(block_problems)
        if pool is not None and not block_problems:
            problems.extend(check_calico_capacity(pool_option if values.get(pool_option) else "pod_cidrs",
                                                  pool, block_size, node_count, block_option))
            blocks = calico_blocks(pool, block_size)
            if family in capacity:
                capacity[family] = min(capacity[family], blocks) if allocation else blocks
        calico[f"{family}_pool_cidr"] = str(pool) if pool is not None else None
        calico[f"{family}_block_size"] = block_size

    kubernetes_version = calico_version = None
    if distribution not in DISTRIBUTIONS:
        problems.append(Problem("distribution", distribution,
                                "is neither kubeadm nor k3s, the two ways this collection builds clusters",
                                "Use kubeadm or k3s"))
    component = "k3s" if distribution == "k3s" else "kubernetes"
    try:
        kubernetes_version = rules.parse(component, values["kubernetes_version"], "kubernetes_version")
    except DualstackError as exc:
        problems.extend(exc.problems)
    try:
        calico_version = rules.parse("calico", values["calico_version"], "calico_version")
    except DualstackError as exc:
        problems.extend(exc.problems)
    gates: t.Dict[str, t.Any] = {}
    if kubernetes_version is not None and calico_version is not None:
        gates, version_problems, version_warnings = check_versions(
            distribution, kubernetes_version, calico_version, values["calico_ipv6_encapsulation"],
            values["feature_gates"] or {})
        problems.extend(version_problems)
        warnings.extend(version_warnings)

    for family in families:
        if capacity.get(family) == node_count:
            warnings.append(
                f"{FAMILY_LABEL[family]}: the plan holds at most {node_count} node{'s' if node_count != 1 else ''} "
                f"and the inventory has as many: another node needs a larger pod CIDR, a longer node mask or "
                f"smaller Calico blocks")

    if problems:
        raise AddressPlanError(problems)

    if kubernetes_version is None or calico_version is None:  # recorded as problems above
        raise AddressPlanError(problems)
    calico["version"] = str(calico_version)
    decisions = rules.decisions(distribution, kubernetes_version, calico_version)
    pod_list = [str(pods[family]) for family in families]
    kubelet_families = families if decisions["node_ip_pair"] else families[:1]
    service_list = [str(services[family]) for family in families]
    return {
        "schema": PLAN_SCHEMA,
        "fingerprint": values["fingerprint"] or "",
        "distribution": distribution,
        "kubernetes_version": kubernetes_version.bare,
        "k3s_version": str(kubernetes_version) if distribution == "k3s" else None,
        "primary_family": primary,
        "families": families,
        "pod_cidrs": pod_list,
        "service_cidrs": service_list,
        "node_cidrs": [str(node_networks[family]) for family in families if family in node_networks],
        "pod_subnet": ",".join(pod_list),
        "service_subnet": ",".join(service_list),
        "pod_cidr_by_family": {family: str(pods[family]) for family in families},
        "service_cidr_by_family": {family: str(services[family]) for family in families},
        "node_mask": dict(masks),
        "node_cidr_allocation": allocation,
        "nodes": {
            node.name: {
                "ipv4": str(node.addresses["ipv4"]),
                "ipv6": str(node.addresses["ipv6"]),
                "node_ip": ",".join(str(node.addresses[family]) for family in kubelet_families),
                **registrations.get(node.name, {"labels": {}, "taints": []}),
            }
            for node in nodes
        },
        "api_service_ip": {family: service_ip(services[family], API_SERVICE_INDEX) for family in families},
        "dns_service_ip": {family: service_ip(services[family], DNS_SERVICE_INDEX) for family in families},
        "node_capacity": {family: capacity[family] for family in families},
        "feature_gates": gates,
        "calico": calico,
        "decisions": decisions,
        "control_planes": control_planes,
        "api_endpoint": api_endpoint,
        "lb_pools": lb_pools,
        "lb_mode": values["lb_mode"],
        "warnings": warnings,
    }


def format_plan_table(plan: t.Mapping[str, t.Any]) -> t.List[str]:
    """A short table of the plan, one line per family and one per node."""
    head = (f"{plan['distribution']} {plan['k3s_version'] or plan['kubernetes_version']}, "
            f"Calico {plan['calico']['version']}, primary family {plan['primary_family']}"
            + (", feature gates " + ",".join(f"{k}={show(v)}" for k, v in sorted(plan["feature_gates"].items()))
               if plan["feature_gates"] else ""))
    rows = [["family", "pods", "services", "node mask", "max nodes", "API IP", "DNS IP", "Calico pool"]]
    for family in plan["families"]:
        rows.append([
            family, plan["pod_cidr_by_family"][family], plan["service_cidr_by_family"][family],
            f"/{plan['node_mask'][family]}" if plan["node_cidr_allocation"] else "off",
            str(plan["node_capacity"][family]), plan["api_service_ip"][family], plan["dns_service_ip"][family],
            f"{plan['calico'][family + '_pool_cidr']} /{plan['calico'][family + '_block_size']}",
        ])
    node_rows = [["node", "node-ip"]] + [[name, node["node_ip"]] for name, node in plan["nodes"].items()]
    endpoint = plan.get("api_endpoint")
    tail = []
    if endpoint:
        tail.append(f"API endpoint {endpoint['url_host']}:{endpoint['port']}"
                    + (f" (virtual IPs {', '.join(endpoint['vips'])})" if endpoint["vips"] else " (external)")
                    + (f", control planes {', '.join(plan.get('control_planes') or [])}" if plan.get("control_planes") else ""))
    pools = plan.get("lb_pools") or {}
    if any(pools.values()):
        tail.append(f"LoadBalancer pools ({plan.get('lb_mode') or 'l2'}): "
                    + "; ".join(", ".join(pools[family]) for family in plan["families"] if pools.get(family)))
    return [head] + _columns(rows) + _columns(node_rows) + tail


def _columns(rows: t.Sequence[t.Sequence[str]]) -> t.List[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


# ---------------------------------------------------------------------------------------
# The plan as consumers read it

_RUN_THE_ROLE = "run the dualstack.kubernetes.address_plan role first (it sets the fact address_plan)"


@dataclass(frozen=True)
class PlannedNode:
    name: str
    addresses: t.Mapping[str, str]
    node_ip: t.Tuple[str, ...]
    # What the node's kubelet registers it with: {key: value} and [{key, value, effect}].
    labels: t.Mapping[str, str] = field(default_factory=dict)
    taints: t.Tuple[t.Mapping[str, str], ...] = ()


def _read_endpoint(endpoint: t.Any) -> t.Optional[t.Dict[str, t.Any]]:
    """The fact's api_endpoint as the planner writes it ({host, port, vips, url_host}), or None."""
    if endpoint is None:
        return None
    fix = "Run the address_plan role to make the plan"
    if not isinstance(endpoint, t.Mapping) or not endpoint.get("host") or not endpoint.get("url_host"):
        raise DualstackError(Problem(
            "address_plan.api_endpoint", endpoint, "is not the {host, port, vips, url_host} mapping the planner writes", fix))
    port = endpoint.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise DualstackError(Problem("address_plan.api_endpoint.port", port, "is not a TCP port number", fix))
    vips = endpoint.get("vips") or []
    if not isinstance(vips, (list, tuple)):
        raise DualstackError(Problem("address_plan.api_endpoint.vips", vips, "is not a list of addresses", fix))
    return {"host": str(endpoint["host"]), "port": port, "vips": [str(vip) for vip in vips],
            "url_host": str(endpoint["url_host"])}


@dataclass(frozen=True)
class Plan:
    """The address_plan fact as a typed object: what the planner checked, read once.

    ``from_fact`` checks only that the value is the fact the planner writes (a mapping with
    the keys consumers read); the plan's rules were checked when it was made and are not
    checked again here. ``fact`` is the mapping itself, for what consumers pass on as it is.
    """

    fact: t.Mapping[str, t.Any] = field(repr=False)
    distribution: str
    families: t.Tuple[str, ...]
    primary_family: str
    nodes: t.Mapping[str, PlannedNode]
    node_mask: t.Mapping[str, int]
    node_cidr_allocation: bool
    feature_gates: t.Mapping[str, t.Any]
    # None with one control plane and no endpoint: joining nodes reach the first control plane.
    api_endpoint: t.Optional[t.Mapping[str, t.Any]] = None
    # Inventory order; the first one initialises the cluster.
    control_planes: t.Tuple[str, ...] = ()

    REQUIRED = ("distribution", "families", "primary_family", "nodes")

    @classmethod
    def from_fact(cls, fact: t.Any, *, distribution: t.Optional[str] = None) -> "Plan":
        """Read the fact; ``distribution`` is what the consumer builds, refused when the plan is for the other."""
        if isinstance(fact, Plan):
            return fact
        if not isinstance(fact, t.Mapping):
            raise DualstackError(f"address_plan is {type(fact).__name__}, not the plan mapping: {_RUN_THE_ROLE}")
        missing = [key for key in cls.REQUIRED if key not in fact]
        if missing:
            raise DualstackError(f"address_plan lacks {summarise(missing)}: {_RUN_THE_ROLE}")
        families = tuple(str(family) for family in fact["families"] or ())
        if sorted(families) != sorted(FAMILIES) or fact["primary_family"] != families[0]:
            raise DualstackError(Problem(
                "address_plan.families", list(families),
                "is not both families, primary first, as the planner writes them", _RUN_THE_ROLE[0].upper() + _RUN_THE_ROLE[1:]))
        if distribution is not None and fact["distribution"] != distribution:
            raise DualstackError(Problem(
                "address_plan.distribution", fact["distribution"], f"is not {distribution}, which this role builds",
                f"Set address_plan_distribution: {distribution} for this cluster, or use the roles of "
                f"{fact['distribution']}"))
        nodes: t.Dict[str, PlannedNode] = {}
        for name, entry in (fact["nodes"] or {}).items():
            addresses = {family: str(entry.get(family) or "") for family in families}
            lacking = [family for family in families if not addresses[family]]
            if lacking:
                raise DualstackError(Problem(
                    f"address_plan.nodes[{show(name, 60)}]", "", f"has no {FAMILY_LABEL[lacking[0]]} address",
                    f"Set address_plan_node_{lacking[0]} for it and {_RUN_THE_ROLE}"))
            node_ip = str(entry.get("node_ip") or "")
            nodes[str(name)] = PlannedNode(
                str(name), addresses, tuple(node_ip.split(",")) if node_ip else tuple(addresses.values()),
                labels=dict(entry.get("labels") or {}), taints=tuple(entry.get("taints") or ()))
        return cls(
            fact=fact, distribution=str(fact["distribution"]), families=families,
            primary_family=families[0], nodes=nodes,
            node_mask={family: int(mask) for family, mask in (fact.get("node_mask") or {}).items()},
            node_cidr_allocation=bool(fact.get("node_cidr_allocation", True)),
            feature_gates=dict(fact.get("feature_gates") or {}),
            api_endpoint=_read_endpoint(fact.get("api_endpoint")),
            control_planes=tuple(str(name) for name in fact.get("control_planes") or ()))

    def node(self, name: str) -> PlannedNode:
        """The planned node of an inventory host; refused, naming the host, when it is not planned."""
        if name not in self.nodes:
            raise DualstackError(
                f"host {show(name, 60)} is not in address_plan.nodes ({summarise(sorted(self.nodes)) or 'none'}): "
                f"add it to address_plan_node_hosts and give it address_plan_node_ipv4 and address_plan_node_ipv6")
        return self.nodes[name]

    def addresses(self, name: str) -> t.List[str]:
        """A node's addresses, primary family first."""
        node = self.node(name)
        return [node.addresses[family] for family in self.families]

    def __getitem__(self, key: str) -> t.Any:
        if key not in self.fact:
            raise DualstackError(f"address_plan has no {key}: {_RUN_THE_ROLE}")
        return self.fact[key]

    def get(self, key: str, default: t.Any = None) -> t.Any:
        return self.fact.get(key, default)

    def decision(self, name: str) -> t.Any:
        """One of the plan's release decisions (``rules.decisions``)."""
        decisions = self.fact.get("decisions")
        if decisions is None:
            # A plan written by hand carries versions only; the rule book decides the same way.
            component = "k3s" if self.distribution == "k3s" else "kubernetes"
            version = self.fact.get("k3s_version") if component == "k3s" else None
            kubernetes = rules.parse(component, version or self["kubernetes_version"], "address_plan.kubernetes_version")
            calico_text = (self.fact.get("calico") or {}).get("version")
            calico = rules.parse("calico", calico_text, "address_plan.calico.version") if calico_text else None
            decisions = rules.decisions(self.distribution, kubernetes, calico)
        if decisions.get(name) is None and name.startswith("calico_") or name not in decisions:
            raise DualstackError(f"address_plan.decisions has no {name}: {_RUN_THE_ROLE}")
        return decisions[name]


# ---------------------------------------------------------------------------------------
# RFC 4193 unique local prefixes

ULA_PREFIX = ipaddress.IPv6Network("fd00::/8")


def ula_prefix(seed: t.Optional[str] = None) -> str:
    """A unique local /48 (RFC 4193: fd00::/8 and a 40-bit global ID).

    With a seed, the global ID is the first 40 bits of the seed's SHA-256, so the same
    seed (a cluster name, say) always gives the same prefix; without one it is random,
    as RFC 4193 asks, from the system's secure random source.
    """
    if seed is None or seed == "":
        global_id = secrets.token_bytes(5)
    else:
        global_id = hashlib.sha256(str(seed).encode("utf-8")).digest()[:5]
    address = ipaddress.IPv6Address(bytes([0xFD]) + global_id + bytes(10))
    return f"{address}/48"
