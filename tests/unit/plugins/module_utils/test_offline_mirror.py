# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The offline mirror: its layout, the check of every file against a sha256, and the registry files."""
from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import offline_mirror as om
from ansible_collections.dualstack.kubernetes.plugins.module_utils import release_checksums as rc
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError

TAG = "v1.31.2+k3s1"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(folder, path: str, data: bytes) -> str:
    target = os.path.join(str(folder), path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as handle:
        handle.write(data)
    return target


def test_k3s_layout_names_the_release_assets_and_their_recorded_sums():
    binary, images = om.k3s_artifacts(TAG, "arm64")
    assert binary.path == "k3s/v1.31.2+k3s1/k3s-arm64"
    assert binary.url == "https://github.com/k3s-io/k3s/releases/download/v1.31.2%2Bk3s1/k3s-arm64"
    assert binary.sha256 == rc.K3S_BINARY_SHA256[TAG]["arm64"]
    assert images.path == "k3s/v1.31.2+k3s1/k3s-airgap-images-arm64.tar.zst"
    # No recorded sum: the user must give one.
    assert images.sha256 == ""
    assert images.checksum_source.endswith("/sha256sum-arm64.txt")


def test_kubernetes_layout_and_recorded_sums():
    found = {a.name: a for a in om.kubernetes_artifacts("1.29.5", "amd64")}
    assert sorted(found) == ["kubeadm", "kubectl", "kubelet"]
    assert found["kubelet"].path == "kubernetes/v1.29.5/amd64/kubelet"
    assert found["kubelet"].url == "https://dl.k8s.io/release/v1.29.5/bin/linux/amd64/kubelet"
    assert found["kubeadm"].sha256 == rc.KUBERNETES_BINARY_SHA256["v1.29.5"]["amd64"]["kubeadm"]
    assert all(a.sha256 == "" for a in om.kubernetes_artifacts("1.31.2", "amd64"))


def test_recorded_kubernetes_sums_are_sha256s_and_differ():
    for version, arches in rc.KUBERNETES_BINARY_SHA256.items():
        for arch, sums in arches.items():
            assert sorted(sums) == ["kubeadm", "kubectl", "kubelet"], (version, arch)
            assert all(len(value) == 64 and int(value, 16) >= 0 for value in sums.values())
            assert len(set(sums.values())) == 3


def test_bad_kubernetes_version_names_the_variable():
    with pytest.raises(DualstackError, match="address_plan_kubernetes_version: 1.31 is not MAJOR.MINOR.PATCH"):
        om.kubernetes_artifacts("1.31")


def test_a_complete_folder_is_verified_with_recorded_and_given_sums(tmp_path):
    binary = b"k3s binary"
    images = b"airgap images"
    wanted = [om.Artifact("k3s", "k3s/%s/k3s" % TAG, "the binary", "https://example/k3s", sha(binary)),
              om.Artifact("k3s_images", "k3s/%s/images.tar.zst" % TAG, "the images", "https://example/i")]
    put(tmp_path, wanted[0].path, binary)
    src = put(tmp_path, wanted[1].path, images)
    verified = om.verify(str(tmp_path), wanted, {wanted[1].path: "sha256:" + sha(images).upper()})
    assert [v["name"] for v in verified] == ["k3s", "k3s_images"]
    assert verified[1] == {"name": "k3s_images", "path": wanted[1].path, "src": src, "sha256": sha(images),
                           "url": "https://example/i"}


def test_missing_damaged_and_unrecorded_files_are_all_named_before_any_change(tmp_path):
    binary, images = om.k3s_artifacts(TAG, "amd64")
    put(tmp_path, binary.path, b"not the release's binary")
    with pytest.raises(DualstackError) as caught:
        om.verify(str(tmp_path), [binary, images])
    text = str(caught.value)
    assert "not complete (2 files)" in text
    assert "holds k3s/v1.31.2+k3s1/k3s with sha256 %s, not %s (the collection's record)" % (
        sha(b"not the release's binary"), rc.K3S_BINARY_SHA256[TAG]["amd64"]) in text
    assert "download it again from https://github.com/k3s-io/k3s/releases/download/v1.31.2%2Bk3s1/k3s" in text
    assert "has no k3s/v1.31.2+k3s1/k3s-airgap-images-amd64.tar.zst" in text
    assert ("Download it from https://github.com/k3s-io/k3s/releases/download/v1.31.2%2Bk3s1/"
            "k3s-airgap-images-amd64.tar.zst to " + str(tmp_path) + "/k3s/v1.31.2+k3s1/k3s-airgap-images-amd64.tar.zst") in text
    assert text.count("offline_mirror_dir: %s" % tmp_path) == 2


def test_a_file_without_any_sum_asks_for_one_with_its_source(tmp_path):
    images = om.k3s_artifacts(TAG, "amd64")[1]
    put(tmp_path, images.path, b"x")
    with pytest.raises(DualstackError, match=r"records no sha256 for it\. Set offline_mirror_checksums\["
                       r"'k3s/v1.31.2\+k3s1/k3s-airgap-images-amd64.tar.zst'\] to sha256:<hex> from "
                       r"https://github.com/k3s-io/k3s/releases/download/v1.31.2%2Bk3s1/sha256sum-amd64.txt"):
        om.verify(str(tmp_path), [images])


def test_a_given_sum_that_does_not_match_is_named_as_given(tmp_path):
    images = om.k3s_artifacts(TAG, "amd64")[1]
    put(tmp_path, images.path, b"cut short")
    with pytest.raises(DualstackError, match=r"not 0{64} \(offline_mirror_checksums\['k3s/"):
        om.verify(str(tmp_path), [images], {images.path: "sha256:" + "0" * 64})


@pytest.mark.parametrize("value", ["md5:abc", "sha256:xyz", "0" * 64])
def test_malformed_given_sums_are_refused(tmp_path, value):
    with pytest.raises(DualstackError, match=r"offline_mirror_checksums\[a\]: .* is not sha256: and 64 hex digits"):
        om.verify(str(tmp_path), [], {"a": value})


@pytest.mark.parametrize("folder, rule", [("", "is not a path"), ("relative/mirror", "is a relative path"),
                                          ("/nonexistent/mirror", "is not a folder on the controller")])
def test_the_folder_itself_is_checked(folder, rule):
    with pytest.raises(DualstackError, match="offline_mirror_dir: .*" + rule):
        om.verify(folder, [])


def test_images_are_the_tarballs_of_the_images_folder_in_name_order(tmp_path):
    put(tmp_path, "kubernetes/v1.31.2/images/pause.tar", b"p")
    put(tmp_path, "kubernetes/v1.31.2/images/etcd.tar", b"e")
    put(tmp_path, "kubernetes/v1.31.2/images/notes.txt", b"n")
    found = om.image_artifacts(str(tmp_path), "1.31.2")
    assert [a.path for a in found] == ["kubernetes/v1.31.2/images/etcd.tar", "kubernetes/v1.31.2/images/pause.tar"]
    assert all(a.sha256 == "" for a in found)
    assert om.image_artifacts(str(tmp_path), "1.30.0") == []


def test_calico_manifest_takes_the_roles_record():
    calico = om.calico_artifact("3.30.7", "sha256:" + "a" * 64)
    assert calico.path == "calico/v3.30.7/calico.yaml"
    assert calico.sha256 == "a" * 64
    assert calico.url == "https://raw.githubusercontent.com/projectcalico/calico/v3.30.7/manifests/calico.yaml"


REGISTRIES = {
    "mirrors": {"docker.io": {"endpoint": ["https://mirror.example:5000"]},
                "registry.k8s.io": {"endpoint": ["https://mirror.example:5000", "http://backup.example"]}},
    "configs": {"mirror.example:5000": {"tls": {"ca_file": "/etc/ssl/mirror.pem", "insecure_skip_verify": False}}},
}


def test_registries_yaml_quotes_every_string():
    text = om.registries_yaml(REGISTRIES)
    assert text.splitlines()[1:] == [
        "mirrors:",
        '  "docker.io":',
        "    endpoint:",
        '      - "https://mirror.example:5000"',
        '  "registry.k8s.io":',
        "    endpoint:",
        '      - "https://mirror.example:5000"',
        '      - "http://backup.example"',
        "configs:",
        '  "mirror.example:5000":',
        "    tls:",
        '      ca_file: "/etc/ssl/mirror.pem"',
        "      insecure_skip_verify: false",
    ]
    assert not om.registries_secret(REGISTRIES)


def test_credentials_make_the_file_secret_and_are_refused_for_hosts_toml():
    secret = {"mirrors": {}, "configs": {"mirror.example:5000": {"auth": {"username": "u", "password": "hunter2"}}}}
    assert om.registries_secret(secret)
    with pytest.raises(DualstackError) as caught:
        om.hosts_toml(secret)
    assert "configs[mirror.example:5000].auth: (secret, not shown) is for k3s only" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_hosts_toml_keeps_the_registry_as_server_and_tries_the_mirrors_first():
    files = om.hosts_toml(REGISTRIES)
    assert sorted(files) == ["/etc/containerd/certs.d/docker.io/hosts.toml",
                             "/etc/containerd/certs.d/registry.k8s.io/hosts.toml"]
    assert files["/etc/containerd/certs.d/docker.io/hosts.toml"].splitlines()[1:] == [
        'server = "https://registry-1.docker.io"',
        "",
        '[host."https://mirror.example:5000"]',
        '  capabilities = ["pull", "resolve"]',
        '  ca = "/etc/ssl/mirror.pem"',
    ]
    k8s = files["/etc/containerd/certs.d/registry.k8s.io/hosts.toml"]
    assert 'server = "https://registry.k8s.io"' in k8s
    assert '[host."http://backup.example"]' in k8s
    assert k8s.index("mirror.example:5000") < k8s.index("backup.example")


@pytest.mark.parametrize("registries, where", [
    ({"mirror": {}}, "offline_mirror_registries.mirror: (set) is not a key"),
    ({"mirrors": {"docker.io": {"endpoint": "https://m"}}}, "offline_mirror_registries.mirrors[docker.io].endpoint"),
    ({"mirrors": {"docker.io": {"endpoint": ["ftp://m"]}}}, "ftp://m is not an http:// or https:// URL"),
    ({"mirrors": {"bad host": {"endpoint": ["https://m"]}}}, "bad host is not a registry host"),
    ({"configs": {"m": {"auth": "hunter2"}}}, "configs[m].auth: (secret, not shown) is not a mapping"),
    ({"configs": {"m": {"tls": {"ca": "/x"}}}}, "configs[m].tls.ca: (set) is not a key"),
])
def test_bad_registries_are_named_by_their_key(registries, where):
    with pytest.raises(DualstackError) as caught:
        om.registries_yaml(registries)
    assert where in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_no_registries_write_nothing():
    assert om.hosts_toml({}) == {}
    assert om.registries(None) == {"mirrors": {}, "configs": {}}


def test_values_cannot_break_out_of_their_quotes():
    text = om.registries_yaml({"configs": {"m": {"auth": {"password": 'a"b\nc: d'}}}})
    assert '      password: "a\\"b\\nc: d"' in text
