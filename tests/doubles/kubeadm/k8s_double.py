#!/usr/bin/env python
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-ins for kubeadm, kubelet and kubectl on lab nodes that cannot run Kubernetes.

One file, installed under each name; it behaves by the name it is called as. build.py writes
the copies with the version filled in and a python3 shebang (nodes have no "python"). It knows the
Kubernetes version it stands in for (DECLARED_VERSION, filled in by build.py) and refuses what
that release refuses: command-line flags (and flags beside --config that kubeadm does not
allow there), config apiVersions and kinds, wrong types, and the dual-stack rules of that
release. Unknown config fields it handles as kubeadm does: ``init`` and ``join`` warn and drop
them, ``config validate`` refuses them. The field lists come from the kubeadm API types and
the kubelet's safe sysctls from its source, kept with their sources in
tests/doubles/data/kubernetes.json (build.py copies them in as FACTS). What it accepts it records as one JSON line per call
in CALL_LOG, and it leaves behind the files that the real command would, so that roles can
carry on: kubeadm init writes a real self-signed CA (so the discovery hash is real), admin.conf,
the kubelet's config and flags, and static pod manifests carrying the component flags.

Python 3 standard library only; openssl makes the CA. Secrets (bootstrap tokens, the
certificate key) go only into STATE (mode 0600); the call log holds their SHA-256.
"""

import base64
import fnmatch
import hashlib
import http.client
import http.server
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

DECLARED_VERSION = "@VERSION@"
FACTS = None

ROOT = os.environ.get("K8S_DOUBLE_ROOT", "/")


def path(*parts):
    return os.path.join(ROOT, *[p.lstrip("/") for p in parts])


CALL_LOG = "/var/log/k8s-double/calls.jsonl"
STATE = "/var/lib/k8s-double/state.json"


class Rejected(Exception):
    """What the real binary would refuse; the message is printed and the call exits 1."""


def facts():
    """The upstream facts: copied in by build.py, else read from the data folder beside the source."""
    global FACTS
    if FACTS is None:
        data = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "data", "kubernetes.json")
        with open(data) as handle:
            FACTS = json.load(handle)
    return FACTS


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


# The Go type of each struct-valued field (kubeadm's types.go); the tables list every type's
# fields, flattened where types.go inlines one struct into another.
NESTED = {
    "InitConfiguration": {"nodeRegistration": "NodeRegistrationOptions", "localAPIEndpoint": "APIEndpoint",
                          "bootstrapTokens": ["BootstrapToken"], "patches": "Patches", "timeouts": "Timeouts"},
    "JoinConfiguration": {"nodeRegistration": "NodeRegistrationOptions", "discovery": "Discovery",
                          "controlPlane": "JoinControlPlane", "patches": "Patches", "timeouts": "Timeouts"},
    "ClusterConfiguration": {"etcd": "Etcd", "networking": "Networking", "apiServer": "APIServer",
                             "controllerManager": "ControlPlaneComponent", "scheduler": "ControlPlaneComponent",
                             "dns": "DNS", "proxy": "Proxy"},
    "ResetConfiguration": {"timeouts": "Timeouts"},
    "Etcd": {"local": "LocalEtcd", "external": "ExternalEtcd"},
    "APIServer": {"extraVolumes": ["HostPathMount"]},
    "ControlPlaneComponent": {"extraVolumes": ["HostPathMount"]},
    "JoinControlPlane": {"localAPIEndpoint": "APIEndpoint"},
    "Discovery": {"bootstrapToken": "BootstrapTokenDiscovery", "file": "FileDiscovery"},
}
# Types of the leaf fields the double checks; a leaf not named here is a string.
LEAVES = {
    "bindPort": "int", "kubeletExtraArgs": "args", "extraArgs": "args", "certSANs": "strlist",
    "serverCertSANs": "strlist", "peerCertSANs": "strlist", "caCertHashes": "strlist",
    "ignorePreflightErrors": "strlist", "skipPhases": "strlist", "featureGates": "boolmap",
    "unsafeSkipCAVerification": "bool", "useHyperKubeImage": "bool", "dryRun": "bool", "disabled": "bool",
    "imagePullSerial": "bool", "readOnly": "bool", "endpoints": "strlist", "taints": ("list", TAINT),
    "extraEnvs": ("list", ENV_VAR), "usages": "strlist", "groups": "strlist", "cleanupTmpDir": "bool",
    "force": "bool", "unmountFlags": "strlist",
}
KUBEADM_KINDS = ("InitConfiguration", "ClusterConfiguration", "JoinConfiguration", "ResetConfiguration",
                 "UpgradeConfiguration")


def kubeadm_schemas(api):
    """The schema of every kind of the kubeadm config API ``api`` (kubeadm.k8s.io/v1betaN),
    from the field lists read from that API's types.go (tests/doubles/data/kubernetes.json)."""
    types = facts()["kubeadm_apis"][api]["types"]

    def schema(type_name):
        if type_name not in types:
            return "any"  # a type whose fields were not read (v1beta3's BootstrapToken)
        nested = NESTED.get(type_name, {})
        result = {}
        for field in types[type_name]:
            if field in ("apiVersion", "kind"):
                continue
            if field in nested:
                inner = nested[field]
                result[field] = ("list", schema(inner[0])) if isinstance(inner, list) else schema(inner)
            else:
                result[field] = LEAVES.get(field, "str")
        return result

    kinds = {kind: schema(kind) for kind in KUBEADM_KINDS if kind in types}
    if api.endswith("v1beta4"):
        # Listed in v1beta4's doc.go changelog; its fields were not read.
        kinds.setdefault("UpgradeConfiguration", "any")
    return kinds


