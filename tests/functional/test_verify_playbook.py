"""playbooks/verify.yml: it parses, and it runs end to end on this machine against
stand-ins for kubectl, ip, ip6tables and ping that print the kubeadm article's outputs
(tests/functional/stand_ins/verify/), so the table it ends with can be checked."""
from __future__ import annotations

import http.server
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import threading
import types
from collections.abc import Mapping

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / 'playbooks' / 'verify.yml'
STAND_INS = REPO / 'tests' / 'functional' / 'stand_ins' / 'verify'
INVENTORIES = sorted(p for p in (REPO / 'inventories').glob('*') if p.is_dir()) if (REPO / 'inventories').is_dir() else []

# The kubeadm article's plan, except that the Service CIDRs are the loopback networks:
# the stand-in test Service's clusterIPs are 127.0.0.1 and ::1, where this test serves HTTP.
PLAN = {
    'distribution': 'kubeadm', 'kubernetes_version': '1.31.2', 'k3s_version': None, 'primary_family': 'ipv4',
    'families': ['ipv4', 'ipv6'], 'pod_cidrs': ['10.244.0.0/16', 'fd00:1::/48'], 'service_cidrs': ['127.0.0.0/8', '::1/128'],
    'nodes': {
        'master': {'ipv4': '192.168.1.11', 'ipv6': '2001:db8::11', 'node_ip': '192.168.1.11,2001:db8::11'},
        'worker': {'ipv4': '192.168.1.12', 'ipv6': '2001:db8::12', 'node_ip': '192.168.1.12,2001:db8::12'},
    },
    'calico': {'version': '3.30.7', 'ipv4_pool_cidr': '10.244.0.0/16', 'ipv6_pool_cidr': 'fd00:1::/48'},
    # What the planner decides for Kubernetes 1.31.2 and Calico 3.30.7.
    'decisions': {'service_ip_families': True, 'node_ip_pair': True, 'calico_mtu_auto': True, 'calico_ipv6_vxlan': True},
}
# Read-only, so that it can be a default argument.
DEFAULT_PLAN = types.MappingProxyType(PLAN)


def ansible_env(**extra: str) -> dict:
    env = dict(os.environ, ANSIBLE_FORCE_COLOR='0', ANSIBLE_NOCOLOR='1')
    env.update(extra)
    return env


@pytest.fixture(scope='module', autouse=True)
def needs_ansible() -> None:
    if shutil.which('ansible-playbook') is None:
        pytest.skip('ansible-playbook is not on PATH: source tests/env.sh first')


