"""The kubeadm-e2e Molecule scenario: the kubeadm roles with the real binaries.

It needs the internet (pkgs.k8s.io, registry.k8s.io) and the pinned checksum of the repository
key; where either is missing the scenario's own check says so and this test is skipped with
that message.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCENARIO = REPO / "molecule" / "kubeadm-e2e"


def test_kubeadm_e2e_scenario():
    check = subprocess.run([sys.executable, str(SCENARIO / "reachable.py")], capture_output=True, text=True,
                           check=False)
    if check.returncode == 3:
        pytest.skip(check.stdout.strip())
    assert check.returncode == 0, check.stdout + check.stderr
    if not shutil.which("podman"):
        pytest.skip("podman is not installed, so there is no lab to run kubeadm-e2e in")
    result = subprocess.run(["molecule", "test", "-s", "kubeadm-e2e"], cwd=REPO, env=dict(os.environ),
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
