"""Shared fixtures: where the repository and the read-only shared material are."""
from __future__ import annotations

import os
import pathlib

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
