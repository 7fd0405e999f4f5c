"""Installs with no internet, run on this machine. The kubeadm side, rendered: the offline_mirror
role checks a mirror folder of kubeadm files, returns the image tarballs to preload, and gives
containerd's hosts.toml of each mirrored registry; kubeadm_node's config.toml then points
containerd at them. A damaged or unrecorded file stops kubeadm_node before its first task that
would touch the host (the runs are in check mode as a second guard). Calico's manifest comes
from the mirror checked against the calico_dualstack role's record, and a k3s server's check
(site.yml's plan stage) names every file its mirror lacks.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
VERSION = "1.31.2"
REGISTRIES = {
    "mirrors": {"registry.k8s.io": {"endpoint": ["https://mirror.example:5000"]},
                "docker.io": {"endpoint": ["https://mirror.example:5000"]}},
    "configs": {"mirror.example:5000": {"tls": {"ca_file": "/etc/ssl/certs/mirror.pem"}}},
}


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def mirror(tmp_path: pathlib.Path) -> tuple[pathlib.Path, dict]:
    """A mirror folder with stand-ins for v1.31.2's binaries and two exported images; the
    collection records no sums for these, so all are given, as a user would."""
    folder = tmp_path / "mirror"
    files = {"kubernetes/v1.31.2/amd64/%s" % name: ("stand-in %s\n" % name).encode()
             for name in ("kubeadm", "kubelet", "kubectl")}
    files["kubernetes/v1.31.2/images/registry.k8s.io_pause_3.10.tar"] = b"pause image"
    files["kubernetes/v1.31.2/images/registry.k8s.io_etcd_3.5.15-0.tar"] = b"etcd image"
    for path, data in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    return folder, {path: sha(data) for path, data in files.items()}


def run(tmp_path: pathlib.Path, play: str, hostvars: dict, check: bool = False) -> tuple[int, str]:
    if not os.environ.get("ANSIBLE_COLLECTIONS_PATH"):
        pytest.skip("run '. tests/env.sh' first: the collection is not on ANSIBLE_COLLECTIONS_PATH")
    playbook = tmp_path / "play.yml"
    playbook.write_text(play)
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"node": dict(
        ansible_connection="local",
        ansible_python_interpreter=os.environ.get("VIRTUAL_ENV", "/usr") + "/bin/python", **hostvars)}}}))
    argv = ["ansible-playbook", "-i", str(inventory), str(playbook)] + (["--check"] if check else [])
    result = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, check=False,
                            env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"))
    return result.returncode, result.stdout + result.stderr


RENDER = """
- hosts: node
  gather_facts: false
  tasks:
    - name: Check the mirror as a kubeadm node's roles do
      ansible.builtin.include_role:
        name: dualstack.kubernetes.offline_mirror
      vars:
        offline_mirror_node_kind: kubeadm
        offline_mirror_kubernetes_version: "1.31.2"
    - name: Write what the node would get
      ansible.builtin.copy:
        content: "{{ {'verified': offline_mirror_verified, 'images': offline_mirror_images,
                      'hosts': offline_mirror_registries | default({}) | dualstack.kubernetes.offline_mirror_hosts_toml,
                      'config_toml': lookup('ansible.builtin.template', repo ~ '/roles/kubeadm_node/templates/containerd-config.toml.j2')}
                     | to_json }}"
        dest: "{{ out }}"
        mode: "0644"
