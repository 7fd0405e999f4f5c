"""The kubeadm/kubelet stand-ins refuse what the real releases refuse, and accept what the
collection renders for every config API it writes.

The stand-ins run on lab nodes; here they run on the controller against a scratch root
(K8S_DOUBLE_ROOT) without systemd.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DOUBLES = REPO / "tests" / "doubles" / "kubeadm"
sys.path.insert(0, str(REPO / ".build" / "collections"))

from ansible_collections.dualstack.kubernetes.plugins.module_utils import kubeadm_config as kc  # noqa: E402


def load_double(version):
    spec = importlib.util.spec_from_file_location("k8s_double_%s" % version.replace(".", "_"),
                                                  DOUBLES / "k8s_double.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.DECLARED_VERSION = version
    return module


def plan(version, primary="ipv4"):
    """A plan as the address_plan role derives it, with the gate where FACTS.md says it is needed."""
    pods = {"ipv4": "10.244.0.0/16", "ipv6": "fd00:1::/48"}
    services = {"ipv4": "10.96.0.0/12", "ipv6": "fd00::/108"}
    families = [primary, "ipv6" if primary == "ipv4" else "ipv4"]
    minor = int(version.split(".")[1])
    return {
        "distribution": "kubeadm", "kubernetes_version": version, "primary_family": primary,
        "families": families,
        "pod_subnet": ",".join(pods[f] for f in families),
        "service_subnet": ",".join(services[f] for f in families),
        "node_mask": {"ipv4": 24, "ipv6": 64}, "node_cidr_allocation": True,
        "nodes": {name: dict(addresses, node_ip=",".join(addresses[f] for f in families[:2 if minor >= 20 else 1]))
                  for name, addresses in (("m", {"ipv4": "10.250.0.41", "ipv6": "fd42:1ab:250::41"}),
                                          ("w", {"ipv4": "10.250.0.42", "ipv6": "fd42:1ab:250::42"}))},
        "feature_gates": {"IPv6DualStack": True} if minor <= 20 else {},
    }


VERSIONS = ["1.18.20", "1.20.15", "1.21.14", "1.22.17", "1.24.17", "1.25.16", "1.30.14",
            "1.31.2", "1.33.1"]


@pytest.mark.parametrize("primary", ["ipv4", "ipv6"])
@pytest.mark.parametrize("version", VERSIONS)
def test_rendered_configuration_is_accepted_by_its_release(version, primary):
    double = load_double(version)
    docs = kc.init_documents(plan(version, primary), "m")
    by_kind = double.validate_documents(json.loads(json.dumps(docs)), "init")
    pods, services = double.check_cluster(by_kind["ClusterConfiguration"])
    assert [n.version for n in pods] == [n.version for n in services] == ([4, 6] if primary == "ipv4" else [6, 4])
    node_ip = double.args_map(by_kind["InitConfiguration"]["nodeRegistration"]["kubeletExtraArgs"])["node-ip"]
    gates = docs[2].get("featureGates", {})
    assert len(double.check_node_ip(node_ip, gates)) == (1 if double.minor() < 20 else 2)
    join = kc.join_documents(plan(version, primary), "w", api_server="[fd42:1ab:250::41]:6443",
                             token="abcdef.0123456789abcdef", ca_cert_hashes=["sha256:" + "1" * 64])
    double.validate_documents(join, "join")


def init_docs(version="1.31.2", primary="ipv4"):
    return json.loads(json.dumps(kc.init_documents(plan(version, primary), "m")))


def rejected(double, docs, words, command="init"):
    with pytest.raises(double.Rejected, match=words):
        by_kind = double.validate_documents(docs, command)
        if "ClusterConfiguration" in by_kind:
            double.check_cluster(by_kind["ClusterConfiguration"])


def test_init_and_join_warn_about_unknown_fields_and_validate_refuses_them():
    double = load_double("1.31.2")
    docs = init_docs()
    docs[1]["networking"]["podCIDR"] = "10.0.0.0/8"
    docs[2]["nodeIP"] = "10.0.0.1"
    warnings = []
    by_kind = double.validate_documents(docs, "init", warnings=warnings)
    assert "podCIDR" not in by_kind["ClusterConfiguration"]["networking"]
    assert "nodeIP" not in by_kind["KubeletConfiguration"]
    assert any("networking: unknown field 'podCIDR' (ignored)" in w for w in warnings)
    assert any("KubeletConfiguration: unknown field 'nodeIP' (ignored)" in w for w in warnings)
    with pytest.raises(double.Rejected, match=r"networking: unknown field 'podCIDR'"):
        double.validate_documents(docs, "validate", strict=True)
    docs = init_docs()
    docs[0]["kind"] = "InitConfig"
    rejected(double, docs, "no kind 'InitConfig'")
    docs = init_docs() + [{"apiVersion": "example.com/v1", "kind": "Other"}]
    warnings = []
    assert "Other" not in double.validate_documents(docs, "init", warnings=warnings)
    assert warnings == ["[config] WARNING: Ignored configuration document with GroupVersionKind example.com/v1 Other"]
    with pytest.raises(double.Rejected, match="unknown apiVersion/kind"):
        double.validate_documents(docs, "validate", strict=True)


def test_each_api_has_its_own_fields():
    v1beta3 = load_double("1.30.14")
    docs = init_docs("1.30.14")
    docs[1]["apiServer"] = {"timeoutForControlPlane": "4m0s"}
    v1beta3.validate_documents(docs, "validate", strict=True)
    docs[0]["timeouts"] = {"kubeletHealthCheck": "4m0s"}
    with pytest.raises(v1beta3.Rejected, match=r"unknown field 'timeouts'"):
        v1beta3.validate_documents(docs, "validate", strict=True)

    v1beta4 = load_double("1.31.2")
    docs = init_docs("1.31.2")
    docs[0]["timeouts"] = {"kubeletHealthCheck": "4m0s"}
    v1beta4.validate_documents(docs, "validate", strict=True)
    docs[1]["apiServer"] = {"timeoutForControlPlane": "4m0s"}
    with pytest.raises(v1beta4.Rejected, match=r"apiServer: unknown field 'timeoutForControlPlane'"):
        v1beta4.validate_documents(docs, "validate", strict=True)

    v1beta2 = load_double("1.18.20")
    docs = init_docs("1.18.20")
    docs[0]["nodeRegistration"]["imagePullPolicy"] = "Never"
    with pytest.raises(v1beta2.Rejected, match=r"unknown field 'imagePullPolicy'"):
        v1beta2.validate_documents(docs, "validate", strict=True)


FIELDS = json.loads((REPO / "tests" / "doubles" / "data" / "kubernetes.json").read_text())["kubeadm_apis"]
API_RELEASE = {"kubeadm.k8s.io/v1beta2": "1.18.20", "kubeadm.k8s.io/v1beta3": "1.30.14",
               "kubeadm.k8s.io/v1beta4": "1.31.2"}


def sample(kind, beta):
    """A value of every field a schema has, of the field's type."""
    if isinstance(kind, dict):
        return {key: sample(inner, beta) for key, inner in kind.items()}
    if isinstance(kind, tuple):
        return [sample(kind[1], beta)]
    if kind == "args":
        return [{"name": "v", "value": "2"}] if beta == "v1beta4" else {"v": "2"}
    return {"str": "x", "int": 1, "bool": True, "strlist": ["x"], "strmap": {"a": "b"}, "boolmap": {},
            "any": {}}[kind]


