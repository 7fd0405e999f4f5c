"""MetalLB's pools through the plan and the metallb_dualstack role, on the controller alone.

plan.yml renders the pools of the sample kubeadm inventory; the plan refuses an overlapping
pool before anything is written; the role, run for real up to where a cluster is needed,
verifies the manifest's checksum, writes the resources once (a second run changes nothing),
honours check mode and refuses a damaged manifest with nothing written."""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
INVENTORY = REPO / 'inventories' / 'sample-kubeadm'
STANDIN = REPO / 'tests' / 'unit' / 'plugins' / 'module_utils' / 'fixtures' / 'metallb-native-standin.yaml'
SUM = 'sha256:' + hashlib.sha256(STANDIN.read_bytes()).hexdigest()


def env() -> dict:
    return dict(os.environ, ANSIBLE_FORCE_COLOR='0', ANSIBLE_NOCOLOR='1')


def run_plan(out: pathlib.Path, *extra: str, tags: str = '') -> subprocess.CompletedProcess:
    calico = pathlib.Path(os.environ.get('DUALSTACK_SHARED') or REPO.parent / 'shared') / 'manifests' / 'calico'
    calico_args = (['-e', f'calico_dualstack_manifest_src={calico}/calico-v3.30.7.yaml'] if calico.is_dir()
                   else ['-e', 'calico_dualstack_manifest_unavailable=skip'])
    return subprocess.run(
        ['ansible-playbook', '-i', str(INVENTORY), 'playbooks/plan.yml', '-e', f'dualstack_render_dir={out}',
         '-e', f'ansible_python_interpreter={sys.executable}', *calico_args,
         '-e', f'metallb_dualstack_manifest_src={STANDIN}', '-e', f'metallb_dualstack_manifest_checksum={SUM}',
         *(['--tags', tags] if tags else []), *extra],
        cwd=REPO, env=env(), capture_output=True, text=True, timeout=900, check=False)


def test_plan_renders_the_pools_of_the_sample_inventory(tmp_path: pathlib.Path) -> None:
    out = tmp_path / 'render'
    result = run_plan(out)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    pool, advertisement = list(yaml.safe_load_all((out / 'metallb' / 'metallb-dualstack.yaml').read_text()))
    assert pool['kind'] == 'IPAddressPool'
    assert pool['spec']['addresses'] == ['192.0.2.240-192.0.2.250', '2001:db8:0:1::f0/124']
    assert advertisement['kind'] == 'L2Advertisement' and advertisement['spec'] == {'ipAddressPools': ['dualstack']}
    report = (out / 'address-plan.md').read_text()
    assert '| LoadBalancer pools (MetalLB, l2) | 192.0.2.240-192.0.2.250 | 2001:db8:0:1::f0/124 |' in report
    diagram = (out / 'address-plan.svg').read_text()
    assert 'LoadBalancer pool 192.0.2.240-192.0.2.250' in diagram and 'LoadBalancer pool 2001:db8:0:1::f0/124' in diagram


def test_plan_refuses_an_overlapping_pool_and_changes_nothing(tmp_path: pathlib.Path) -> None:
    out = tmp_path / 'render'
    pools = json.dumps({'address_plan_lb_pools': ['192.0.2.20-192.0.2.30', '2001:db8:0:1::f0/124']})
    result = run_plan(out, '-e', pools, tags='plan')
    assert result.returncode != 0
    assert ('address_plan_lb_pools[0]: 192.0.2.20-192.0.2.30 holds 192.0.2.21, the address of node worker1; '
            'MetalLB would answer for the node.') in result.stdout
    recap = [line for line in result.stdout.splitlines() if line.startswith(('cp1 ', 'worker1 ', 'worker2 '))]
    assert recap and all('changed=0' in line for line in recap), recap
    assert not out.exists()


ROLE_PLAY = [{
    'name': 'MetalLB on the controller, up to the apply',
    'hosts': 'cp1',
    'gather_facts': False,
    'roles': [{'role': 'dualstack.kubernetes.metallb_dualstack'}],
}]


@pytest.fixture(name='role_run')
def fixture_role_run(tmp_path: pathlib.Path):
    playbook = tmp_path / 'play.yml'
    playbook.write_text(json.dumps(ROLE_PLAY))
    work = tmp_path / 'work'

    def run(*extra: str, src: pathlib.Path | str = STANDIN, checksum: str = SUM) -> subprocess.CompletedProcess:
        return subprocess.run(
            ['ansible-playbook', '-i', str(INVENTORY), str(playbook), '-c', 'local',
             '-e', f'ansible_python_interpreter={sys.executable}', '-e', 'metallb_dualstack_apply=false',
             '-e', f'metallb_dualstack_work_dir={work}', '-e', f'metallb_dualstack_manifest_src={src}',
             '-e', f'metallb_dualstack_manifest_checksum={checksum}', *extra],
            cwd=REPO, env=env(), capture_output=True, text=True, timeout=600, check=False)
    return run, work


def recap_of(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith('cp1 '))


def test_the_role_writes_the_resources_once_and_honours_check_mode(role_run) -> None:
    run, work = role_run
    dest = work / 'metallb-dualstack-v0.14.9.yaml'
    checked = run('--check', '--diff')
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert not dest.exists()
    first = run()
    assert first.returncode == 0, first.stdout[-4000:]
    kinds = [doc['kind'] for doc in yaml.safe_load_all(dest.read_text())]
    assert kinds == ['IPAddressPool', 'L2Advertisement']
    second = run()
    assert second.returncode == 0 and 'changed=0' in recap_of(second.stdout), second.stdout[-3000:]


