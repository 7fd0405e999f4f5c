"""Runs each integration target under tests/integration/targets on fresh lab nodes.

The contract (one test per target folder, the `nodes` file, the wrapper play and its
variables) is described in tests/integration/README.md.
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
TARGETS = REPO / 'tests' / 'integration' / 'targets'
LAB = REPO / 'tests' / 'lab' / 'lab.sh'
PREFIX = 'dsint'
FIRST_HOST = 21
MAX_NODES = 9
PLAY_TIMEOUT = 1200


def target_names() -> list[str]:
    if not TARGETS.is_dir():
        return []
    return sorted(p.name for p in TARGETS.iterdir() if (p / 'tasks' / 'main.yml').is_file())


def node_count(target: pathlib.Path) -> int:
    wanted = target / 'nodes'
    if not wanted.is_file():
        return 1
    count = int(wanted.read_text(encoding='utf-8').split()[0])
    if not 1 <= count <= MAX_NODES:
        raise ValueError(f'{wanted}: {count} nodes; a target may ask for 1 to {MAX_NODES}')
    return count


def lab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LAB), *args], cwd=REPO, capture_output=True, text=True, check=False)


@pytest.fixture(scope='module')
def lab_ready() -> None:
    if shutil.which('podman') is None and shutil.which('apt-get') is None:
        pytest.skip('no podman and no apt-get to install it: the lab cannot run here')
    if shutil.which('ansible-playbook') is None:
        pytest.skip('ansible-playbook is not on PATH: source tests/env.sh first')
    prepared = lab('prepare')
    assert prepared.returncode == 0, f'lab.sh prepare failed:\n{prepared.stderr}'


@pytest.mark.parametrize('name', target_names())
def test_integration_target(name: str, lab_ready: None, tmp_path: pathlib.Path) -> None:
    target = TARGETS / name
    count = node_count(target)
    inventory = tmp_path / 'inventory.yml'
    nodes = [f'{PREFIX}-{i}' for i in range(1, count + 1)]
    # A wrapper play: the target is a role, so its files/ and templates/ resolve as usual.
    play = [{
        'name': f'Integration target {name}',
        'hosts': nodes[0],
        'gather_facts': False,
        'vars': {'integration_nodes': nodes, 'integration_target': name},
        'roles': [{'role': str(target)}],
    }]
    playbook = tmp_path / 'play.yml'
    playbook.write_text(json.dumps(play), encoding='utf-8')
    lab('down', '-p', PREFIX)
    try:
        up = lab('up', '-n', str(count), '-p', PREFIX, '-f', str(FIRST_HOST), '-i', str(inventory))
        assert up.returncode == 0, f'lab.sh up failed:\n{up.stderr}'
        env = dict(os.environ, ANSIBLE_FORCE_COLOR='0', ANSIBLE_NOCOLOR='1')
        run = subprocess.run(
            ['ansible-playbook', '-i', str(inventory), str(playbook)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=PLAY_TIMEOUT, check=False)
        assert run.returncode == 0, f'target {name} failed (rc {run.returncode}):\n{run.stdout[-12000:]}\n{run.stderr[-4000:]}'
    finally:
        lab('down', '-p', PREFIX, '-i', str(inventory))