def fields_of(value, prefix=""):
    if isinstance(value, list):
        return fields_of(value[0], prefix + "[]") if value and isinstance(value[0], dict) else set()
    if not isinstance(value, dict):
        return set()
    found = set()
    for key, inner in value.items():
        found.add(prefix + "." + key)
        found |= fields_of(inner, prefix + "." + key)
    return found


@pytest.mark.parametrize("api", sorted(FIELDS))
def test_every_field_of_the_api_is_accepted_and_an_unknown_one_warned_about(api):
    double = load_double(API_RELEASE[api])
    beta = api.rsplit("/", 1)[1]
    schemas = double.kubeadm_schemas(api)
    table = FIELDS[api]["types"]
    for kind in double.KUBEADM_KINDS:
        if kind not in table:
            continue
        # Every field the table lists for the kind is in the double's schema.
        assert sorted(schemas[kind]) == sorted(f for f in table[kind] if f not in ("apiVersion", "kind")), kind
    for kind in ("InitConfiguration", "ClusterConfiguration", "JoinConfiguration"):
        doc = dict(sample(schemas[kind], beta), apiVersion=api, kind=kind)
        command = "join" if kind == "JoinConfiguration" else "init"
        by_kind = double.validate_documents([doc], "validate", strict=True)
        assert fields_of(by_kind[kind]) == fields_of(doc)
        doc["notAField"] = "x"
        warnings = []
        by_kind = double.validate_documents([doc], command, warnings=warnings)
        assert "notAField" not in by_kind[kind]
        assert warnings == ["%s %s: unknown field 'notAField' (ignored)" % (api, kind)]
        with pytest.raises(double.Rejected, match="unknown field 'notAField'"):
            double.validate_documents([doc], "validate", strict=True)


