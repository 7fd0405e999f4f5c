# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MetalLB's resources rendered from the plan's pools and checked against the manifest's CRDs."""

from __future__ import annotations

import copy
import os
import typing as t

import pytest
import yaml

from ansible_collections.dualstack.kubernetes.plugins.module_utils import metallb
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError

STANDIN = os.path.join(os.path.dirname(__file__), "fixtures", "metallb-native-standin.yaml")
POOLS = {"ipv4": ["192.0.2.200-192.0.2.220"], "ipv6": ["2001:db8:0:1::200/120", "2001:db8:0:1::300/120"]}


@pytest.fixture(name="standin")
def fixture_standin() -> t.Tuple[t.List[t.Any], str]:
    with open(STANDIN, encoding="utf-8") as stream:
        text = stream.read()
    return [document for document in yaml.safe_load_all(text) if document], text


def render(**changes: t.Any) -> t.List[t.Dict[str, t.Any]]:
    args: t.Dict[str, t.Any] = {"mode": "l2", "namespace": "metallb-system", "name": "dualstack"}
    args.update(changes)
    pools = args.pop("pools", POOLS)
    families = args.pop("families", ["ipv4", "ipv6"])
    return metallb.render_resources(pools, families, **args)


def test_l2_is_one_pool_of_both_families_primary_first_and_its_advertisement() -> None:
    pool, advertisement = render(families=["ipv6", "ipv4"])
    assert pool == {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                    "metadata": {"name": "dualstack", "namespace": "metallb-system"},
                    "spec": {"addresses": POOLS["ipv6"] + POOLS["ipv4"], "autoAssign": True}}
    assert advertisement == {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
                             "metadata": {"name": "dualstack", "namespace": "metallb-system"},
                             "spec": {"ipAddressPools": ["dualstack"]}}


def test_bgp_is_an_advertisement_and_a_peer_per_router() -> None:
    resources = render(mode="bgp", bgp_my_asn=64512, bgp_peers=[
        {"peer_address": "192.0.2.1", "peer_asn": 64500},
        {"peer_address": "2001:DB8:0:1::1", "peer_asn": 64500, "my_asn": 64513, "name": "router6", "peer_port": 1179}])
    assert [r["kind"] for r in resources] == ["IPAddressPool", "BGPAdvertisement", "BGPPeer", "BGPPeer"]
    assert resources[2] == {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
                            "metadata": {"name": "dualstack-192-0-2-1", "namespace": "metallb-system"},
                            "spec": {"peerAddress": "192.0.2.1", "myASN": 64512, "peerASN": 64500}}
    assert resources[3]["metadata"]["name"] == "router6"
    assert resources[3]["spec"] == {"peerAddress": "2001:db8:0:1::1", "myASN": 64513, "peerASN": 64500, "peerPort": 1179}


