"""A secret planted in every input that takes one never reaches plan.yml's output (with --diff
and -vvv) or a file others can read, while the files that need it do hold it."""
from __future__ import annotations

import base64
import binascii
import json
import pathlib
import re
import shutil
import stat
import subprocess

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
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
AGENT_EXTRA = {'etcd-s3-session-token': f'ST{PLANTED}', 'kubelet-arg': [f'bootstrap-token={PLANTED}'],
               'node-label': ['plan=agent']}


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
    extra = tmp_path / 'secrets.json'
    extra.write_text(json.dumps({
        'dualstack_render_dir': str(out),
        'calico_dualstack_manifest_src': str(shared / 'manifests' / 'calico' / 'calico-v3.15.1.yaml'),
        'k3s_server_token': f'K10{PLANTED}', 'k3s_agent_token': f'K10{PLANTED}',
        'k3s_server_extra_config': SERVER_EXTRA, 'k3s_agent_extra_config': AGENT_EXTRA,
    }))
    extra.chmod(0o600)
    result = subprocess.run(
        ['ansible-playbook', '-i', str(inventory_with_an_agent(tmp_path)), 'playbooks/plan.yml',
         '--diff', '-vvv', '-e', f'@{extra}'],
        cwd=REPO, capture_output=True, text=True, check=False)
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
    assert agent['etcd-s3-session-token'] == AGENT_EXTRA['etcd-s3-session-token']
    assert agent['kubelet-arg'] == [f'bootstrap-token={PLANTED}']