# The component config fields the double type-checks (those the collection writes and their
# neighbours); others are warned about and dropped like unknown kubeadm fields.
KUBELET_SCHEMA = {
    "cgroupDriver": "str", "featureGates": "boolmap", "clusterDNS": "strlist",
    "clusterDomain": "str", "failSwapOn": "bool", "address": "str", "healthzBindAddress": "str",
    "healthzPort": "int", "staticPodPath": "str", "rotateCertificates": "bool",
    "serverTLSBootstrap": "bool", "resolvConf": "str", "maxPods": "int",
    "authentication": "any", "authorization": "any", "runtimeRequestTimeout": "str",
    "allowedUnsafeSysctls": "strlist",
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


def check_type(where, value, kind, beta, warnings=None):
    """Check ``value`` against ``kind``. An unknown field is refused when ``warnings`` is None
    (strict, as ``kubeadm config validate``), else noted there and dropped, as init and join do."""
    if kind == "any":
        return
    if isinstance(kind, dict):
        if not isinstance(value, dict):
            raise Rejected("%s: cannot unmarshal %s into an object" % (where, type(value).__name__))
        for key, item in list(value.items()):
            if key not in kind:
                if warnings is None:
                    raise Rejected("%s: unknown field %r" % (where, key))
                warnings.append("%s: unknown field %r (ignored)" % (where, key))
                del value[key]
                continue
            check_type("%s.%s" % (where, key), item, kind[key], beta, warnings)
        return
    if isinstance(kind, tuple):
        if not isinstance(value, list):
            raise Rejected("%s: cannot unmarshal %s into a list" % (where, type(value).__name__))
        for index, item in enumerate(value):
            check_type("%s[%d]" % (where, index), item, kind[1], beta, warnings)
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


def validate_documents(docs, command, strict=False, warnings=None):
    """Check every document and return them keyed by kind, unknown fields dropped.

    ``kubeadm init`` and ``join`` only warn about unknown fields (kubeadm's strict decoding
    error is logged, not returned) and skip documents of groups they do not know;
    ``kubeadm config validate`` (strict=True) refuses both. The warnings go into ``warnings``.
    """
    warnings = [] if warnings is None else warnings
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
        elif strict:
            raise Rejected("%s: unknown apiVersion/kind" % where)
        else:
            warnings.append("[config] WARNING: Ignored configuration document with GroupVersionKind %s" % where)
            continue
        if kind in by_kind:
            raise Rejected("%s: appears twice" % where)
        body = json.loads(json.dumps({k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}))
        check_type(where, body, schema, beta, None if strict else warnings)
        by_kind[kind] = dict(body, apiVersion=api, kind=kind)
    kubeadm_apis = {doc["apiVersion"] for doc in docs if doc["apiVersion"].startswith("kubeadm.k8s.io/")}
    if len(kubeadm_apis) > 1:
        raise Rejected("mixed kubeadm config APIs in one file: %s" % ", ".join(sorted(kubeadm_apis)))
    wanted = {"init": ("InitConfiguration", "ClusterConfiguration"), "join": ("JoinConfiguration",),
              "validate": ("InitConfiguration", "ClusterConfiguration", "JoinConfiguration")}[command]
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
    rule = facts()["read_for_the_doubles"]["pod_subnet_node_mask"]
    for net in pods:
        family = "ipv%d" % net.version
        flag = "node-cidr-mask-size-" + family
        # A single-stack plan may give node-cidr-mask-size; otherwise the controller manager's default.
        text = cm.get(flag, cm.get("node-cidr-mask-size") if len(pods) == 1 else None)
        try:
            mask = int(text) if text is not None else rule["default_masks"][family]
        except ValueError:
            raise Rejected("controllerManager.extraArgs %s=%r is not a number" % (flag, text))
        if mask < net.prefixlen:
            raise Rejected("networking.podSubnet: Invalid value: %r: the size of pod subnet with mask %d is "
                           "smaller than the size of node subnet with mask %d" % (str(net), net.prefixlen, mask))
        if mask - net.prefixlen > rule["max_diff"]:
            raise Rejected("networking.podSubnet: Invalid value: %r: pod subnet mask (%d) and node-mask (%d) "
                           "difference is greater than %d (the node CIDR size is too big)"
                           % (str(net), net.prefixlen, mask, rule["max_diff"]))
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


def qualified_name_errors(key, rules):
    """IsQualifiedName: an optional DNS-1123 subdomain prefix and '/', then a name."""
    parts = key.split("/")
    if len(parts) > 2:
        return ["a qualified name must have at most one '/'"]
    errors = []
    rule = rules["qualified_name"]
    if len(parts) == 2 and (not parts[0] or len(parts[0]) > rule["prefix_max"]
                            or not re.match(rule["prefix_regex"], parts[0])):
        errors.append("prefix part must be a DNS-1123 subdomain of at most %d characters" % rule["prefix_max"])
    if not parts[-1] or len(parts[-1]) > rule["name_max"] or not re.match(rule["name_regex"], parts[-1]):
        errors.append("name part must be at most %d characters matching %s" % (rule["name_max"], rule["name_regex"]))
    return errors


def label_value_errors(value, rules):
    rule = rules["label_value"]
    if len(value) > rule["max"] or not re.match(rule["regex"], value):
        return ["a valid label must be an empty string or at most %d characters matching %s"
                % (rule["max"], rule["regex"])]
    return []


def check_node_labels(text):
    """--node-labels as the kubelet reads and checks it (ValidateKubeletFlags)."""
    rules = facts()["read_for_the_doubles"]["kubelet_node_labels_and_taints"]
    labels = {}
    for pair in [item for item in text.split(",") if item.strip()]:
        key, sep, value = pair.partition("=")
        if not sep:
            raise Rejected("invalid argument %r for \"--node-labels\" flag: malformed pair, expect string=string"
                           % text)
        labels[key.strip()] = value.strip()

    def inside(namespace, domains):
        return any(namespace == domain or namespace.endswith("." + domain) for domain in domains)

    unknown, invalid = [], []
    for key, value in sorted(labels.items()):
        namespace = key.split("/", 1)[0] if "/" in key else ""
        if inside(namespace, rules["kubernetes_namespaces"]) and key not in rules["kubelet_labels"] \
                and not inside(namespace, rules["kubelet_label_namespaces"]):
            unknown.append(key)
        errors = qualified_name_errors(key, rules) + label_value_errors(value, rules)
        if errors:
            invalid.append("'%s' - %s" % (key, ", ".join(errors)))
    if unknown:
        raise Rejected("unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: %s" % unknown)
    if invalid:
        raise Rejected("invalid node labels: %s" % "; ".join(invalid))
    return labels


def taint_errors(spec, rules):
    """parseTaint of key[=value]:effect, with the effect a taint needs to be added."""
    head, colon, effect = spec.rpartition(":")
    if not colon or ":" in head:
        return ["invalid taint spec: %s" % spec]
    if effect not in rules["taint_effects"]:
        return ["invalid taint effect: %s, unsupported taint effect" % effect]
    key, _sep, value = head.partition("=")
    if "=" in value:
        return ["invalid taint spec: %s" % spec]
    return ["invalid taint spec: %s, %s" % (spec, error)
            for error in qualified_name_errors(key, rules) + label_value_errors(value, rules)]


def check_taints(text):
    """--register-with-taints as the kubelet parses it."""
    rules = facts()["read_for_the_doubles"]["kubelet_node_labels_and_taints"]
    specs = text.split(",") if text else []
    for spec in specs:
        errors = taint_errors(spec, rules)
        if errors:
            raise Rejected("invalid argument %r for \"--register-with-taints\" flag: %s" % (text, errors[0]))
    return specs


def taint_spec(taint):
    """A nodeRegistration taint as kubeadm writes it into --register-with-taints (Taint.ToString)."""
    if taint.get("value"):
        return "%s=%s:%s" % (taint.get("key", ""), taint["value"], taint.get("effect", ""))
    return "%s:%s" % (taint.get("key", ""), taint.get("effect", ""))


def check_registration(node_registration, join_worker):
    """What the node's registration meets: the kubelet's checks of its flags (and of the taints a
    worker join hands it as --register-with-taints); an init's or a control-plane join's taints
    go to the API server in the mark-control-plane phase, which refuses the same syntax."""
    args = args_map(node_registration.get("kubeletExtraArgs"))
    if "node-labels" in args:
        check_node_labels(args["node-labels"])
    taints = [taint_spec(taint) for taint in node_registration.get("taints") or []]
    if taints:
        try:
            check_taints(",".join(taints))
        except Rejected as exc:
            if join_worker:
                raise Rejected("[kubelet-start] the kubelet refused to start: %s" % exc)
            raise Rejected("[mark-control-plane] Node is invalid: spec.taints: %s" % exc)
    if "register-with-taints" in args:
        check_taints(args["register-with-taints"])


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
                            (doc, "certificateKey"), (doc.get("controlPlane") or {}, "certificateKey")):
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
    with open(os.path.join(pki, "ca.crt"), "rb") as handle:
        return ca_hash_of(handle.read())


