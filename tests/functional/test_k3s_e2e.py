# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Molecule scenario k3s-e2e runs the real k3s in the lab; it needs to download it."""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def github_reachable() -> bool:
    try:
        with socket.create_connection(("github.com", 443), timeout=5):
            return True
    except OSError:
        return False


def test_real_k3s_server_and_agent_in_the_lab():
    if not github_reachable():
        pytest.skip("k3s-e2e downloads the real k3s from github.com, which this machine cannot "
                    "reach; it runs on machines with internet access (molecule test -s k3s-e2e)")
    result = subprocess.run(["molecule", "test", "-s", "k3s-e2e"], cwd=REPO, timeout=3600,
                            check=False, env=dict(os.environ))
    assert result.returncode == 0
