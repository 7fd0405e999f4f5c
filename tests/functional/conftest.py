"""Shared fixtures: where the repository and the read-only shared material are, and the lab's
four fresh nodes of prefix dslab."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
from typing import Iterator

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope='session')
def repo() -> pathlib.Path:
    return REPO


@pytest.fixture(scope='session')
def shared() -> pathlib.Path:
    # DUALSTACK_SHARED (tests/env.sh sets it), else beside the checkout.
    path = pathlib.Path(os.environ.get('DUALSTACK_SHARED') or REPO.parent / 'shared')
    if not path.is_dir():
        pytest.skip(f'the shared material is not beside this checkout ({path} is absent)')
    return path


@pytest.fixture(scope='module')
def dslab() -> Iterator[None]:
    """Four lab nodes (dslab-1 to dslab-4) the collection never touched, removed afterwards."""
    if shutil.which('podman') is None:
        pytest.skip('podman is not installed: tests/lab/lab.sh prepare installs it on Debian as root')
    lab = REPO / 'tests' / 'lab' / 'lab.sh'
    subprocess.run([str(lab), 'down', '-p', 'dslab'], check=False)
    subprocess.run([str(lab), 'up', '-n', '4', '-p', 'dslab', '-f', '11'], check=True)
    try:
        yield
    finally:
        subprocess.run([str(lab), 'down', '-p', 'dslab'], check=False)
