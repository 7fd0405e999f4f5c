# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy
import datetime
import hashlib

import pytest
import yaml

from ansible_collections.dualstack.kubernetes.plugins.module_utils import kubeadm_config as kc
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils import article_plans


def plan(version="1.31.2", primary="ipv4", gates=None, allocation=True):
    """The address_plan fact the planner makes of the kubeadm article's networks and nodes."""
    return article_plans.kubeadm_plan(primary=primary, kubernetes_version=version, feature_gates=gates or {},
                                      node_cidr_allocation=allocation)


def by_kind(docs):
    return {doc["kind"]: doc for doc in docs}


@pytest.mark.parametrize("version, api", [
    ("1.15.0", "v1beta2"), ("v1.18.20", "v1beta2"), ("1.21.14", "v1beta2"),
    ("1.22.0", "v1beta3"), ("1.30.9", "v1beta3"),
    ("1.31.0", "v1beta4"), ("1.34.1", "v1beta4"),
])
def test_config_api_follows_the_version(version, api):
    assert kc.api_version_for(version) == "kubeadm.k8s.io/" + api


@pytest.mark.parametrize("version, words", [
    ("1.14.10", "outside the Kubernetes releases this collection supports, 1.15.0 to 1.37.x"),
    ("1.32.0-rc.1", "is a pre-release"),
    ("latest", "MAJOR.MINOR.PATCH"),
    ("1.31", "MAJOR.MINOR.PATCH"),
])
def test_unusable_versions_are_named_with_the_fix(version, words):
    with pytest.raises(kc.DualstackError, match=words) as err:
        kc.api_version_for(version)
    assert f"kubernetes_version: {version} " in str(err.value)


def test_ipv4_primary_current_release():
    docs = by_kind(kc.init_documents(plan(), "master"))
    init, cluster = docs["InitConfiguration"], docs["ClusterConfiguration"]
    assert init["apiVersion"] == cluster["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert cluster["networking"] == {"podSubnet": "10.244.0.0/16,fd00:1::/48",
                                     "serviceSubnet": "10.96.0.0/12,fd00::/108"}
    assert cluster["kubernetesVersion"] == "v1.31.2"
    assert init["localAPIEndpoint"] == {"advertiseAddress": "192.168.1.11", "bindPort": 6443}
    # v1beta4: extraArgs are lists of name/value pairs
    assert init["nodeRegistration"]["kubeletExtraArgs"] == [
        {"name": "node-ip", "value": "192.168.1.11,2001:db8::11"}]
    assert cluster["controllerManager"]["extraArgs"] == [
        {"name": "node-cidr-mask-size-ipv4", "value": "24"},
        {"name": "node-cidr-mask-size-ipv6", "value": "64"}]
    assert "scheduler" not in cluster and "featureGates" not in cluster
    assert docs["KubeletConfiguration"] == {"apiVersion": "kubelet.config.k8s.io/v1beta1",
                                            "kind": "KubeletConfiguration", "cgroupDriver": "systemd"}
    assert docs["KubeProxyConfiguration"]["clusterCIDR"] == "10.244.0.0/16,fd00:1::/48"
    assert list(docs) == ["InitConfiguration", "ClusterConfiguration", "KubeletConfiguration",
                          "KubeProxyConfiguration"]


def test_ipv6_primary_is_the_article_appendix_without_hand_edits():
    docs = by_kind(kc.init_documents(plan(version="1.28.4", primary="ipv6"), "master"))
    init, cluster = docs["InitConfiguration"], docs["ClusterConfiguration"]
    assert init["apiVersion"] == "kubeadm.k8s.io/v1beta3"
    assert init["localAPIEndpoint"]["advertiseAddress"] == "2001:db8::11"
    assert cluster["networking"]["podSubnet"] == "fd00:1::/48,10.244.0.0/16"
    assert cluster["networking"]["serviceSubnet"] == "fd00::/108,10.96.0.0/12"
    assert init["nodeRegistration"]["kubeletExtraArgs"] == {"node-ip": "2001:db8::11,192.168.1.11"}
    assert cluster["controllerManager"]["extraArgs"]["bind-address"] == "::"
    assert cluster["scheduler"]["extraArgs"] == {"bind-address": "::"}