def ca_hash_of(pem):
    """The discovery hash of a CA certificate, computed the way the kubeadm documentation does
    it (openssl), independently of the collection."""
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout"], input=pem,
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         check=True, capture_output=True).stdout
    return "sha256:" + hashlib.sha256(der).hexdigest()


def make_serving_certificate():
    """The stand-in API server's TLS key pair (self-signed: joining nodes trust the cluster by the
    CA hash they pin, as kubeadm's token discovery does, not by this certificate)."""
    pki = path("/etc/kubernetes/pki")
    os.makedirs(pki, mode=0o755, exist_ok=True)
    if os.path.exists(os.path.join(pki, "apiserver.crt")):
        return
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                    "-subj", "/CN=kube-apiserver", "-keyout", os.path.join(pki, "apiserver.key"),
                    "-out", os.path.join(pki, "apiserver.crt")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(os.path.join(pki, "apiserver.key"), 0o600)


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


def kubelet_flags_env(node_registration, register_taints=False):
    args = args_map(node_registration.get("kubeletExtraArgs"))
    if register_taints and node_registration.get("taints"):
        args["register-with-taints"] = ",".join(taint_spec(t) for t in node_registration["taints"])
    socket = node_registration.get("criSocket") or "unix:///var/run/containerd/containerd.sock"
    flags = {"container-runtime-endpoint": socket if "://" in socket else "unix://" + socket}
    if minor() < 24:
        flags["network-plugin"] = "cni"
    if minor() < 27:
        flags["container-runtime"] = "remote"
    flags.update(args)
    line = " ".join("--%s=%s" % (k, v) for k, v in sorted(flags.items()))
    return 'KUBELET_KUBEADM_ARGS="%s"\n' % line


