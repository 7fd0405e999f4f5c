"""The kubeadm, kubelet and k3s stand-ins take the labels and taints the collection renders from
the plan, and refuse what the real kubelet, kubeadm and k3s refuse (the rules in
tests/doubles/data/kubernetes.json, read from the Kubernetes source)."""
from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DOUBLES = REPO / "tests" / "doubles"
sys.path.insert(0, str(REPO / ".build" / "collections"))

from ansible_collections.dualstack.kubernetes.plugins.module_utils import address_plan as ap  # noqa: E402
from ansible_collections.dualstack.kubernetes.plugins.module_utils import k3s_config  # noqa: E402
from ansible_collections.dualstack.kubernetes.plugins.module_utils import kubeadm_config as kc  # noqa: E402

LABELS = {"example.com/rack": "r1", "node.kubernetes.io/pool": "db", "topology.kubernetes.io/zone": "z1"}
TAINTS = ["example.com/dedicated=db:NoSchedule", "spot:PreferNoSchedule"]
TOKEN = "abcdef.0123456789abcdef"
HASH = "sha256:" + "1" * 64


def load_kubeadm_double(version: str):
    spec = importlib.util.spec_from_file_location("k8s_double_labels_" + version.replace(".", "_"),
                                                  DOUBLES / "kubeadm" / "k8s_double.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.DECLARED_VERSION = version
    return module


def plan(distribution: str, version: str):
    nodes = [{"name": "m", "ipv4": "10.250.0.41", "ipv6": "fd42:1ab:250::41"},
             {"name": "w", "ipv4": "10.250.0.42", "ipv6": "fd42:1ab:250::42", "labels": LABELS, "taints": TAINTS}]
    return ap.build_plan({"pod_cidrs": ["10.42.0.0/16", "fd00:42::/56"], "service_cidrs": ["10.43.0.0/16", "fd00:43::/112"],
                          "nodes": nodes, "distribution": distribution, "kubernetes_version": version,
                          "calico_version": "3.30.7"})


@pytest.mark.parametrize("version", ["1.30.14", "1.31.2"])
def test_kubeadm_takes_the_rendered_labels_and_writes_the_taints_for_the_kubelet(version: str) -> None:
    double = load_kubeadm_double(version)
    fact = plan("kubeadm", version)
    join = kc.join_documents(fact, "w", api_server="10.250.0.41:6443", token=TOKEN, ca_cert_hashes=[HASH])
    registration = double.validate_documents(json.loads(json.dumps(join)), "join")["JoinConfiguration"]["nodeRegistration"]
    double.check_registration(registration, join_worker=True)
    env = double.kubelet_flags_env(registration, register_taints=True)
    assert "--node-labels=example.com/rack=r1,node.kubernetes.io/pool=db,topology.kubernetes.io/zone=z1" in env
    assert "--register-with-taints=example.com/dedicated=db:NoSchedule,spot:PreferNoSchedule" in env
    init = kc.init_documents(plan("kubeadm", version), "m")
    double.check_registration(init[0]["nodeRegistration"], join_worker=False)


@pytest.mark.parametrize("labels, words", [
    ("node-role.kubernetes.io/worker=", "unknown 'kubernetes.io' or 'k8s.io' labels"),
    ("app.k8s.io/name=x", "unknown 'kubernetes.io' or 'k8s.io' labels"),
    ("a/b/c=x", "invalid node labels"),
    ("rack=-r1", "invalid node labels"),
    ("rack", "malformed pair"),
])
def test_the_kubelet_refuses_labels_as_upstream(labels: str, words: str) -> None:
    double = load_kubeadm_double("1.31.2")
    with pytest.raises(double.Rejected, match=words):
        double.check_node_labels(labels)


@pytest.mark.parametrize("join_worker, stage", [(True, r"\[kubelet-start\]"), (False, r"\[mark-control-plane\]")])
def test_kubeadm_refuses_a_bad_taint_where_upstream_does(join_worker: bool, stage: str) -> None:
    double = load_kubeadm_double("1.31.2")
    with pytest.raises(double.Rejected, match=stage + ".*unsupported taint effect"):
        double.check_registration({"taints": [{"key": "a", "effect": "NoSchedul"}]}, join_worker)


def k3s_release(tmp_path: pathlib.Path, version: str) -> pathlib.Path:
    path = tmp_path / ("k3s-" + version)
    subprocess.run([sys.executable, str(DOUBLES / "k3s" / "build.py"), version, str(path)],
                   check=True, capture_output=True, text=True)
    return path


def admit(binary: pathlib.Path, tmp_path: pathlib.Path, config: str) -> subprocess.CompletedProcess:
    (tmp_path / "config.yaml").write_text(config, encoding="utf-8")
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}))
    env = dict(os.environ, K3S_TOKEN="K10secret")
    return subprocess.run([sys.executable, str(binary), "double-admit", "agent", str(manifest), "--config",
                           str(tmp_path / "config.yaml")], capture_output=True, text=True, timeout=30, env=env,
                          check=False)


@pytest.mark.parametrize("version", ["v1.21.4+k3s1", "v1.31.2+k3s1"])
def test_k3s_takes_the_rendered_node_labels_and_taints(tmp_path: pathlib.Path, version: str) -> None:
    config = k3s_config.agent_config(plan("k3s", version), "w", "m", version)["config"]
    assert config["node-label"] and config["node-taint"] == TAINTS
    result = admit(k3s_release(tmp_path, version), tmp_path, k3s_config.config_yaml(config).replace(
        'server: "https://10.250.0.41:6443"', 'server: "https://127.0.0.1:9"'))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("extra, words", [
    ('node-label:\n  - "node-role.kubernetes.io/worker=true"\n', "unknown 'kubernetes.io' or 'k8s.io' labels"),
    ('node-label:\n  - "rack=r 1"\n', "invalid node labels"),
    ('node-taint:\n  - "gpu=true:NoSchedul"\n', "unsupported taint effect"),
    ('node-taint:\n  - "gpu=a=b:NoSchedule"\n', "invalid taint spec"),
    ('node-taint:\n  - "bad key:NoSchedule"\n', "invalid taint spec"),
])
def test_k3s_refuses_what_its_kubelet_refuses(tmp_path: pathlib.Path, extra: str, words: str) -> None:
    config = 'server: "https://127.0.0.1:9"\nnode-ip: "10.0.0.1,fd00::1"\n' + extra
    result = admit(k3s_release(tmp_path, "v1.31.2+k3s1"), tmp_path, config)
    assert result.returncode == 1 and words in result.stderr, result.stderr