def test_article_release_gets_v1beta2_the_feature_gate_and_one_node_ip():
    docs = by_kind(kc.init_documents(plan(version="1.18.20", primary="ipv6",
                                          gates={"IPv6DualStack": True}), "master"))
    cluster = docs["ClusterConfiguration"]
    assert cluster["apiVersion"] == "kubeadm.k8s.io/v1beta2"
    assert cluster["featureGates"] == {"IPv6DualStack": True}
    assert cluster["apiServer"]["extraArgs"] == {"feature-gates": "IPv6DualStack=true"}
    assert cluster["controllerManager"]["extraArgs"]["feature-gates"] == "IPv6DualStack=true"
    assert docs["KubeletConfiguration"]["featureGates"] == {"IPv6DualStack": True}
    assert docs["KubeProxyConfiguration"]["featureGates"] == {"IPv6DualStack": True}
    registration = docs["InitConfiguration"]["nodeRegistration"]
    # kubelet 1.18 takes one node IP; the pair came with 1.20
    assert registration["kubeletExtraArgs"] == {"node-ip": "2001:db8::11"}
    assert registration["criSocket"] == "/run/containerd/containerd.sock"


def test_only_kubeadm_gates_reach_the_cluster_configuration():
    docs = by_kind(kc.init_documents(plan(version="1.20.15", gates={"IPv6DualStack": True,
                                                                    "SomeKubeletGate": False}), "master"))
    assert docs["ClusterConfiguration"]["featureGates"] == {"IPv6DualStack": True}
    assert docs["KubeletConfiguration"]["featureGates"] == {"IPv6DualStack": True, "SomeKubeletGate": False}
    # from 1.20 the kubelet takes the pair
    assert docs["InitConfiguration"]["nodeRegistration"]["kubeletExtraArgs"]["node-ip"] == "192.168.1.11,2001:db8::11"


def test_calico_only_ipam_turns_node_cidrs_off():
    cluster = by_kind(kc.init_documents(plan(version="1.29.0", allocation=False), "master"))["ClusterConfiguration"]
    assert cluster["controllerManager"]["extraArgs"] == {"allocate-node-cidrs": "false"}


def test_options_reach_their_fields():
    docs = by_kind(kc.init_documents(plan(), "master", node_name="cp-1", bind_port="8443",
                                     control_plane_endpoint="api.example.test", cluster_name="lab",
                                     kubelet_extra_args={"v": 2}, ignore_preflight_errors=["Swap"]))
    registration = docs["InitConfiguration"]["nodeRegistration"]
    assert registration["name"] == "cp-1"
    assert registration["ignorePreflightErrors"] == ["Swap"]
    assert {"name": "v", "value": "2"} in registration["kubeletExtraArgs"]
    assert docs["InitConfiguration"]["localAPIEndpoint"]["bindPort"] == 8443
    assert docs["ClusterConfiguration"]["controlPlaneEndpoint"] == "api.example.test"
    assert docs["ClusterConfiguration"]["clusterName"] == "lab"


def test_node_ip_cannot_be_overridden_by_extra_args():
    docs = by_kind(kc.init_documents(plan(version="1.27.3"), "master", kubelet_extra_args={"node-ip": "10.0.0.1"}))
    assert docs["InitConfiguration"]["nodeRegistration"]["kubeletExtraArgs"]["node-ip"] == "192.168.1.11,2001:db8::11"


@pytest.mark.parametrize("change, words", [
    (lambda p: p.update(distribution="k3s"), "address_plan_distribution: kubeadm"),
    (lambda p: p["nodes"].pop("master"), "add it to address_plan_node_hosts"),
    (lambda p: p["nodes"]["master"].pop("ipv6"), "address_plan_node_ipv6"),
    (lambda p: p.pop("pod_subnet"), "run the dualstack.kubernetes.address_plan role"),
    (lambda p: p.update(families=["ipv4"]), "is not both families"),
])
def test_plan_problems_name_the_variable_and_the_fix(change, words):
    broken = copy.deepcopy(plan())
    change(broken)
    with pytest.raises(kc.DualstackError, match=words):
        kc.init_documents(broken, "master")