@pytest.mark.parametrize("changes, expected", [
    ({"pools": {"ipv4": ["192.0.2.200/30"], "ipv6": []}}, "address_plan.lb_pools"),
    ({"mode": "bgp"}, "metallb_dualstack_bgp_peers: [] is empty, but address_plan_lb_mode is bgp"),
    ({"mode": "bgp", "bgp_peers": [{"peer_address": "router", "peer_asn": 1}]},
     "metallb_dualstack_bgp_peers[0].peer_address: router is not an IPv4 or IPv6 address"),
    ({"mode": "bgp", "bgp_peers": [{"peer_address": "192.0.2.1", "peer_asn": 1}]},
     "metallb_dualstack_bgp_my_asn: (not set) is not a BGP AS number"),
    ({"mode": "bgp", "bgp_my_asn": 64512, "bgp_peers": [{"peer_address": "192.0.2.1", "peer_asn": 2 ** 32}]},
     "metallb_dualstack_bgp_peers[0].peer_asn: 4294967296 is not a BGP AS number"),
    ({"mode": "bgp", "bgp_peers": ["192.0.2.1"]}, "metallb_dualstack_bgp_peers[0]: 192.0.2.1 is not a mapping"),
    ({"name": "Dual_Stack"}, "metallb_dualstack_pool_name: Dual_Stack is not a Kubernetes object name"),
])
def test_bad_settings_are_refused_by_name(changes: t.Dict[str, t.Any], expected: str) -> None:
    with pytest.raises(DualstackError, match=r"^" + expected.replace("[", r"\[").replace("]", r"\]")
                       .replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        render(**changes)


def test_the_manifest_release_and_kinds_are_checked(standin: t.Tuple[t.List[t.Any], str]) -> None:
    documents, text = standin
    schemas = metallb.check_manifest(documents, text, "v0.14.9", "m.yaml")
    assert {kind for _api, kind in schemas} == {"IPAddressPool", "L2Advertisement", "BGPAdvertisement", "BGPPeer"}
    with pytest.raises(DualstackError, match=r"m.yaml installs MetalLB v0.14.9, not v0.15.0 \(metallb_dualstack_version\)"):
        metallb.check_manifest(documents, text, "v0.15.0", "m.yaml")
    without_peer = [d for d in metallb.manifest_objects(documents)
                    if (d.get("metadata") or {}).get("name") != "bgppeers.metallb.io"]
    with pytest.raises(DualstackError, match="defines no BGPPeer metallb.io/v1beta2"):
        metallb.check_manifest(without_peer, text, "v0.14.9", "m.yaml")
    with pytest.raises(DualstackError, match="has no quay.io/metallb/controller image"):
        metallb.check_manifest(documents, text.replace("metallb/controller", "x/y"), "v0.14.9", "m.yaml")


def test_rendered_resources_pass_the_crd_schemas(standin: t.Tuple[t.List[t.Any], str]) -> None:
    documents, text = standin
    schemas = metallb.check_manifest(documents, text, "v0.14.9", "m.yaml")
    metallb.validate(render(), schemas, "m.yaml")
    metallb.validate(render(mode="bgp", bgp_my_asn=64512, bgp_peers=[
        {"peer_address": "192.0.2.1", "peer_asn": 64500, "ebgp_multihop": True}]), schemas, "m.yaml")


def test_the_schema_check_refuses_what_the_api_server_would_refuse_or_drop(
        standin: t.Tuple[t.List[t.Any], str]) -> None:
    documents, text = standin
    schemas = metallb.check_manifest(documents, text, "v0.14.9", "m.yaml")
    resources = render(mode="bgp", bgp_my_asn=64512, bgp_peers=[{"peer_address": "192.0.2.1", "peer_asn": 64500,
                                                                 "peer_port": 20000}])
    broken = copy.deepcopy(resources)
    broken[0]["spec"]["autoAssign"] = "yes"
    broken[0]["spec"]["adresses"] = []
    del broken[0]["spec"]["addresses"]
    with pytest.raises(DualstackError) as caught:
        metallb.validate(broken, schemas, "m.yaml")
    message = str(caught.value)
    assert "IPAddressPool dualstack: IPAddressPool.spec.addresses is required and missing" in message
    assert "IPAddressPool.spec.autoAssign is yes, not of type boolean" in message
    assert "IPAddressPool.spec.adresses is not a field the schema knows" in message
    assert "BGPPeer dualstack-192-0-2-1: BGPPeer.spec.peerPort is 20000, above the maximum 16384" in message
    assert message.endswith("nothing was applied")


def test_a_version_is_a_release_number() -> None:
    assert metallb.normal_version("0.14.9") == "v0.14.9"
    with pytest.raises(DualstackError, match="metallb_dualstack_version: latest is not a MetalLB release number"):
        metallb.normal_version("latest")


def test_a_manifest_of_separate_documents_reads_as_its_list(standin: t.Tuple[t.List[t.Any], str]) -> None:
    documents, text = standin
    separate = list(documents[0]["items"]) + [None]
    assert metallb.manifest_objects(separate) == metallb.manifest_objects(documents)
    assert metallb.check_manifest(separate, text, "v0.14.9", "m.yaml") == metallb.check_manifest(documents, text, "v0.14.9", "m.yaml")
