# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dual-stack edits of Calico's install manifests that leave every other byte alone.

A YAML load and dump of Calico's ``calico.yaml`` rewrites thousands of lines (folding,
comments, quoting), which makes the one edit that matters unreviewable. This module instead
scans the document stream line by line, finds the documents it needs by ``kind`` and
``metadata.name``, walks their block structure by indentation, and rewrites only the exact
scalar, entry or JSON member that has to change.

What it understands is the block-style YAML that Kubernetes manifests are written in:
block mappings and sequences at any indentation (including sequences at their parent key's
indentation), plain, single- and double-quoted scalars, comments, anchors and tags in front
of scalars, and block scalars. A part it must change that is written in flow style (``{...}``
or ``[...]``) is refused with a message rather than guessed at.

Two kinds of input:

* manifest mode: ``calico.yaml`` (ConfigMap ``calico-config`` and DaemonSet ``calico-node``);
  the Calico version is read from the ``calico/node`` image tag and decides what may be asked.
* operator mode: ``custom-resources.yaml`` (the ``Installation`` resource): one IPv4 and one
  IPv6 pool under ``spec.calicoNetwork.ipPools`` and ``nodeAddressAutodetectionV6``.

Stdlib only: the module that uses this may run on a node.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.dualstack.kubernetes.plugins.module_utils import rules
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError, show

ENCAPSULATIONS_IPV4 = ("ipip", "ipip-crosssubnet", "vxlan", "vxlan-crosssubnet", "none")
ENCAPSULATIONS_IPV6 = ("none", "vxlan", "vxlan-crosssubnet")
MODES = ("auto", "manifest", "operator")

# Calico's pool settings: IPIP and VXLAN mode of the IPv4 pool for each encapsulation.
_IPV4_ENCAP_ENV = {
    "ipip": ("Always", "Never"),
    "ipip-crosssubnet": ("CrossSubnet", "Never"),
    "vxlan": ("Never", "Always"),
    "vxlan-crosssubnet": ("Never", "CrossSubnet"),
    "none": ("Never", "Never"),
}
_IPV6_VXLAN_ENV = {"none": "Never", "vxlan": "Always", "vxlan-crosssubnet": "CrossSubnet"}
_OPERATOR_ENCAP = {
    "ipip": "IPIP",
    "ipip-crosssubnet": "IPIPCrossSubnet",
    "vxlan": "VXLAN",
    "vxlan-crosssubnet": "VXLANCrossSubnet",
    "none": "None",
}

# calico-node env entries this module adds when missing go right after FELIX_IPV6SUPPORT
# (or after the last entry), in this order.
_ENV_ORDER = (
    "FELIX_IPV6SUPPORT",
    "IP6",
    "IP_AUTODETECTION_METHOD",
    "IP6_AUTODETECTION_METHOD",
    "CALICO_IPV4POOL_CIDR",
    "CALICO_IPV4POOL_BLOCK_SIZE",
    "CALICO_IPV4POOL_IPIP",
    "CALICO_IPV4POOL_VXLAN",
    "CALICO_IPV4POOL_NAT_OUTGOING",
    "CALICO_IPV6POOL_CIDR",
    "CALICO_IPV6POOL_BLOCK_SIZE",
    "CALICO_IPV6POOL_VXLAN",
    "CALICO_IPV6POOL_NAT_OUTGOING",
)

