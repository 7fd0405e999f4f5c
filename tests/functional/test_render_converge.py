"""plan.yml and site.yml are one code path: what plan.yml renders for a lab inventory is, byte
for byte, what site.yml then writes when it converges the same inventory on the lab.

Every configuration file the render holds is compared with its converged copy: on the node
(podman exec) or, for the Calico manifest, where the converge leaves it on the controller.
The one file the node does not keep is a worker's kubeadm join configuration (it holds the
token and is removed after the join); the kubeadm double records the documents it joined
with, and those must equal the rendered ones but for the token and the CA hash, which the
render cannot know.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
CALICO = REPO / '.lab' / 'render'
# Rendered file -> (node, path on the node) or (None, path on the controller).
COPIES = {
    'lab-kubeadm': {
        'kubeadm/dslab-1.yaml': ('dslab-1', '/etc/kubernetes/kubeadm-config.yaml'),
        'calico/calico-dualstack.yaml': (None, CALICO / 'calico-dualstack.yaml'),
    },
    'lab-k3s': {
        'k3s/dslab-3/config.yaml': ('dslab-3', '/etc/rancher/k3s/config.yaml'),
        'k3s/dslab-4/config.yaml': ('dslab-4', '/etc/rancher/k3s/config.yaml'),
        'traefik/traefik-dualstack.yaml': ('dslab-3', '/var/lib/rancher/k3s/server/manifests/traefik-dualstack.yaml'),
        'calico/calico-dualstack.yaml': (None, CALICO / 'calico-dualstack-k3s.yaml'),
    },
}
JOINED = {'lab-kubeadm': {'kubeadm/dslab-2.yaml': 'dslab-2'}, 'lab-k3s': {}}
REPORT = {'address-plan.md', 'address-plan.svg', 'address-plan.png'}


def playbook(inventory: str, path: str, *extra: str) -> None:
    result = subprocess.run(['ansible-playbook', '-i', f'inventories/{inventory}', path, *extra],
                            cwd=REPO, capture_output=True, text=True, check=False)
    errors = ' | '.join(re.findall(r'^(?:\[ERROR\]|fatal:).*$', result.stdout + result.stderr, re.M))
    assert result.returncode == 0, (f'{path} on {inventory} failed: {errors}\n'
                                    f'{result.stdout[-6000:]}\n{result.stderr[-2000:]}')


def on_node(host: str, path: str) -> bytes:
    result = subprocess.run(['podman', 'exec', host, 'cat', path], capture_output=True, check=False)
    assert result.returncode == 0, f'{path} is not on {host}: {result.stderr.decode(errors="replace")}'
    return result.stdout


def without_secrets(documents: list) -> list:
    """The join documents with the token and the CA hash blanked, which only a running control plane has."""
    documents = json.loads(json.dumps(documents))
    for document in documents:
        bootstrap = (document.get('discovery') or {}).get('bootstrapToken') or {}
        for key in ('token', 'caCertHashes'):
            if key in bootstrap:
                bootstrap[key] = '(secret)'
    return documents


@pytest.mark.parametrize('inventory', sorted(COPIES))
def test_the_rendered_plan_is_what_the_converge_writes(dslab: None, inventory: str, shared: pathlib.Path,
                                                       tmp_path: pathlib.Path) -> None:
    assert os.environ.get('DUALSTACK_SHARED') == str(shared), 'the inventories read DUALSTACK_SHARED (tests/env.sh)'
    playbook(inventory, 'tests/lab/doubles.yml')
    rendered = tmp_path / 'render'
    playbook(inventory, 'playbooks/plan.yml', '-e', f'dualstack_render_dir={rendered}')
    # The render touches no node: nothing of the cluster is there before site.yml.
    for name, (host, path) in COPIES[inventory].items():
        if host is not None:
            assert subprocess.run(['podman', 'exec', host, 'test', '-e', str(path)], check=False).returncode != 0, \
                f'plan.yml wrote {path} on {host}'
    for copy in CALICO.glob('calico-dualstack*.yaml'):
        copy.unlink()

    playbook(inventory, 'playbooks/site.yml')

    files = {str(p.relative_to(rendered)) for p in rendered.rglob('*') if p.is_file()} - REPORT
    assert files == set(COPIES[inventory]) | set(JOINED[inventory]), 'every rendered file is compared below'
    for name, (host, path) in COPIES[inventory].items():
        converged = on_node(host, str(path)) if host is not None else pathlib.Path(path).read_bytes()
        assert (rendered / name).read_bytes() == converged, f'{name} differs from {path} after site.yml'
    for name, host in JOINED[inventory].items():
        calls = [json.loads(line) for line in on_node(host, '/var/log/k8s-double/calls.jsonl').splitlines()]
        joins = [call['documents'] for call in calls if call.get('command') == 'join' and call.get('result') == 'accepted']
        assert len(joins) == 1, calls
        documents = [doc for doc in yaml.safe_load_all((rendered / name).read_text(encoding='utf-8')) if doc]
        assert without_secrets(documents) == without_secrets(joins[0])
