"""The README's main job (`make run`) from a clone in an empty folder, with nothing beside it:
it renders what it can, builds and converges the lab, exits 0, and its last lines name what
it skipped and why.

It starts the lab nodes of inventories/lab-kubeadm and lab-k3s (dslab-1..4). Molecule runs
beside pytest in tests/run: the first test here checks that no scenario uses those names or
addresses. The other pytest tests run one after another, and the one that uses the same nodes
(test_site_lab.py) removes them before it starts."""
from __future__ import annotations

import ipaddress
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
LAB_INVENTORIES = [REPO / 'inventories' / name for name in ('lab-kubeadm', 'lab-k3s')]


def lab_nodes() -> dict:
    """Name to addresses of every node the main job starts."""
    nodes = {}
    for inventory in LAB_INVENTORIES:
        for group in yaml.safe_load((inventory / 'hosts.yml').read_text(encoding='utf-8')).values():
            for name, host in group['hosts'].items():
                nodes[name] = {ipaddress.ip_address(host['address_plan_node_ipv4']),
                               ipaddress.ip_address(host['address_plan_node_ipv6'])}
    return nodes


def test_no_molecule_scenario_uses_the_main_jobs_lab_nodes() -> None:
    nodes = lab_nodes()
    taken = set().union(*nodes.values())
    assert len(nodes) == 4 and len(taken) == 8
    for scenario in sorted((REPO / 'molecule').glob('*/molecule.yml')):
        config = yaml.safe_load(scenario.read_text(encoding='utf-8'))
        for platform in config.get('platforms', []):
            assert platform['name'] not in nodes, (scenario, platform['name'])
            addresses = [platform['ip']] if 'ip' in platform else []
            addresses += [opt.split('=', 1)[1] for opt in platform.get('extra_opts', []) if opt.startswith('--ip6=')]
            for address in addresses:
                assert ipaddress.ip_address(address) not in taken, (scenario, platform['name'], address)


def test_main_job_from_a_bare_clone(tmp_path: pathlib.Path) -> None:
    for program in ('git', 'make', 'podman'):
        if shutil.which(program) is None:
            pytest.skip(f'{program} is not installed: the main job from a clone needs git, make and podman')
    if subprocess.run(['git', '-C', str(REPO), 'rev-parse', 'HEAD'], capture_output=True, check=False).returncode != 0:
        pytest.skip(f'{REPO} is not a git checkout: there is nothing to clone')
    clone = tmp_path / 'empty' / 'dualstack-kubernetes'
    subprocess.run(['git', 'clone', '--quiet', str(REPO), str(clone)], check=True, timeout=300)
    assert sorted(p.name for p in clone.parent.iterdir()) == ['dualstack-kubernetes']
    # Nothing beside the clone: no shared folder; the virtualenv is this one, already installed
    # from the same pinned requirements (installing it again would test pip, not the job).
    # Nor a make above it: under `make test` the inherited MAKELEVEL would make the inner make
    # print its "Leaving directory" line after the job's own last lines.
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(('ANSIBLE_', 'DUALSTACK_', 'MOLECULE_')) and key not in ('MAKELEVEL', 'MAKEFLAGS', 'MFLAGS')}
    env.update(DUALSTACK_VENV=sys.prefix, DUALSTACK_SHARED=str(clone.parent / 'shared'), ANSIBLE_FORCE_COLOR='0',
               ANSIBLE_NOCOLOR='1')
    try:
        run = subprocess.run(['make', 'run'], cwd=clone, env=env, capture_output=True, text=True, timeout=2400, check=False)
    finally:
        subprocess.run([str(clone / 'tests' / 'lab' / 'lab.sh'), 'down', '-p', 'dslab'], capture_output=True, check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-12000:]
    lines = run.stdout.rstrip('\n').splitlines()
    # The steps show as they start, with the time spent so far.
    assert any(line.startswith('==== [') and 'site.yml on inventories/lab-k3s' in line for line in lines), output[-6000:]
    for inventory in ('kubeadm-article', 'k3s-article'):
        render = clone / 'render' / inventory
        assert (render / 'address-plan.md').is_file() and (render / 'address-plan.svg').is_file()
    assert (clone / 'render' / 'kubeadm-article' / 'kubeadm' / 'master.yaml').is_file()
    assert (clone / 'render' / 'k3s-article' / 'k3s' / 'k3s-server' / 'config.yaml').is_file()
    assert (clone / 'render' / 'k3s-article' / 'traefik' / 'svclb-traefik.yaml').is_file()
    # Calico 3.15.1, which both articles pin, has no recorded checksum and no copy beside the
    # clone: the last lines say so, naming the file that was not written and the variables.
    skipped = [line for line in lines if line.startswith('skipped: ')]
    assert skipped and lines[-len(skipped):] == skipped, lines[-10:]
    for inventory in ('kubeadm-article', 'k3s-article'):
        line = next((s for s in skipped if f'/render/{inventory}/calico/calico-dualstack.yaml' in s), None)
        assert line is not None, skipped
        assert 'Calico 3.15.1' in line and 'calico_dualstack_manifest_checksum' in line and 'calico_dualstack_manifest_src' in line
    # The lab's Calico 3.30.7 has a recorded checksum: downloaded where the internet answers,
    # otherwise named as skipped too.
    lab_note = clone / '.lab' / 'render' / 'calico-dualstack.yaml.skipped'
    if lab_note.exists():
        assert any('could not be downloaded' in s and 'calico_dualstack_manifest_src' in s for s in skipped), skipped
    else:
        assert (clone / '.lab' / 'render' / 'calico-dualstack.yaml').is_file()