"""


def test_the_kubeadm_mirror_renders_the_preload_list_hosts_toml_and_config_path(tmp_path, mirror):
    folder, sums = mirror
    out = tmp_path / "render.json"
    rc, log = run(tmp_path, RENDER, {
        "offline_mirror_dir": str(folder), "offline_mirror_checksums": sums, "offline_mirror_registries": REGISTRIES,
        "out": str(out), "repo": str(REPO), "kubeadm_node_containerd_sandbox_image": "registry.k8s.io/pause:3.10"})
    assert rc == 0, log[-3000:]
    render = json.loads(out.read_text())
    # The binaries kubeadm_node installs, each with the sum it was checked against.
    assert {name: item["sha256"] for name, item in render["verified"].items()} == {
        name: sums["kubernetes/v1.31.2/amd64/" + name][7:] for name in ("kubeadm", "kubelet", "kubectl")}
    assert render["verified"]["kubelet"]["src"] == str(folder / "kubernetes/v1.31.2/amd64/kubelet")
    # The preloaded images, in name order, each checked.
    assert [(image["path"], "sha256:" + image["sha256"]) for image in render["images"]] == [
        ("kubernetes/v1.31.2/images/registry.k8s.io_etcd_3.5.15-0.tar",
         sums["kubernetes/v1.31.2/images/registry.k8s.io_etcd_3.5.15-0.tar"]),
        ("kubernetes/v1.31.2/images/registry.k8s.io_pause_3.10.tar",
         sums["kubernetes/v1.31.2/images/registry.k8s.io_pause_3.10.tar"]),
    ]
    assert render["hosts"] == {
        "/etc/containerd/certs.d/docker.io/hosts.toml":
            "# Managed by dualstack.kubernetes.kubeadm_node: the mirrors of docker.io, tried before it.\n"
            'server = "https://registry-1.docker.io"\n\n'
            '[host."https://mirror.example:5000"]\n  capabilities = ["pull", "resolve"]\n'
            '  ca = "/etc/ssl/certs/mirror.pem"\n',
        "/etc/containerd/certs.d/registry.k8s.io/hosts.toml":
            "# Managed by dualstack.kubernetes.kubeadm_node: the mirrors of registry.k8s.io, tried before it.\n"
            'server = "https://registry.k8s.io"\n\n'
            '[host."https://mirror.example:5000"]\n  capabilities = ["pull", "resolve"]\n'
            '  ca = "/etc/ssl/certs/mirror.pem"\n',
    }
    assert '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n' \
        in render["config_toml"]


def test_without_registries_config_toml_is_as_before(tmp_path, mirror):
    folder, sums = mirror
    out = tmp_path / "render.json"
    rc, log = run(tmp_path, RENDER, {
        "offline_mirror_dir": str(folder), "offline_mirror_checksums": sums,
        "out": str(out), "repo": str(REPO), "kubeadm_node_containerd_sandbox_image": "registry.k8s.io/pause:3.10"})
    assert rc == 0, log[-3000:]
    render = json.loads(out.read_text())
    assert render["hosts"] == {}
    assert "config_path" not in render["config_toml"]


KUBEADM_NODE = """
- hosts: node
  gather_facts: false
  roles:
    - role: dualstack.kubernetes.kubeadm_node
"""
NODE_VARS = {"address_plan": {"kubernetes_version": VERSION, "decisions": {"kubernetes_apt_packages": True}}}


def test_a_damaged_binary_stops_kubeadm_node_before_it_touches_the_host(tmp_path, mirror):
    folder, sums = mirror
    (folder / "kubernetes/v1.31.2/amd64/kubelet").write_bytes(b"cut short")
    rc, out = run(tmp_path, KUBEADM_NODE, dict(NODE_VARS, offline_mirror_dir=str(folder),
                                               offline_mirror_checksums=sums), check=True)
    assert rc != 0
    assert "offline_mirror_dir: %s holds kubernetes/v1.31.2/amd64/kubelet with sha256 %s, not %s" % (
        folder, hashlib.sha256(b"cut short").hexdigest(), sums["kubernetes/v1.31.2/amd64/kubelet"][7:]) in out
    assert "download it again from https://dl.k8s.io/release/v1.31.2/bin/linux/amd64/kubelet" in out
    assert "Install containerd" not in out


def test_an_image_without_a_sum_and_a_missing_binary_are_both_named(tmp_path, mirror):
    folder, sums = mirror
    (folder / "kubernetes/v1.31.2/amd64/kubectl").unlink()
    del sums["kubernetes/v1.31.2/images/registry.k8s.io_pause_3.10.tar"]
    rc, out = run(tmp_path, KUBEADM_NODE, dict(NODE_VARS, offline_mirror_dir=str(folder),
                                               offline_mirror_checksums=sums), check=True)
    assert rc != 0
    assert "not complete (2 files)" in out
    assert "has no kubernetes/v1.31.2/amd64/kubectl (kubectl v1.31.2 for amd64). Download it from " \
           "https://dl.k8s.io/release/v1.31.2/bin/linux/amd64/kubectl to %s/kubernetes/v1.31.2/amd64/kubectl" % folder in out
    assert "Set offline_mirror_checksums['kubernetes/v1.31.2/images/registry.k8s.io_pause_3.10.tar'] to sha256:<hex>" in out
    assert "Install containerd" not in out


SHARED = pathlib.Path(os.environ.get("DUALSTACK_SHARED", REPO.parent / "shared"))
CALICO = SHARED / "manifests" / "calico" / "calico-v3.30.7.yaml"
CALICO_PLAY = """
- hosts: node
  gather_facts: false
  roles:
    - role: dualstack.kubernetes.calico_dualstack
