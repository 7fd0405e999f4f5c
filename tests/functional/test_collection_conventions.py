"""The collection as the Ansible ecosystem expects it: its license, its action group for the
Kubernetes connection, its execution environment, its changelog and its sample inventories,
each checked by running the tool that consumes it."""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
GALAXY = yaml.safe_load((REPO / 'galaxy.yml').read_text(encoding='utf-8'))
SAMPLES = [REPO / 'inventories' / name for name in ('sample-kubeadm', 'sample-kubeadm-ha', 'sample-k3s')]


def ansible_env() -> dict:
    return dict(os.environ, ANSIBLE_FORCE_COLOR='0', ANSIBLE_NOCOLOR='1')


def need(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        pytest.skip(f'{program} is not on PATH: source tests/env.sh (requirements-test.txt installs it)')
    return found


def test_license_file_is_the_license_galaxy_yml_names() -> None:
    assert GALAXY['license'] == ['GPL-3.0-or-later']
    text = (REPO / 'LICENSE').read_text(encoding='utf-8')
    assert text.split()[:6] == ['GNU', 'GENERAL', 'PUBLIC', 'LICENSE', 'Version', '3,']
    # The whole license, with its how-to-apply appendix, not a summary of it.
    assert 'END OF TERMS AND CONDITIONS' in text and 'How to Apply These Terms to Your New Programs' in text


def test_one_module_defaults_entry_sets_the_cluster_connection_of_every_kubernetes_module(tmp_path: pathlib.Path) -> None:
    need('ansible-playbook')
    kubeconfig = tmp_path / 'no-such-kubeconfig'
    play = [{
        'name': 'The connection set once for the group',
        'hosts': 'localhost',
        'gather_facts': False,
        'module_defaults': {'group/dualstack.kubernetes.k8s': {'kubeconfig': str(kubeconfig)}},
        'tasks': [
            {'name': 'This collection\'s module', 'register': 'ours', 'failed_when': False,
             'dualstack.kubernetes.klipper_dualstack_lb': {'name': 'traefik', 'namespace': 'kube-system'}},
            {'name': 'A kubernetes.core module, through extend_group', 'register': 'theirs', 'failed_when': False,
             'kubernetes.core.k8s_info': {'kind': 'Node'}},
            {'name': 'Hand both messages back', 'ansible.builtin.debug': {'msg': '{{ [ours.msg, theirs.msg] | to_json }}'}},
        ],
    }]
    playbook = tmp_path / 'play.yml'
    playbook.write_text(json.dumps(play), encoding='utf-8')
    run = subprocess.run(['ansible-playbook', '-i', 'localhost,', '-c', 'local', '-e', f'ansible_python_interpreter={sys.executable}',
                          str(playbook)], cwd=REPO, env=dict(ansible_env(), ANSIBLE_STDOUT_CALLBACK='ansible.builtin.json'),
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    tasks = json.loads(run.stdout)['plays'][0]['tasks']
    ours, theirs = json.loads(tasks[-1]['hosts']['localhost']['msg'])
    # Neither task named a kubeconfig: both went for the one module_defaults gave the group.
    assert str(kubeconfig) in ours, ours
    assert str(kubeconfig) in theirs, theirs


def test_execution_environment_definition_creates_a_build_context(tmp_path: pathlib.Path) -> None:
    builder = need('ansible-builder')
    definition = yaml.safe_load((REPO / 'execution-environment.yml').read_text(encoding='utf-8'))
    pins = dict(line.split('==', 1) for line in (REPO / 'requirements.txt').read_text(encoding='utf-8').split()
                if '==' in line and not line.startswith('#'))
    # The EE runs the same ansible-core as the controller's requirements.
    assert definition['dependencies']['ansible_core']['package_pip'] == f"ansible-core=={pins['ansible-core']}"
    # And the collections galaxy.yml depends on.
    assert {c['name']: c['version'] for c in definition['dependencies']['galaxy']['collections']} == GALAXY['dependencies']
    # ansible-builder reads files relative to the definition: a copy with the built collection beside it.
    work = tmp_path / 'ee'
    (work / 'dist').mkdir(parents=True)
    shutil.copy(REPO / 'execution-environment.yml', work)
    shutil.copy(REPO / 'requirements.txt', work)
    built = subprocess.run(['ansible-galaxy', 'collection', 'build', '--output-path', str(work / 'dist'), str(REPO)],
                           env=ansible_env(), capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    tarball = f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
    created = subprocess.run([builder, 'create', '-f', 'execution-environment.yml', '-c', 'context'], cwd=work,
                             capture_output=True, text=True, timeout=300, check=False)
    assert created.returncode == 0, created.stdout + created.stderr
    context = work / 'context'
    containerfile = (context / 'Containerfile').read_text(encoding='utf-8')
    assert f"ansible-core=={pins['ansible-core']}" in containerfile
    assert (context / '_build' / 'collection' / tarball).is_file()
    assert (context / '_build' / 'requirements.txt').read_text(encoding='utf-8') == \
        (REPO / 'requirements.txt').read_text(encoding='utf-8')
    # The collection is installed in the galaxy stage, so that its dependencies come along.
    galaxy_stage = containerfile.split('FROM base AS galaxy', 1)[1].split('FROM base AS builder', 1)[0]
    assert re.search(r'ansible-galaxy collection install .*/build/collection/dualstack-kubernetes-\*\.tar\.gz', galaxy_stage)


def test_changelog_fragments_make_the_release_changelog(tmp_path: pathlib.Path) -> None:
    changelog = need('antsibull-changelog')
    fragments = sorted((REPO / 'changelogs' / 'fragments').glob('*.yml'))
    assert fragments
    # A release in a copy of the collection, as the maintainer would make it.
    copy = tmp_path / 'ansible_collections' / GALAXY['namespace'] / GALAXY['name']
    copy.mkdir(parents=True)
    for name in ('galaxy.yml', 'changelogs', 'plugins', 'roles', 'meta', 'playbooks'):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, copy / name)
    env = dict(ansible_env(), ANSIBLE_COLLECTIONS_PATH=str(tmp_path))
    lint = subprocess.run([changelog, 'lint'], cwd=copy, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr
    release = subprocess.run([changelog, 'release', '--version', GALAXY['version'], '--date', '2026-01-01'], cwd=copy,
                             env=env, capture_output=True, text=True, timeout=600, check=False)
    assert release.returncode == 0, release.stdout + release.stderr
    # The Markdown escapes punctuation (v0\\.1\\.0) and writes ``code`` as <code>code</code>.
    text = ' '.join(re.sub('</?code>', '', (copy / 'CHANGELOG.md').read_text(encoding='utf-8').replace('\\', '')).split())
    assert f"v{GALAXY['version']}" in text
    for fragment in fragments:
        for section, entries in yaml.safe_load(fragment.read_text(encoding='utf-8')).items():
            for entry in [entries] if isinstance(entries, str) else entries:
                # Every entry's first words reach the changelog.
                assert ' '.join(entry.split()[:4]).replace('``', '') in text, (fragment.name, section, entry)
    # The release lists the collection's modules as new ones.
    assert 'calico_manifest_patch' in text and 'klipper_dualstack_lb' in text


@pytest.mark.parametrize('inventory', SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_inventory_is_accepted_and_renders(inventory: pathlib.Path, tmp_path: pathlib.Path) -> None:
    need('ansible-playbook')
    dest = tmp_path / 'render'
    shared = pathlib.Path(os.environ.get('DUALSTACK_SHARED') or REPO.parent / 'shared') / 'manifests' / 'calico'
    calico = (['-e', f'calico_dualstack_manifest_src={shared}/calico-v{{{{ address_plan_calico_version }}}}.yaml']
              if shared.is_dir() else ['-e', 'calico_dualstack_manifest_unavailable=skip'])
    # MetalLB's manifest: the tests' stand-in, with its own sum (the collection carries none).
    standin = REPO / 'tests' / 'unit' / 'plugins' / 'module_utils' / 'fixtures' / 'metallb-native-standin.yaml'
    metallb = ['-e', f'metallb_dualstack_manifest_src={standin}',
               '-e', f'metallb_dualstack_manifest_checksum=sha256:{hashlib.sha256(standin.read_bytes()).hexdigest()}']
    run = subprocess.run(['ansible-playbook', '-i', str(inventory), 'playbooks/plan.yml', '-e', f'dualstack_render_dir={dest}',
                          '-e', f'ansible_python_interpreter={sys.executable}', *calico, *metallb],
                         cwd=REPO, env=ansible_env(), capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-4000:]
    hosts = json.loads(subprocess.run(['ansible-inventory', '-i', str(inventory), '--list'], cwd=REPO, env=ansible_env(),
                                      capture_output=True, text=True, check=True).stdout)['_meta']['hostvars']
    assert len(hosts) >= 3
    plan = (dest / 'address-plan.md').read_text(encoding='utf-8')
    for name, host in hosts.items():
        assert host['address_plan_node_ipv4'] in plan and host['address_plan_node_ipv6'] in plan, name
        config = dest / 'kubeadm' / f'{name}.yaml' if (dest / 'kubeadm').is_dir() else dest / 'k3s' / name / 'config.yaml'
        assert host['address_plan_node_ipv6'] in config.read_text(encoding='utf-8'), config
    manifest = dest / 'calico' / 'calico-dualstack.yaml'
    if shared.is_dir():
        assert 'CALICO_IPV6POOL_CIDR' in manifest.read_text(encoding='utf-8')
    else:
        assert 'calico_dualstack_manifest_src' in pathlib.Path(f'{manifest}.skipped').read_text(encoding='utf-8')