def write_kubelet_files(by_kind, node_registration, register_taints=False):
    kubelet = dict(by_kind.get("KubeletConfiguration") or
                   {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration"})
    write_private("/var/lib/kubelet/config.yaml", json.dumps(kubelet, indent=2) + "\n", 0o644)
    write_private("/var/lib/kubelet/kubeadm-flags.env", kubelet_flags_env(node_registration, register_taints), 0o644)


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
              "cert-dir", "kubeconfig-dir", "node-name", "log-file", "kubeconfig"}
INIT_BOOL = {"skip-token-print", "skip-certificate-key-print", "upload-certs", "dry-run", "yes"}


def check_mixed_flags(flags):
    """With --config, kubeadm takes only the flags of its allow-list and those starting with
    skip- (ValidateMixedArguments, tests/doubles/data/kubernetes.json flags_with_config)."""
    if "config" not in flags:
        return
    rule = facts()["flags_with_config"]
    mixed = sorted(name for name in flags if name not in rule["allowed"]
                   and not any(name.startswith(prefix) for prefix in rule["allowed_prefixes"]))
    if mixed:
        raise Rejected("can not mix '--config' with arguments %s" % mixed)


def read_config_flag(flags, command, warnings):
    with open(flags["config"]) as handle:
        docs = split_documents(handle.read())
    by_kind = validate_documents(docs, command, warnings=warnings)
    for warning in warnings:
        print("W %s" % warning, file=sys.stderr)
    return docs, by_kind


def kubeadm_init(argv):
    flags, positional = parse_flags(argv, INIT_FLAGS, INIT_BOOL)
    if positional:
        raise Rejected("unexpected arguments %r" % positional)
    if "config" not in flags:
        raise Rejected("the double expects --config (the collection always passes one)")
    check_mixed_flags(flags)
    warnings = []
    docs, by_kind = read_config_flag(flags, "init", warnings)
    init = by_kind.get("InitConfiguration") or {}
    cluster = by_kind.get("ClusterConfiguration") or {}
    pods, services = check_cluster(cluster)
    node_registration = dict(init.get("nodeRegistration") or {})
    if "node-name" in flags:
        node_registration["name"] = flags["node-name"]
    gates = (by_kind.get("KubeletConfiguration") or {}).get("featureGates") or {}
    node_ip = args_map(node_registration.get("kubeletExtraArgs")).get("node-ip")
    if node_ip:
        check_node_ip(node_ip, gates)
    check_registration(node_registration, join_worker=False)
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
    make_serving_certificate()
    token = new_token()
    # What the real init stores in the cluster (the kubeadm-config ConfigMap, etcd's member
    # list) and what joining control planes read from it through the API server.
    state.update(initialized=True, ca_cert_hash=ca_hash, server=server, cluster=cluster,
                 node_name=node_registration.get("name"),
                 members=[{"node": node_registration.get("name"), "control_plane": True, "how": "init"}],
                 control_plane_endpoint=cluster.get("controlPlaneEndpoint", ""),
                 tokens=state.get("tokens", []) + [{"token": token, "ttl": "24h0m0s", "source": "init"}])
    certificate_key = None
    if flags.get("upload-certs") == "true":
        certificate_key = init.get("certificateKey") or secrets.token_hex(32)
        state["certificate_key"] = certificate_key
    save_state(state)
    kubelet = start_kubelet(started)
    record({"command": "init", "argv": argv, "result": "accepted", "documents": redact(docs),
            "warnings": warnings, "node_name": node_registration.get("name"),
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


# ------------------------------------------------------- kubeadm init phase upload-certs
# The control-plane certificates go into the kubeadm-certs Secret, encrypted with the
# certificate key, "a hex encoded string that is an AES key of size 32 bytes"; a joining
# control plane decrypts them with the same key (kubernetes/website, content/en/docs/reference/
# setup-tools/kubeadm/generated/kubeadm_init_phase_upload-certs.md and
# kubeadm_join/kubeadm_join_phase_control-plane-prepare_download-certs.md; the KEP
# "Certificates copy for join --control-plane"). The key comes from --certificate-key or the
# InitConfiguration's certificateKey, else kubeadm generates one.

UPLOAD_CERTS_FLAGS = {"config", "certificate-key", "kubeconfig", "v"}
UPLOAD_CERTS_BOOL = {"upload-certs", "skip-certificate-key-print"}
CERTIFICATE_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


def kubeadm_init_phase(argv):
    if argv[:1] != ["upload-certs"]:
        raise Rejected("the double knows only 'kubeadm init phase upload-certs'")
    flags, positional = parse_flags(argv[1:], UPLOAD_CERTS_FLAGS, UPLOAD_CERTS_BOOL)
    if positional:
        raise Rejected("unexpected arguments %r" % positional)
    if not os.path.exists(path(flags.get("kubeconfig", "/etc/kubernetes/admin.conf"))):
        raise Rejected("failed to load admin kubeconfig: the control plane is not initialised here")
    key = flags.get("certificate-key", "")
    if "config" in flags:
        warnings = []
        _docs, by_kind = read_config_flag(flags, "init", warnings)
        key = key or (by_kind.get("InitConfiguration") or {}).get("certificateKey", "")
    if flags.get("upload-certs") != "true":
        # Without --upload-certs the phase does nothing (the real one prints that it skips).
        record({"command": "init phase upload-certs", "argv": argv, "result": "accepted", "uploaded": False})
        print("[upload-certs] Skipping phase. Please see --upload-certs")
        return 0
    if key and not CERTIFICATE_KEY.match(key):
        raise Rejected("error uploading certs: the certificate key is not a hex encoded 32-byte AES key")
    key = key or secrets.token_hex(32)
    state = load_state()
    state["certificate_key"] = key
    save_state(state)
    record({"command": "init phase upload-certs", "argv": argv, "result": "accepted", "uploaded": True,
            "certificate_key_sha256": digest(key)})
    print("[upload-certs] Storing the certificates in Secret \"kubeadm-certs\" in the \"kube-system\" Namespace")
    if flags.get("skip-certificate-key-print") != "true":
        print("[upload-certs] Using certificate key:\n%s" % key)
    return 0


# ------------------------------------------------------------ the stand-in API server
# The kubelet stand-in runs it when the kube-apiserver static pod is admitted: HTTPS on the
# pod's --secure-port of every address of both families. It serves what keepalived's health
# check and the joining nodes ask of the real one: /livez, the cluster's CA (the cluster-info
# ConfigMap that token discovery reads) and the join itself, checked against this node's
# STATE (the cluster's data). GET / answers with the node's name, so that tests can tell which
# control plane a virtual IP reached (the real one lists its API paths there).

STATE_LOCK = threading.Lock()


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def api_join(request, peer):
    """A node's join, as the API server sees it: the token must be one the cluster holds; a
    control plane needs the cluster's controlPlaneEndpoint and the key of the uploaded
    certificates. The member is recorded; a control plane gets the shared certificates and
    the cluster's data."""
    with STATE_LOCK:
        state = load_state()
        token = str(request.get("token", ""))
        if not any(item.get("token") == token for item in state.get("tokens", [])):
            raise ApiError(401, "[discovery] the bootstrap token is not known to the cluster (expired or never created)")
        control_plane = bool(request.get("control_plane"))
        if control_plane:
            if not state.get("control_plane_endpoint"):
                raise ApiError(403, "One or more conditions for hosting a new control plane instance is not "
                               "satisfied. " + facts()["read_for_the_doubles"]["join_control_plane"]["error"])
            if not state.get("certificate_key"):
                raise ApiError(404, "error downloading certs: the Secret kube-system/kubeadm-certs is not found "
                               "(run 'kubeadm init phase upload-certs --upload-certs' on a control plane)")
            if request.get("certificate_key") != state["certificate_key"]:
                raise ApiError(403, "error downloading certs: error decoding certificate key: cipher: message "
                               "authentication failed (the certificate key is not the one of the uploaded certificates)")
        members = state.setdefault("members", [])
        members[:] = [m for m in members if m.get("node") != request.get("node")]
        members.append({"node": request.get("node"), "control_plane": control_plane, "how": "join",
                        "from": peer, "through": request.get("endpoint"), "advertise": request.get("advertise")})
        save_state(state)
    with open(path("/etc/kubernetes/pki/ca.crt")) as handle:
        answer = {"server_node": state.get("node_name"), "members": members,
                  "control_plane_endpoint": state.get("control_plane_endpoint", ""),
                  "cluster": state.get("cluster") or {}, "ca_cert_hash": state.get("ca_cert_hash"),
                  "ca_crt": handle.read()}
    if control_plane:
        with open(path("/etc/kubernetes/pki/ca.key")) as handle:
            answer["ca_key"] = handle.read()
        # The etcd members' view of the cluster, which the new member holds from now on.
        answer["tokens"] = state.get("tokens", [])
        answer["certificate_key"] = state["certificate_key"]
    record({"command": "apiserver join", "result": "accepted", "node": request.get("node"),
            "control_plane": control_plane, "from": peer, "through": request.get("endpoint"),
            "token_sha256": digest(token)})
    return answer


class ApiHandler(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body, kind="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path in ("/livez", "/readyz", "/healthz"):
            self.answer(200, "ok")
        elif self.path == "/":
            self.answer(200, load_state().get("node_name") or "")
        elif self.path == "/double/cluster-info":
            with open(path("/etc/kubernetes/pki/ca.crt")) as handle:
                self.answer(200, json.dumps({"ca_crt": handle.read()}), "application/json")
        else:
            self.answer(404, "not found")

    def do_POST(self):
        if self.path != "/double/join":
            self.answer(404, "not found")
            return
        try:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            self.answer(200, json.dumps(api_join(request, self.peer())), "application/json")
        except ApiError as exc:
            record({"command": "apiserver join", "result": "rejected", "error": str(exc), "from": self.peer()})
            self.answer(exc.status, str(exc))

    def peer(self):
        # The socket takes both families: an IPv4 client shows as an IPv4-mapped IPv6 address.
        address = ipaddress.ip_address(self.client_address[0].split("%")[0])
        return str(getattr(address, "ipv4_mapped", None) or address)

    def log_message(self, *args):
        pass


class DualStackServer(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def serve_api(port):
    server = DualStackServer(("::", port), ApiHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(path("/etc/kubernetes/pki/apiserver.crt"), path("/etc/kubernetes/pki/apiserver.key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


def api_call(endpoint, method, url, body=None):
    """One request to the API server at endpoint (host:port, an IPv6 host in brackets). TLS
    is not verified here: token discovery trusts the CA whose hash the node pins."""
    host, _sep, port = endpoint.rpartition(":")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection(host.strip("[]"), int(port), timeout=10, context=context)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(method, url, body=payload, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        text = response.read().decode()
    except OSError as exc:
        raise Rejected("[discovery] failed to reach the API server at %s: %s" % (endpoint, exc))
    finally:
        connection.close()
    if response.status != 200:
        raise Rejected(text)
    return json.loads(text)


def join_over_the_network(join, endpoint, token, hashes, node_name):
    """What kubeadm join does against the cluster: token discovery (fetch the CA, check it
    against the pinned hashes), then the join itself through the endpoint."""
    info = api_call(endpoint, "GET", "/double/cluster-info")
    ca_hash = ca_hash_of(info["ca_crt"].encode())
    if hashes and ca_hash not in hashes:
        raise Rejected("[discovery] cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "
                       "\"%s\" are pinned" % ca_hash)
    control_plane = join.get("controlPlane") or {}
    return api_call(endpoint, "POST", "/double/join", {
        "node": node_name, "token": token, "endpoint": endpoint, "control_plane": bool(join.get("controlPlane")),
        "certificate_key": control_plane.get("certificateKey", ""),
        "advertise": (control_plane.get("localAPIEndpoint") or {}).get("advertiseAddress")})


def become_control_plane(join, answer, node_registration):
    """The files a control-plane join leaves: the shared CA, the static pods with this node's
    advertise address, the kubeconfigs through the endpoint; the cluster's data in STATE."""
    pki = path("/etc/kubernetes/pki")
    os.makedirs(pki, mode=0o755, exist_ok=True)
    write_private("/etc/kubernetes/pki/ca.crt", answer["ca_crt"], 0o644)
    write_private("/etc/kubernetes/pki/ca.key", answer["ca_key"])
    make_serving_certificate()
    cluster = answer.get("cluster") or {}
    pods, services = check_cluster(cluster)
    static_pods(cluster, {"localAPIEndpoint": (join.get("controlPlane") or {}).get("localAPIEndpoint") or {}},
                pods, services)
    server = answer["control_plane_endpoint"]
    write_private("/etc/kubernetes/admin.conf", kubeconfig(server, "kubernetes-admin", answer["ca_crt"].encode()))
    state = load_state()
    state.update(initialized=True, control_plane=True, node_name=node_registration.get("name"), cluster=cluster,
                 control_plane_endpoint=server, ca_cert_hash=answer["ca_cert_hash"], members=answer["members"],
                 tokens=answer.get("tokens", []), certificate_key=answer.get("certificate_key"))
    save_state(state)


# -------------------------------------------------------------------- kubeadm join

JOIN_FLAGS = {"config", "ignore-preflight-errors", "skip-phases", "v", "patches", "node-name",
              "log-file", "kubeconfig"}


def check_control_plane_join(join):
    """A control-plane join needs the cluster's controlPlaneEndpoint, which kubeadm reads from
    the kubeadm-config ConfigMap (checkIfReadyForAdditionalControlPlane). The double knows it
    only where kubeadm init ran under the same root."""
    if not join.get("controlPlane"):
        return
    state = load_state()
    if "control_plane_endpoint" not in state:
        raise Rejected("[preflight] the double cannot read the cluster's kubeadm-config here (no kubeadm "
                       "init ran under this root), which a control-plane join needs")
    if not state["control_plane_endpoint"]:
        raise Rejected("One or more conditions for hosting a new control plane instance is not satisfied. "
                       + facts()["read_for_the_doubles"]["join_control_plane"]["error"])


def kubeadm_join(argv):
    flags, positional = parse_flags(argv, JOIN_FLAGS, {"dry-run", "yes"})
    if positional or "config" not in flags:
        raise Rejected("the double expects 'kubeadm join --config FILE' (the token must not be on "
                       "the command line); got %r" % positional)
    check_mixed_flags(flags)
    mode = os.stat(flags["config"]).st_mode & 0o777
    warnings = []
    docs, by_kind = read_config_flag(flags, "join", warnings)
    join = by_kind["JoinConfiguration"]
    # On a lab node (systemd, a real network) a control-plane join asks the cluster through the
    # endpoint; without them (unit tests) the double reads the cluster from its own STATE.
    networked = bool(join.get("controlPlane")) and os.path.isdir("/run/systemd/system") \
        and not os.environ.get("K8S_DOUBLE_NO_SYSTEMD")
    if not networked:
        check_control_plane_join(join)
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
    node_registration = dict(join.get("nodeRegistration") or {})
    if "node-name" in flags:
        node_registration["name"] = flags["node-name"]
    node_ip = args_map(node_registration.get("kubeletExtraArgs")).get("node-ip")
    if node_ip:
        check_node_ip(node_ip, {"IPv6DualStack": dual_stack_gate_known()})
    check_registration(node_registration, join_worker=not join.get("controlPlane"))
    if os.path.exists(path("/etc/kubernetes/kubelet.conf")):
        raise Rejected("[preflight] [ERROR FileAvailable--etc-kubernetes-kubelet.conf]: "
                       "/etc/kubernetes/kubelet.conf already exists")
    started = time.time()
    server = endpoint
    answer = {}
    if networked:
        answer = join_over_the_network(join, endpoint, token, hashes, node_registration.get("name"))
        become_control_plane(join, answer, node_registration)
    write_private("/etc/kubernetes/kubelet.conf", kubeconfig(server, "system:node", b"double CA"))
    write_kubelet_files({}, node_registration, register_taints=not join.get("controlPlane"))
    state = load_state()
    state.update(joined=True, server=server)
    save_state(state)
    kubelet = start_kubelet(started)
    record({"command": "join", "argv": argv, "result": "accepted", "documents": redact(docs),
            "warnings": warnings, "node_name": node_registration.get("name"),
            "config_mode": "%04o" % mode, "token_sha256": digest(token), "kubelet": kubelet,
            "control_plane": bool(join.get("controlPlane")), "through": endpoint if networked else None,
            "served_by": answer.get("server_node"),
            "members": [m.get("node") for m in answer.get("members", [])]})
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


def kubeadm_config(argv):
    """``kubeadm config validate``: the strict reading init and join do not do."""
    if not argv or argv[0] != "validate":
        raise Rejected("the double knows only 'kubeadm config validate'")
    flags, positional = parse_flags(argv[1:], {"config", "v"}, {"allow-experimental-api"})
    if positional or "config" not in flags:
        raise Rejected("kubeadm config validate needs --config FILE")
    with open(flags["config"]) as handle:
        docs = split_documents(handle.read())
    by_kind = validate_documents(docs, "validate", strict=True)
    if "ClusterConfiguration" in by_kind:
        check_cluster(by_kind["ClusterConfiguration"])
    record({"command": "config validate", "argv": argv, "result": "accepted"})
    print("ok")
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
    if command == "init" and rest[:1] == ["phase"]:
        return kubeadm_init_phase(rest[1:])
    handlers = {"init": kubeadm_init, "join": kubeadm_join, "token": kubeadm_token, "reset": kubeadm_reset,
                "config": kubeadm_config}
    if command not in handlers:
        raise Rejected("the double does not implement 'kubeadm %s'" % command)
    return handlers[command](rest)


# ------------------------------------------------------------------------ kubelet

KUBELET_FLAGS = {"bootstrap-kubeconfig", "kubeconfig", "config", "node-ip", "hostname-override",
                 "v", "feature-gates", "container-runtime-endpoint", "pod-infra-container-image",
                 "node-labels", "register-with-taints", "cloud-provider", "resolv-conf",
                 "allowed-unsafe-sysctls"}


def safe_sysctls():
    """The kubelet's safe sysctls for the declared minor (the nearest older minor read)."""
    table = facts()["kubelet_safe_sysctls"]
    minors = sorted(table, key=lambda name: int(name.split(".")[1]))
    chosen = [name for name in minors if int(name.split(".")[1]) <= minor()] or minors[:1]
    return chosen[-1], table[chosen[-1]]["sysctls"]


def forbidden_sysctls(pod, allowed):
    """The sysctls of a pod spec that the kubelet refuses (SysctlForbidden): neither safe on
    this minor nor matched by the node's allowed unsafe sysctls (a trailing * is a prefix)."""
    safe = safe_sysctls()[1]
    names = [item.get("name", "") for item in ((pod.get("securityContext") or {}).get("sysctls") or [])]
    return [name for name in names
            if name not in safe and not any(fnmatch.fnmatchcase(name, pattern) for pattern in allowed)]


def static_pods_admitted(directory, allowed):
    """What the kubelet does with each static pod manifest: run it or refuse it."""
    results = []
    if not os.path.isdir(path(directory)):
        return results
    for name in sorted(os.listdir(path(directory))):
        with open(os.path.join(path(directory), name)) as handle:
            try:
                manifest = json.load(handle)
            except ValueError:
                results.append({"manifest": name, "admitted": False, "reason": "not JSON (the double reads JSON)"})
                continue
        forbidden = forbidden_sysctls(manifest.get("spec") or {}, allowed)
        results.append({"manifest": name, "admitted": not forbidden,
                        "reason": "SysctlForbidden: forbidden sysctls %s" % forbidden if forbidden else ""})
    return results


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
        config, warnings = {}, []
        if "config" in flags:
            with open(flags["config"]) as handle:
                config = json.loads(handle.read())
            body = {k: v for k, v in config.items() if k not in ("apiVersion", "kind")}
            check_type("KubeletConfiguration", body, KUBELET_SCHEMA, None, warnings)
            check_feature_gates("KubeletConfiguration", config.get("featureGates") or {})
        node_ips = check_node_ip(flags["node-ip"], config.get("featureGates") or {}) if "node-ip" in flags else []
        labels = check_node_labels(flags["node-labels"]) if "node-labels" in flags else {}
        taints = check_taints(flags["register-with-taints"]) if "register-with-taints" in flags else []
        # A flag overrides the config file's field.
        allowed = ([item.strip() for item in flags["allowed-unsafe-sysctls"].split(",") if item.strip()]
                   if "allowed-unsafe-sysctls" in flags else list(config.get("allowedUnsafeSysctls") or []))
        pods = static_pods_admitted(config.get("staticPodPath") or "/etc/kubernetes/manifests", allowed)
    except (Rejected, OSError, ValueError) as exc:
        record({"command": "kubelet", "argv": argv, "result": "rejected", "error": str(exc)})
        print("E kubelet: %s" % exc, file=sys.stderr)
        return 1
    record({"command": "kubelet", "argv": argv, "result": "accepted", "node_ips": node_ips,
            "node_labels": labels, "taints": taints,
            "cgroup_driver": config.get("cgroupDriver"), "warnings": warnings,
            "allowed_unsafe_sysctls": allowed, "static_pods": pods})
    apiserver = [pod for pod in pods if pod["manifest"] == "kube-apiserver.yaml" and pod["admitted"]]
    if apiserver:
        with open(path(os.path.join(config.get("staticPodPath") or "/etc/kubernetes/manifests", "kube-apiserver.yaml"))) as handle:
            command = json.load(handle)["spec"]["containers"][0]["command"]
        port = int(args_map([{"name": flag[2:].partition("=")[0], "value": flag.partition("=")[2]}
                             for flag in command[1:]]).get("secure-port", "6443"))
        serve_api(port)
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
