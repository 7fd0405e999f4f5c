# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recorded checksums of upstream release files: their shape and the lookups the roles use."""
from __future__ import annotations

import re

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import release_checksums as rc
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError


def test_every_recorded_k3s_sum_is_a_sha256_of_a_known_architecture():
    assert rc.K3S_BINARY_SHA256
    for tag, sums in rc.K3S_BINARY_SHA256.items():
        assert re.match(r"^v\d+\.\d+\.\d+\+k3s\d+$", tag), tag
        for arch, digest in sums.items():
            assert arch in rc.K3S_ASSET_SUFFIX, (tag, arch)
            assert re.match(r"^[0-9a-f]{64}$", digest), (tag, arch, digest)
        # One architecture's binary is not another's.
        assert len(set(sums.values())) == len(sums), tag


def test_lookup_of_a_recorded_release():
    assert rc.k3s_binary_sha256("v1.31.2+k3s1", "amd64") == rc.K3S_BINARY_SHA256["v1.31.2+k3s1"]["amd64"]
    assert "v1.31.2+k3s1" in rc.known_k3s_releases("arm64")


def test_unrecorded_release_or_architecture_gives_nothing():
    assert rc.k3s_binary_sha256("v1.21.4+k3s1", "amd64") == ""
    assert rc.k3s_binary_sha256("v1.31.2+k3s1", "s390x") == ""


@pytest.mark.parametrize("arch, asset", [("amd64", "k3s"), ("arm64", "k3s-arm64"), ("arm", "k3s-armhf")])
def test_asset_names(arch, asset):
    assert rc.k3s_binary_asset(arch) == asset


def test_unknown_architecture_is_named():
    with pytest.raises(DualstackError, match="the k3s architecture: riscv64 is not one k3s releases binaries for. Use one of amd64, arm, arm64"):
        rc.k3s_binary_asset("riscv64")
