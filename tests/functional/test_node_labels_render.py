"""plan.yml renders the sample k3s inventory's per-host labels and taints into the agent's
config.yaml, and refuses a broken one before anything is rendered, naming the host."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]


def plan(inventory: pathlib.Path, out: pathlib.Path) -> subprocess.CompletedProcess:
    shared = pathlib.Path(os.environ.get('DUALSTACK_SHARED') or REPO.parent / 'shared') / 'manifests' / 'calico'
    calico = (['-e', f'calico_dualstack_manifest_src={shared}/calico-v{{{{ address_plan_calico_version }}}}.yaml']
              if shared.is_dir() else ['-e', 'calico_dualstack_manifest_unavailable=skip'])
    return subprocess.run(['ansible-playbook', '-i', str(inventory), 'playbooks/plan.yml',
                           '-e', f'dualstack_render_dir={out}', '-e', f'ansible_python_interpreter={sys.executable}',
                           *calico], cwd=REPO, capture_output=True, text=True, timeout=600, check=False)


def test_the_sample_agent_registers_with_its_labels_and_taints(tmp_path: pathlib.Path) -> None:
    result = plan(REPO / 'inventories' / 'sample-k3s', tmp_path / 'out')
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    agent2 = yaml.safe_load((tmp_path / 'out' / 'k3s' / 'agent2' / 'config.yaml').read_text())
    assert agent2['node-label'] == ['example.com/storage=ssd', 'topology.kubernetes.io/zone=zone-b']
    assert agent2['node-taint'] == ['example.com/dedicated=storage:NoSchedule']
    agent1 = yaml.safe_load((tmp_path / 'out' / 'k3s' / 'agent1' / 'config.yaml').read_text())
    assert 'node-label' not in agent1 and 'node-taint' not in agent1


def test_a_label_the_kubelet_refuses_stops_the_plan(tmp_path: pathlib.Path) -> None:
    inventory = tmp_path / 'inventory'
    shutil.copytree(REPO / 'inventories' / 'sample-k3s', inventory)
    hosts = yaml.safe_load((inventory / 'hosts.yml').read_text())
    hosts['k3s_agents']['hosts']['agent1']['address_plan_node_labels'] = {'node-role.kubernetes.io/worker': 'true'}
    hosts['k3s_agents']['hosts']['agent1']['address_plan_node_taints'] = ['dedicated:NoSchedul']
    (inventory / 'hosts.yml').write_text(yaml.safe_dump(hosts))
    result = plan(inventory, tmp_path / 'out')
    assert result.returncode != 0
    assert 'address_plan_node_labels of agent1: node-role.kubernetes.io/worker' in result.stdout
    assert 'address_plan_node_taints of agent1: dedicated:NoSchedul has the effect NoSchedul' in result.stdout
    assert 'Traceback' not in result.stdout + result.stderr
    assert not (tmp_path / 'out' / 'k3s').exists()