_IMAGE_VERSION_RE = re.compile(r"(?:^|/)calico/node:v?(\d+)\.(\d+)\.(\d+)")
_POOL_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_FLOW_ALIAS_RE = re.compile(r"[\[{,][ \t]*\*[^\s,\[\]{}]")
_BLOCK_SCALAR_RE = re.compile(r"[|>][-+0-9]*[ \t]*(?:#.*)?$")
_KEY_RE = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{\[][^\n]*?)[ \t]*:(?:[ \t]+|$)""")


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class PatchOptions:
    """Validated settings; None means "leave as the manifest has it"."""

    ipv4_pool_cidr: str | None = None
    ipv6_pool_cidr: str | None = None
    ipv4_encapsulation: str | None = None
    ipv6_encapsulation: str | None = None
    ipv4_nat_outgoing: bool | None = None
    ipv6_nat_outgoing: bool | None = None
    mtu: int | str | None = None
    ip_autodetection_method: str | None = None
    ip6_autodetection_method: str | None = None
    ipv4_block_size: int | None = None
    ipv6_block_size: int | None = None
    ipam_ipv4_pools: tuple[str, ...] | None = None
    ipam_ipv6_pools: tuple[str, ...] | None = None
    calico_version: rules.Version | None = None
    mode: str = "auto"


def format_version(version: rules.Version | None) -> str | None:
    return None if version is None else f"v{version}"


def _network(option: str, value: t.Any, family: int) -> str:
    name = "IPv4" if family == 4 else "IPv6"
    example = "10.244.0.0/16" if family == 4 else "fd00:1::/48"
    text = str(value).strip()
    if "/" not in text:
        raise DualstackError(
            f"{option}={show(value)} is not a CIDR: write the {name} network with its prefix length, e.g. {example}"
        )
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise DualstackError(
            f"{option}={show(value)} is not a valid {name} CIDR ({exc}): give one such as {example}"
        ) from None
    if net.version != family:
        raise DualstackError(
            f"{option}={show(value)} is an IPv{net.version} network but {option} takes {name}: give one such as {example}"
        )
    if ipaddress.ip_interface(text).ip != net.network_address:
        raise DualstackError(
            f"{option}={show(value)} has host bits set: the network is {net.with_prefixlen}; give that instead"
        )
    return net.with_prefixlen


def _block_size(option: str, value: t.Any, low: int, high: int) -> int:
    try:
        size = int(value)
        if isinstance(value, bool) or str(value).strip() != str(size):
            raise ValueError
    except (TypeError, ValueError):
        raise DualstackError(f"{option}={show(value)} is not an integer: give a prefix length from {low} to {high}") from None
    if not low <= size <= high:
        raise DualstackError(
            f"{option}={size} is outside Calico's range for this family ({low} to {high}): give a prefix length in it"
        )
    return size


def _autodetection(option: str, value: t.Any, family: int) -> str:
    text = str(value).strip()
    fixed = ("first-found", "kubernetes-internal-ip")
    hint = (
        "use first-found, kubernetes-internal-ip, can-reach=<address or name>, interface=<regex>, "
        "skip-interface=<regex> or cidr=<CIDR>[,<CIDR>...]"
    )
    if text in fixed:
        return text
    kind, sep, arg = text.partition("=")
    if not sep or kind not in ("can-reach", "interface", "skip-interface", "cidr") or not arg.strip():
        raise DualstackError(f"{option}={show(value)} is not a Calico autodetection method: {hint}")
    if kind == "cidr":
        for cidr in arg.split(","):
            _network(f"{option} (cidr=)", cidr, family)
    elif kind == "can-reach":
        try:
            addr = ipaddress.ip_address(arg.strip("[]"))
        except ValueError:
            addr = None
        if addr is not None and addr.version != family:
            raise DualstackError(
                f"{option}={show(value)}: can-reach needs an IPv{family} address for this family, not IPv{addr.version}"
            )
    else:
        for part in arg.split(","):
            try:
                re.compile(part)
            except re.error as exc:
                raise DualstackError(f"{option}={show(value)}: {show(part)} is not a regular expression ({exc})") from None
    return text


def _ipam_pools(option: str, value: t.Any, family: int) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise DualstackError(f"{option}={show(value)} must be a list of pool CIDRs or pool names")
    pools = []
    for item in value:
        text = str(item).strip()
        if "/" in text:
            pools.append(_network(f"{option} entry", text, family))
        elif _POOL_NAME_RE.match(text):
            pools.append(text)
        else:
            raise DualstackError(
                f"{option} entry {show(item)} is neither an IPv{family} CIDR nor an IPPool name "
                "(lower case letters, digits, '-' and '.')"
            )
    return tuple(pools)


def _bool(option: str, value: t.Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise DualstackError(f"{option}={show(value)} is not a boolean: give true or false")


def validate_options(raw: t.Mapping[str, t.Any]) -> PatchOptions:
    """Check every option on its own and against the others; raise on the first bad one."""
    opts: dict[str, t.Any] = {}

    def given(name: str) -> bool:
        value = raw.get(name)
        return value is not None and value != ""

    for name, family in (("ipv4_pool_cidr", 4), ("ipv6_pool_cidr", 6)):
        if given(name):
            opts[name] = _network(name, raw[name], family)
    if given("ipv4_encapsulation"):
        value = str(raw["ipv4_encapsulation"]).strip().lower()
        if value not in ENCAPSULATIONS_IPV4:
            raise DualstackError(
                f"ipv4_encapsulation={show(raw['ipv4_encapsulation'])} is not one of {', '.join(ENCAPSULATIONS_IPV4)}"
            )
        opts["ipv4_encapsulation"] = value
    if given("ipv6_encapsulation"):
        value = str(raw["ipv6_encapsulation"]).strip().lower()
        if value.startswith("ipip"):
            raise DualstackError(
                f"ipv6_encapsulation={show(raw['ipv6_encapsulation'])}: Calico's IPIP never carries IPv6; "
                "use vxlan or vxlan-crosssubnet (Calico 3.23 and later) or none (IPv6 pod traffic routed by BGP)"
            )
        if value not in ENCAPSULATIONS_IPV6:
            raise DualstackError(
                f"ipv6_encapsulation={show(raw['ipv6_encapsulation'])} is not one of {', '.join(ENCAPSULATIONS_IPV6)}"
            )
        opts["ipv6_encapsulation"] = value
    for name in ("ipv4_nat_outgoing", "ipv6_nat_outgoing"):
        if given(name):
            opts[name] = _bool(name, raw[name])
    if given("mtu"):
        mtu = raw["mtu"]
        if str(mtu).strip().lower() == "auto":
            opts["mtu"] = "auto"
        else:
            try:
                number = int(str(mtu).strip())
            except ValueError:
                raise DualstackError(f"mtu={show(mtu)} is neither an integer nor 'auto'") from None
            # Pods carry IPv6, whose links need at least 1280 bytes.
            if isinstance(mtu, bool) or not 1280 <= number <= 65535:
                raise DualstackError(
                    f"mtu={show(mtu)} is outside 1280..65535 (IPv6 needs at least 1280): give the NIC's MTU "
                    "minus the encapsulation's overhead, or 'auto'"
                )
            opts["mtu"] = number
    for name, family in (("ip_autodetection_method", 4), ("ip6_autodetection_method", 6)):
        if given(name):
            opts[name] = _autodetection(name, raw[name], family)
    if given("ipv4_block_size"):
        opts["ipv4_block_size"] = _block_size("ipv4_block_size", raw["ipv4_block_size"], 20, 32)
    if given("ipv6_block_size"):
        opts["ipv6_block_size"] = _block_size("ipv6_block_size", raw["ipv6_block_size"], 116, 128)
    for name, family in (("ipam_ipv4_pools", 4), ("ipam_ipv6_pools", 6)):
        if raw.get(name) is not None:
            opts[name] = _ipam_pools(name, raw[name], family)
    if given("calico_version"):
        opts["calico_version"] = rules.parse("calico", raw["calico_version"], "calico_version")
    mode = str(raw.get("manifest_type") or "auto").strip().lower()
    if mode not in MODES:
        raise DualstackError(f"manifest_type={show(raw.get('manifest_type'))} is not one of {', '.join(MODES)}")
    opts["mode"] = mode

    for fam in ("ipv4", "ipv6"):
        cidr, size = opts.get(f"{fam}_pool_cidr"), opts.get(f"{fam}_block_size")
        if cidr and size is not None:
            prefix = ipaddress.ip_network(cidr).prefixlen
            if size < prefix:
                raise DualstackError(
                    f"{fam}_block_size={size} is larger than the pool {fam}_pool_cidr={cidr} itself: "
                    f"give a block size of {prefix} or more, or a larger pool"
                )
    return PatchOptions(**opts)


def check_version(opts: PatchOptions, version: rules.Version | None, where: str) -> None:
    """Refuse what the given Calico version cannot do."""
    if version is None:
        return
    shown = format_version(version)
    if opts.ipv6_encapsulation in ("vxlan", "vxlan-crosssubnet") and not rules.calico_ipv6_vxlan(version):
        raise DualstackError(
            f"ipv6_encapsulation={opts.ipv6_encapsulation} needs Calico v3.23 or later (VXLAN for IPv6 pools "
            f"arrived in v3.23) but {where} is Calico {shown}: use ipv6_encapsulation=none (IPv6 pod "
            "traffic is then routed between nodes) or a manifest of v3.23 or later"
        )
    if opts.mtu == "auto" and not rules.calico_mtu_auto(version):
        raise DualstackError(
            f"mtu=auto needs Calico v3.17 or later (veth_mtu \"0\" means auto-detect since v3.17) but {where} "
            f"is Calico {shown}: give the MTU as a number (the NIC's MTU minus the encapsulation's overhead)"
        )


# --------------------------------------------------------------------------- YAML scanning


@dataclass
class _Node:
    """One entry of a block mapping (key set) or block sequence (key None)."""

    line: int
    col: int
    last: int
    key: str | None
    vcol: int | None  # where the inline value starts, None when there is none


@dataclass
class _Scalar:
    value: str | None
    line: int
    start: int
    end_line: int
    end: int
    style: str  # '"', "'", "plain", "block", "flow", "none"


@dataclass
class _Document:
    start: int  # first line after the '---' marker
    end: int  # one past the last line
    kind: str | None = None
    name: str | None = None
    api_version: str | None = None
    root: list[_Node] = field(default_factory=list)


_DQ_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
    "L": "\u2028", "P": "\u2029",
}
_DQ_ESCAPE_RE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)")


def _unescape_double(body: str) -> str:
    def repl(match: re.Match) -> str:
        seq = match.group(1)
        if seq[0] in "xuU" and len(seq) > 1:
            return chr(int(seq[1:], 16))
        return _DQ_ESCAPES.get(seq, seq)

    return _DQ_ESCAPE_RE.sub(repl, body)


_FLOW_ITEM_RE = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^,:{}"']+?)\s*:\s*("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^,{}]*?)\s*(?:,|}|$)""")