def test_the_role_renders_bgp_peers(role_run) -> None:
    run, work = role_run
    peers = json.dumps({'address_plan_lb_mode': 'bgp', 'metallb_dualstack_bgp_my_asn': 64512,
                        'metallb_dualstack_bgp_peers': [{'peer_address': '192.0.2.1', 'peer_asn': 64500},
                                                        {'peer_address': '2001:db8:0:1::1', 'peer_asn': 64500}]})
    result = run('-e', peers)
    assert result.returncode == 0, result.stdout[-4000:]
    docs = list(yaml.safe_load_all((work / 'metallb-dualstack-v0.14.9.yaml').read_text()))
    assert [d['kind'] for d in docs] == ['IPAddressPool', 'BGPAdvertisement', 'BGPPeer', 'BGPPeer']
    assert [d['spec']['peerAddress'] for d in docs[2:]] == ['192.0.2.1', '2001:db8:0:1::1']


def test_a_damaged_manifest_is_refused_with_nothing_written(role_run, tmp_path: pathlib.Path) -> None:
    run, work = role_run
    damaged = tmp_path / 'metallb-native.yaml'
    damaged.write_bytes(STANDIN.read_bytes().replace(b'maximum: 16384', b'maximum: 65535'))
    result = run(src=damaged)
    assert result.returncode != 0
    actual = hashlib.sha256(damaged.read_bytes()).hexdigest()
    assert f'has the sha256 {actual}, not {SUM.split(":")[1]}' in ' '.join(result.stdout.split())
    assert not (work / 'metallb-dualstack-v0.14.9.yaml').exists()


def test_no_checksum_is_refused_before_anything_changes(role_run) -> None:
    run, work = role_run
    result = run(checksum='')
    assert result.returncode != 0
    text = ' '.join(result.stdout.split())
    assert 'metallb-native.yaml of MetalLB v0.14.9 has no checksum' in text
    assert 'Set metallb_dualstack_manifest_checksum to sha256:<hex>' in text
    assert not work.exists()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        del args


class _Server6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture(name='served')
def fixture_served():
    """The stand-in manifest served over IPv6 loopback, as the release URL would serve the real one."""
    if not socket.has_ipv6:
        pytest.skip('this Python has no IPv6 sockets')
    try:
        server = _Server6(('::1', 0), functools.partial(_Quiet, directory=str(STANDIN.parent)))
    except OSError as exc:
        pytest.skip(f'no ::1 here ({exc})')
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f'http://[::1]:{server.server_address[1]}/{STANDIN.name}'
    server.shutdown()
    server.server_close()


def test_the_manifest_is_downloaded_with_its_checksum_and_refused_without_a_match(role_run, served: str) -> None:
    run, work = role_run
    url = ['-e', f'metallb_dualstack_manifest_url={served}']
    wrong = run(*url, src='', checksum='sha256:' + '0' * 64)
    assert wrong.returncode != 0
    assert 'did not match' in wrong.stdout or 'checksum' in wrong.stdout.lower(), wrong.stdout[-3000:]
    assert not (work / 'metallb-dualstack-v0.14.9.yaml').exists()
    right = run(*url, src='')
    assert right.returncode == 0, right.stdout[-4000:]
    assert (work / 'metallb-native-v0.14.9.yaml').read_bytes() == STANDIN.read_bytes()
    assert [d['kind'] for d in yaml.safe_load_all((work / 'metallb-dualstack-v0.14.9.yaml').read_text())] == [
        'IPAddressPool', 'L2Advertisement']


@pytest.mark.parametrize('disable, passes', [([], False), (['servicelb', 'traefik'], True)])
def test_on_k3s_servicelb_must_be_disabled(tmp_path: pathlib.Path, disable: list, passes: bool) -> None:
    playbook = tmp_path / 'play.yml'
    playbook.write_text(json.dumps([dict(ROLE_PLAY[0], hosts='server1')]))
    settings = {'address_plan_lb_pools': ['192.0.2.240-192.0.2.250', '2001:db8:0:2::f0/124'], 'k3s_server_disable': disable,
                'metallb_dualstack_apply': False, 'metallb_dualstack_work_dir': str(tmp_path / 'work'),
                'metallb_dualstack_manifest_src': str(STANDIN), 'metallb_dualstack_manifest_checksum': SUM,
                'ansible_python_interpreter': sys.executable}
    (tmp_path / 'extra.json').write_text(json.dumps(settings))
    result = subprocess.run(['ansible-playbook', '-i', str(REPO / 'inventories' / 'sample-k3s'), str(playbook), '-c', 'local',
                             '-e', '@' + str(tmp_path / 'extra.json')],
                            cwd=REPO, env=env(), capture_output=True, text=True, timeout=600, check=False)
    assert (result.returncode == 0) == passes, result.stdout[-4000:]
    if not passes:
        assert 'does not hold servicelb: k3s\'s own ServiceLB would answer for the same LoadBalancer Services' in \
            ' '.join(result.stdout.split())
        assert not (tmp_path / 'work').exists()
