# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dualstack.kubernetes.plugins.filter.release_checksums import FilterModule

FILTERS = FilterModule().filters()


def test_sha256_and_asset_of_the_lab_release():
    digest = FILTERS["k3s_binary_sha256"]("v1.31.2+k3s1", "arm")
    assert len(digest) == 64 and digest != FILTERS["k3s_binary_sha256"]("v1.31.2+k3s1")
    assert FILTERS["k3s_binary_asset"]("arm") == "k3s-armhf"


def test_unknown_architecture_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="riscv64"):
        FILTERS["k3s_binary_asset"]("riscv64")