def _flow_mapping(text: str) -> dict[str, str]:
    """The scalar members of a one-line flow mapping such as ``{name: x, namespace: y}``."""
    out: dict[str, str] = {}
    if not text.startswith("{"):
        return out
    for match in _FLOW_ITEM_RE.finditer(text, 1):
        out[_decode_key(match.group(1).strip())] = _decode_key(match.group(2).strip())
    return out


def _decode_key(raw: str) -> str:
    if raw.startswith('"'):
        return _unescape_double(raw[1:-1])
    if raw.startswith("'"):
        return raw[1:-1].replace("''", "'")
    return raw


# YAML 1.1 and 1.2 read these plain scalars as something other than a string.
_NON_STRING_RE = re.compile(
    r"^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N"
    r"|[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
    r"|0x[0-9a-fA-F_]+|0o?[0-7_]+|0b[01_]+|[-+]?\d[\d_]*(?::[0-5]?\d)+(?:\.\d*)?"
    r"|\d{4}-\d\d?-\d\d?(?:[Tt ].*)?)$"
)
_PLAIN_SAFE_RE = re.compile(r"^[A-Za-z0-9_./(][A-Za-z0-9_./:()=,+-]*$")


def render_string(value: str, style: str = '"') -> str:
    """A YAML scalar that reads back as the string ``value``, in ``style`` where that is safe."""
    if style == "'" and "\n" not in value:
        return "'" + value.replace("'", "''") + "'"
    if style == "plain" and _PLAIN_SAFE_RE.match(value) and not _NON_STRING_RE.match(value) and ": " not in value:
        return value
    return json.dumps(value, ensure_ascii=False)


