"""site.yml and reset.yml on the lab, for both kinds of cluster.

kubeadm, kubelet and k3s are the lab's doubles (tests/lab/doubles.yml), installed through the
roles' offline path; everything else runs for real on the nodes. For each kind, plan.yml renders
the inventory first, touching no node; site.yml then converges, and every file the render holds
must be, byte for byte, what the converge wrote (plan.yml and site.yml are one code path). A
second converge changes nothing, reset.yml takes the nodes back (the collection's files, the
cluster's firewall chains), and a second reset changes nothing.

The render is compared on the node (podman exec) or, for the Calico manifest, where the converge
leaves it on the controller. The one file the node does not keep is a worker's kubeadm join
configuration (it holds the token and is removed after the join); the kubeadm double records
the documents it joined with, and those must equal the rendered ones but for the token and the
CA hash, which the render cannot know.
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
KINDS = {
    'lab-kubeadm': ['dslab-1', 'dslab-2'],
    'lab-k3s': ['dslab-3', 'dslab-4'],
}
# What the roles leave on each node, and reset.yml must take away.
COMMON = ['/etc/sysctl.d/90-dualstack-kubernetes.conf']
CLUSTER_FILES = {
    'dslab-1': COMMON + ['/etc/kubernetes/admin.conf', '/usr/local/bin/kubeadm', '/usr/local/bin/kubelet',
                         '/etc/systemd/system/kubelet.service'],
    'dslab-2': COMMON + ['/etc/kubernetes/kubelet.conf', '/usr/local/bin/kubeadm', '/usr/local/bin/kubelet',
                         '/etc/systemd/system/kubelet.service'],
    'dslab-3': COMMON + ['/etc/rancher/k3s/config.yaml', '/usr/local/bin/k3s', '/etc/systemd/system/k3s.service',
                         '/etc/systemd/system/k3s.service.env'],
    'dslab-4': COMMON + ['/etc/rancher/k3s/config.yaml', '/usr/local/bin/k3s', '/etc/systemd/system/k3s-agent.service',
                         '/etc/systemd/system/k3s-agent.service.env'],
}
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

RECAP = re.compile(r'^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def playbook(inventory: str, path: str, *extra: str) -> dict[str, dict[str, int]]:
    result = subprocess.run(['ansible-playbook', '-i', f'inventories/{inventory}', path, *extra],
                            cwd=REPO, capture_output=True, text=True, check=False)
    # Ansible's own error lines first, so that the first words of a failure say what broke.
    errors = ' | '.join(re.findall(r'^(?:\[ERROR\]|fatal:).*$', result.stdout + result.stderr, re.M))
    assert result.returncode == 0, (f'{path} on {inventory} failed: {errors}\n'
                                    f'{result.stdout[-6000:]}\n{result.stderr[-2000:]}')
    return {host: {'ok': int(ok), 'changed': int(changed), 'unreachable': int(unreach), 'failed': int(failed)}
            for host, ok, changed, unreach, failed in RECAP.findall(result.stdout)}


def node(host: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(['podman', 'exec', host, *command], capture_output=True, text=True, check=False)


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


def compare_render(inventory: str, rendered: pathlib.Path) -> None:
    """Every file plan.yml rendered against its copy after the first converge."""
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


@pytest.mark.parametrize('inventory', sorted(KINDS))
def test_site_converges_as_rendered_idempotently_and_reset_takes_the_nodes_back(
        dslab: None, inventory: str, shared: pathlib.Path, tmp_path: pathlib.Path) -> None:
    # The lab inventories install Calico from the upstream manifest in the shared folder.
    assert (shared / 'manifests' / 'calico' / 'calico-v3.30.7.yaml').is_file()
    assert os.environ.get('DUALSTACK_SHARED') == str(shared), 'the inventories read DUALSTACK_SHARED (tests/env.sh)'
    hosts = KINDS[inventory]
    playbook(inventory, 'tests/lab/doubles.yml')
    rendered = tmp_path / 'render'
    playbook(inventory, 'playbooks/plan.yml', '-e', f'dualstack_render_dir={rendered}')
    # The render touches no node: nothing of the cluster is there before site.yml.
    for name, (host, path) in COPIES[inventory].items():
        if host is not None:
            assert node(host, 'test', '-e', str(path)).returncode != 0, f'plan.yml wrote {path} on {host}'
    for copy in CALICO.glob('calico-dualstack*.yaml'):
        copy.unlink()

    # The admin kubeconfig goes to a folder the controller does not have yet, as on a new
    # checkout: the roles make it, private, and write the kubeconfig 0600.
    kubeconfig = tmp_path / 'new' / 'admin.conf'
    where = ['-e', f'k3s_server_kubeconfig_path={kubeconfig}',
             '-e', f'kubeadm_master_kubeconfig_fetch_path={kubeconfig}']
    first = playbook(inventory, 'playbooks/site.yml', *where)
    assert sorted(first) == hosts and all(first[h]['changed'] > 0 for h in hosts), first
    assert kubeconfig.parent.stat().st_mode & 0o777 == 0o700
    assert kubeconfig.stat().st_mode & 0o777 == 0o600
    clusters = yaml.safe_load(kubeconfig.read_text(encoding='utf-8'))['clusters']
    assert clusters[0]['cluster']['server'].startswith('https://'), clusters
    compare_render(inventory, rendered)
    second = playbook(inventory, 'playbooks/site.yml', *where)
    assert {h: second[h]['changed'] for h in hosts} == {h: 0 for h in hosts}, second
    for host in hosts:
        for path in CLUSTER_FILES[host]:
            assert node(host, 'test', '-e', path).returncode == 0, f'{path} missing on {host} after site.yml'

    # The kubeconfig tag runs the admin kubeconfig's tasks alone: a lost copy comes back,
    # and nothing on any node changes.
    kubeconfig.unlink()
    tagged = playbook(inventory, 'playbooks/site.yml', *where, '--tags', 'kubeconfig')
    assert kubeconfig.stat().st_mode & 0o777 == 0o600
    assert {h: tagged[h]['changed'] for h in hosts} == {hosts[0]: 1, hosts[1]: 0}, tagged

    # What a running cluster leaves in the firewall: chains of kube-proxy and Calico with
    # jumps to them, beside a chain of the node's own that reset must keep.
    for host in hosts:
        for tool in ('iptables', 'ip6tables'):
            for args in (['-N', 'KUBE-SERVICES'], ['-A', 'FORWARD', '-j', 'KUBE-SERVICES'],
                         ['-t', 'nat', '-N', 'cali-nat-outgoing'],
                         ['-t', 'nat', '-A', 'POSTROUTING', '-j', 'cali-nat-outgoing'],
                         ['-N', 'SITE-KEEP'], ['-A', 'INPUT', '-j', 'SITE-KEEP']):
                assert node(host, tool, *args).returncode == 0

    for host in hosts:
        assert node(host, 'pgrep', '-f', '/usr/local/bin/(k3s|kubelet)').returncode == 0, f'no cluster service on {host}'
    reset = playbook(inventory, 'playbooks/reset.yml')
    assert all(reset[h]['changed'] > 0 for h in hosts), reset
    for host in hosts:
        for path in CLUSTER_FILES[host]:
            assert node(host, 'test', '-e', path).returncode != 0, f'{path} left on {host} after reset.yml'
        # The services were stopped, not just their files removed.
        running = node(host, 'pgrep', '-af', '/usr/local/bin/(k3s|kubelet)')
        assert running.returncode == 1, f'still running on {host} after reset.yml: {running.stdout}'
        for tool in ('iptables', 'ip6tables'):
            rules = node(host, f'{tool}-save').stdout
            assert 'KUBE-SERVICES' not in rules and 'cali-nat-outgoing' not in rules, rules
            assert '-A INPUT -j SITE-KEEP' in rules, f'{tool} lost the node\'s own chain on {host}'
    again = playbook(inventory, 'playbooks/reset.yml')
    assert {h: again[h]['changed'] for h in hosts} == {h: 0 for h in hosts}, again
