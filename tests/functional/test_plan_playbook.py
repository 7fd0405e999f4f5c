"""plan.yml renders every artifact of both example inventories on the controller alone."""
from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
EXPECTED = {
    'kubeadm-article': ['address-plan.md', 'address-plan.svg', 'kubeadm/master.yaml', 'kubeadm/worker.yaml',
                        'calico/calico-dualstack.yaml'],
    'k3s-article': ['address-plan.md', 'address-plan.svg', 'k3s/k3s-server/config.yaml',
                    'calico/calico-dualstack.yaml', 'traefik/traefik-dualstack.yaml', 'traefik/svclb-traefik.yaml'],
}
# Kubernetes objects among the artifacts; kubeadm and k3s configuration files are not.
OBJECTS = {
    'kubeadm-article': ['calico/calico-dualstack.yaml'],
    'k3s-article': ['calico/calico-dualstack.yaml', 'traefik/traefik-dualstack.yaml', 'traefik/svclb-traefik.yaml'],
}


@pytest.fixture(scope='module', params=sorted(EXPECTED))
def rendered(request: pytest.FixtureRequest, shared: pathlib.Path,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pathlib.Path]:
    inventory = request.param
    out = tmp_path_factory.mktemp(inventory)
    manifest = shared / 'manifests' / 'calico' / 'calico-v3.15.1.yaml'
    result = subprocess.run(
        ['ansible-playbook', '-i', f'inventories/{inventory}', 'playbooks/plan.yml',
         '-e', f'dualstack_render_dir={out}', '-e', f'calico_dualstack_manifest_src={manifest}'],
        cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert 'failed=0' in result.stdout
    return inventory, out


def test_every_artifact_is_rendered(rendered: tuple[str, pathlib.Path]) -> None:
    inventory, out = rendered
    for name in EXPECTED[inventory]:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, f'{name} missing for {inventory}'


def test_configurations_carry_both_families_in_primary_order(rendered: tuple[str, pathlib.Path]) -> None:
    inventory, out = rendered
    if inventory == 'kubeadm-article':
        docs = {doc['kind']: doc for doc in yaml.safe_load_all((out / 'kubeadm/master.yaml').read_text()) if doc}
        assert docs['ClusterConfiguration']['networking'] == {
            'podSubnet': '10.244.0.0/16,fd00:1::/48', 'serviceSubnet': '10.96.0.0/12,fd00::/108'}
        # Kubernetes 1.18, as in the article: config API v1beta2 with the feature gate.
        assert docs['ClusterConfiguration']['apiVersion'] == 'kubeadm.k8s.io/v1beta2'
        assert docs['ClusterConfiguration']['featureGates'] == {'IPv6DualStack': True}
    else:
        config = yaml.safe_load((out / 'k3s/k3s-server/config.yaml').read_text())
        assert config['cluster-cidr'] == '10.42.0.0/16,fd45:a71:55a6:1:2:2::/96'
        assert config['service-cidr'] == '10.43.0.0/16,fd45:a71:55a6:1:2:1::/116'
        assert config['node-ip'] == '192.168.0.15,fd45:a71:55a6:1::15'
        assert 'servicelb' in config['disable']


def test_kubernetes_objects_validate_strictly(rendered: tuple[str, pathlib.Path]) -> None:
    inventory, out = rendered
    if shutil.which('kubernetes-validate') is None:
        pytest.fail('kubernetes-validate is in requirements-test.txt and must be installed')
    for name in OBJECTS[inventory]:
        result = subprocess.run(['kubernetes-validate', '--strict', '--quiet', '-k', '1.25.0', str(out / name)],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, f'{name}: {result.stdout}{result.stderr}'
        # A custom resource has no schema in kubernetes-validate: the warning says so, and
        # the object is checked here against what the helm controller reads.
        for line in result.stdout.splitlines():
            assert "Couldn't find schema for kind HelmChartConfig" in line, line
    if inventory == 'k3s-article':
        config = yaml.safe_load((out / 'traefik/traefik-dualstack.yaml').read_text())
        assert (config['apiVersion'], config['kind']) == ('helm.cattle.io/v1', 'HelmChartConfig')
        assert config['metadata'] == {'name': 'traefik', 'namespace': 'kube-system'}
        values = yaml.safe_load(config['spec']['valuesContent'])
        assert values['service']['spec'] == {'ipFamilyPolicy': 'RequireDualStack', 'ipFamilies': ['IPv4', 'IPv6']}


def test_diagram_opens_as_an_image(rendered: tuple[str, pathlib.Path], tmp_path: pathlib.Path) -> None:
    out = rendered[1]
    if shutil.which('rsvg-convert') is None:
        pytest.skip('rsvg-convert (Debian librsvg2-bin) is not installed: tests/run installs it as root')
    png = tmp_path / 'plan.png'
    subprocess.run(['rsvg-convert', '-o', str(png), str(out / 'address-plan.svg')], check=True)
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


@pytest.mark.parametrize('playbook', ['site', 'plan', 'verify', 'reset'])
def test_playbooks_are_importable_by_collection_name(playbook: str, tmp_path: pathlib.Path) -> None:
    # Run from elsewhere, so only the collection's name can find the playbook.
    result = subprocess.run(['ansible-playbook', '-i', str(REPO / 'inventories' / 'kubeadm-article'),
                             f'dualstack.kubernetes.{playbook}', '--syntax-check'],
                            cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f'playbooks/{playbook}.yml' in result.stdout
