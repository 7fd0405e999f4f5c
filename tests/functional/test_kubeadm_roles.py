"""The kubeadm roles refuse bad input before they change anything.

Each case runs ansible-playbook against this machine (connection local, in check mode as a
second guard) and expects the run to stop at the named check, before any task that would touch
the host.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

PLAN_VARS = {
    "address_plan_distribution": "kubeadm",
    "address_plan_kubernetes_version": "1.31.2",
    "address_plan_calico_version": "3.30.7",
    "address_plan_pod_cidrs": ["10.244.0.0/16", "fd00:1::/48"],
    "address_plan_service_cidrs": ["10.96.0.0/12", "fd00::/108"],
    "address_plan_node_ipv4": "192.168.1.11",
    "address_plan_node_ipv6": "2001:db8::11",
}


def run_play(tmp_path, role, extra):
    if not os.environ.get("ANSIBLE_COLLECTIONS_PATH"):
        pytest.skip("run '. tests/env.sh' first: the collection is not on ANSIBLE_COLLECTIONS_PATH")
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: master\n  gather_facts: false\n  roles:\n    - role: %s\n" % role)
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"master": dict(
        PLAN_VARS, ansible_connection="local",
        ansible_python_interpreter=os.environ.get("VIRTUAL_ENV", "/usr") + "/bin/python", **extra)}}}))
    result = subprocess.run(["ansible-playbook", "--check", "-i", str(inventory), str(playbook)],
                            capture_output=True, text=True, cwd=REPO, check=False)
    return result.returncode, result.stdout + result.stderr


def test_binary_with_a_wrong_checksum_is_refused_before_anything_is_installed(tmp_path):
    binary = tmp_path / "kubeadm"
    binary.write_text("#!/bin/sh\n")
    good = "sha256:" + hashlib.sha256(binary.read_bytes()).hexdigest()
    wrong = "sha256:" + "0" * 64
    rc, out = run_play(tmp_path, "dualstack.kubernetes.kubeadm_node", {
        "address_plan": {"kubernetes_version": "1.31.2", "decisions": {"kubernetes_apt_packages": True}},
        "kubeadm_node_binaries_source": "files",
        "kubeadm_node_binaries": [
            {"name": "kubeadm", "src": str(binary), "checksum": good},
            {"name": "kubelet", "src": str(binary), "checksum": wrong},
        ],
    })
    assert rc != 0
    assert "Refuse binaries whose checksum differs" in out
    assert "kubelet (%s) is sha256:%s" % (binary, good[7:]) in out
    assert "not %s" % wrong in out
    assert "Install containerd" not in out


def test_missing_kubelet_binary_is_named(tmp_path):
    rc, out = run_play(tmp_path, "dualstack.kubernetes.kubeadm_node", {
        "address_plan": {"kubernetes_version": "1.31.2", "decisions": {"kubernetes_apt_packages": True}},
        "kubeadm_node_binaries_source": "files",
        "kubeadm_node_binaries": [{"name": "kubeadm", "src": "/nonexistent", "checksum": "sha256:00"}],
    })
    assert rc != 0 and "lacks kubelet" in out
    assert "Install containerd" not in out


def test_apt_source_needs_a_pinned_key(tmp_path):
    rc, out = run_play(tmp_path, "dualstack.kubernetes.kubeadm_node", {
        "address_plan": {"kubernetes_version": "1.31.2", "decisions": {"kubernetes_apt_packages": True}},
    })
    assert rc != 0 and "kubeadm_master_apt_key_checksum" in out
    assert "Install containerd" not in out


def test_k3s_plan_is_refused_by_the_kubeadm_master_before_the_node_is_touched(tmp_path):
    rc, out = run_play(tmp_path, "dualstack.kubernetes.kubeadm_master", {
        "address_plan_distribution": "k3s",
        "address_plan_kubernetes_version": "v1.31.2+k3s1",
        "address_plan_service_cidrs": ["10.96.0.0/16", "fd00::/112"],
    })
    assert rc != 0
    assert "address_plan_distribution: kubeadm" in out
    assert "Prepare the node" not in out