"""
PLAN_VARS = {
    "address_plan_distribution": "kubeadm",
    "address_plan_kubernetes_version": VERSION,
    "address_plan_calico_version": "3.30.7",
    "address_plan_pod_cidrs": ["10.244.0.0/16", "fd00:1::/48"],
    "address_plan_service_cidrs": ["10.96.0.0/12", "fd00::/108"],
    "address_plan_node_ipv4": "192.168.1.11",
    "address_plan_node_ipv6": "2001:db8::11",
}


@pytest.mark.skipif(not CALICO.is_file(), reason="the shared Calico manifests are not at hand (DUALSTACK_SHARED)")
@pytest.mark.parametrize("damaged", [False, True])
def test_calico_comes_from_the_mirror_checked_against_the_roles_record(tmp_path, damaged):
    folder = tmp_path / "mirror"
    (folder / "calico/v3.30.7").mkdir(parents=True)
    data = CALICO.read_bytes()
    (folder / "calico/v3.30.7/calico.yaml").write_bytes(data[:-100] if damaged else data)
    dest = tmp_path / "render" / "calico-dualstack.yaml"
    rc, out = run(tmp_path, CALICO_PLAY, dict(
        PLAN_VARS, offline_mirror_dir=str(folder), calico_dualstack_apply=False,
        calico_dualstack_manifest_dest=str(dest), calico_dualstack_work_dir=str(tmp_path / "work")))
    if damaged:
        assert rc != 0
        assert "holds calico/v3.30.7/calico.yaml with sha256 %s, not ed105288" % hashlib.sha256(data[:-100]).hexdigest() in out
        assert "https://raw.githubusercontent.com/projectcalico/calico/v3.30.7/manifests/calico.yaml" in out
        assert not dest.exists()
    else:
        assert rc == 0, out[-3000:]
        patched = dest.read_text()
        assert "CALICO_IPV6POOL_CIDR" in patched and "fd00:1::/48" in patched
        # Nothing was downloaded: the work folder has no copy of calico.yaml.
        assert not (tmp_path / "work" / "calico-v3.30.7.yaml").exists()


K3S_CHECK = """
- hosts: node
  gather_facts: false
  tasks:
    - name: The plan stage's check of a k3s server
      ansible.builtin.include_role:
        name: dualstack.kubernetes.k3s_server
        tasks_from: check
"""
K3S_VARS = dict(PLAN_VARS, address_plan_distribution="k3s", address_plan_kubernetes_version="v1.31.2+k3s1",
                address_plan_pod_cidrs=["10.42.0.0/16", "fd42:42::/56"],
                address_plan_service_cidrs=["10.43.0.0/16", "fd42:43::/112"],
                address_plan_node_hosts=["node"], k3s_server_token="K10check::server:0123456789ab")


def test_the_k3s_check_stage_names_every_file_the_mirror_lacks(tmp_path):
    """A k3s server's check (site.yml's plan stage) with an empty mirror folder: the binary, whose
    sum the collection records, and the airgap tarball, whose sum it does not, are both named."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    rc, out = run(tmp_path, K3S_CHECK, dict(K3S_VARS, offline_mirror_dir=str(folder)), check=True)
    assert rc != 0
    assert "not complete (2 files)" in out
    assert "has no k3s/v1.31.2+k3s1/k3s (the k3s v1.31.2+k3s1 binary for amd64). Download it from " \
           "https://github.com/k3s-io/k3s/releases/download/v1.31.2%2Bk3s1/k3s" in out
    assert "has no k3s/v1.31.2+k3s1/k3s-airgap-images-amd64.tar.zst" in out


def test_the_k3s_check_stage_passes_a_complete_mirror(tmp_path):
    folder = tmp_path / "mirror"
    files = {"k3s/v1.31.2+k3s1/k3s": b"k3s stand-in", "k3s/v1.31.2+k3s1/k3s-airgap-images-amd64.tar.zst": b"images"}
    for path, data in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    registries = {"mirrors": {"docker.io": {"endpoint": ["https://mirror.example:5000"]}},
                  "configs": {"mirror.example:5000": {"auth": {"username": "u", "password": "check-secret-5e1"}}}}
    hostvars = dict(K3S_VARS, offline_mirror_dir=str(folder), offline_mirror_registries=registries,
                    offline_mirror_checksums={p: sha(d) for p, d in files.items()})
    rc, out = run(tmp_path, K3S_CHECK, hostvars, check=True)
    assert rc == 0, out[-3000:]
    assert "Check the mirror folder's files against their sha256" in out
    assert "check-secret-5e1" not in out
