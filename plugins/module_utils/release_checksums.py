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
