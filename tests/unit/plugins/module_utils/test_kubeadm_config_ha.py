# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several kubeadm control planes behind the plan's API endpoint, in every config API."""

from __future__ import annotations

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import kubeadm_config as kc
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils import article_plans

NODES = [{"name": name, "ipv4": f"192.168.1.{11 + i}", "ipv6": f"2001:db8::{11 + i}"}
         for i, name in enumerate(["cp-1", "cp-2", "cp-3", "worker"])]
TOKEN = "abcdef.0123456789abcdef"
HASH = "sha256:" + "ab" * 32
KEY = "0123456789abcdef" * 4
# One release per config API: v1beta2 (with the feature gate), v1beta3, v1beta4.
VERSIONS = {"1.18.5": "v1beta2", "1.21.14": "v1beta2", "1.25.16": "v1beta3", "1.31.2": "v1beta4"}


def ha_plan(version="1.31.2", primary="ipv4", **overrides):
    vips = {"ipv4": "192.168.1.10", "ipv6": "2001:db8::10"}
    other = "ipv6" if primary == "ipv4" else "ipv4"
    options = {"nodes": NODES, "control_plane_hosts": ["cp-1", "cp-2", "cp-3"],
               "api_vips": [vips[primary], vips[other]], "kubernetes_version": version,
               "service_cidrs": ["10.96.0.0/12", "fd00::/112"]}
    if version.startswith("1.18"):
        options["feature_gates"] = {"IPv6DualStack": True}
    options.update(overrides)
    return article_plans.kubeadm_plan(primary=primary, **options)


def by_kind(docs):
    return {doc["kind"]: doc for doc in docs}


@pytest.mark.parametrize("version, api", sorted(VERSIONS.items()))
def test_first_control_plane_initialises_behind_the_endpoint(version, api):
    docs = by_kind(kc.init_documents(ha_plan(version), "cp-1"))
    cluster, init = docs["ClusterConfiguration"], docs["InitConfiguration"]
    assert cluster["apiVersion"] == init["apiVersion"] == "kubeadm.k8s.io/" + api
    assert cluster["controlPlaneEndpoint"] == "192.168.1.10:6443"
    assert cluster["apiServer"]["certSANs"] == ["192.168.1.10", "2001:db8::10"]
    assert init["localAPIEndpoint"] == {"advertiseAddress": "192.168.1.11", "bindPort": 6443}
    # No key unless one is asked for: the init file stays the same from run to run.
    assert "certificateKey" not in init
    keyed = by_kind(kc.init_documents(ha_plan(version), "cp-1", certificate_key=KEY))["InitConfiguration"]
    assert keyed["certificateKey"] == KEY


@pytest.mark.parametrize("version, api", sorted(VERSIONS.items()))
def test_further_control_planes_join_with_their_own_endpoint_and_the_key(version, api):
    plan = ha_plan(version)
    endpoint = kc.api_server_endpoint(plan, "cp-1", 6443)
    assert endpoint == "192.168.1.10:6443"
    (join,) = kc.join_documents(plan, "cp-2", api_server=endpoint, token=TOKEN, ca_cert_hashes=[HASH],
                                control_plane=True, certificate_key=KEY, bind_port=6443)
    assert join["apiVersion"] == "kubeadm.k8s.io/" + api
    assert join["controlPlane"] == {"localAPIEndpoint": {"advertiseAddress": "192.168.1.12", "bindPort": 6443},
                                    "certificateKey": KEY}
    assert join["discovery"]["bootstrapToken"]["apiServerEndpoint"] == "192.168.1.10:6443"


def test_ipv6_primary_endpoint_is_bracketed_and_advertises_ipv6():
    plan = ha_plan(primary="ipv6")
    cluster = by_kind(kc.init_documents(plan, "cp-1"))["ClusterConfiguration"]
    assert cluster["controlPlaneEndpoint"] == "[2001:db8::10]:6443"
    assert cluster["apiServer"]["certSANs"] == ["2001:db8::10", "192.168.1.10"]
    endpoint = kc.api_server_endpoint(plan, "cp-1")
    (join,) = kc.join_documents(plan, "cp-3", api_server=endpoint, token=TOKEN, ca_cert_hashes=[HASH],
                                control_plane=True, certificate_key=KEY)
    assert join["controlPlane"]["localAPIEndpoint"]["advertiseAddress"] == "2001:db8::13"
    assert join["discovery"]["bootstrapToken"]["apiServerEndpoint"] == "[2001:db8::10]:6443"


def test_workers_join_through_an_external_endpoint():
    plan = ha_plan(api_vips=[], api_endpoint="lb.example.test:443")
    assert kc.api_server_endpoint(plan, "cp-1", 6443) == "lb.example.test:443"
    cluster = by_kind(kc.init_documents(plan, "cp-1"))["ClusterConfiguration"]
    assert cluster["controlPlaneEndpoint"] == "lb.example.test:443"
    assert "apiServer" not in cluster
    (join,) = kc.join_documents(plan, "worker", api_server="lb.example.test:443", token=TOKEN, ca_cert_hashes=[HASH])
    assert "controlPlane" not in join


def test_a_control_plane_join_needs_the_endpoint_and_a_key_never_quoted():
    single = article_plans.kubeadm_plan(kubernetes_version="1.31.2")
    with pytest.raises(kc.DualstackError, match="address_plan_api_vips"):
        kc.join_documents(single, "worker", api_server="192.168.1.11:6443", token=TOKEN, ca_cert_hashes=[HASH],
                          control_plane=True, certificate_key=KEY)
    secret = "f" * 63
    with pytest.raises(kc.DualstackError, match="64 hex digits") as err:
        kc.join_documents(ha_plan(), "cp-2", api_server="192.168.1.10:6443", token=TOKEN, ca_cert_hashes=[HASH],
                          control_plane=True, certificate_key=secret)
    assert secret not in str(err.value)
    with pytest.raises(kc.DualstackError, match="64 hex digits"):
        kc.init_documents(ha_plan(), "cp-1", certificate_key="not-hex")


def test_a_second_endpoint_setting_is_refused():
    with pytest.raises(kc.DualstackError, match="differs from the plan's API endpoint 192.168.1.10:6443"):
        kc.init_documents(ha_plan(), "cp-1", control_plane_endpoint="lb.example.test")
    # The same endpoint given twice is no conflict.
    cluster = by_kind(kc.init_documents(ha_plan(), "cp-1", control_plane_endpoint="192.168.1.10:6443"))
    assert cluster["ClusterConfiguration"]["controlPlaneEndpoint"] == "192.168.1.10:6443"
