# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MetalLB for both families: its manifest read, and the pools and advertisements rendered and checked.

The address pools come from the address plan, which has checked them against every other
address of the cluster. Here they become MetalLB's custom resources (API group metallb.io):
one IPAddressPool holding the ranges of both families, primary first, and an L2Advertisement,
or a BGPAdvertisement and one BGPPeer per router. One pool, because MetalLB's allocator
(internal/allocator/allocator.go, AllocateFromPool) gives a Service the address of each family
from the ranges of the one pool it picks: a pool of one family leaves a dual-stack Service
without the other.

Each resource is checked against the openAPIV3Schema of its kind and version in the
CustomResourceDefinitions of the manifest being applied, as strictly as the API server would
and stricter in one way: a field the schema does not know is refused, where the API server
would drop it without a word. Python 3 standard library and the YAML parser Ansible brings.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError, Problem, show
from ansible_collections.dualstack.kubernetes.plugins.module_utils.rules import FAMILIES

GROUP = "metallb.io"
POOL_VERSION = "metallb.io/v1beta1"
ADVERTISEMENT_VERSION = "metallb.io/v1beta1"
# BGPPeer is served as v1beta1 and v1beta2 from MetalLB 0.13; v1beta2 is the stored one.
PEER_VERSION = "metallb.io/v1beta2"
MODES = ("l2", "bgp")
# The controller's image in metallb-native.yaml is tagged with the release.
_CONTROLLER_IMAGE = re.compile(r"^\s*image:\s*\S*/metallb/controller:(v?[0-9][^\s\"']*)", re.MULTILINE)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+$")
# BGP AS numbers are 32-bit (RFC 6793); the CRD's myASN and peerASN say the same.
MAX_ASN = 4294967295

Schema = t.Mapping[str, t.Any]


def normal_version(version: str) -> str:
    """A MetalLB release as its tags write it (v0.14.9); refused when not a release number."""
    text = str(version or "").strip()
    if not _VERSION.match(text):
        raise DualstackError(Problem("metallb_dualstack_version", version, "is not a MetalLB release number",
                                     "Give one like v0.14.9"))
    return text if text.startswith("v") else "v" + text


def manifest_version(text: str) -> t.Optional[str]:
    """The release a metallb-native.yaml installs: the tag of its controller image."""
    found = _CONTROLLER_IMAGE.search(text)
    return found.group(1) if found else None


def manifest_objects(documents: t.Iterable[t.Any]) -> t.List[t.Any]:
    """The objects of a manifest's YAML documents; a v1 List stands for its items, as kubectl reads it."""
    objects: t.List[t.Any] = []
    for document in documents:
        if isinstance(document, t.Mapping) and document.get("kind") == "List":
            objects.extend(document.get("items") or [])
        elif document:
            objects.append(document)
    return objects


def manifest_schemas(documents: t.Iterable[t.Any]) -> t.Dict[t.Tuple[str, str], Schema]:
    """(apiVersion, kind) to openAPIV3Schema, for every served version of every metallb.io CRD."""
    schemas: t.Dict[t.Tuple[str, str], Schema] = {}
    for document in manifest_objects(documents):
        if not isinstance(document, t.Mapping) or document.get("kind") != "CustomResourceDefinition":
            continue
        spec = document.get("spec") or {}
        if spec.get("group") != GROUP:
            continue
        kind = (spec.get("names") or {}).get("kind")
        for version in spec.get("versions") or []:
            schema = ((version or {}).get("schema") or {}).get("openAPIV3Schema")
            if kind and schema and version.get("served", True):
                schemas[(f"{GROUP}/{version['name']}", kind)] = schema
    return schemas