@pytest.mark.parametrize('inventory', INVENTORIES, ids=[p.name for p in INVENTORIES])
def test_syntax_check(inventory: pathlib.Path) -> None:
    run = subprocess.run(['ansible-playbook', '--syntax-check', '-i', str(inventory), str(PLAYBOOK)],
                         cwd=REPO, env=ansible_env(), capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f'playbook: {PLAYBOOK.relative_to(REPO)}' in run.stdout or f'playbook: {PLAYBOOK}' in run.stdout


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        body = b'dualstack-verify\n'
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        del args


class _Server6(http.server.HTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture(name='http_port', scope='module')
def fixture_http_port():
    """One port answering HTTP on 127.0.0.1 and ::1, like the test Service on its two clusterIPs."""
    if not socket.has_ipv6:
        pytest.skip('this Python has no IPv6 sockets')
    for _attempt in range(20):
        v4 = http.server.HTTPServer(('127.0.0.1', 0), _Page)
        port = v4.server_address[1]
        try:
            v6 = _Server6(('::1', port), _Page)
        except OSError as exc:
            v4.server_close()
            if 'Cannot assign requested address' in str(exc):
                pytest.skip('the loopback interface has no ::1 here')
            continue
        break
    else:
        pytest.fail('found no port free on both 127.0.0.1 and ::1')
    servers = [v4, v6]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    yield port
    for server in servers:
        server.shutdown()
        server.server_close()


def run_verify(tmp_path: pathlib.Path, http_port: int, inventory: pathlib.Path | None = None, plan: Mapping | None = DEFAULT_PLAN,
               **env: str) -> tuple[subprocess.CompletedProcess, pathlib.Path]:
    """verify.yml on this machine: both nodes are local, kubectl and the node commands are stand-ins."""
    state = tmp_path / 'state'
    state.mkdir()
    if inventory is None:
        inventory = tmp_path / 'inventory.json'
        inventory.write_text(json.dumps({
            'kubeadm_control_plane': {'hosts': {'master': {}}},
            'kubeadm_workers': {'hosts': {'worker': {}}},
        }), encoding='utf-8')
    extra = {
        'ansible_connection': 'local',
        'ansible_python_interpreter': sys.executable,
        'dualstack_verify_kubectl': [str(STAND_INS / 'kubectl'), '--kubeconfig', '/dev/null'],
        'dualstack_verify_service_port': http_port,
        # The stand-ins need no root; this machine has no sudo to become with.
        'ansible_become': False,
    }
    if plan is not None:
        extra['address_plan'] = dict(plan)
    (tmp_path / 'extra.json').write_text(json.dumps(extra), encoding='utf-8')
    run = subprocess.run(
        ['ansible-playbook', '-i', str(inventory), '-e', '@' + str(tmp_path / 'extra.json'), 'dualstack.kubernetes.verify'],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
        env=ansible_env(PATH=f'{STAND_INS}{os.pathsep}{os.environ["PATH"]}', DUALSTACK_FAKE_STATE=str(state), **env))
    return run, state


def table_rows(output: str) -> dict:
    """(check, subject) -> result, from the table the playbook printed."""
    rows = {}
    for line in output.splitlines():
        for status in (' PASS ', ' FAIL ', ' SKIP '):
            if status in line:
                head = line.split(status)[0].strip().strip('"').strip()
                rows[head] = status.strip()
    return rows


def test_dual_stack_cluster_passes_and_the_workload_goes_away(tmp_path: pathlib.Path, http_port: int) -> None:
    run, state = run_verify(tmp_path, http_port)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-12000:]
    assert 'CHECK' in output and 'SUBJECT' in output and 'RESULT' in output
    assert '0 failed,' in output
    rows = table_rows(output)
    results = set(rows.values())
    assert results == {'PASS', 'SKIP'}, rows
    passed = [k for k, v in rows.items() if v == 'PASS']
    for check in ('node InternalIPs', 'pod addresses', 'Calico IP pools', 'Calico IPAM blocks', 'IPv6 routes to pod blocks',
                  'IPv6 NAT outgoing', 'Service clusterIPs', 'Service answers', 'pod to pod IPv6', 'node to pod IPv6'):
        assert any(k.startswith(check) for k in passed), (check, rows)
    # The stand-in ping cannot reach 2001:4860::/32 from the nodes: the pods' outside pings are skipped.
    assert [k for k, v in rows.items() if v == 'SKIP'] and all(
        k.startswith(('pod to outside IPv6', 'node to outside IPv6')) for k, v in rows.items() if v == 'SKIP')

    manifest = json.loads((state / 'manifest.json').read_text(encoding='utf-8'))
    service = [i for i in manifest['items'] if i['kind'] == 'Service'][0]
    assert service['spec']['ipFamilyPolicy'] == 'RequireDualStack'
    assert service['spec']['ipFamilies'] == ['IPv4', 'IPv6']
    assert [i['kind'] for i in manifest['items']] == ['Namespace', 'DaemonSet', 'Service']
    calls = (state / 'calls.log').read_text(encoding='utf-8').splitlines()
    assert calls[-1].endswith('delete namespace dualstack-verify --ignore-not-found')


def test_article_nodes_without_node_ip_fail_with_the_fix(tmp_path: pathlib.Path, http_port: int) -> None:
    run, state = run_verify(tmp_path, http_port, DUALSTACK_FAKE_NODES='article')
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-12000:]
    assert "kubelet's node-ip is missing the IPv6 address; set node-ip to 192.168.1.11,2001:db8::11" in output
    assert '2 checks failed' in output
    # The test workload is removed even so.
    calls = (state / 'calls.log').read_text(encoding='utf-8').splitlines()
    assert calls[-1].endswith('delete namespace dualstack-verify --ignore-not-found')


def test_kubeadm_article_inventory_plans_itself_and_has_no_dual_stack_service(tmp_path: pathlib.Path, http_port: int) -> None:
    inventory = REPO / 'inventories' / 'kubeadm-article'
    if not (inventory / 'hosts.yml').is_file():
        pytest.skip('inventories/kubeadm-article is not in this checkout')
    run, state = run_verify(tmp_path, http_port, inventory=inventory, plan=None)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-12000:]
    # The address_plan role ran: its table names the article's versions.
    assert 'TASK [dualstack.kubernetes.address_plan : Check the address plan and derive it]' in output
    # Kubernetes 1.18 has no ipFamilyPolicy: no test Service, and its row says why.
    rows = table_rows(output)
    assert [v for k, v in rows.items() if k.startswith('Service clusterIPs')] == ['SKIP']
    assert not any(k.startswith('Service answers') for k in rows)
    assert 'FAIL' not in rows.values()
    assert 'ipFamilyPolicy came with 1.20' in output
    manifest = json.loads((state / 'manifest.json').read_text(encoding='utf-8'))
    assert [i['kind'] for i in manifest['items']] == ['Namespace', 'DaemonSet']