def test_flags_beside_config_follow_kubeadms_allow_list():
    double = load_double("1.31.2")
    double.check_mixed_flags({"config": "f", "node-name": "m", "skip-phases": "addon/kube-proxy",
                              "ignore-preflight-errors": "all", "v": "5"})
    with pytest.raises(double.Rejected, match=r"can not mix '--config' with arguments \['cert-dir'\]"):
        double.check_mixed_flags({"config": "f", "cert-dir": "/tmp"})


@pytest.mark.parametrize("subnet, mask, accepted", [
    ("10.0.0.0/8", None, True),         # default /24: 16 bits longer
    ("10.0.0.0/7", None, False),        # default /24: 17 bits longer
    ("10.0.0.0/8", "25", False),
    ("fd00:1::/48", "64", True),
    ("fd00:1::/48", "65", False),
])
def test_pod_subnet_and_node_mask_differ_by_at_most_16_bits_in_either_family(subnet, mask, accepted):
    double = load_double("1.31.2")
    family = "ipv6" if ":" in subnet else "ipv4"
    cluster = {"networking": {"podSubnet": subnet, "serviceSubnet": "fd00:2::/112" if family == "ipv6" else "192.168.0.0/16"},
               "controllerManager": {"extraArgs": [{"name": "node-cidr-mask-size-" + family, "value": mask}]
                                     if mask else []}}
    if accepted:
        double.check_cluster(cluster)
    else:
        with pytest.raises(double.Rejected, match="difference is greater than 16"):
            double.check_cluster(cluster)


def test_control_plane_join_needs_the_clusters_control_plane_endpoint(tmp_path):
    double = load_double("1.31.2")
    double.ROOT = str(tmp_path)
    join = {"controlPlane": {"localAPIEndpoint": {"advertiseAddress": "10.0.0.2"}}}
    with pytest.raises(double.Rejected, match="cannot read the cluster's kubeadm-config"):
        double.check_control_plane_join(join)
    double.save_state({"control_plane_endpoint": ""})
    with pytest.raises(double.Rejected, match="doesn't have a stable controlPlaneEndpoint address"):
        double.check_control_plane_join(join)
    double.save_state({"control_plane_endpoint": "cp.example:6443"})
    double.check_control_plane_join(join)
    double.check_control_plane_join({})


def test_the_kubelet_refuses_a_static_pod_with_a_sysctl_the_node_does_not_allow(tmp_path):
    double = load_double("1.31.2")
    double.ROOT = str(tmp_path)
    manifests = tmp_path / "etc/kubernetes/manifests"
    manifests.mkdir(parents=True)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"securityContext": {"sysctls": [{"name": "net.ipv6.conf.all.forwarding", "value": "1"},
                                                    {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]}}}
    (manifests / "p.yaml").write_text(json.dumps(pod))
    refused = double.static_pods_admitted("/etc/kubernetes/manifests", [])
    assert refused == [{"manifest": "p.yaml", "admitted": False,
                        "reason": "SysctlForbidden: forbidden sysctls ['net.ipv6.conf.all.forwarding']"}]
    admitted = double.static_pods_admitted("/etc/kubernetes/manifests", ["net.ipv6.conf.all.forwarding"])
    assert admitted == [{"manifest": "p.yaml", "admitted": True, "reason": ""}]
    # 1.18 had no ip_unprivileged_port_start among its safe sysctls.
    old = load_double("1.18.20")
    assert old.forbidden_sysctls(pod["spec"], ["net.ipv6.*"]) == ["net.ipv4.ip_unprivileged_port_start"]