def test_bad_port_is_refused():
    with pytest.raises(kc.DualstackError, match="bind_port 'x' is not a TCP port"):
        kc.init_documents(plan(), "master", bind_port="x")


TOKEN = "abcdef.0123456789abcdef"
HASH = "sha256:" + "ab" * 32


def test_join_configuration():
    (join,) = kc.join_documents(plan(), "worker", api_server="192.168.1.11:6443", token=TOKEN,
                                ca_cert_hashes=[HASH])
    assert join["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert join["discovery"]["bootstrapToken"] == {"apiServerEndpoint": "192.168.1.11:6443",
                                                   "token": TOKEN, "caCertHashes": [HASH]}
    assert join["nodeRegistration"]["kubeletExtraArgs"] == [
        {"name": "node-ip", "value": "192.168.1.12,2001:db8::12"}]


def test_join_errors_never_quote_the_token():
    secret = "ABCDEF.0123456789abcdef"
    with pytest.raises(kc.DualstackError) as err:
        kc.join_documents(plan(), "worker", api_server="[2001:db8::11]:6443", token=secret,
                          ca_cert_hashes=[HASH])
    assert secret not in str(err.value) and "kubeadm token create" in str(err.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"ca_cert_hashes": []}, "one or more"),
    ({"ca_cert_hashes": ["sha1:00"]}, "sha1:00"),
    ({"api_server": "https://192.168.1.11:6443"}, "must be host:port"),
])
def test_join_material_is_checked(kwargs, words):
    args = dict(api_server="192.168.1.11:6443", token=TOKEN, ca_cert_hashes=[HASH])
    args.update(kwargs)
    with pytest.raises(kc.DualstackError, match=words):
        kc.join_documents(plan(), "worker", **args)


@pytest.mark.parametrize("primary, endpoint, expected", [
    ("ipv4", "", "192.168.1.11:6443"),
    ("ipv6", "", "[2001:db8::11]:6443"),
    ("ipv4", "api.example.test", "api.example.test:6443"),
    ("ipv4", "api.example.test:443", "api.example.test:443"),
    ("ipv4", "2001:db8::100", "[2001:db8::100]:6443"),
    ("ipv4", "[2001:db8::100]", "[2001:db8::100]:6443"),
    ("ipv4", "[2001:db8::100]:443", "[2001:db8::100]:443"),
])
def test_api_server_endpoint(primary, endpoint, expected):
    assert kc.api_server_endpoint(plan(primary=primary), "master", 6443, endpoint) == expected


def test_render_is_yaml_and_stable():
    docs = kc.init_documents(plan(primary="ipv6"), "master")
    text = kc.render(docs)
    assert list(yaml.safe_load_all(text)) == docs
    assert text == kc.render(kc.init_documents(plan(primary="ipv6"), "master"))
    assert text.count("\n---\n") + text.startswith("---\n") == 4


def _certificate(version_one=False):
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(1234567)
               .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650)))
    if not version_one:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    cert = builder.sign(key, hashes.SHA256())
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_bytes(serialization.Encoding.PEM).decode(), "sha256:" + hashlib.sha256(spki).hexdigest()


def test_ca_cert_hash_is_the_hash_of_the_public_key_info():
    pem, expected = _certificate()
    assert kc.ca_cert_hash(pem) == expected
    assert kc.ca_cert_hash("junk before\n" + pem + "junk after") == expected


@pytest.mark.parametrize("text, words", [
    ("no certificate here", "not a PEM"),
    ("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----", "base64"),
    ("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----", "tbsCertificate|truncated"),
])
def test_ca_cert_hash_refuses_what_is_not_a_certificate(text, words):
    with pytest.raises(kc.DualstackError, match=words):
        kc.ca_cert_hash(text)