def check_manifest(documents: t.Sequence[t.Any], text: str, version: str, source: str) -> t.Dict[t.Tuple[str, str], Schema]:
    """The manifest is MetalLB's of ``version`` and defines the kinds the role creates."""
    found = manifest_version(text)
    if found is None:
        raise DualstackError(Problem(
            "metallb_dualstack_manifest_src", source, "has no quay.io/metallb/controller image, so it is not "
                                                      "MetalLB's metallb-native.yaml",
            f"Give config/manifests/metallb-native.yaml of MetalLB {version}"))
    if normal_version(found) != version:
        raise DualstackError(Problem(
            "metallb_dualstack_manifest_src", source, f"installs MetalLB {found}, not {version} "
                                                      f"(metallb_dualstack_version)",
            f"Give metallb-native.yaml of {version}, or set metallb_dualstack_version to {found}"))
    schemas = manifest_schemas(documents)
    wanted = [(POOL_VERSION, "IPAddressPool"), (ADVERTISEMENT_VERSION, "L2Advertisement"),
              (ADVERTISEMENT_VERSION, "BGPAdvertisement"), (PEER_VERSION, "BGPPeer")]
    missing = [f"{kind} {api}" for api, kind in wanted if (api, kind) not in schemas]
    if missing:
        raise DualstackError(Problem(
            "metallb_dualstack_manifest_src", source, f"defines no {', '.join(missing)}; this role writes those "
                                                      f"(MetalLB 0.13 and later)",
            "Use MetalLB v0.13.0 or later"))
    return schemas


# ---------------------------------------------------------------------------------------
# Rendering

def _peer(index: int, peer: t.Any, my_asn: t.Any) -> t.Dict[str, t.Any]:
    option = f"metallb_dualstack_bgp_peers[{index}]"
    if not isinstance(peer, t.Mapping):
        raise DualstackError(Problem(option, peer, "is not a mapping",
                                     "Write it as {peer_address, peer_asn} (optionally my_asn, name, peer_port, "
                                     "ebgp_multihop)"))
    address_text = str(peer.get("peer_address") or "").strip()
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        raise DualstackError(Problem(f"{option}.peer_address", peer.get("peer_address"),
                                     "is not an IPv4 or IPv6 address", "Give the router's address, e.g. 192.0.2.1")) from None
    spec: t.Dict[str, t.Any] = {"peerAddress": str(address)}
    for key, field, value in (("my_asn", "myASN", peer.get("my_asn", my_asn)), ("peer_asn", "peerASN", peer.get("peer_asn"))):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ASN:
            where = f"{option}.{key}" if key in peer or key == "peer_asn" else "metallb_dualstack_bgp_my_asn"
            raise DualstackError(Problem(where, value, f"is not a BGP AS number (1..{MAX_ASN})",
                                         "Give the AS number as an integer, e.g. 64512 (private ASNs 64512-65534)"))
        spec[field] = value
    if peer.get("peer_port") is not None:
        spec["peerPort"] = peer["peer_port"]
    if peer.get("ebgp_multihop") is not None:
        spec["ebgpMultiHop"] = bool(peer["ebgp_multihop"])
    name = peer.get("name") or "dualstack-" + re.sub(r"[^0-9a-f]+", "-", str(address).lower()).strip("-")
    return {"apiVersion": PEER_VERSION, "kind": "BGPPeer", "metadata": {"name": name}, "spec": spec}


def render_resources(pools: t.Mapping[str, t.Sequence[str]], families: t.Sequence[str], *, mode: str,
                     namespace: str, name: str, bgp_peers: t.Sequence[t.Any] = (), bgp_my_asn: t.Any = None,
                     ) -> t.List[t.Dict[str, t.Any]]:
    """The pool of both families and its advertisement (and BGP peers), in the order to apply."""
    ordered = [family for family in families if family in FAMILIES] or list(FAMILIES)
    addresses = [str(entry) for family in ordered for entry in pools.get(family) or []]
    lacking = [family for family in ordered if not pools.get(family)]
    if lacking:
        raise DualstackError(Problem(
            "address_plan.lb_pools", dict(pools), f"has no {' and no '.join(lacking)} range",
            "Set address_plan_lb_pools to ranges of both families (the address plan checks them)"))
    if mode not in MODES:
        raise DualstackError(Problem("address_plan.lb_mode", mode, "is neither l2 nor bgp", "Set address_plan_lb_mode"))
    if not _NAME.match(name or "") or len(name) > 253:
        raise DualstackError(Problem("metallb_dualstack_pool_name", name, "is not a Kubernetes object name (RFC 1123)",
                                     "Use lower-case letters, digits and '-', e.g. dualstack"))
    metadata = {"name": name, "namespace": namespace}
    resources: t.List[t.Dict[str, t.Any]] = [{
        "apiVersion": POOL_VERSION, "kind": "IPAddressPool", "metadata": dict(metadata),
        "spec": {"addresses": addresses, "autoAssign": True}}]
    advertisement = {"ipAddressPools": [name]}
    if mode == "l2":
        resources.append({"apiVersion": ADVERTISEMENT_VERSION, "kind": "L2Advertisement",
                          "metadata": dict(metadata), "spec": advertisement})
        return resources
    if not bgp_peers:
        raise DualstackError(Problem(
            "metallb_dualstack_bgp_peers", [], "is empty, but address_plan_lb_mode is bgp",
            "List your routers as {peer_address, peer_asn} (one per family is usual), or use lb_mode l2"))
    resources.append({"apiVersion": ADVERTISEMENT_VERSION, "kind": "BGPAdvertisement",
                      "metadata": dict(metadata), "spec": advertisement})
    for index, peer in enumerate(bgp_peers):
        rendered = _peer(index, peer, bgp_my_asn)
        rendered["metadata"]["namespace"] = namespace
        resources.append(rendered)
    return resources