def test_v1beta4_extra_args_must_be_lists():
    double = load_double("1.31.2")
    docs = init_docs()
    docs[1]["controllerManager"]["extraArgs"] = {"node-cidr-mask-size-ipv4": "24"}
    rejected(double, docs, r"\[\]v1beta4.Arg")
    docs = init_docs()
    docs[0]["nodeRegistration"]["kubeletExtraArgs"] = {"node-ip": "10.250.0.41"}
    rejected(double, docs, r"kubeletExtraArgs: cannot unmarshal dict")


@pytest.mark.parametrize("version, api, accepted", [
    ("1.21.14", "v1beta2", True), ("1.21.14", "v1beta3", False),
    ("1.25.16", "v1beta2", True), ("1.26.15", "v1beta2", False),
    ("1.30.14", "v1beta4", False), ("1.31.2", "v1beta3", True),
])
def test_config_api_versions_per_release(version, api, accepted):
    double = load_double(version)
    docs = [{"apiVersion": "kubeadm.k8s.io/" + api, "kind": "ClusterConfiguration",
             "networking": {"podSubnet": "10.244.0.0/16"}}]
    if accepted:
        double.validate_documents(docs, "init")
    else:
        rejected(double, docs, "does not support this config API")


def test_dual_stack_gate_is_needed_before_1_21_and_refused_from_1_25():
    old = load_double("1.18.20")
    docs = init_docs("1.18.20")
    del docs[1]["featureGates"]
    rejected(old, docs, "needs the IPv6DualStack feature gate")
    new = load_double("1.25.16")
    docs = init_docs("1.25.16")
    docs[2]["featureGates"] = {"IPv6DualStack": True}
    rejected(new, docs, "unrecognized feature gate: IPv6DualStack")
    docs = init_docs("1.25.16")
    docs[1]["featureGates"] = {"NotAKubeadmGate": True}
    rejected(new, docs, "unrecognized feature-gate key: NotAKubeadmGate")


def test_network_sizes_follow_the_controller_manager_and_apiserver():
    double = load_double("1.31.2")
    docs = init_docs()
    docs[1]["controllerManager"]["extraArgs"][1]["value"] = "72"  # /48 + 24 bits
    rejected(double, docs, "node CIDR size is too big")
    docs = init_docs()
    docs[1]["networking"]["serviceSubnet"] = "10.96.0.0/12,fd00::/100"
    rejected(double, docs, "must be >= 108")
    docs = init_docs()
    docs[1]["networking"]["podSubnet"] = "10.96.0.0/16,fd00:1::/48"
    rejected(double, docs, "overlaps")


def test_node_ip_pairs_need_1_20():
    assert load_double("1.31.2").check_node_ip("10.0.0.1,fd00::1", {}) == ["10.0.0.1", "fd00::1"]
    with pytest.raises(Exception, match="single IP"):
        load_double("1.18.20").check_node_ip("10.0.0.1,fd00::1", {"IPv6DualStack": True})
    with pytest.raises(Exception, match="one IPv4 and one IPv6"):
        load_double("1.31.2").check_node_ip("10.0.0.1,10.0.0.2", {})


def test_flags_are_checked():
    double = load_double("1.31.2")
    with pytest.raises(double.Rejected, match="unknown flag: --pod-network-cidr"):
        double.parse_flags(["--pod-network-cidr=10.0.0.0/8"], double.INIT_FLAGS, double.INIT_BOOL)
    with pytest.raises(double.Rejected, match="invalid duration"):
        double.go_duration("15 minutes")


@pytest.fixture()
def built(tmp_path):
    out = tmp_path / "bin"
    result = subprocess.run([sys.executable, str(DOUBLES / "build.py"), "1.31.2", str(out)],
                            check=True, capture_output=True, text=True)
    binaries = json.loads(result.stdout)
    assert [b["name"] for b in binaries] == ["kubeadm", "kubelet", "kubectl"]
    return out