class _Stream:
    """The lines of a YAML stream with the block-structure lookups the patchers need."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines(keepends=True)
        first = self.lines[0] if self.lines else "\n"
        self.nl = "\r\n" if first.endswith("\r\n") else "\n"
        self.documents = self._split()

    # -- lines

    def body(self, i: int) -> str:
        line = self.lines[i]
        if line.endswith("\n"):
            line = line[:-2] if line.endswith("\r\n") else line[:-1]
        return line

    def eol(self, i: int) -> str:
        line = self.lines[i]
        return line[len(self.body(i)):]

    @staticmethod
    def _significant(text: str) -> int:
        """Indentation of a line that holds YAML content, -1 for blank and comment lines."""
        stripped = text.lstrip(" ")
        if not stripped or stripped[0] == "#" or stripped.isspace():
            return -1
        return len(text) - len(stripped)

    # -- documents

    def _split(self) -> list[_Document]:
        docs: list[_Document] = []
        start = 0
        for i, line in enumerate(self.lines):
            if line.startswith(("---", "...")) and (len(line) == 3 or line[3] in " \t\r\n"):
                if i > start:
                    docs.append(_Document(start, i))
                start = i + 1
        if start < len(self.lines):
            docs.append(_Document(start, len(self.lines)))
        for doc in docs:
            self._identify(doc)
        return docs

    def _identify(self, doc: _Document) -> None:
        for i in range(doc.start, doc.end):
            indent = self._significant(self.body(i))
            if indent < 0 or self.body(i).startswith("%"):
                continue
            if self.body(i)[indent] in "{[":
                return  # a flow-style (JSON) document: not one this module edits
            doc.root = self.block(i, indent, doc.end)
            break
        for node in doc.root:
            if node.key == "kind":
                doc.kind = self.scalar(node).value
            elif node.key == "apiVersion":
                doc.api_version = self.scalar(node).value
            elif node.key == "metadata":
                scalar = self.scalar(node)
                if scalar.style == "flow":
                    doc.name = _flow_mapping(self.body(node.line)[scalar.start:]).get("name")
                    continue
                name = self.find(self.children(node, doc.end), "name")
                if name is not None:
                    doc.name = self.scalar(name).value

    # -- blocks

    def block(self, line: int, col: int, stop: int) -> list[_Node]:
        """The entries of the block node whose first entry starts at (line, col)."""
        body = self.body(line)
        is_seq = body[col] == "-" and (len(body) == col + 1 or body[col + 1] in " \t")
        nodes: list[_Node] = []
        current: _Node | None = None
        i = line
        while i < stop:
            text = self.body(i)
            if i == line:
                indent = col
            else:
                indent = self._significant(text)
                if indent < 0:
                    i += 1
                    continue
            if indent < col:
                break
            if indent == col:
                dash = text[col] == "-" and (len(text) == col + 1 or text[col + 1] in " \t")
                if is_seq and not dash:
                    break
                if dash and not is_seq:
                    # A sequence written at its parent key's indentation.
                    if current is not None:
                        current.last = i
                    i += 1
                    continue
                current = self._entry(i, col, is_seq)
                nodes.append(current)
            elif current is not None:
                current.last = i
            i += 1
        return nodes

    def _entry(self, i: int, col: int, is_seq: bool) -> _Node:
        text = self.body(i)
        if is_seq:
            rest = col + 1
            while rest < len(text) and text[rest] in " \t":
                rest += 1
            vcol = rest if rest < len(text) and text[rest] != "#" else None
            return _Node(i, col, i, None, vcol)
        match = _KEY_RE.match(text, col)
        if not match:
            return _Node(i, col, i, None, None)
        rest = match.end()
        vcol: int | None = rest if rest < len(text) and text[rest] != "#" else None
        if vcol is not None:
            # Properties alone on the line (an anchor or tag of a nested block) are not a value.
            props = re.match(r"(?:[&!][^\s]*[ \t]*)+(?:#.*)?$", text[vcol:])
            if props:
                vcol = None
        return _Node(i, col, i, _decode_key(match.group(1)), vcol)

    def children(self, node: _Node, stop: int) -> list[_Node]:
        """Entries of the block value of a mapping entry or sequence item ([] when none)."""
        if node.vcol is not None:
            if node.key is None:
                text = self.body(node.line)
                if text[node.vcol] == "-" or _KEY_RE.match(text, node.vcol):
                    return self.block(node.line, node.vcol, node.last + 1)
            return []
        for i in range(node.line + 1, min(node.last, stop - 1) + 1):
            indent = self._significant(self.body(i))
            if indent >= 0:
                return self.block(i, indent, node.last + 1)
        return []

    @staticmethod
    def find(nodes: list[_Node], key: str) -> _Node | None:
        """The entry ``key`` of a mapping; a key written twice is refused.

        YAML forbids duplicate keys, and loaders that accept them keep the last one: editing
        either copy could leave the manifest meaning something other than what was asked.
        """
        found = [node for node in nodes if node.key == key]
        if len(found) > 1:
            lines = " and ".join(str(node.line + 1) for node in found)
            raise DualstackError(
                f"line {found[-1].line + 1}: the key {key} appears {len(found)} times in the same mapping "
                f"(lines {lines}); YAML loaders keep only the last, so an edit of either is ambiguous: "
                "remove the duplicate and run again")
        return found[0] if found else None

    def aliases(self, doc: _Document) -> list[int]:
        """Lines of ``doc`` holding an alias (``*name``) or a merge key (``<<``).

        Block scalar content is skipped: it is text, not YAML structure.
        """
        found = []
        block_indent: int | None = None
        for i in range(doc.start, doc.end):
            text = self.body(i)
            indent = self._significant(text)
            if block_indent is not None:
                if indent < 0 or indent > block_indent:
                    continue
                block_indent = None
            if indent < 0:
                continue
            pos = indent
            while text.startswith("-", pos) and (pos + 1 == len(text) or text[pos + 1] in " \t"):
                pos += 1
                while pos < len(text) and text[pos] in " \t":
                    pos += 1
            match = _KEY_RE.match(text, pos)
            if match:
                if match.group(1) == "<<" or match.group(1).startswith("*"):
                    found.append(i)
                    continue
                pos = match.end()
            rest = text[pos:]
            rest = rest[re.match(r"(?:[&!]\S*[ \t]+)*", rest).end():]
            if rest.startswith("*") or (rest[:1] in ("[", "{") and _FLOW_ALIAS_RE.search(rest)):
                found.append(i)
            elif _BLOCK_SCALAR_RE.match(rest):
                block_indent = indent
        return found

    def scalar(self, node: _Node) -> _Scalar:
        """The scalar value of an entry, with the span it occupies."""
        i = node.line
        text = self.body(i)
        col = node.vcol
        if col is None:
            return _Scalar(None, i, len(text), i, len(text), "none")
        while col < len(text) and text[col] in "&!":
            space = text.find(" ", col)
            if space < 0:
                return _Scalar(None, i, len(text), i, len(text), "none")
            col = space
            while col < len(text) and text[col] in " \t":
                col += 1
        first = text[col] if col < len(text) else ""
        if first == '"':
            return self._quoted(node, col, '"')
        if first == "'":
            return self._quoted(node, col, "'")
        if first in "|>":
            lines = [self.body(j) for j in range(i + 1, node.last + 1)]
            indents = [len(x) - len(x.lstrip(" ")) for x in lines if x.strip()]
            cut = min(indents) if indents else 0
            value = "\n".join(x[cut:] for x in lines)
            return _Scalar(value, i, col, node.last, len(self.body(node.last)), "block")
        if first in "{[":
            return _Scalar(None, i, col, i, len(text), "flow")
        end = text.find(" #", col)
        end = len(text) if end < 0 else end
        value = text[col:end].rstrip()
        end = col + len(value)
        end_line = i
        parts = [value]
        for j in range(i + 1, node.last + 1):
            more = self.body(j).strip()
            if not more or more.startswith("#"):
                continue
            parts.append(more.split(" #")[0].rstrip())
            end_line = j
        if end_line != i:
            end = len(self.body(end_line).split(" #")[0].rstrip())
        return _Scalar(" ".join(parts), i, col, end_line, end, "plain")

    def _quoted(self, node: _Node, col: int, quote: str) -> _Scalar:
        chunks = []
        j, pos = node.line, col + 1
        while True:
            text = self.body(j)
            k = pos
            while k < len(text):
                ch = text[k]
                if quote == '"' and ch == "\\":
                    k += 2
                    continue
                if ch == quote:
                    if quote == "'" and k + 1 < len(text) and text[k + 1] == "'":
                        k += 2
                        continue
                    chunks.append(text[pos:k])
                    raw = " ".join(c.strip() if n else c for n, c in enumerate(chunks))
                    value = _unescape_double(raw) if quote == '"' else raw.replace("''", "'")
                    return _Scalar(value, node.line, col, j, k + 1, quote)
                k += 1
            chunks.append(text[pos:])
            j, pos = j + 1, 0
            if j > node.last or j >= len(self.lines):
                raise DualstackError(f"line {node.line + 1}: unterminated {quote}-quoted scalar")


# --------------------------------------------------------------------------- edits


@dataclass
class _Edit:
    start: int  # first old line replaced
    end: int  # one past the last old line replaced (== start for an insertion)
    new: list[str]


class _Edits:
    def __init__(self, stream: _Stream) -> None:
        self.stream = stream
        self.items: list[_Edit] = []
        self.notes: list[str] = []

    def replace_scalar(self, scalar: _Scalar, rendered: str, note: str) -> None:
        s = self.stream
        head = s.body(scalar.line)[: scalar.start]
        tail = s.lines[scalar.end_line][scalar.end:]
        self.items.append(_Edit(scalar.line, scalar.end_line + 1, [head + rendered + tail]))
        self.notes.append(note)

    def replace(self, start: int, end: int, new: list[str], note: str) -> None:
        """Replace old lines [start, end) with ``new``, keeping lines that come out the same."""
        old = self.stream.lines[start:end]
        head = 0
        while head < min(len(old), len(new)) and old[head] == new[head]:
            head += 1
        tail = 0
        while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
            tail += 1
        self.items.append(_Edit(start + head, end - tail, new[head:len(new) - tail]))
        self.notes.append(note)

    def insert(self, at: int, new: list[str], note: str) -> None:
        self.items.append(_Edit(at, at, new))
        self.notes.append(note)

    def apply(self) -> tuple[list[str], list[_Edit]]:
        lines = self.stream.lines
        edits = sorted(self.items, key=lambda e: (e.start, e.end))
        out: list[str] = []
        prev = 0
        for edit in edits:
            if edit.start < prev:
                raise DualstackError(f"internal error: overlapping edits at line {edit.start + 1}")
            out.extend(lines[prev:edit.start])
            out.extend(edit.new)
            prev = edit.end
        out.extend(lines[prev:])
        return out, edits


def unified_diff(old: list[str], edits: list[_Edit], fromfile: str, tofile: str, context: int = 3) -> str:
    """The unified diff of a set of line edits, built from the edits themselves.

    It needs no sequence matching, so it costs the same on a 2 MB stream as on a small
    file, and it shows exactly the lines that were replaced.
    """
    if not edits:
        return ""

    def lines_of(block: list[str], sign: str) -> list[str]:
        out = []
        for line in block:
            if line.endswith("\n"):
                out.append(sign + line)
            else:
                out.append(sign + line + "\n\\ No newline at end of file\n")
        return out

    groups: list[list[_Edit]] = []
    for edit in edits:
        if groups and edit.start - groups[-1][-1].end <= 2 * context:
            groups[-1].append(edit)
        else:
            groups.append([edit])
    out = [f"--- {fromfile}\n", f"+++ {tofile}\n"]
    shift = 0  # new line index minus old line index before the current group
    for group in groups:
        first, last = group[0], group[-1]
        a_start = max(0, first.start - context)
        a_end = min(len(old), last.end + context)
        body: list[str] = []
        pos = a_start
        added = 0
        for edit in group:
            body.extend(lines_of(old[pos:edit.start], " "))
            body.extend(lines_of(old[edit.start:edit.end], "-"))
            body.extend(lines_of(edit.new, "+"))
            added += len(edit.new) - (edit.end - edit.start)
            pos = edit.end
        body.extend(lines_of(old[pos:a_end], " "))
        a_len = a_end - a_start
        b_start = a_start + shift
        b_len = a_len + added
        out.append(
            "@@ -%s +%s @@\n"
            % (
                "%d,%d" % (a_start + (1 if a_len else 0), a_len),
                "%d,%d" % (b_start + (1 if b_len else 0), b_len),
            )
        )
        out.extend(body)
        shift += added
    return "".join(out)


# --------------------------------------------------------------------------- JSON in cni_network_config


@dataclass
class _JValue:
    start: int
    end: int
    kind: str  # object, array, string, bare
    members: list[tuple[str, int, "_JValue"]] = field(default_factory=list)
    items: list["_JValue"] = field(default_factory=list)


_JTOKEN_RE = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|([{}\[\]:,])|([^\s{}\[\]:,"]+))')


class _JsonScan:
    """A JSON text that may hold bare placeholders such as __CNI_MTU__, with offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _token(self) -> tuple[str, int, int]:
        match = _JTOKEN_RE.match(self.text, self.pos)
        if not match:
            raise DualstackError("cni_network_config is not JSON (Calico's template form) at offset %d" % self.pos)
        self.pos = match.end()
        group = match.lastindex
        return ("sdb"[group - 1] if group in (1, 3) else match.group(2)), match.start(group), match.end(group)

    def value(self) -> _JValue:
        kind, start, end = self._token()
        if kind == "s":
            return _JValue(start, end, "string")
        if kind == "b":
            return _JValue(start, end, "bare")
        if kind == "{":
            node = _JValue(start, end, "object")
            kind, kstart, kend = self._token()
            while kind != "}":
                if kind != "s":
                    raise DualstackError("cni_network_config: expected a quoted key at offset %d" % kstart)
                key = json.loads(self.text[kstart:kend])
                if any(name == key for name, _kpos, _value in node.members):
                    # Go's encoding/json (the CNI plugin) keeps the last; an edit of either is ambiguous.
                    raise DualstackError(
                        "cni_network_config: the key %s appears twice in the same object; remove the "
                        "duplicate and run again" % json.dumps(key))
                if self._token()[0] != ":":
                    raise DualstackError("cni_network_config: expected ':' after key %s" % key)
                node.members.append((key, kstart, self.value()))
                kind, kstart, kend = self._token()
                if kind == ",":
                    kind, kstart, kend = self._token()
                elif kind != "}":
                    raise DualstackError("cni_network_config: expected ',' or '}' at offset %d" % kstart)
            node.end = kend
            return node
        if kind == "[":
            node = _JValue(start, end, "array")
            save = self.pos
            kind, istart, iend = self._token()
            if kind == "]":
                node.end = iend
                return node
            self.pos = save
            while True:
                node.items.append(self.value())
                kind, istart, iend = self._token()
                if kind == "]":
                    node.end = iend
                    return node
                if kind != ",":
                    raise DualstackError("cni_network_config: expected ',' or ']' at offset %d" % istart)
        raise DualstackError("cni_network_config: unexpected %r at offset %d" % (kind, start))

    def objects_with(self, root: _JValue, key: str) -> list[tuple[_JValue, _JValue]]:
        """(parent, value) for every member named ``key`` whose value is an object."""
        found = []
        stack = [root]
        while stack:
            node = stack.pop()
            for name, _kpos, value in node.members:
                if name == key and value.kind == "object":
                    found.append((node, value))
                stack.append(value)
            stack.extend(node.items)
        return found

    def decoded(self, value: _JValue) -> t.Any:
        try:
            return json.loads(self.text[value.start:value.end])
        except ValueError:
            return self.text[value.start:value.end]


