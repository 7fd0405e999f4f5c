"""A secret planted in every input that takes one never reaches the output of plan.yml or
site.yml (with --diff and -vvv) or a file others can read, while the files that need it do
hold it. site.yml runs on two lab nodes of their own (k3s is the lab's double)."""
from __future__ import annotations

import base64
import binascii
import json
import pathlib
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
LAB = REPO / 'tests' / 'lab' / 'lab.sh'
LAB_PREFIX = 'dssecret'
LAB_FIRST = 91
PLANTED = 'Pl4ntedSecretValue7f3a9c'
# Every k3s extra-config key that carries a credential, and a component argument with one.
SERVER_EXTRA = {
    'datastore-endpoint': f'postgres://k3s:{PLANTED}@db.example.internal:5432/k3s',
    'etcd-s3-access-key': f'AK{PLANTED}',
    'etcd-s3-secret-key': f'SK{PLANTED}',
    'vpn-auth': f'name=tailscale,joinKey={PLANTED}',
    'kube-apiserver-arg': [f'oidc-client-secret={PLANTED}', 'audit-log-maxage=7'],
    'node-label': ['plan=secrets'],
}
AGENT_EXTRA = {'vpn-auth': f'name=tailscale,joinKey={PLANTED}', 'kubelet-arg': [f'bootstrap-token={PLANTED}'],
               'node-label': ['plan=agent']}


