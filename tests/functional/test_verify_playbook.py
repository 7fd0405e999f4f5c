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


class _NoRoute(http.server.BaseHTTPRequestHandler):
    """What Traefik's web entry point answers where no router matches the request."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        body = b'404 page not found\n'
        self.send_response(404)
        self.send_header('Content-Type', 'text/plain; charset=utf-8')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        del args


class _Server6(http.server.HTTPServer):
    address_family = socket.AF_INET6


def _serve_on_loopback(handler: type):
    """One port answering HTTP on 127.0.0.1 and ::1 with handler."""
    if not socket.has_ipv6:
        pytest.skip('this Python has no IPv6 sockets')
    for _attempt in range(20):
        v4 = http.server.HTTPServer(('127.0.0.1', 0), handler)
        port = v4.server_address[1]
        try:
            v6 = _Server6(('::1', port), handler)
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


@pytest.fixture(name='http_port', scope='module')
def fixture_http_port():
    """The test Service on its two clusterIPs (and, on a loopback node, its NodePort)."""
    yield from _serve_on_loopback(_Page)


@pytest.fixture(name='traefik_port', scope='module')
def fixture_traefik_port():
    """Traefik's web entry point on the load balancer's two addresses."""
    yield from _serve_on_loopback(_NoRoute)


def run_verify(tmp_path: pathlib.Path, http_port: int, inventory: pathlib.Path | None = None, plan: Mapping | None = DEFAULT_PLAN,
               outside_host: str = '', extra_vars: Mapping | None = None,
               **env: str) -> tuple[subprocess.CompletedProcess, pathlib.Path]:
    """verify.yml on this machine: both nodes are local, kubectl and the node commands are stand-ins.
    outside_host '' skips the probes from outside the cluster (the article's node addresses
    are not reachable from here)."""
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
        'dualstack_verify_outside_host': outside_host,
        # The stand-ins need no root; this machine has no sudo to become with.
        'ansible_become': False,
    }
    if plan is not None:
        extra['address_plan'] = dict(plan)
    extra.update(extra_vars or {})
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
                  'IPv6 NAT outgoing', 'Service clusterIPs', 'Service answers', 'pod to pod IPv6', 'node to pod IPv6',
                  'pod to node IPv4', 'pod to node IPv6'):
        assert any(k.startswith(check) for k in passed), (check, rows)
    # The stand-in ping cannot reach 2001:4860::/32 from the nodes: the pods' outside pings are skipped;
    # nothing asks from outside the cluster, and the cluster has no Traefik: those rows say so.
    assert [k for k, v in rows.items() if v == 'SKIP'] and all(
        k.startswith(('pod to outside IPv6', 'node to outside IPv6', 'NodePort IPv4', 'NodePort IPv6', 'Traefik load balancer'))
        for k, v in rows.items() if v == 'SKIP')
    assert 'dualstack_verify_outside_host is empty: nothing asks from outside the cluster' in output
    assert 'no Service kube-system/traefik: the cluster runs no Traefik' in output

    manifest = json.loads((state / 'manifest.json').read_text(encoding='utf-8'))
    service = [i for i in manifest['items'] if i['kind'] == 'Service'][0]
    assert service['spec']['ipFamilyPolicy'] == 'RequireDualStack'
    assert service['spec']['ipFamilies'] == ['IPv4', 'IPv6']
    assert service['spec']['type'] == 'NodePort'
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
    # The API server of the article allocates clusterIPs from its two Service CIDRs.
    run, state = run_verify(tmp_path, http_port, inventory=inventory, plan=None, DUALSTACK_FAKE_SERVICE_CIDRS='10.96.0.0/12,fd00::/108')
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-12000:]
    # The address_plan role ran: its table names the article's versions.
    assert 'TASK [dualstack.kubernetes.address_plan : Check the address plan and derive it]' in output
    # Kubernetes 1.18 has no ipFamilyPolicy: one Service per family, as the article made it, each
    # with a clusterIP of its family.
    rows = table_rows(output)
    assert {k.split()[-1]: v for k, v in rows.items() if k.startswith('Service clusterIPs (spec.ipFamily)')} == {
        'dualstack-verify/dualstack-verify-ipv4': 'PASS', 'dualstack-verify/dualstack-verify-ipv6': 'PASS'}
    assert 'spec.ipFamily IPv6, clusterIP fd00::1' in output
    assert not any(k.startswith('Service answers') for k in rows)
    assert 'FAIL' not in rows.values()
    manifest = json.loads((state / 'manifest.json').read_text(encoding='utf-8'))
    assert [i['kind'] for i in manifest['items']] == ['Namespace', 'DaemonSet', 'Service', 'Service']
    services = [i for i in manifest['items'] if i['kind'] == 'Service']
    assert [(s['metadata']['name'], s['spec']['type'], s['spec']['ipFamily']) for s in services] == [
        ('dualstack-verify-ipv4', 'NodePort', 'IPv4'), ('dualstack-verify-ipv6', 'NodePort', 'IPv6')]
    assert not any('ipFamilyPolicy' in s['spec'] or 'ipFamilies' in s['spec'] for s in services)


# One node on the loopback addresses, so that this machine can ask it from outside the cluster.
LOOPBACK_PLAN = dict(PLAN, nodes={'master': {'ipv4': '127.0.0.1', 'ipv6': '::1', 'node_ip': '127.0.0.1,::1'}})


def test_node_ports_and_traefik_answer_from_outside_in_both_families(
        tmp_path: pathlib.Path, http_port: int, traefik_port: int) -> None:
    inventory = tmp_path / 'inventory.json'
    inventory.write_text(json.dumps({'k3s_servers': {'hosts': {'master': {}}}}), encoding='utf-8')
    run, state = run_verify(tmp_path, http_port, inventory=inventory, plan=LOOPBACK_PLAN, outside_host='localhost',
                            DUALSTACK_FAKE_NODES='loopback', DUALSTACK_FAKE_NODE_PORT=str(http_port),
                            DUALSTACK_FAKE_TRAEFIK_PORT=str(traefik_port))
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-12000:]
    rows = table_rows(output)
    assert 'FAIL' not in rows.values(), rows
    for check, subject in (('NodePort IPv4', f'master 127.0.0.1:{http_port}'), ('NodePort IPv6', f'master ::1:{http_port}'),
                           ('Traefik load balancer', 'kube-system/traefik IPv4'), ('Traefik load balancer', 'kube-system/traefik IPv6'),
                           ('Traefik web entry point', f'IPv4 127.0.0.1:{traefik_port}'),
                           ('Traefik web entry point', f'IPv6 ::1:{traefik_port}'),
                           ('pod to node IPv4', 'dualstack-verify-z7q4x on master'), ('pod to node IPv6', 'dualstack-verify-z7q4x on master')):
        assert any(k.startswith(check) and k.endswith(subject) and v == 'PASS' for k, v in rows.items()), (check, subject, rows)
    # Traefik answered 404 (no router for /), which counts as reached.
    assert 'HTTP 404 from outside the cluster' in output
    # The probes went to the NodePort the API server gave the Service, read with kubectl.
    calls = (state / 'calls.log').read_text(encoding='utf-8')
    assert '-l app.kubernetes.io/name=dualstack-verify -o json' in calls
    assert 'get service traefik -n kube-system -o json --ignore-not-found' in calls


# The sample kubeadm inventory's pools, so that the LoadBalancer Service is part of the workload.
LB_PLAN = dict(PLAN, lb_pools={'ipv4': ['192.0.2.240-192.0.2.250'], 'ipv6': ['2001:db8:0:1::f0/124']}, lb_mode='l2')


@pytest.mark.parametrize('ingress, expected', [
    ('192.0.2.240,2001:db8:0:1::f0', {'IPv4': 'PASS', 'IPv6': 'PASS'}),
    ('192.0.2.240', {'IPv4': 'PASS', 'IPv6': 'FAIL'}),
])
def test_a_dual_stack_load_balancer_service_gets_one_address_of_each_family_from_the_pools(
        tmp_path: pathlib.Path, http_port: int, ingress: str, expected: dict) -> None:
    run, state = run_verify(tmp_path, http_port, plan=LB_PLAN, extra_vars={'dualstack_verify_timeout': 5},
                            DUALSTACK_FAKE_LB_INGRESS=ingress)
    output = run.stdout + run.stderr
    rows = table_rows(output)
    got = {k.split()[-1]: v for k, v in rows.items() if k.startswith('LoadBalancer addresses')}
    assert got == expected, rows
    assert (run.returncode == 0) == ('FAIL' not in expected.values()), output[-6000:]
    if 'FAIL' in expected.values():
        assert 'MetalLB' in output
    manifest = json.loads((state / 'manifest.json').read_text(encoding='utf-8'))
    lb = [i for i in manifest['items'] if i['metadata']['name'] == 'dualstack-verify-lb'][0]
    assert lb['spec']['type'] == 'LoadBalancer'
    assert (lb['spec']['ipFamilyPolicy'], lb['spec']['ipFamilies']) == ('RequireDualStack', ['IPv4', 'IPv6'])