# --------------------------------------------------------------------------- patchers


@dataclass
class PatchResult:
    text: str
    changed: bool
    mode: str
    calico_version: str | None
    changes: list[str]
    lines_removed: int
    lines_added: int
    old_lines: list[str] = field(default_factory=list, repr=False)
    edits: list[_Edit] = field(default_factory=list, repr=False)

    def diff(self, fromfile: str = "before", tofile: str = "after") -> str:
        """The change as a unified diff (empty when nothing changes)."""
        return unified_diff(self.old_lines, self.edits, fromfile, tofile)


class _Patcher:
    def __init__(self, stream: _Stream, opts: PatchOptions) -> None:
        self.s = stream
        self.opts = opts
        self.edits = _Edits(stream)

    def _docs(self, kind: str, name: str | None = None) -> list[_Document]:
        return [d for d in self.s.documents if d.kind == kind and (name is None or d.name == name)]

    def _one(self, kind: str, name: str | None, what: str) -> _Document | None:
        docs = self._docs(kind, name)
        if len(docs) > 1:
            lines = ", ".join(str(d.start) for d in docs)
            raise DualstackError(f"{what} appears {len(docs)} times (documents starting at lines {lines}): keep one")
        return docs[0] if docs else None

    def _path(self, nodes: list[_Node], stop: int, keys: t.Sequence[str], where: str) -> list[_Node]:
        """Follow block-mapping keys from ``nodes``; raise naming the first one missing."""
        trail = []
        for key in keys:
            node = self.s.find(nodes, key)
            trail.append(key)
            if node is None:
                raise DualstackError(f"{where} has no {'.'.join(trail)}: this is not a Calico manifest it can patch")
            nodes = self.s.children(node, stop)
            if not nodes:
                raise DualstackError(
                    f"{where}: {'.'.join(trail)} is empty or written in flow style ({{...}} / [...]); "
                    "write it in block style to patch it"
                )
        return nodes

    def _set_scalar(self, node: _Node, value: str, note: str) -> None:
        scalar = self.s.scalar(node)
        if scalar.style in ("block", "flow", "none"):
            raise DualstackError(f"line {node.line + 1}: {note}: the value is not a plain or quoted scalar")
        if scalar.value == value:
            return
        self._untagged(node, scalar, note)
        style = scalar.style
        self.edits.replace_scalar(scalar, render_string(value, style), f"{note}: {scalar.value!r} -> {value!r}")

    def _untagged(self, node: _Node, scalar: _Scalar, note: str) -> None:
        props = self.s.body(node.line)[node.vcol:scalar.start] if node.vcol is not None else ""
        if "!" in props:
            raise DualstackError(
                f"line {node.line + 1}: {note}: the value carries a YAML tag ({props.strip()}), which would "
                "give the new value its type too: remove the tag and run again")

    def no_aliases(self, doc: _Document, where: str) -> None:
        """Refuse a document that shares values through anchors and aliases.

        An edit in place of an anchored value changes every alias of it too, and a value
        reached through an alias or a merge key is not where this editor looks: either way the
        loaded manifest would differ from what was asked.
        """
        lines = self.s.aliases(doc)
        if lines:
            shown = ", ".join(str(i + 1) for i in lines[:5]) + (" ..." if len(lines) > 5 else "")
            raise DualstackError(
                f"{where} uses YAML aliases or merge keys (*name, <<) at line {shown}; an edit could change "
                "other values or miss the one that counts: write the values out in full and run again")

    # -- manifest mode

    def manifest(self, config: _Document, node_ds: _Document) -> rules.Version | None:
        self.no_aliases(config, "ConfigMap calico-config")
        self.no_aliases(node_ds, "DaemonSet calico-node")
        container = self._calico_node_container(node_ds)
        version = self._version(container, node_ds)
        check_version(self.opts, version, "the manifest")
        self._config_map(config)
        self._env(container, node_ds)
        return version

    def _calico_node_container(self, ds: _Document) -> list[_Node]:
        where = "DaemonSet calico-node"
        containers = self.s.find(self._path(ds.root, ds.end, ("spec", "template", "spec"), where), "containers")
        if containers is None:
            raise DualstackError(f"{where} has no spec.template.spec.containers")
        for item in self.s.children(containers, ds.end):
            fields = self.s.children(item, ds.end)
            name = self.s.find(fields, "name")
            if name is not None and self.s.scalar(name).value == "calico-node":
                return fields
        raise DualstackError(f"{where} has no container named calico-node: this is not a Calico manifest it can patch")

    def _version(self, container: list[_Node], ds: _Document) -> rules.Version | None:
        image = self.s.find(container, "image")
        found = None
        if image is not None:
            match = _IMAGE_VERSION_RE.search(self.s.scalar(image).value or "")
            if match:
                found = rules.parse("calico", ".".join(match.groups()), "the calico-node image's release")
        given = self.opts.calico_version
        if found and given and found.minor_line != given.minor_line:
            raise DualstackError(
                f"calico_version={format_version(given)} does not match the manifest's calico/node image "
                f"({format_version(found)}): drop calico_version or use the manifest of that version"
            )
        if found is None and given is None:
            raise DualstackError(
                "cannot tell the Calico version: the calico-node container's image is not calico/node:vX.Y.Z "
                "(a mirror?); give calico_version"
            )
        return found or given

    def _config_map(self, doc: _Document) -> None:
        where = "ConfigMap calico-config"
        data = self._path(doc.root, doc.end, ("data",), where)
        if self.opts.mtu is not None:
            node = self.s.find(data, "veth_mtu")
            if node is None:
                raise DualstackError(f"{where} has no data.veth_mtu to set mtu={self.opts.mtu} in")
            self._set_scalar(node, "0" if self.opts.mtu == "auto" else str(self.opts.mtu), "calico-config veth_mtu")
        node = self.s.find(data, "cni_network_config")
        if node is None:
            raise DualstackError(f"{where} has no data.cni_network_config: this is not a Calico manifest it can patch")
        self._ipam(node)

    def _ipam(self, node: _Node) -> None:
        s = self.s
        scalar = s.scalar(node)
        if scalar.style != "block":
            raise DualstackError(
                f"line {node.line + 1}: calico-config cni_network_config is not a block scalar (|): "
                "write it as Calico ships it to patch it"
            )
        first, last = node.line + 1, node.last
        block = "".join(s.lines[first:last + 1])
        scan = _JsonScan(block)
        root = scan.value()
        found = scan.objects_with(root, "ipam")
        if len(found) != 1:
            raise DualstackError(
                f"calico-config cni_network_config has {len(found)} ipam objects; expected exactly one"
            )
        ipam = found[0][1]
        members = {name: value for name, _k, value in ipam.members}
        kind = scan.decoded(members["type"]) if "type" in members else None
        if kind != "calico-ipam":
            raise DualstackError(
                f"calico-config cni_network_config ipam type is {kind!r}, not 'calico-ipam': dual-stack needs Calico IPAM"
            )
        wanted: list[tuple[str, t.Any]] = [("assign_ipv4", "true"), ("assign_ipv6", "true")]
        if self.opts.ipam_ipv4_pools is not None:
            wanted.append(("ipv4_pools", list(self.opts.ipam_ipv4_pools)))
        if self.opts.ipam_ipv6_pools is not None:
            wanted.append(("ipv6_pools", list(self.opts.ipam_ipv6_pools)))
        spans: list[tuple[int, int, str]] = []
        notes = []
        missing = []
        for key, value in wanted:
            if key in members:
                current = scan.decoded(members[key])
                if current != value:
                    spans.append((members[key].start, members[key].end, json.dumps(value)))
                    notes.append(f"cni_network_config ipam {key}: {current!r} -> {value!r}")
            else:
                missing.append((key, value))
        if missing:
            new = [f'"{k}": {json.dumps(v)}' for k, v in missing]
            notes.extend(f"cni_network_config ipam {k}: added {v!r}" for k, v in missing)
            if ipam.members:
                _name, kpos, lastv = ipam.members[-1]
                line_start = block.rfind("\n", 0, kpos) + 1
                indent = block[line_start:kpos]
                if "\n" in block[lastv.end:ipam.end] and indent.strip() == "":
                    sep = "," + s.nl + indent
                    spans.append((lastv.end, lastv.end, sep + sep.join(new)))
                else:
                    spans.append((lastv.end, lastv.end, ", " + ", ".join(new)))
            else:
                spans.append((ipam.start + 1, ipam.start + 1, " " + ", ".join(new) + " "))
        if not spans:
            return
        out = block
        for start, end, text in sorted(spans, reverse=True):
            out = out[:start] + text + out[end:]
        self.edits.replace(first, last + 1, out.splitlines(keepends=True), "; ".join(notes))

    def _desired_env(self) -> dict[str, str]:
        o = self.opts
        env = {"FELIX_IPV6SUPPORT": "true", "IP6": "autodetect"}
        if o.ip_autodetection_method:
            env["IP_AUTODETECTION_METHOD"] = o.ip_autodetection_method
        if o.ip6_autodetection_method:
            env["IP6_AUTODETECTION_METHOD"] = o.ip6_autodetection_method
        if o.ipv4_pool_cidr:
            env["CALICO_IPV4POOL_CIDR"] = o.ipv4_pool_cidr
        if o.ipv4_block_size is not None:
            env["CALICO_IPV4POOL_BLOCK_SIZE"] = str(o.ipv4_block_size)
        if o.ipv4_encapsulation:
            env["CALICO_IPV4POOL_IPIP"], env["CALICO_IPV4POOL_VXLAN"] = _IPV4_ENCAP_ENV[o.ipv4_encapsulation]
        if o.ipv4_nat_outgoing is not None:
            env["CALICO_IPV4POOL_NAT_OUTGOING"] = "true" if o.ipv4_nat_outgoing else "false"
        if o.ipv6_pool_cidr:
            env["CALICO_IPV6POOL_CIDR"] = o.ipv6_pool_cidr
        if o.ipv6_block_size is not None:
            env["CALICO_IPV6POOL_BLOCK_SIZE"] = str(o.ipv6_block_size)
        if o.ipv6_encapsulation:
            env["CALICO_IPV6POOL_VXLAN"] = _IPV6_VXLAN_ENV[o.ipv6_encapsulation]
        if o.ipv6_nat_outgoing is not None:
            env["CALICO_IPV6POOL_NAT_OUTGOING"] = "true" if o.ipv6_nat_outgoing else "false"
        return env

    def _env(self, container: list[_Node], ds: _Document) -> None:
        s = self.s
        env_node = s.find(container, "env")
        items = s.children(env_node, ds.end) if env_node is not None else []
        if not items or items[0].key is not None:
            raise DualstackError(
                "the calico-node container has no env list in block style: this is not a Calico manifest it can patch"
            )
        present: dict[str, list[list[_Node]]] = {}
        anchor: _Node | None = None
        for item in items:
            fields = s.children(item, ds.end)
            if not fields or fields[0].key is None:
                # A flow item ({name: X, value: Y}) would be skipped and X added a second time.
                raise DualstackError(
                    f"line {item.line + 1}: a calico-node env item is not a block mapping (written as "
                    f"{s.body(item.line).strip()[:60]!r}); write each env item as name:/value: lines and run again"
                )
            name = s.find(fields, "name")
            if name is None:
                continue
            value = s.scalar(name).value or ""
            present.setdefault(value, []).append(fields)
            if value == "FELIX_IPV6SUPPORT":
                anchor = item
        desired = self._desired_env()
        missing = []
        for name in _ENV_ORDER:
            if name not in desired:
                continue
            if name not in present:
                # The pool's VXLAN default is Never: a manifest without the variable needs no line for it.
                if name == "CALICO_IPV6POOL_VXLAN" and desired[name] == "Never":
                    continue
                missing.append(name)
                continue
            for fields in present[name]:
                self._set_env(fields, name, desired[name], ds)
        if not missing:
            return
        anchor = anchor or items[-1]
        anchor_fields = s.children(anchor, ds.end)
        style = '"'
        value_node = s.find(anchor_fields, "value")
        if value_node is not None:
            style = s.scalar(value_node).style
            if style not in ('"', "'", "plain"):
                style = '"'
        dash_prefix = s.body(anchor.line)[: anchor.col]
        key_col = anchor.vcol if anchor.vcol is not None else anchor.col + 2
        gap = " " * (key_col - anchor.col - 1)
        new = []
        for name in missing:
            new.append(f"{dash_prefix}-{gap}name: {render_string(name, 'plain')}{s.nl}")
            new.append(f"{' ' * key_col}value: {render_string(desired[name], style)}{s.nl}")
        at = anchor.last + 1
        if at == len(s.lines) and not s.lines[-1].endswith("\n"):
            raise DualstackError("the calico-node env list ends the file without a newline; add one")
        self.edits.insert(at, new, "calico-node env: added " + ", ".join(f"{n}={desired[n]}" for n in missing))

    def _set_env(self, fields: list[_Node], name: str, value: str, ds: _Document) -> None:
        s = self.s
        node = s.find(fields, "value")
        if node is not None:
            self._set_scalar(node, value, f"calico-node env {name}")
            return
        source = s.find(fields, "valueFrom")
        if source is None:
            raise DualstackError(f"line {fields[0].line + 1}: calico-node env {name} has neither value nor valueFrom")
        indent = s.body(source.line)[: source.col]
        if fields[0].line == source.line:
            raise DualstackError(f"line {source.line + 1}: calico-node env {name}: valueFrom on the item's first line")
        self.edits.replace(
            source.line,
            source.last + 1,
            [f"{' ' * len(indent)}value: {render_string(value)}{s.nl}"],
            f"calico-node env {name}: valueFrom -> {value!r}",
        )

    # -- operator mode

    def operator(self, inst: _Document) -> rules.Version | None:
        o = self.opts
        if o.ipam_ipv4_pools is not None or o.ipam_ipv6_pools is not None:
            raise DualstackError(
                "ipam_ipv4_pools/ipam_ipv6_pools set the CNI config of calico.yaml; the operator's Installation "
                "has no such setting: leave them unset in operator mode"
            )
        version = o.calico_version
        check_version(o, version, "calico_version")
        s = self.s
        where = f"Installation {inst.name}"
        self.no_aliases(inst, where)
        spec = self._path(inst.root, inst.end, ("spec",), where)
        net_node = s.find(spec, "calicoNetwork")
        if net_node is None:
            raise DualstackError(f"{where} has no spec.calicoNetwork: add one with an ipPools list")
        network = s.children(net_node, inst.end)
        if not network:
            raise DualstackError(f"{where}: spec.calicoNetwork is empty or in flow style: write it in block style")
        pools_node = s.find(network, "ipPools")
        pools = s.children(pools_node, inst.end) if pools_node is not None else []
        if not pools or pools[0].key is not None:
            raise DualstackError(f"{where} has no spec.calicoNetwork.ipPools list in block style")
        by_family: dict[int, list[tuple[_Node, list[_Node]]]] = {4: [], 6: []}
        for item in pools:
            fields = s.children(item, inst.end)
            cidr = s.find(fields, "cidr")
            value = s.scalar(cidr).value if cidr is not None else None
            if not value:
                raise DualstackError(f"line {item.line + 1}: an ipPools entry without cidr")
            by_family[6 if ":" in value else 4].append((item, fields))
        for family, entries in by_family.items():
            if len(entries) > 1:
                raise DualstackError(
                    f"{where} has {len(entries)} IPv{family} pools; this module manages one pool per family: "
                    "remove the others"
                )
        if not by_family[4]:
            raise DualstackError(f"{where} has no IPv4 pool in spec.calicoNetwork.ipPools: add one")
        item4, fields4 = by_family[4][0]
        self._pool(fields4, 4)
        if by_family[6]:
            self._pool(by_family[6][0][1], 6)
        else:
            self._add_ipv6_pool(item4, fields4, pools[-1])
        if o.mtu is not None and o.mtu != "auto":
            self._set_plain_key(network, "mtu", str(o.mtu), "calicoNetwork.mtu")
        self._autodetection(network, "nodeAddressAutodetectionV6", o.ip6_autodetection_method or "first-found")
        if o.ip_autodetection_method:
            self._autodetection(network, "nodeAddressAutodetectionV4", o.ip_autodetection_method)
        return version

    def _pool_settings(self, family: int) -> dict[str, str]:
        o = self.opts
        cidr = o.ipv4_pool_cidr if family == 4 else o.ipv6_pool_cidr
        size = o.ipv4_block_size if family == 4 else o.ipv6_block_size
        encap = o.ipv4_encapsulation if family == 4 else o.ipv6_encapsulation
        nat = o.ipv4_nat_outgoing if family == 4 else o.ipv6_nat_outgoing
        out: dict[str, str] = {}
        if size is not None:
            out["blockSize"] = str(size)
        if cidr:
            out["cidr"] = cidr
        if encap:
            out["encapsulation"] = _OPERATOR_ENCAP[encap]
        if nat is not None:
            out["natOutgoing"] = "Enabled" if nat else "Disabled"
        return out

    def _pool(self, fields: list[_Node], family: int) -> None:
        for key, value in self._pool_settings(family).items():
            self._set_plain_key(fields, key, value, f"IPv{family} pool {key}")

    def _set_plain_key(self, fields: list[_Node], key: str, value: str, note: str) -> None:
        s = self.s
        node = s.find(fields, key)
        if node is not None:
            scalar = s.scalar(node)
            if scalar.value == value:
                return
            self._untagged(node, scalar, note)
            rendered = value if re.fullmatch(r"\d+", value) else render_string(value, "plain")
            self.edits.replace_scalar(scalar, rendered, f"{note}: {scalar.value!r} -> {value!r}")
            return
        last = fields[-1]
        rendered = value if re.fullmatch(r"\d+", value) else render_string(value, "plain")
        self.edits.insert(last.last + 1, [f"{' ' * fields[0].col}{key}: {rendered}{s.nl}"], f"{note}: added {value!r}")

    def _add_ipv6_pool(self, item4: _Node, fields4: list[_Node], last_item: _Node) -> None:
        o = self.opts
        s = self.s
        if not o.ipv6_pool_cidr:
            raise DualstackError(
                "the Installation has no IPv6 pool: give ipv6_pool_cidr (the IPv6 pod CIDR) to add one"
            )
        settings = {
            "name": "default-ipv6-ippool",
            "blockSize": str(o.ipv6_block_size or 122),
            "cidr": o.ipv6_pool_cidr,
            "encapsulation": _OPERATOR_ENCAP[o.ipv6_encapsulation or "none"],
            "natOutgoing": "Disabled" if o.ipv6_nat_outgoing is False else "Enabled",
            "nodeSelector": "all()",
        }
        # Same keys in the same order as the IPv4 pool, then any it lacks.
        order = [n.key for n in fields4 if n.key in settings] + [k for k in settings if k not in {n.key for n in fields4}]
        key_col = fields4[0].col
        dash_prefix = s.body(item4.line)[: item4.col]
        gap = " " * (key_col - item4.col - 1)
        new = []
        for n, key in enumerate(order):
            value = settings[key]
            rendered = value if re.fullmatch(r"\d+", value) else render_string(value, "plain")
            lead = f"{dash_prefix}-{gap}" if n == 0 else " " * key_col
            new.append(f"{lead}{key}: {rendered}{s.nl}")
        self.edits.insert(last_item.last + 1, new, f"ipPools: added IPv6 pool {o.ipv6_pool_cidr}")

    def _autodetection(self, network: list[_Node], key: str, method: str) -> None:
        s = self.s
        col = network[0].col
        step = 2
        kind, _sep, arg = method.partition("=")
        if method == "first-found":
            body = ["firstFound: true"]
        elif method == "kubernetes-internal-ip":
            body = ["kubernetes: NodeInternalIP"]
        elif kind == "cidr":
            body = ["cidrs:"] + [f"- {render_string(c.strip(), 'plain')}" for c in arg.split(",")]
        else:
            field_name = {"can-reach": "canReach", "interface": "interface", "skip-interface": "skipInterface"}[kind]
            body = [f"{field_name}: {render_string(arg, 'plain')}"]
        new = [f"{' ' * col}{key}:{s.nl}"] + [f"{' ' * (col + step)}{b}{s.nl}" for b in body]
        node = s.find(network, key)
        if node is None:
            self.edits.insert(network[-1].last + 1, new, f"calicoNetwork.{key}: added {method}")
            return
        current = [
            s.body(i).strip() for i in range(node.line, node.last + 1) if s._significant(s.body(i)) >= 0
        ]
        if current == [x.strip() for x in new]:
            return
        self.edits.replace(node.line, node.last + 1, new, f"calicoNetwork.{key}: set to {method}")