def run(binary, args, root, check=True):
    env = dict(os.environ, K8S_DOUBLE_ROOT=str(root), K8S_DOUBLE_NO_SYSTEMD="1")
    result = subprocess.run([str(binary)] + args, env=env, capture_output=True, text=True, check=False)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def calls(root):
    return [json.loads(line) for line in (root / "var/log/k8s-double/calls.jsonl").read_text().splitlines()]


def test_init_token_and_join_leave_what_the_roles_read(built, tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed on this machine")
    master, worker = tmp_path / "master", tmp_path / "worker"
    config = tmp_path / "init.yaml"
    config.write_text(kc.render(kc.init_documents(plan("1.31.2", "ipv6"), "m")))
    out = run(built / "kubeadm", ["init", "--config", str(config), "--skip-token-print", "--node-name", "m1",
                                  "--upload-certs", "--skip-certificate-key-print"], master)
    assert [c["node_name"] for c in calls(master) if c["command"] == "init"] == ["m1"]
    state = json.loads((master / "var/lib/k8s-double/state.json").read_text())
    assert oct((master / "var/lib/k8s-double/state.json").stat().st_mode & 0o777) == "0o600"
    assert state["tokens"][0]["token"] not in out.stdout and state["certificate_key"] not in out.stdout
    # the hash the stand-in computed with openssl is the one the collection computes
    assert kc.ca_cert_hash((master / "etc/kubernetes/pki/ca.crt").read_text()) == state["ca_cert_hash"]
    assert (master / "etc/kubernetes/admin.conf").stat().st_mode & 0o077 == 0
    scheduler = json.loads((master / "etc/kubernetes/manifests/kube-scheduler.yaml").read_text())
    assert "--bind-address=::" in scheduler["spec"]["containers"][0]["command"]
    flags = (master / "var/lib/kubelet/kubeadm-flags.env").read_text()
    assert "--node-ip=fd42:1ab:250::41,10.250.0.41" in flags

    again = run(built / "kubeadm", ["init", "--config", str(config)], master, check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    mixed = run(built / "kubeadm", ["init", "--config", str(config), "--cert-dir", "/x"], master, check=False)
    assert mixed.returncode == 1 and "can not mix '--config' with arguments ['cert-dir']" in mixed.stderr

    token = run(built / "kubeadm", ["token", "create", "--ttl", "15m"], master).stdout.strip()
    join = tmp_path / "join.yaml"
    join.write_text(kc.render(kc.join_documents(plan("1.31.2", "ipv6"), "w",
                                                api_server="[fd42:1ab:250::41]:6443", token=token,
                                                ca_cert_hashes=[state["ca_cert_hash"]])))
    join.chmod(0o600)
    run(built / "kubeadm", ["join", "--config", str(join)], worker)
    record = [c for c in calls(worker) if c["command"] == "join"][0]
    assert record["config_mode"] == "0600"
    assert token not in json.dumps(calls(worker)) and token not in json.dumps(calls(master))
    assert record["documents"][0]["discovery"]["bootstrapToken"]["caCertHashes"] == [state["ca_cert_hash"]]
    assert (worker / "etc/kubernetes/kubelet.conf").exists()


def test_token_on_the_command_line_is_refused(built, tmp_path):
    result = run(built / "kubeadm", ["join", "10.0.0.1:6443", "--token", "abcdef.0123456789abcdef"],
                 tmp_path, check=False)
    assert result.returncode == 1 and "unknown flag: --token" in result.stderr


def test_kubelet_refuses_a_flag_its_release_removed(built, tmp_path):
    result = run(built / "kubelet", ["--network-plugin=cni"], tmp_path, check=False)
    assert result.returncode == 1
    assert calls(tmp_path)[-1]["result"] == "rejected"
    assert "unknown flag: --network-plugin" in calls(tmp_path)[-1]["error"]
    assert run(built / "kubelet", ["--version"], tmp_path).stdout.strip() == "Kubernetes v1.31.2"


def test_unchanged_docs_stay_unchanged_by_validation():
    double = load_double("1.31.2")
    docs = init_docs()
    before = copy.deepcopy(docs)
    double.validate_documents(docs, "init")
    assert docs == before


def ha_plan():
    base = plan("1.31.2")
    base["nodes"]["m2"] = {"ipv4": "10.250.0.43", "ipv6": "fd42:1ab:250::43",
                           "node_ip": "10.250.0.43,fd42:1ab:250::43"}
    base["api_endpoint"] = {"host": "127.0.0.1", "port": 6443, "vips": ["127.0.0.1", "::1"], "url_host": "127.0.0.1"}
    base["control_planes"] = ["m", "m2"]
    return base


def test_a_control_plane_joins_over_the_network_with_the_uploaded_key_only(built, tmp_path):
    """A first control plane's stand-in API server on loopback (both families): a control-plane
    join is refused with a key other than the uploaded one or a token the cluster lacks, and
    accepted and recorded as a member with the right ones, through either family."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed on this machine")
    master = tmp_path / "master"
    config = tmp_path / "init.yaml"
    config.write_text(kc.render(kc.init_documents(ha_plan(), "m", certificate_key="ab" * 32)))
    run(built / "kubeadm", ["init", "--config", str(config), "--skip-token-print", "--upload-certs",
                            "--skip-certificate-key-print"], master)
    # The phase takes the key from the configuration file, so that it is never on a command line.
    out = run(built / "kubeadm", ["init", "phase", "upload-certs", "--upload-certs", "--skip-certificate-key-print",
                                  "--config", str(config)], master)
    assert "ab" * 32 not in out.stdout
    state = json.loads((master / "var/lib/k8s-double/state.json").read_text())
    assert state["certificate_key"] == "ab" * 32
    token = run(built / "kubeadm", ["token", "create", "--ttl", "15m"], master).stdout.strip()

    double = load_double("1.31.2")
    double.ROOT = str(master)
    server = double.DualStackServer(("::", 0), double.ApiHandler)
    port = server.server_address[1]
    import ssl
    import threading
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(master / "etc/kubernetes/pki/apiserver.crt", master / "etc/kubernetes/pki/apiserver.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        def join(endpoint, key, with_token=token, hashes=(state["ca_cert_hash"],)):
            doc = kc.join_documents(ha_plan(), "m2", api_server=endpoint, token=with_token, ca_cert_hashes=list(hashes),
                                    control_plane=True, certificate_key=key)[0]
            return double.join_over_the_network(doc, endpoint, with_token, list(hashes), "m2")

        with pytest.raises(double.Rejected, match="message authentication failed"):
            join("127.0.0.1:%d" % port, "cd" * 32)
        with pytest.raises(double.Rejected, match="bootstrap token is not known"):
            join("127.0.0.1:%d" % port, "ab" * 32, with_token="zzzzzz.zzzzzzzzzzzzzzzz")
        with pytest.raises(double.Rejected, match="none of the public keys"):
            join("127.0.0.1:%d" % port, "ab" * 32, hashes=("sha256:" + "0" * 64,))
        answer = join("[::1]:%d" % port, "ab" * 32)
        assert answer["ca_key"].startswith("-----BEGIN") and answer["control_plane_endpoint"] == "127.0.0.1:6443"
        members = json.loads((master / "var/lib/k8s-double/state.json").read_text())["members"]
        assert [(m["node"], m["how"]) for m in members] == [("m", "init"), ("m2", "join")]
        assert members[1]["through"] == "[::1]:%d" % port and members[1]["from"] == "::1"
        assert token not in json.dumps(calls(master)) and "ab" * 32 not in json.dumps(calls(master))

        # A cluster initialised without controlPlaneEndpoint takes no further control plane.
        state = json.loads((master / "var/lib/k8s-double/state.json").read_text())
        state["control_plane_endpoint"] = ""
        (master / "var/lib/k8s-double/state.json").write_text(json.dumps(state))
        with pytest.raises(double.Rejected, match="stable controlPlaneEndpoint"):
            join("127.0.0.1:%d" % port, "ab" * 32)
    finally:
        server.shutdown()