def assert_no_secret_in(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert PLANTED not in output, 'the planted secret is in the output: ' + output[
        max(0, output.find(PLANTED) - 400):output.find(PLANTED) + 100]
    # A file read back with slurp would show up base64-encoded.
    for encoded in re.findall(r'"content": "([A-Za-z0-9+/=]{16,})"', output):
        try:
            decoded = base64.b64decode(encoded).decode('utf-8', 'replace')
        except (binascii.Error, ValueError):
            continue
        assert PLANTED not in decoded, 'a file holding the secret was logged base64-encoded'


def secrets_file(tmp_path: pathlib.Path, **more: object) -> pathlib.Path:
    extra = tmp_path / 'secrets.json'
    extra.write_text(json.dumps(dict(
        more, k3s_server_token=f'K10{PLANTED}', k3s_agent_token=f'K10{PLANTED}',
        k3s_server_extra_config=SERVER_EXTRA, k3s_agent_extra_config=AGENT_EXTRA)))
    extra.chmod(0o600)
    return extra


def inventory_with_an_agent(tmp_path: pathlib.Path) -> pathlib.Path:
    inventory = tmp_path / 'inventory'
    shutil.copytree(REPO / 'inventories' / 'k3s-article', inventory)
    hosts = yaml.safe_load((inventory / 'hosts.yml').read_text())
    hosts['k3s_agents'] = {'hosts': {'k3s-agent': {
        'ansible_host': '192.168.0.16', 'address_plan_node_ipv4': '192.168.0.16',
        'address_plan_node_ipv6': 'fd45:a71:55a6:1::16'}}}
    (inventory / 'hosts.yml').write_text(yaml.safe_dump(hosts))
    return inventory


def test_plan_yml_keeps_planted_secrets_out_of_its_output_and_of_readable_files(
        tmp_path: pathlib.Path, shared: pathlib.Path) -> None:
    out = tmp_path / 'render'
    extra = secrets_file(tmp_path, dualstack_render_dir=str(out),
                         calico_dualstack_manifest_src=str(shared / 'manifests' / 'calico' / 'calico-v3.15.1.yaml'))
    result = subprocess.run(
        ['ansible-playbook', '-i', str(inventory_with_an_agent(tmp_path)), 'playbooks/plan.yml',
         '--diff', '-vvv', '-e', f'@{extra}'],
        cwd=REPO, capture_output=True, text=True, check=False)
    assert_no_secret_in(result)

    holding = []
    for path in sorted(p for p in out.rglob('*') if p.is_file()):
        mode = stat.S_IMODE(path.stat().st_mode)
        if PLANTED in path.read_text(errors='replace'):
            holding.append(path.relative_to(out).as_posix())
            assert mode & 0o077 == 0, f'{path} holds the secret with mode {mode:o}'
    # The check is not vacuous: the node configurations hold every secret, and only they do.
    assert holding == ['k3s/k3s-agent/config.yaml', 'k3s/k3s-server/config.yaml']
    server = yaml.safe_load((out / 'k3s/k3s-server/config.yaml').read_text())
    for key in ('datastore-endpoint', 'etcd-s3-access-key', 'etcd-s3-secret-key', 'vpn-auth'):
        assert server[key] == SERVER_EXTRA[key]
    assert f'oidc-client-secret={PLANTED}' in server['kube-apiserver-arg']
    agent = yaml.safe_load((out / 'k3s/k3s-agent/config.yaml').read_text())
    assert agent['vpn-auth'] == AGENT_EXTRA['vpn-auth']
    # After what the role writes itself (the svclb pods' sysctl allowance, where servicelb is off).
    assert agent['kubelet-arg'][-1] == f'bootstrap-token={PLANTED}'


def lab_node(host: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(['podman', 'exec', host, *command], capture_output=True, text=True, check=False)


@pytest.fixture(scope='module')
def lab_nodes() -> Iterator[list[str]]:
    if shutil.which('podman') is None:
        pytest.skip('podman is not installed: tests/lab/lab.sh prepare installs it on Debian as root')
    subprocess.run([str(LAB), 'down', '-p', LAB_PREFIX], check=False, capture_output=True)
    up = subprocess.run([str(LAB), 'up', '-n', '2', '-p', LAB_PREFIX, '-f', str(LAB_FIRST)],
                        capture_output=True, text=True, check=False)
    assert up.returncode == 0, up.stderr
    try:
        yield [f'{LAB_PREFIX}-1', f'{LAB_PREFIX}-2']
    finally:
        subprocess.run([str(LAB), 'down', '-p', LAB_PREFIX], check=False, capture_output=True)


def test_site_yml_keeps_planted_secrets_out_of_its_output_and_of_readable_files(
        lab_nodes: list[str], tmp_path: pathlib.Path, shared: pathlib.Path) -> None:
    server, agent = lab_nodes
    inventory = tmp_path / 'inventory'
    shutil.copytree(REPO / 'inventories' / 'lab-k3s', inventory)
    (inventory / 'hosts.yml').write_text(yaml.safe_dump({
        'k3s_servers': {'hosts': {server: {'address_plan_node_ipv4': f'10.250.0.{LAB_FIRST}',
                                           'address_plan_node_ipv6': f'fd42:1ab:250::{LAB_FIRST}'}}},
        'k3s_agents': {'hosts': {agent: {'address_plan_node_ipv4': f'10.250.0.{LAB_FIRST + 1}',
                                         'address_plan_node_ipv6': f'fd42:1ab:250::{LAB_FIRST + 1}'}}},
    }))
    # The lab inventory's paths, moved out of the checkout's shared .lab folder.
    extra = secrets_file(tmp_path, lab_repo=str(REPO), k3s_server_kubeconfig_path=str(tmp_path / 'k3s.yaml'),
                         calico_dualstack_manifest_dest=str(tmp_path / 'calico-dualstack.yaml'))
    doubles = subprocess.run(['ansible-playbook', '-i', str(inventory), 'tests/lab/doubles.yml', '-e', f'@{extra}'],
                             cwd=REPO, capture_output=True, text=True, check=False)
    assert doubles.returncode == 0, doubles.stdout[-3000:]
    result = subprocess.run(['ansible-playbook', '-i', str(inventory), 'playbooks/site.yml', '--diff', '-vvv',
                             '-e', f'@{extra}'], cwd=REPO, capture_output=True, text=True, check=False)
    assert_no_secret_in(result)

    for host, wanted in ((server, SERVER_EXTRA), (agent, AGENT_EXTRA)):
        found = lab_node(host, 'grep', '-rlF', PLANTED, '/etc', '/var/lib/rancher', '/usr/local', '/root', '/tmp',
                         '/var/log', '/run')
        files = sorted(found.stdout.split())
        assert '/etc/rancher/k3s/config.yaml' in files, (host, files)
        for path in files:
            mode = int(lab_node(host, 'stat', '-c', '%a', path).stdout.strip(), 8)
            assert mode & 0o077 == 0, f'{host}:{path} holds the secret with mode {mode:o}'
        config = yaml.safe_load(lab_node(host, 'cat', '/etc/rancher/k3s/config.yaml').stdout)
        for key, value in wanted.items():
            if not isinstance(value, list):
                assert config[key] == value, (host, key)
    for path in tmp_path.rglob('*'):
        if path.is_file() and path.name != 'secrets.json' and PLANTED in path.read_text(errors='replace'):
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