# --------------------------------------------------------------------------- entry points


def patch_manifest(text: str, opts: PatchOptions) -> PatchResult:
    """Patch a Calico manifest or custom-resources text; the same call serves check mode."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    stream = _Stream(text[len(bom):])
    if not any(d.kind for d in stream.documents):
        raise DualstackError(
            "not a Kubernetes YAML manifest: no document has a top-level kind (is it the right file, "
            "and in block-style YAML?)"
        )
    patcher = _Patcher(stream, opts)
    config = patcher._one("ConfigMap", "calico-config", "ConfigMap calico-config")
    node_ds = patcher._one("DaemonSet", "calico-node", "DaemonSet calico-node")
    installs = [d for d in stream.documents if d.kind == "Installation" and (d.api_version or "").startswith("operator.tigera.io/")]
    mode = opts.mode
    if mode == "auto":
        mode = "manifest" if node_ds is not None or config is not None else "operator" if installs else ""
    if mode == "manifest":
        if node_ds is None or config is None:
            missing = " and ".join(
                what for what, doc in (("ConfigMap calico-config", config), ("DaemonSet calico-node", node_ds)) if doc is None
            )
            raise DualstackError(
                f"not a Calico manifest it can patch: it has no {missing}; give Calico's calico.yaml "
                "(or custom-resources.yaml with manifest_type=operator)"
            )
        version = patcher.manifest(config, node_ds)
    elif mode == "operator":
        if len(installs) != 1:
            raise DualstackError(
                f"operator mode needs exactly one operator.tigera.io Installation in the file; found {len(installs)}"
            )
        version = patcher.operator(installs[0])
    else:
        raise DualstackError(
            "not a Calico manifest: it has no DaemonSet calico-node or ConfigMap calico-config (calico.yaml) "
            "and no operator.tigera.io Installation (custom-resources.yaml)"
        )
    new_lines, edits = patcher.edits.apply()
    real = [e for e in edits if e.new != stream.lines[e.start:e.end]]
    new_text = bom + "".join(new_lines)
    return PatchResult(
        text=new_text,
        changed=new_text != text,
        mode=mode,
        calico_version=format_version(version),
        changes=patcher.edits.notes,
        lines_removed=sum(e.end - e.start for e in real),
        lines_added=sum(len(e.new) for e in real),
        old_lines=stream.lines,
        edits=real,
    )


def diff_against(result: PatchResult, src_text: str, current: str | None, fromfile: str, tofile: str) -> str:
    """The unified diff from what the destination holds now to the result.

    When the destination holds the source (an in-place edit, or a copy of it), the diff comes
    from the edits themselves; otherwise it is computed line by line.
    """
    if current == src_text:
        return result.diff(fromfile, tofile)
    before = (current or "").splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, result.text.splitlines(keepends=True), fromfile, tofile))


def read_manifest(path: str, option: str = "src") -> str:
    """The text of a manifest file; raises for a missing, binary or non-UTF-8 file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise DualstackError(f"{option}={path!r} does not exist") from None
    except IsADirectoryError:
        raise DualstackError(f"{option}={path!r} is a directory, not a manifest file") from None
    except OSError as exc:
        raise DualstackError(f"{option}={path!r} cannot be read: {exc.strerror}") from None
    if b"\0" in data:
        raise DualstackError(f"{option}={path!r} is a binary file, not a YAML manifest")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DualstackError(
            f"{option}={path!r} is not UTF-8 text (bad byte at offset {exc.start}): not a YAML manifest"
        ) from None
