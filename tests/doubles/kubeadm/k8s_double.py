#!/usr/bin/env python
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-ins for kubeadm, kubelet and kubectl on lab nodes that cannot run Kubernetes.

One file, installed under each name; it behaves by the name it is called as. build.py writes
the copies with the version filled in and a python3 shebang (nodes have no "python"). It knows the
Kubernetes version it stands in for (DECLARED_VERSION, filled in by build.py) and refuses what
that release refuses: command-line flags, config apiVersions and kinds, unknown fields (real
kubeadm only warns about those and drops them, which silently loses settings), wrong types,
and the dual-stack rules of that release. What it accepts it records as one JSON line per call
in CALL_LOG, and it leaves behind the files that the real command would, so that roles can
carry on: kubeadm init writes a real self-signed CA (so the discovery hash is real), admin.conf,
the kubelet's config and flags, and static pod manifests carrying the component flags.

Python 3 standard library only; openssl makes the CA. Secrets (bootstrap tokens, the
certificate key) go only into STATE (mode 0600); the call log holds their SHA-256.
"""

import base64
import hashlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time

DECLARED_VERSION = "@VERSION@"

ROOT = os.environ.get("K8S_DOUBLE_ROOT", "/")


def path(*parts):
    return os.path.join(ROOT, *[p.lstrip("/") for p in parts])


CALL_LOG = "/var/log/k8s-double/calls.jsonl"
STATE = "/var/lib/k8s-double/state.json"


class Rejected(Exception):
    """What the real binary would refuse; the message is printed and the call exits 1."""


# --------------------------------------------------------------------------- versions

def version_tuple(text=None):
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", text or DECLARED_VERSION)
    if not match:
        raise Rejected("the double was built without a version (DECLARED_VERSION=%r)" % DECLARED_VERSION)
    return tuple(int(x) for x in match.groups())


def minor():
    return version_tuple()[1]


def kubeadm_api_versions():
    """Config APIs the declared kubeadm reads."""
    m = minor()
    apis = []
    if 15 <= m <= 25:
        apis.append("kubeadm.k8s.io/v1beta2")
    if m >= 22:
        apis.append("kubeadm.k8s.io/v1beta3")
    if m >= 31:
        apis.append("kubeadm.k8s.io/v1beta4")
    return apis


def dual_stack_gate_known():
    # IPv6DualStack: alpha 1.15-1.20, beta 1.21-1.22, GA 1.23-1.24, removed in 1.25.
    return 15 <= minor() <= 24


def dual_stack_gate_required():
    return minor() <= 20


# ---------------------------------------------------------------------------- schemas
# A schema is a dict of field -> type; types are "str", "int", "bool", "strlist",
# "strmap", "boolmap", "args" (extraArgs: a string map before v1beta4, a list of
# name/value pairs in v1beta4), a nested dict, ("list", schema) or "any".

TAINT = {"key": "str", "value": "str", "effect": "str", "timeAdded": "str"}
API_ENDPOINT = {"advertiseAddress": "str", "bindPort": "int"}
BOOTSTRAP_TOKEN = {"token": "str", "description": "str", "ttl": "str", "expires": "str",
                   "usages": "strlist", "groups": "strlist"}
HOST_PATH_MOUNT = {"name": "str", "hostPath": "str", "mountPath": "str", "readOnly": "bool",
                   "pathType": "str"}
ENV_VAR = {"name": "str", "value": "str", "valueFrom": "any"}
IMAGE_META = {"imageRepository": "str", "imageTag": "str"}
NETWORKING = {"serviceSubnet": "str", "podSubnet": "str", "dnsDomain": "str"}
EXTERNAL_ETCD = {"endpoints": "strlist", "caFile": "str", "certFile": "str", "keyFile": "str"}
TIMEOUTS = {name: "str" for name in (
    "controlPlaneComponentHealthCheck", "kubeletHealthCheck", "kubernetesAPICall",
    "etcdAPICall", "tlsBootstrap", "discovery", "upgradeManifests")}


def kubeadm_schemas(api):
    """Field lists of the kubeadm config API ``api`` (kubeadm.k8s.io/v1betaN), after the
    kubeadm API reference for that version."""
    beta = api.rsplit("/", 1)[1]
    node_registration = {"name": "str", "criSocket": "str", "taints": ("list", TAINT),
                         "kubeletExtraArgs": "args", "ignorePreflightErrors": "strlist"}
    component = {"extraArgs": "args", "extraVolumes": ("list", HOST_PATH_MOUNT)}
    local_etcd = dict(IMAGE_META, dataDir="str", extraArgs="args", serverCertSANs="strlist",
                      peerCertSANs="strlist")
    dns = dict(IMAGE_META)
    discovery = {
        "bootstrapToken": {"token": "str", "apiServerEndpoint": "str", "caCertHashes": "strlist",
                           "unsafeSkipCAVerification": "bool"},
        "file": {"kubeConfigPath": "str"},
        "tlsBootstrapToken": "str",
        "timeout": "str",
    }
    init = {"bootstrapTokens": ("list", BOOTSTRAP_TOKEN), "localAPIEndpoint": API_ENDPOINT,
            "certificateKey": "str"}
    join = {"caCertPath": "str", "discovery": discovery,
            "controlPlane": {"localAPIEndpoint": API_ENDPOINT, "certificateKey": "str"}}
    cluster = {"networking": NETWORKING, "kubernetesVersion": "str",
               "controlPlaneEndpoint": "str", "certificatesDir": "str", "imageRepository": "str",
               "featureGates": "boolmap", "clusterName": "str"}
    api_server_extra = {"certSANs": "strlist", "timeoutForControlPlane": "str"}
    if beta == "v1beta2":
        dns["type"] = "str"
        cluster["useHyperKubeImage"] = "bool"
    else:
        node_registration["imagePullPolicy"] = "str"
        patches = {"directory": "str"}
        init.update(skipPhases="strlist", patches=patches)
        join.update(skipPhases="strlist", patches=patches)
    if beta == "v1beta4":
        node_registration["imagePullSerial"] = "bool"
        component["extraEnvs"] = ("list", ENV_VAR)
        local_etcd["extraEnvs"] = ("list", ENV_VAR)
        dns["disabled"] = "bool"
        del discovery["timeout"]
        del api_server_extra["timeoutForControlPlane"]
        init.update(dryRun="bool", timeouts=TIMEOUTS)
        join.update(dryRun="bool", timeouts=TIMEOUTS)
        cluster.update(proxy={"disabled": "bool"}, encryptionAlgorithm="str",
                       certificateValidityPeriod="str", caCertificateValidityPeriod="str")
    init["nodeRegistration"] = node_registration
    join["nodeRegistration"] = node_registration
    cluster.update(etcd={"local": local_etcd, "external": EXTERNAL_ETCD},
                   apiServer=dict(component, **api_server_extra), controllerManager=component,
                   scheduler=component, dns=dns)
    kinds = {"InitConfiguration": init, "ClusterConfiguration": cluster, "JoinConfiguration": join}
    if beta == "v1beta4":
        kinds["ResetConfiguration"] = {"cleanupTmpDir": "bool", "certificatesDir": "str",
                                       "criSocket": "str", "dryRun": "bool", "force": "bool",
                                       "ignorePreflightErrors": "strlist", "skipPhases": "strlist",
                                       "unmountFlags": "strlist", "timeouts": TIMEOUTS}
        kinds["UpgradeConfiguration"] = {"apply": "any", "diff": "any", "node": "any",
                                         "plan": "any", "timeouts": TIMEOUTS}
    return kinds


# Only the component config fields this collection writes, plus their close neighbours:
# anything else is refused so that a typo cannot slip through.
KUBELET_SCHEMA = {
    "cgroupDriver": "str", "featureGates": "boolmap", "clusterDNS": "strlist",
    "clusterDomain": "str", "failSwapOn": "bool", "address": "str", "healthzBindAddress": "str",
    "healthzPort": "int", "staticPodPath": "str", "rotateCertificates": "bool",
    "serverTLSBootstrap": "bool", "resolvConf": "str", "maxPods": "int",
    "authentication": "any", "authorization": "any", "runtimeRequestTimeout": "str",
}
KUBE_PROXY_SCHEMA = {
    "clusterCIDR": "str", "mode": "str", "featureGates": "boolmap", "bindAddress": "str",
    "healthzBindAddress": "str", "metricsBindAddress": "str", "iptables": "any", "ipvs": "any",
    "conntrack": "any", "nodePortAddresses": "strlist",
}
COMPONENT_APIS = {
    ("kubelet.config.k8s.io/v1beta1", "KubeletConfiguration"): KUBELET_SCHEMA,
    ("kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration"): KUBE_PROXY_SCHEMA,
}


def check_type(where, value, kind, beta):
    if kind == "any":
        return
    if isinstance(kind, dict):
        if not isinstance(value, dict):
            raise Rejected("%s: cannot unmarshal %s into an object" % (where, type(value).__name__))
        for key, item in value.items():
            if key not in kind:
                raise Rejected("%s: unknown field %r" % (where, key))
            check_type("%s.%s" % (where, key), item, kind[key], beta)
        return
    if isinstance(kind, tuple):
        if not isinstance(value, list):
            raise Rejected("%s: cannot unmarshal %s into a list" % (where, type(value).__name__))
        for index, item in enumerate(value):
            check_type("%s[%d]" % (where, index), item, kind[1], beta)
        return
    if kind == "args":
        if beta == "v1beta4":
            if not isinstance(value, list):
                raise Rejected("%s: cannot unmarshal %s into []v1beta4.Arg (v1beta4 takes a list "
                               "of name/value pairs)" % (where, type(value).__name__))
            check_type(where, value, ("list", {"name": "str", "value": "str"}), beta)
            return
        kind = "strmap"
    simple = {"str": str, "bool": bool}
    if kind in simple and not isinstance(value, simple[kind]):
        raise Rejected("%s: cannot unmarshal %s into a %s" % (where, type(value).__name__, kind))
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise Rejected("%s: cannot unmarshal %s into an int" % (where, type(value).__name__))
    if kind in ("strlist", "strmap", "boolmap"):
        inner = bool if kind == "boolmap" else str
        items = value if kind == "strlist" else (value.values() if isinstance(value, dict) else None)
        container = list if kind == "strlist" else dict
        if not isinstance(value, container) or not all(isinstance(i, inner) for i in items):
            raise Rejected("%s: cannot unmarshal %r into a %s" % (where, value, kind))


def split_documents(text):
    """The documents of a kubeadm config file. The collection writes each as JSON (which is
    YAML); block YAML is beyond the standard library, so the double asks for JSON."""
    docs = []
    for number, chunk in enumerate(re.split(r"^---[ \t]*$", text, flags=re.M)):
        if not chunk.strip() or all(not line.strip() or line.lstrip().startswith("#")
                                    for line in chunk.splitlines()):
            continue
        try:
            doc = json.loads(chunk)
        except ValueError as exc:
            raise Rejected("document %d is not JSON (the double reads JSON documents only): %s"
                           % (number, exc))
        if not isinstance(doc, dict):
            raise Rejected("document %d is not an object" % number)
        docs.append(doc)
    return docs


def validate_documents(docs, command):
    """Check every document and return them keyed by kind."""
    by_kind = {}
    known_apis = kubeadm_api_versions()
    for doc in docs:
        api, kind = doc.get("apiVersion"), doc.get("kind")
        if not api or not kind:
            raise Rejected("a document lacks apiVersion or kind: %r" % sorted(doc))
        where = "%s %s" % (api, kind)
        if api.startswith("kubeadm.k8s.io/"):
            if api not in known_apis:
                raise Rejected("%s: kubeadm %s does not support this config API (it reads %s)"
                               % (where, DECLARED_VERSION, ", ".join(known_apis)))
            beta = api.rsplit("/", 1)[1]
            schemas = kubeadm_schemas(api)
            if kind not in schemas:
                raise Rejected("%s: no kind %r in %s" % (where, kind, api))
            schema = schemas[kind]
        elif (api, kind) in COMPONENT_APIS:
            beta, schema = None, COMPONENT_APIS[(api, kind)]
        else:
            raise Rejected("%s: unknown apiVersion/kind" % where)
        if kind in by_kind:
            raise Rejected("%s: appears twice" % where)
        body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
        check_type(where, body, schema, beta)
        by_kind[kind] = doc
    kubeadm_apis = {doc["apiVersion"] for doc in docs if doc["apiVersion"].startswith("kubeadm.k8s.io/")}
    if len(kubeadm_apis) > 1:
        raise Rejected("mixed kubeadm config APIs in one file: %s" % ", ".join(sorted(kubeadm_apis)))
    wanted = {"init": ("InitConfiguration", "ClusterConfiguration"), "join": ("JoinConfiguration",)}[command]
    if not any(kind in by_kind for kind in wanted):
        raise Rejected("kubeadm %s --config needs one of %s" % (command, ", ".join(wanted)))
    for kind in ("KubeletConfiguration", "KubeProxyConfiguration", "ClusterConfiguration"):
        check_feature_gates(kind, by_kind.get(kind, {}).get("featureGates") or {})
    return by_kind


def check_feature_gates(kind, gates):
    for gate in gates:
        if gate == "IPv6DualStack" and not dual_stack_gate_known():
            raise Rejected("%s.featureGates: unrecognized feature gate: IPv6DualStack (removed in "
                           "1.25; Kubernetes %s is dual-stack without it)" % (kind, DECLARED_VERSION))
        if gate != "IPv6DualStack" and kind == "ClusterConfiguration":
            raise Rejected("ClusterConfiguration.featureGates: unrecognized feature-gate key: %s" % gate)


def args_map(value):
    if isinstance(value, list):
        return {item["name"]: item["value"] for item in value}
    return dict(value or {})


def cidr_list(where, text, gated):
    nets = []
    for part in str(text).split(","):
        try:
            nets.append(ipaddress.ip_network(part.strip()))
        except ValueError as exc:
            raise Rejected("%s: %r is not a CIDR: %s" % (where, part, exc))
    if len(nets) > 2 or (len(nets) == 2 and nets[0].version == nets[1].version):
        raise Rejected("%s: %r must be one CIDR or one of each family" % (where, text))
    if len(nets) == 2 and dual_stack_gate_required() and not gated:
        raise Rejected("%s: dual-stack %r needs the IPv6DualStack feature gate on Kubernetes %s"
                       % (where, text, DECLARED_VERSION))
    return nets


def check_cluster(cluster):
    gated = bool((cluster.get("featureGates") or {}).get("IPv6DualStack"))
    networking = cluster.get("networking") or {}
    pods = cidr_list("networking.podSubnet", networking.get("podSubnet", "10.244.0.0/16"), gated)
    services = cidr_list("networking.serviceSubnet", networking.get("serviceSubnet", "10.96.0.0/12"), gated)
    for net in services:
        limit = 108 if net.version == 6 else 12
        if net.prefixlen < limit:
            raise Rejected("networking.serviceSubnet: %s is too large (the mask must be >= %d)" % (net, limit))
    for a in pods:
        for b in services:
            if a.version == b.version and a.overlaps(b):
                raise Rejected("networking: podSubnet %s overlaps serviceSubnet %s" % (a, b))
    wanted = cluster.get("kubernetesVersion")
    if wanted and version_tuple(wanted)[:2] != version_tuple()[:2]:
        raise Rejected("kubernetesVersion %s: this kubeadm (%s) deploys only its own minor release"
                       % (wanted, DECLARED_VERSION))
    cm = args_map((cluster.get("controllerManager") or {}).get("extraArgs"))
    for net in pods:
        flag = "node-cidr-mask-size-ipv%d" % net.version
        if flag not in cm:
            continue
        try:
            mask = int(cm[flag])
        except ValueError:
            raise Rejected("controllerManager.extraArgs %s=%r is not a number" % (flag, cm[flag]))
        if mask < net.prefixlen:
            raise Rejected("controllerManager.extraArgs %s=%d is shorter than podSubnet %s" % (flag, mask, net))
        if net.version == 6 and mask - net.prefixlen > 16:
            raise Rejected("controllerManager.extraArgs %s=%d: the node CIDR size is too big for %s "
                           "(at most 16 bits longer)" % (flag, mask, net))
    return pods, services


def check_node_ip(value, gates):
    parts = [p.strip() for p in str(value).split(",")]
    try:
        addresses = [ipaddress.ip_address(p) for p in parts]
    except ValueError as exc:
        raise Rejected("--node-ip=%s: %s" % (value, exc))
    if len(addresses) > 1:
        if minor() < 20:
            raise Rejected("--node-ip=%s: kubelet %s takes a single IP (dual-stack pairs came with 1.20)"
                           % (value, DECLARED_VERSION))
        if minor() == 20 and not gates.get("IPv6DualStack"):
            raise Rejected("--node-ip=%s: dual-stack node IPs need the IPv6DualStack feature gate on 1.20" % value)
        if len(addresses) != 2 or addresses[0].version == addresses[1].version:
            raise Rejected("--node-ip=%s: a pair must hold one IPv4 and one IPv6 address" % value)
    return [str(a) for a in addresses]


# ------------------------------------------------------------------------- flags

def parse_flags(argv, allowed, boolean=()):
    """Go-style flags: --name=value, --name value, and bare boolean flags."""
    flags, positional = {}, []
    items = list(argv)
    while items:
        item = items.pop(0)
        if not item.startswith("-") or item == "-":
            positional.append(item)
            continue
        name, has_value, value = item.lstrip("-").partition("=")
        if name not in allowed and name not in boolean:
            raise Rejected("unknown flag: --%s" % name)
        if name in boolean:
            flags[name] = value if has_value else "true"
        elif has_value:
            flags[name] = value
        elif items:
            flags[name] = items.pop(0)
        else:
            raise Rejected("flag needs an argument: --%s" % name)
    return flags, positional


def go_duration(text):
    if not re.match(r"^(\d+(\.\d+)?(h|m|s|ms))+$", text):
        raise Rejected("invalid duration %r (Go duration such as 2h or 15m0s)" % text)


# ------------------------------------------------------------------ state and records

def read_json(name, default):
    try:
        with open(path(name)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default


def write_private(name, text, mode=0o600):
    target = path(name)
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    temp = target + ".tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(temp, mode)
    os.replace(temp, target)


def load_state():
    return read_json(STATE, {})


def save_state(state):
    write_private(STATE, json.dumps(state, indent=2, sort_keys=True) + "\n")


def record(entry):
    entry = dict(entry, time=time.time(), version=DECLARED_VERSION, pid=os.getpid())
    target = path(CALL_LOG)
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")


def digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def redact(docs):
    """Documents as recorded: tokens and keys replaced by their SHA-256."""
    text = json.dumps(docs)
    copy = json.loads(text)
    for doc in copy:
        bootstrap = (doc.get("discovery") or {}).get("bootstrapToken") or {}
        for holder, key in ((bootstrap, "token"), (doc.get("discovery") or {}, "tlsBootstrapToken"),
                            (doc, "certificateKey")):
            if holder.get(key):
                holder[key] = "sha256:" + digest(holder[key])
        for token in doc.get("bootstrapTokens") or []:
            if token.get("token"):
                token["token"] = "sha256:" + digest(token["token"])
    return copy


def new_token():
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "%s.%s" % tuple("".join(secrets.choice(alphabet) for position in range(n)) for n in (6, 16))


# ------------------------------------------------------------------- kubeadm init

def make_ca():
    pki = path("/etc/kubernetes/pki")
    os.makedirs(pki, mode=0o755, exist_ok=True)
    if not shutil.which("openssl"):
        raise Rejected("the double needs openssl to make the cluster CA")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                    "-subj", "/CN=kubernetes", "-keyout", os.path.join(pki, "ca.key"),
                    "-out", os.path.join(pki, "ca.crt")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(os.path.join(pki, "ca.key"), 0o600)
    os.chmod(os.path.join(pki, "ca.crt"), 0o644)
    # Computed the way the kubeadm documentation does it, independently of the collection.
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", os.path.join(pki, "ca.crt")],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         check=True, capture_output=True).stdout
    return "sha256:" + hashlib.sha256(der).hexdigest()


def b64(data):
    return base64.b64encode(data).decode()


def kubeconfig(server, user, ca_pem):
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "%s@kubernetes" % user,
        "clusters": [{"name": "kubernetes", "cluster": {
            "server": "https://%s" % server, "certificate-authority-data": b64(ca_pem)}}],
        "contexts": [{"name": "%s@kubernetes" % user,
                      "context": {"cluster": "kubernetes", "user": user}}],
        "users": [{"name": user, "user": {
            "client-certificate-data": b64(b"double client certificate for " + user.encode()),
            "client-key-data": b64(secrets.token_bytes(32))}}],
    }, indent=2) + "\n"


def kubelet_flags_env(node_registration):
    args = args_map(node_registration.get("kubeletExtraArgs"))
    socket = node_registration.get("criSocket") or "unix:///var/run/containerd/containerd.sock"
    flags = {"container-runtime-endpoint": socket if "://" in socket else "unix://" + socket}
    if minor() < 24:
        flags["network-plugin"] = "cni"
    if minor() < 27:
        flags["container-runtime"] = "remote"
    flags.update(args)
    line = " ".join("--%s=%s" % (k, v) for k, v in sorted(flags.items()))
    return 'KUBELET_KUBEADM_ARGS="%s"\n' % line


def write_kubelet_files(by_kind, node_registration):
    kubelet = dict(by_kind.get("KubeletConfiguration") or
                   {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration"})
    write_private("/var/lib/kubelet/config.yaml", json.dumps(kubelet, indent=2) + "\n", 0o644)
    write_private("/var/lib/kubelet/kubeadm-flags.env", kubelet_flags_env(node_registration), 0o644)


def cidrs(nets):
    return ",".join(str(n) for n in nets)


def static_pods(cluster, init, pods, services):
    """Manifests with the flags kubeadm would give the control plane, extraArgs on top."""
    endpoint = init.get("localAPIEndpoint") or {}
    advertise = endpoint.get("advertiseAddress", "")
    base = {
        "kube-apiserver": {"advertise-address": advertise,
                           "secure-port": str(endpoint.get("bindPort", 6443)),
                           "service-cluster-ip-range": cidrs(services)},
        "kube-controller-manager": {"bind-address": "127.0.0.1", "allocate-node-cidrs": "true",
                                    "cluster-cidr": cidrs(pods),
                                    "service-cluster-ip-range": cidrs(services)},
        "kube-scheduler": {"bind-address": "127.0.0.1"},
    }
    sections = {"kube-apiserver": "apiServer", "kube-controller-manager": "controllerManager",
                "kube-scheduler": "scheduler"}
    for name, flags in base.items():
        flags.update(args_map((cluster.get(sections[name]) or {}).get("extraArgs")))
        manifest = {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": "kube-system"},
                    "spec": {"hostNetwork": True, "containers": [{
                        "name": name,
                        "command": [name] + ["--%s=%s" % kv for kv in sorted(flags.items())]}]}}
        write_private("/etc/kubernetes/manifests/%s.yaml" % name, json.dumps(manifest, indent=2) + "\n")


def start_kubelet(since):
    """Restart the kubelet unit, as kubeadm does, and wait for the kubelet double to report."""
    if not os.path.isdir("/run/systemd/system") or os.environ.get("K8S_DOUBLE_NO_SYSTEMD"):
        return "not started (no systemd)"
    subprocess.run(["systemctl", "restart", "kubelet"], check=True)
    for attempt in range(60):
        try:
            with open(path(CALL_LOG)) as handle:
                lines = handle.read().splitlines()
        except FileNotFoundError:
            lines = []  # the kubelet has not written its first record yet
        for line in reversed(lines):
            entry = json.loads(line)
            if entry.get("command") == "kubelet" and entry["time"] >= since:
                if entry["result"] != "accepted":
                    raise Rejected("[kubelet-check] the kubelet refused to start: %s" % entry.get("error"))
                return "running"
        time.sleep(0.25)
    raise Rejected("[kubelet-check] the kubelet did not start within 15s (%d checks)" % (attempt + 1))


INIT_FLAGS = {"config", "ignore-preflight-errors", "skip-phases", "v", "patches", "rootfs",
              "cert-dir", "kubeconfig-dir"}
INIT_BOOL = {"skip-token-print", "skip-certificate-key-print", "upload-certs", "dry-run"}


def kubeadm_init(argv):
    flags, positional = parse_flags(argv, INIT_FLAGS, INIT_BOOL)
    if positional:
        raise Rejected("unexpected arguments %r" % positional)
    if "config" not in flags:
        raise Rejected("the double expects --config (the collection always passes one)")
    with open(flags["config"]) as handle:
        docs = split_documents(handle.read())
    by_kind = validate_documents(docs, "init")
    init = by_kind.get("InitConfiguration") or {}
    cluster = by_kind.get("ClusterConfiguration") or {}
    pods, services = check_cluster(cluster)
    node_registration = init.get("nodeRegistration") or {}
    gates = (by_kind.get("KubeletConfiguration") or {}).get("featureGates") or {}
    node_ip = args_map(node_registration.get("kubeletExtraArgs")).get("node-ip")
    if node_ip:
        check_node_ip(node_ip, gates)
    advertise = (init.get("localAPIEndpoint") or {}).get("advertiseAddress")
    if advertise:
        try:
            ipaddress.ip_address(advertise)
        except ValueError as exc:
            raise Rejected("localAPIEndpoint.advertiseAddress: %s" % exc)
    if os.path.exists(path("/etc/kubernetes/manifests/kube-apiserver.yaml")):
        raise Rejected("[preflight] [ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: "
                       "/etc/kubernetes/manifests/kube-apiserver.yaml already exists")
    started = time.time()
    state = load_state()
    ca_hash = make_ca()
    with open(path("/etc/kubernetes/pki/ca.crt"), "rb") as handle:
        ca_pem = handle.read()
    port = (init.get("localAPIEndpoint") or {}).get("bindPort", 6443)
    host = advertise or "127.0.0.1"
    server = cluster.get("controlPlaneEndpoint") or ("[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port))
    write_private("/etc/kubernetes/admin.conf", kubeconfig(server, "kubernetes-admin", ca_pem))
    write_private("/etc/kubernetes/kubelet.conf", kubeconfig(server, "system:node", ca_pem))
    write_kubelet_files(by_kind, node_registration)
    static_pods(cluster, init, pods, services)
    token = new_token()
    state.update(initialized=True, ca_cert_hash=ca_hash, server=server,
                 tokens=state.get("tokens", []) + [{"token": token, "ttl": "24h0m0s", "source": "init"}])
    certificate_key = None
    if flags.get("upload-certs") == "true":
        certificate_key = init.get("certificateKey") or secrets.token_hex(32)
        state["certificate_key"] = certificate_key
    save_state(state)
    kubelet = start_kubelet(started)
    record({"command": "init", "argv": argv, "result": "accepted", "documents": redact(docs),
            "kubelet": kubelet, "ca_cert_hash": ca_hash})
    print("Your Kubernetes control-plane has initialized successfully!")
    if certificate_key and flags.get("skip-certificate-key-print") != "true":
        print("[upload-certs] Using certificate key:\n%s" % certificate_key)
    shown = token if flags.get("skip-token-print") != "true" else "<value withheld>"
    print("kubeadm join %s --token %s \\\n\t--discovery-token-ca-cert-hash %s" % (server, shown, ca_hash))
    return 0


# ------------------------------------------------------------------- kubeadm token

def kubeadm_token(argv):
    if not argv or argv[0] != "create":
        raise Rejected("the double knows only 'kubeadm token create'")
    flags, positional = parse_flags(argv[1:], {"ttl", "description", "usages", "groups", "kubeconfig",
                                               "config", "v", "certificate-key"},
                                    {"print-join-command"})
    if len(positional) > 1:
        raise Rejected("too many arguments %r" % positional)
    kubeconfig_path = flags.get("kubeconfig", "/etc/kubernetes/admin.conf")
    if not os.path.exists(path(kubeconfig_path)):
        raise Rejected("failed to load admin kubeconfig: open %s: no such file or directory" % kubeconfig_path)
    ttl = flags.get("ttl", "24h0m0s")
    go_duration(ttl)
    token = positional[0] if positional else new_token()
    state = load_state()
    state.setdefault("tokens", []).append({"token": token, "ttl": ttl, "source": "token create"})
    save_state(state)
    record({"command": "token create", "argv": argv, "result": "accepted", "ttl": ttl,
            "token_sha256": digest(token)})
    if flags.get("print-join-command") == "true":
        print("kubeadm join %s --token %s --discovery-token-ca-cert-hash %s"
              % (state.get("server"), token, state.get("ca_cert_hash")))
    else:
        print(token)
    return 0


# -------------------------------------------------------------------- kubeadm join

JOIN_FLAGS = {"config", "ignore-preflight-errors", "skip-phases", "v", "patches"}


def kubeadm_join(argv):
    flags, positional = parse_flags(argv, JOIN_FLAGS, {"dry-run"})
    if positional or "config" not in flags:
        raise Rejected("the double expects 'kubeadm join --config FILE' (the token must not be on "
                       "the command line); got %r" % positional)
    mode = os.stat(flags["config"]).st_mode & 0o777
    with open(flags["config"]) as handle:
        docs = split_documents(handle.read())
    by_kind = validate_documents(docs, "join")
    join = by_kind["JoinConfiguration"]
    bootstrap = (join.get("discovery") or {}).get("bootstrapToken") or {}
    token = bootstrap.get("token", "")
    if not re.match(r"^[a-z0-9]{6}\.[a-z0-9]{16}$", token):
        raise Rejected("discovery.bootstrapToken.token: the bootstrap token is not valid")
    hashes = bootstrap.get("caCertHashes") or []
    if not hashes and not bootstrap.get("unsafeSkipCAVerification"):
        raise Rejected("discovery.bootstrapToken: caCertHashes is empty and unsafeSkipCAVerification is not set")
    for value in hashes:
        if not re.match(r"^sha256:[0-9a-f]{64}$", value):
            raise Rejected("discovery.bootstrapToken.caCertHashes: %r is not sha256:<hex>" % value)
    endpoint = bootstrap.get("apiServerEndpoint", "")
    host, _sep, port = endpoint.rpartition(":")
    if not port.isdigit() or not host or (":" in host and not host.startswith("[")):
        raise Rejected("discovery.bootstrapToken.apiServerEndpoint %r is not host:port" % endpoint)
    node_registration = join.get("nodeRegistration") or {}
    node_ip = args_map(node_registration.get("kubeletExtraArgs")).get("node-ip")
    if node_ip:
        check_node_ip(node_ip, {"IPv6DualStack": dual_stack_gate_known()})
    if os.path.exists(path("/etc/kubernetes/kubelet.conf")):
        raise Rejected("[preflight] [ERROR FileAvailable--etc-kubernetes-kubelet.conf]: "
                       "/etc/kubernetes/kubelet.conf already exists")
    started = time.time()
    server = endpoint
    write_private("/etc/kubernetes/kubelet.conf", kubeconfig(server, "system:node", b"double CA"))
    write_kubelet_files({}, node_registration)
    state = load_state()
    state.update(joined=True, server=server)
    save_state(state)
    kubelet = start_kubelet(started)
    record({"command": "join", "argv": argv, "result": "accepted", "documents": redact(docs),
            "config_mode": "%04o" % mode, "token_sha256": digest(token), "kubelet": kubelet})
    print("This node has joined the cluster.")
    return 0


def kubeadm_reset(argv):
    """What the real reset removes from the node: the control plane's and kubelet's files.
    Like the real one, it leaves CNI configuration and iptables rules to the user."""
    flags, positional = parse_flags(argv, {"cri-socket", "cleanup-tmp-dir", "skip-phases", "v",
                                           "kubeconfig", "ignore-preflight-errors", "dry-run"},
                                    boolean=("force", "f"))
    if positional:
        raise Rejected("unexpected arguments %r" % positional)
    if "force" not in flags and "f" not in flags:
        raise Rejected("reset asks for confirmation on a terminal; a playbook needs --force")
    for name in ("/etc/kubernetes/manifests", "/etc/kubernetes/pki", "/var/lib/kubelet", "/var/lib/etcd"):
        shutil.rmtree(path(name), ignore_errors=True)
    for name in ("/etc/kubernetes/admin.conf", "/etc/kubernetes/kubelet.conf",
                 "/etc/kubernetes/super-admin.conf", "/etc/kubernetes/controller-manager.conf",
                 "/etc/kubernetes/scheduler.conf", "/etc/kubernetes/bootstrap-kubelet.conf"):
        if os.path.exists(path(name)):
            os.unlink(path(name))
    save_state({})
    record({"command": "reset", "argv": argv, "result": "accepted"})
    print("[reset] The node was reset.")
    return 0


def kubeadm_main(argv):
    if not argv:
        raise Rejected("missing command")
    command, rest = argv[0], argv[1:]
    if command == "version":
        flags, ignored = parse_flags(rest, {"output", "o"})
        if ignored:
            raise Rejected("unexpected arguments %r" % ignored)
        output = flags.get("output", flags.get("o", ""))
        if output == "short":
            print("v%d.%d.%d" % version_tuple())
        else:
            print(json.dumps({"clientVersion": {"gitVersion": "v%d.%d.%d" % version_tuple()}}))
        return 0
    handlers = {"init": kubeadm_init, "join": kubeadm_join, "token": kubeadm_token, "reset": kubeadm_reset}
    if command not in handlers:
        raise Rejected("the double does not implement 'kubeadm %s'" % command)
    return handlers[command](rest)


# ------------------------------------------------------------------------ kubelet

KUBELET_FLAGS = {"bootstrap-kubeconfig", "kubeconfig", "config", "node-ip", "hostname-override",
                 "v", "feature-gates", "container-runtime-endpoint", "pod-infra-container-image",
                 "node-labels", "register-with-taints", "cloud-provider", "resolv-conf"}


def kubelet_main(argv):
    if argv in (["--version"], ["version"]):
        print("Kubernetes v%d.%d.%d" % version_tuple())
        return 0
    allowed = set(KUBELET_FLAGS)
    if minor() < 24:
        allowed |= {"network-plugin", "cni-bin-dir", "cni-conf-dir"}
    if minor() < 27:
        allowed |= {"container-runtime"}
    try:
        flags, positional = parse_flags(argv, allowed)
        if positional:
            raise Rejected("unexpected arguments %r" % positional)
        if "container-runtime" in flags and flags["container-runtime"] != "remote" and minor() >= 24:
            raise Rejected("--container-runtime=%s: only 'remote' exists from 1.24" % flags["container-runtime"])
        config = {}
        if "config" in flags:
            with open(flags["config"]) as handle:
                config = json.loads(handle.read())
            body = {k: v for k, v in config.items() if k not in ("apiVersion", "kind")}
            check_type("KubeletConfiguration", body, KUBELET_SCHEMA, None)
            check_feature_gates("KubeletConfiguration", config.get("featureGates") or {})
        node_ips = check_node_ip(flags["node-ip"], config.get("featureGates") or {}) if "node-ip" in flags else []
    except (Rejected, OSError, ValueError) as exc:
        record({"command": "kubelet", "argv": argv, "result": "rejected", "error": str(exc)})
        print("E kubelet: %s" % exc, file=sys.stderr)
        return 1
    record({"command": "kubelet", "argv": argv, "result": "accepted", "node_ips": node_ips,
            "cgroup_driver": config.get("cgroupDriver")})
    # A real kubelet keeps running; so does this one, until systemd stops it.
    while True:
        time.sleep(3600)


def kubectl_main(argv):
    if argv[:1] == ["version"]:
        print("Client Version: v%d.%d.%d" % version_tuple())
        return 0
    raise Rejected("the double implements only 'kubectl version'")


def main(argv):
    name = os.path.basename(argv[0])
    handlers = {"kubeadm": kubeadm_main, "kubelet": kubelet_main, "kubectl": kubectl_main}
    handler = handlers.get(name, kubeadm_main)
    try:
        return handler(argv[1:])
    except Rejected as exc:
        if name != "kubelet":
            record({"command": "%s %s" % (name, argv[1] if len(argv) > 1 else ""), "argv": argv[1:],
                    "result": "rejected", "error": str(exc)})
        print("error execution phase: %s" % exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
