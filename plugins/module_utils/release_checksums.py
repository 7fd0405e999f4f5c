# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sha256 of each upstream release file the roles download, with where each came from.

A download is verified against these unless the user supplies a checksum of their own; a
release that is not here is downloaded only with one (nothing is installed unverified)."""

from __future__ import annotations

import typing as t

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError, Problem

# k3s binaries by release tag and architecture (k3s_server_arch / k3s_agent_arch), as k3s
# publishes them in each release's sha256sum-<arch>.txt. The release assets are k3s (amd64),
# k3s-arm64 and k3s-armhf (arm).
K3S_BINARY_SHA256: t.Dict[str, t.Dict[str, str]] = {
    # https://github.com/k3s-io/k3s/releases/download/v1.31.2+k3s1/sha256sum-{amd64,arm64,arm}.txt,
    # read from the copy of those files' sums in andrewrothstein/ansible-k3s, defaults/main.yml
    # (commit 1496b9e5f5065febcea5ed50287b7e4bc919b8a6), which names each file it quotes.
    "v1.31.2+k3s1": {
        "amd64": "256ca852ff2ca165afbc14ed34df450aa1295e4eb01e3d1da9f251f37e546712",
        "arm64": "a9c4cdb7f038ea46f84bdf1b5c1e518637a8bdf84c39f281a6400bc7e9d8f9f0",
        "arm": "0c5b47e292c98fab58f09f32aee4325d9ef2972639b233939d2e06399a3f0ee0",
    },
}

# The airgap image tarballs of k3s releases (k3s-airgap-images-<arch>.tar.zst), by release tag and
# architecture, as each release's sha256sum-<arch>.txt lists them. None is recorded: no copy of a
# supported release's sum file could be read from a source that names it, so the mirror check asks
# for the sum (offline_mirror_checksums) rather than trusting a file it cannot verify.
K3S_AIRGAP_IMAGES_SHA256: t.Dict[str, t.Dict[str, str]] = {}

# kubeadm, kubelet and kubectl by Kubernetes release and architecture, as dl.k8s.io publishes them
# (https://dl.k8s.io/release/<version>/bin/linux/<arch>/<name>, with <name>.sha256 beside each).
KUBERNETES_BINARY_SHA256: t.Dict[str, t.Dict[str, t.Dict[str, str]]] = {
    # kubernetes-sigs/kubespray roles/kubespray-defaults/defaults/main/checksums.yml
    # (commit c18e965c7d0cc5fed47dacd97b4a7b525849ca3d), which records the sums of those files.
    # No source naming the v1.31.2 files' sums could be read: that release is installed from a
    # mirror only with the sums given in offline_mirror_checksums.
    "v1.29.5": {
        "amd64": {
            "kubeadm": "e424dcdbe661314b6ca1fcc94726eb554bc3f4392b060b9626f9df8d7d44d42c",
            "kubelet": "261dc3f3c384d138835fe91a02071c642af94abb0cca56ebc04719240440944c",
            "kubectl": "603c8681fc0d8609c851f9cc58bcf55eeb97e2934896e858d0232aa8d1138366",
        },
        "arm64": {
            "kubeadm": "d4db8c514f2764edc039462c218dbcd316577f76f21b209b76e9a4b1f08e3100",
            "kubelet": "0d4328a3c67e4f0dbf270fa49343f3eab9316adde1a1bd2a857fa56876a9aff1",
            "kubectl": "9ee9168def12ac6a6c0c6430e0f73175e756ed262db6040f8aa2121ad2c1f62e",
        },
    },
}

# The asset name of each architecture in a k3s release (k3s's install.sh: arm is -armhf).
K3S_ASSET_SUFFIX: t.Dict[str, str] = {"amd64": "", "arm64": "-arm64", "arm": "-armhf"}


def k3s_binary_sha256(tag: str, arch: str = "amd64") -> str:
    """The recorded sha256 of the k3s binary of a release tag (v1.31.2+k3s1), or '' if unknown."""
    return K3S_BINARY_SHA256.get(str(tag), {}).get(str(arch), "")


def k3s_binary_asset(arch: str = "amd64") -> str:
    """The file name of the k3s binary for an architecture in a release's assets."""
    if arch not in K3S_ASSET_SUFFIX:
        raise DualstackError(Problem("the k3s architecture", arch, "is not one k3s releases binaries for",
                                     "Use one of %s." % ", ".join(sorted(K3S_ASSET_SUFFIX))))
    return "k3s" + K3S_ASSET_SUFFIX[arch]


def known_k3s_releases(arch: str = "amd64") -> t.List[str]:
    """The release tags whose binary for arch has a recorded sha256."""
    return sorted(tag for tag, sums in K3S_BINARY_SHA256.items() if arch in sums)


def k3s_airgap_images_sha256(tag: str, arch: str = "amd64") -> str:
    """The recorded sha256 of a release's airgap image tarball (.tar.zst), or '' if unknown."""
    return K3S_AIRGAP_IMAGES_SHA256.get(str(tag), {}).get(str(arch), "")


def kubernetes_binary_sha256(version: str, arch: str, name: str) -> str:
    """The recorded sha256 of kubeadm, kubelet or kubectl of a release (v1.29.5), or '' if unknown."""
    return KUBERNETES_BINARY_SHA256.get(str(version), {}).get(str(arch), {}).get(str(name), "")