# ---------------------------------------------------------------------------------------
# Checking against the CRDs' schemas (the structural subset CRDs use)

_TYPES: t.Dict[str, t.Callable[[t.Any], bool]] = {
    "object": lambda v: isinstance(v, t.Mapping),
    "array": lambda v: isinstance(v, (list, tuple)),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def schema_problems(value: t.Any, schema: Schema, where: str) -> t.List[str]:
    """Every way ``value`` breaks ``schema``, each naming the field path."""
    kind = schema.get("type")
    if schema.get("x-kubernetes-int-or-string") and isinstance(value, (int, str)) and not isinstance(value, bool):
        return []
    if kind and kind in _TYPES and not _TYPES[kind](value):
        return [f"{where} is {show(value)}, not of type {kind}"]
    problems: t.List[str] = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where} is {show(value)}, not one of {show(list(schema['enum']))}")
    if kind in ("integer", "number"):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where} is {value}, below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where} is {value}, above the maximum {schema['maximum']}")
    if kind == "string":
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"{where} is {show(value)}, which does not match {schema['pattern']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{where} is longer than {schema['maxLength']} characters")
        if "minLength" in schema and len(value) < schema["minLength"]:
            problems.append(f"{where} is shorter than {schema['minLength']} characters")
    if kind == "array":
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(f"{where} has fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{where} has more than {schema['maxItems']} items")
        for index, item in enumerate(value):
            problems.extend(schema_problems(item, schema.get("items") or {}, f"{where}[{index}]"))
    if kind == "object":
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key in schema.get("required") or []:
            if key not in value:
                problems.append(f"{where}.{key} is required and missing")
        for key, item in value.items():
            if properties is not None and key in properties:
                problems.extend(schema_problems(item, properties[key], f"{where}.{key}"))
            elif isinstance(extra, t.Mapping):
                problems.extend(schema_problems(item, extra, f"{where}.{key}"))
            elif properties is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                problems.append(f"{where}.{key} is not a field the schema knows (the API server would drop it)")
    return problems


def validate(resources: t.Sequence[t.Mapping[str, t.Any]], schemas: t.Mapping[t.Tuple[str, str], Schema],
             source: str) -> None:
    """Refuse any resource its CRD's schema refuses, listing every problem."""
    problems = []
    for resource in resources:
        key = (str(resource.get("apiVersion")), str(resource.get("kind")))
        label = f"{key[1]} {(resource.get('metadata') or {}).get('name')}"
        if key not in schemas:
            problems.append(f"{label}: {key[0]} {key[1]} is not defined by {source}")
            continue
        problems.extend(f"{label}: {problem}" for problem in schema_problems(resource, schemas[key], label.split()[0]))
    if problems:
        raise DualstackError(
            "The MetalLB resources do not match the CRDs of %s: %s. Fix the settings named there "
            "(metallb_dualstack_bgp_peers, metallb_dualstack_pool_name) or use the manifest of the pinned version; "
            "nothing was applied" % (source, "; ".join(problems[:10])))
