"""plan.yml on three kubeadm control planes: one init and two control-plane joins behind the
virtual IPs, each accepted by the kubeadm stand-in of its release; refused without an endpoint."""
from __future__ import annotations

import importlib.util
import json
import pathlib
import subprocess
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
INVENTORY = REPO / 'inventories' / 'sample-kubeadm-ha'
DOUBLE = REPO / 'tests' / 'doubles' / 'kubeadm' / 'k8s_double.py'
sys.path.insert(0, str(REPO / '.build' / 'collections'))

from ansible_collections.dualstack.kubernetes.plugins.module_utils import kubeadm_config as kc  # noqa: E402
from ansible_collections.dualstack.kubernetes.plugins.module_utils import address_plan as ap  # noqa: E402


def load_double(version: str):
    spec = importlib.util.spec_from_file_location('k8s_double_ha_%s' % version.replace('.', '_'), DOUBLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.DECLARED_VERSION = version
    return module


def plan_playbook(out: pathlib.Path, manifest: pathlib.Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ['ansible-playbook', '-i', str(INVENTORY), 'playbooks/plan.yml', '-e', f'dualstack_render_dir={out}',
         '-e', f'calico_dualstack_manifest_src={manifest}', *extra],
        cwd=REPO, capture_output=True, text=True, check=False)


@pytest.fixture(scope='module')
def rendered(shared: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    out = tmp_path_factory.mktemp('sample-kubeadm-ha')
    result = plan_playbook(out, shared / 'manifests' / 'calico' / 'calico-v3.30.7.yaml')
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return out


def documents(path: pathlib.Path) -> list:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_one_init_and_two_control_plane_joins_through_the_vips(rendered: pathlib.Path) -> None:
    files = {path.stem: documents(path) for path in sorted((rendered / 'kubeadm').glob('*.yaml'))}
    assert sorted(files) == ['cp1', 'cp2', 'cp3', 'worker1', 'worker2']
    kinds = {name: [doc['kind'] for doc in docs] for name, docs in files.items()}
    assert kinds['cp1'] == ['InitConfiguration', 'ClusterConfiguration', 'KubeletConfiguration',
                            'KubeProxyConfiguration']
    assert all(kinds[name] == ['JoinConfiguration'] for name in ('cp2', 'cp3', 'worker1', 'worker2'))
    cluster = files['cp1'][1]
    assert cluster['controlPlaneEndpoint'] == '192.0.2.10:6443'
    assert cluster['apiServer']['certSANs'] == ['192.0.2.10', '2001:db8:0:1::10']
    for name, address in (('cp2', '192.0.2.12'), ('cp3', '192.0.2.13')):
        (join,) = files[name]
        assert join['controlPlane'] == {'localAPIEndpoint': {'advertiseAddress': address, 'bindPort': 6443},
                                        'certificateKey': '0' * 64}
    for name in ('cp2', 'cp3', 'worker1', 'worker2'):
        (join,) = files[name]
        assert join['discovery']['bootstrapToken']['apiServerEndpoint'] == '192.0.2.10:6443'
        assert join['discovery']['bootstrapToken']['token'] == 'abcdef.0123456789abcdef'
    for name in ('worker1', 'worker2'):
        assert 'controlPlane' not in files[name][0]
    # The placeholders are said to be placeholders, in the file itself.
    header = '# Placeholder token, CA cert hash and certificate key'
    assert (rendered / 'kubeadm' / 'cp2.yaml').read_text().startswith(header)


def test_the_report_shows_the_endpoint_and_the_control_planes(rendered: pathlib.Path) -> None:
    report = (rendered / 'address-plan.md').read_text()
    assert '| API endpoint | `192.0.2.10:6443` (virtual IPs 192.0.2.10, 2001:db8:0:1::10) |' in report
    assert '| Control planes | cp1 (initialises), cp2 (joins), cp3 (joins) |' in report
    assert 'API virtual IP 2001:db8:0:1::10' in (rendered / 'address-plan.svg').read_text()


def test_each_control_plane_gets_keepalived_for_both_vips_and_no_worker_does(rendered: pathlib.Path) -> None:
    assert sorted(path.name for path in (rendered / 'api-vip').iterdir()) == ['cp1', 'cp2', 'cp3']
    nodes = {'cp1': ('192.0.2.11', '2001:db8:0:1::11'), 'cp2': ('192.0.2.12', '2001:db8:0:1::12'),
             'cp3': ('192.0.2.13', '2001:db8:0:1::13')}
    for priority, (name, (ipv4, ipv6)) in zip((150, 140, 130), nodes.items()):
        conf = (rendered / 'api-vip' / name / 'keepalived.conf').read_text()
        assert 'vrrp_instance api_vip_ipv4 {' in conf and 'vrrp_instance api_vip_ipv6 {' in conf
        assert f'192.0.2.10/32 dev <interface of {ipv4}>' in conf
        assert f'2001:db8:0:1::10/128 dev <interface of {ipv4}>' in conf
        assert f'unicast_src_ip {ipv4}\n' in conf and f'unicast_src_ip {ipv6}\n' in conf
        assert conf.count(f'priority {priority}\n') == 2
        # The first kubeadm init reaches the VIPs before any API server answers: the check
        # weighs on the priority (3 hosts x step 10) instead of faulting the instances.
        assert conf.count('api_vip_api_server weight -30') == 2 and 'sync_group_tracking_weight' in conf
        assert f'--address {ipv4} --port 6443 --path /livez' in conf
        others = [address for other, pair in nodes.items() if other != name for address in pair]
        assert all(address in conf for address in others)
        assert (rendered / 'api-vip' / name / 'keepalived.conf').stat().st_mode & 0o777 == 0o600
        assert not (rendered / 'api-vip' / name / 'haproxy.cfg').exists()


def test_haproxy_is_rendered_when_on(shared: pathlib.Path, tmp_path: pathlib.Path) -> None:
    out = tmp_path / 'render'
    result = plan_playbook(out, shared / 'manifests' / 'calico' / 'calico-v3.30.7.yaml',
                           '-e', 'api_vip_haproxy=true', '-e', 'api_vip_interface=ens3', '--tags', 'plan,control_plane')
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    haproxy = (out / 'api-vip' / 'cp2' / 'haproxy.cfg').read_text()
    assert 'bind :::8443 v4v6' in haproxy
    for address in ('192.0.2.11:6443', '[2001:db8:0:1::11]:6443', '192.0.2.13:6443', '[2001:db8:0:1::13]:6443'):
        assert f' {address}' in haproxy
    assert '192.0.2.10/32 dev ens3' in (out / 'api-vip' / 'cp2' / 'keepalived.conf').read_text()


def test_no_vips_on_the_nodes_with_an_external_endpoint_or_when_turned_off(
        shared: pathlib.Path, tmp_path: pathlib.Path) -> None:
    manifest = shared / 'manifests' / 'calico' / 'calico-v3.30.7.yaml'
    for extra in (['-e', '{"address_plan_api_vips": []}', '-e', 'address_plan_api_endpoint=api.example.org:6443'],
                  ['-e', 'dualstack_site_api_vip=false']):
        out = tmp_path / extra[-1].replace(':', '_').replace('=', '_')
        result = plan_playbook(out, manifest, *extra, '--tags', 'plan,control_plane')
        assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
        assert (out / 'kubeadm' / 'cp1.yaml').exists() and not (out / 'api-vip').exists()


def test_rendered_files_pass_the_strict_validation_of_their_release(rendered: pathlib.Path) -> None:
    double = load_double('1.31.2')
    for path in sorted((rendered / 'kubeadm').glob('*.yaml')):
        by_kind = double.validate_documents(documents(path), 'validate', strict=True)
        if 'ClusterConfiguration' in by_kind:
            double.check_cluster(by_kind['ClusterConfiguration'])


@pytest.mark.parametrize('version', ['1.18.20', '1.22.17', '1.30.14', '1.31.2', '1.33.1'])
@pytest.mark.parametrize('primary', ['ipv4', 'ipv6'])
def test_every_config_api_accepts_the_ha_documents(version: str, primary: str) -> None:
    vips = {'ipv4': '192.0.2.10', 'ipv6': '2001:db8::10'}
    other = 'ipv6' if primary == 'ipv4' else 'ipv4'
    pods = {'ipv4': '10.244.0.0/16', 'ipv6': 'fd00:1::/48'}
    services = {'ipv4': '10.96.0.0/12', 'ipv6': 'fd00::/112'}
    plan = ap.build_plan({
        'pod_cidrs': [pods[primary], pods[other]], 'service_cidrs': [services[primary], services[other]],
        'nodes': [{'name': f'cp{i}', 'ipv4': f'192.0.2.1{i}', 'ipv6': f'2001:db8::1{i}'} for i in (1, 2, 3)],
        'distribution': 'kubeadm', 'kubernetes_version': version, 'calico_version': '3.30.7',
        'feature_gates': {'IPv6DualStack': True} if version.startswith('1.18') else {},
        'control_plane_hosts': ['cp1', 'cp2', 'cp3'], 'api_vips': [vips[primary], vips[other]]})
    double = load_double(version)
    init = json.loads(json.dumps(kc.init_documents(plan, 'cp1', certificate_key='ab' * 32)))
    by_kind = double.validate_documents(init, 'validate', strict=True)
    double.check_cluster(by_kind['ClusterConfiguration'])
    endpoint = kc.api_server_endpoint(plan, 'cp1')
    join = kc.join_documents(plan, 'cp2', api_server=endpoint, token='abcdef.0123456789abcdef',
                             ca_cert_hashes=['sha256:' + '1' * 64], control_plane=True, certificate_key='cd' * 32)
    double.validate_documents(json.loads(json.dumps(join)), 'validate', strict=True)


def test_three_control_planes_without_an_endpoint_are_refused_before_any_change(
        shared: pathlib.Path, tmp_path: pathlib.Path) -> None:
    out = tmp_path / 'render'
    result = plan_playbook(out, shared / 'manifests' / 'calico' / 'calico-v3.30.7.yaml',
                           '-e', '{"address_plan_api_vips": []}')
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert 'address_plan_api_vips' in text and 'address_plan_api_endpoint' in text
    assert '3 control planes (cp1, cp2 and cp3)' in text
    assert 'Traceback' not in text
    # Nothing written, nothing changed on any host.
    assert not out.exists()
    recap = text[text.index('PLAY RECAP'):]
    assert 'changed=0' in recap and 'changed=1' not in recap
    for host in ('cp1', 'cp2', 'cp3', 'worker1', 'worker2'):
        assert host in recap


def test_site_plans_further_control_planes_to_join_on_the_nodes(tmp_path: pathlib.Path) -> None:
    # The plan stage alone, in check mode with the local connection: every host passes its checks.
    result = subprocess.run(
        ['ansible-playbook', '--check', '--tags', 'plan', '-i', str(INVENTORY), 'playbooks/site.yml',
         '-e', 'ansible_connection=local', '-e', f'ansible_python_interpreter={sys.executable}', '-e', 'ansible_become=false'],
        cwd=REPO, capture_output=True, text=True, check=False)
    text = result.stdout + result.stderr
    assert result.returncode == 0, text[-3000:]
    assert 'Check the virtual IPs' in text and 'Traceback' not in text
    recap = text[text.index('PLAY RECAP'):]
    assert 'changed=1' not in recap and 'failed=0' in recap
