# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ula_prefix filter: a stable prefix for a seed, a random one without."""

from __future__ import annotations

import ipaddress

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dualstack.kubernetes.plugins.filter.ula_prefix import FilterModule

ula_prefix = FilterModule().filters()["ula_prefix"]
ULA = ipaddress.ip_network("fd00::/8")


def test_seed_gives_the_same_rfc4193_48_every_time():
    prefix = ula_prefix("prod-cluster-1")
    assert prefix == ula_prefix("prod-cluster-1")
    network = ipaddress.ip_network(prefix)
    assert network.prefixlen == 48 and network.subnet_of(ULA)
    assert str(network) == prefix


def test_numbers_are_seeds_like_their_text():
    assert ula_prefix(42) == ula_prefix("42")


@pytest.mark.parametrize("empty", [None, ""])
def test_no_seed_gives_a_random_prefix(empty):
    prefixes = {ula_prefix(empty) for attempt in range(16)}
    assert len(prefixes) == 16
    assert all(ipaddress.ip_network(p).subnet_of(ULA) for p in prefixes)


@pytest.mark.parametrize("seed", [["a"], {"a": 1}])
def test_a_seed_that_is_no_text_is_refused(seed):
    with pytest.raises(AnsibleFilterError, match="the seed must be a string"):
        ula_prefix(seed)
