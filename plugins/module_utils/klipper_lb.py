# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build and reconcile the svclb DaemonSet that exposes a LoadBalancer Service on
every node's host ports over IPv4 and IPv6, the way k3s ServiceLB (klipper-lb) does.

Everything here is plain Python: the DaemonSet is built from a Service given as a
dict, and the live path talks to the cluster only through an object with the
methods of ``klipper_lb_client.KubernetesApi`` so that tests can hand in fakes.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import re
import time
from typing import Any, Callable, Optional
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError, Problem, show


from ansible_collections.dualstack.kubernetes.plugins.module_utils import rules

# k3s-io/klipper-lb v0.4.13 reads what the dest_ips format writes (rules.klipper_dest_ips)
# and skips a family whose forwarding sysctl is 0; k3s itself moved its ServiceLB to this tag.
DEFAULT_IMAGE = "rancher/klipper-lb:v0.4.13"

FORMATS = ("dest_ips", "split")
PROTOCOLS = ("TCP", "UDP")
FAMILY_POLICIES = ("SingleStack", "PreferDualStack", "RequireDualStack")
IPV6_FORWARDING_SYSCTL = "net.ipv6.conf.all.forwarding"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "dualstack.kubernetes.klipper_dualstack_lb"
SPEC_HASH_ANNOTATION = "dualstack.kubernetes/svclb-spec-sha256"
# Without loadBalancerSourceRanges every client may connect, in each family the
# Service has; klipper-lb drops traffic of a family no range covers.
OPEN_RANGES = {"IPv4": "0.0.0.0/0", "IPv6": "::/0"}

# The API server's name rules (k8s.io/apimachinery/pkg/util/validation/validation.go):
# a Service name is a DNS-1035 label, a namespace a DNS-1123 label (63 characters each), a
# DaemonSet name a DNS-1123 subdomain (253; pkg/apis/apps/validation ValidateDaemonSetName),
# a label value at most 63 characters of [A-Za-z0-9-_.] starting and ending alphanumeric.
# The DaemonSet's pods need no limit of their own: their names come from generateName,
# which cuts the base to 58 characters (k8s.io/apiserver/pkg/storage/names/generate.go).
LABEL_MAX = 63
SUBDOMAIN_MAX = 253
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DIGITS = re.compile(r"^[0-9]+$")

TOLERATIONS = [
    {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "CriticalAddonsOnly", "operator": "Exists"},
]


def ip_family(address: str, where: str) -> str:
    """Return "IPv4" or "IPv6" for an address, or fail naming where it came from."""
    try:
        parsed = ipaddress.ip_address(str(address).strip())
    except ValueError:
        raise DualstackError(
            "%s holds %s, which is not an IP address; a LoadBalancer Service needs its "
            "clusterIPs allocated (is it headless or not created yet?)" % (where, show(address))
        ) from None
    return "IPv4" if parsed.version == 4 else "IPv6"


def _service_ref(service: dict) -> str:
    meta = service.get("metadata") or {}
    return "%s/%s" % (meta.get("namespace") or "default", meta.get("name") or "?")


def check_name(value: Any, where: str, kind: str) -> str:
    """``value`` if the API server takes it as a ``kind`` name, else a refusal naming the rule."""
    rules = {
        "service": (_DNS1035_LABEL, LABEL_MAX, "a DNS-1035 label: lower-case letters, digits and '-', "
                                               "starting with a letter"),
        "namespace": (_DNS1123_LABEL, LABEL_MAX, "a DNS-1123 label: lower-case letters, digits and '-'"),
        "daemonset": (_DNS1123_SUBDOMAIN, SUBDOMAIN_MAX, "a DNS-1123 subdomain: lower-case letters, "
                                                         "digits, '-' and '.'"),
    }
    pattern, limit, rule = rules[kind]
    if not isinstance(value, str) or not pattern.match(value) or len(value) > limit:
        raise DualstackError(Problem(
            where, value, "is not a valid %s name (%s, at most %d characters, starting and ending with a "
            "letter or digit)" % (kind if kind != "daemonset" else "DaemonSet", rule, limit),
            "Use the name the object has in the cluster."))
    return value


def check_node_selector(node_selector: dict) -> dict:
    """A nodeSelector the API server takes: string keys and label values (no true turned into "True")."""
    for key, value in node_selector.items():
        name = str(key).rpartition("/")[2]
        if not isinstance(key, str) or not name or len(name) > LABEL_MAX or not _LABEL_VALUE.match(name):
            raise DualstackError(Problem("node_selector", key, "is not a label key (at most %d characters of "
                                         "letters, digits, '-', '_' and '.', after an optional prefix/)" % LABEL_MAX,
                                         "Use a node label's key, e.g. kubernetes.io/os."))
        if not isinstance(value, str) or len(value) > LABEL_MAX or not _LABEL_VALUE.match(value):
            raise DualstackError(Problem("node_selector.%s" % key, value, "is not a label value (a string of at most "
                                         "%d letters, digits, '-', '_' and '.')" % LABEL_MAX,
                                         "Quote it as a string, e.g. \"true\"."))
    return dict(node_selector)


def app_label(ds_name: str) -> str:
    """The ``app`` label of the DaemonSet and its pods: its name while that fits a label value.

    A longer name (a DaemonSet name may have 253 characters, a label value 63) is cut and
    ends in a digest of the whole name, so that two long names still get different labels.
    """
    if len(ds_name) <= LABEL_MAX:
        return ds_name
    digest = hashlib.sha256(ds_name.encode("utf-8")).hexdigest()[:10]
    head = ds_name[:LABEL_MAX - len(digest) - 1].rstrip("-.")
    return "%s-%s" % (head, digest)


def service_destinations(service: dict) -> dict:
    """The Service's clusterIPs keyed by family ("IPv4"/"IPv6"), in the Service's order.

    Follows spec.ipFamilyPolicy: SingleStack uses the first clusterIP only,
    PreferDualStack whatever was allocated, RequireDualStack fails unless both
    families are there.
    """
    if not isinstance(service, dict):
        raise DualstackError("service must be a Service object (a dict), got %s" % type(service).__name__)
    ref = _service_ref(service)
    spec = service.get("spec") or {}
    svc_type = spec.get("type") or "ClusterIP"
    if svc_type != "LoadBalancer":
        raise DualstackError(
            "Service %s has spec.type %s; klipper-lb only serves type LoadBalancer: "
            "set spec.type: LoadBalancer on the Service (for Traefik: service.type)" % (ref, svc_type)
        )
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in FAMILY_POLICIES:
        raise DualstackError(
            "Service %s has spec.ipFamilyPolicy %s; it must be one of %s" % (ref, show(policy), ", ".join(FAMILY_POLICIES))
        )
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    if not isinstance(cluster_ips, list):
        # A string would be read character by character.
        raise DualstackError(Problem(
            "Service %s spec.clusterIPs" % ref, cluster_ips, "is not a list",
            "Write it as a list, one address per family, e.g. [10.43.0.10, fd00:43::10]."))
    if not cluster_ips or any(str(ip) == "None" for ip in cluster_ips):
        raise DualstackError(
            "Service %s has no clusterIPs (spec.clusterIPs %s); a LoadBalancer Service needs them "
            "allocated: read it from the cluster after it was created, or pass the live object" % (ref, show(cluster_ips))
        )
    destinations: dict = {}
    for index, address in enumerate(cluster_ips):
        family = ip_family(address, "Service %s spec.clusterIPs[%d]" % (ref, index))
        if family in destinations:
            raise DualstackError(
                "Service %s lists two %s clusterIPs (%s and %s); a Service has at most one per family"
                % (ref, family, destinations[family], address)
            )
        destinations[family] = str(ipaddress.ip_address(str(address).strip()))
    declared = spec.get("ipFamilies") or []
    if policy == "SingleStack":
        first = next(iter(destinations))
        destinations = {first: destinations[first]}
    elif policy == "RequireDualStack" and len(destinations) < 2:
        missing = "IPv6" if "IPv4" in destinations else "IPv4"
        raise DualstackError(
            "Service %s has spec.ipFamilyPolicy RequireDualStack but no %s clusterIP (clusterIPs %s, "
            "ipFamilies %s); the cluster's service CIDRs must include both families: add the %s "
            "service CIDR to the API server (address_plan_service_cidrs) before exposing the Service"
            % (ref, missing, list(cluster_ips), list(declared), missing)
        )
    return destinations


def service_ports(service: dict, fmt: str) -> list:
    """The Service's ports as (port, protocol) pairs, checked for what klipper-lb can serve."""
    ref = _service_ref(service)
    ports = (service.get("spec") or {}).get("ports") or []
    if not ports:
        raise DualstackError("Service %s has no spec.ports; there is nothing to expose on the nodes" % ref)
    result = []
    seen_names: dict = {}
    for index, entry in enumerate(ports):
        where = "Service %s spec.ports[%d]" % (ref, index)
        if not isinstance(entry, dict):
            raise DualstackError(Problem(where, entry, "is not a port mapping", "Give port and protocol, "
                                                                                "e.g. {port: 80, protocol: TCP}."))
        raw = entry.get("port")
        # The API's port is an int32: 80.9 or true is a mistake to report, not to round.
        if isinstance(raw, bool) or not (isinstance(raw, int) or (isinstance(raw, str) and _DIGITS.match(raw))):
            raise DualstackError(Problem(where + ".port", raw, "is not a whole number",
                                         "Give the port as a number from 1 to 65535."))
        port = int(raw)
        if not 1 <= port <= 65535:
            raise DualstackError(Problem(where + ".port", port, "is outside 1-65535",
                                         "Give the port as a number from 1 to 65535."))
        protocol = entry.get("protocol") or "TCP"
        if not isinstance(protocol, str):
            raise DualstackError(Problem(where + ".protocol", protocol, "is not a protocol name", "Use TCP or UDP."))
        protocol = protocol.upper()
        if protocol not in PROTOCOLS:
            raise DualstackError(
                "%s has protocol %s; klipper-lb forwards TCP and UDP only: move that port to a "
                "Service that another load balancer serves" % (where, protocol)
            )
        name = container_name(port, protocol, fmt)
        if name in seen_names:
            raise DualstackError(
                "%s (%d/%s) maps to container %s like %s does; format split names containers "
                "lb-port-<port> as the article did, so one port number cannot carry two protocols: "
                "use format dest_ips" % (where, port, protocol, name, seen_names[name])
            )
        seen_names[name] = "%d/%s" % (port, protocol)
        result.append((port, protocol))
    return result


def check_image(image: str) -> None:
    """Refuse a klipper-lb image whose tag predates what the dest_ips format writes.

    Only tags of klipper-lb itself are judged; a digest or another image's tag is the user's choice.
    """
    name, tag = str(image).rpartition(":")[::2]
    if "/" in tag or not name.rsplit("/", 1)[-1] == "klipper-lb" or not tag[:1] in "v0123456789" or not tag:
        return
    version = rules.parse("klipper_lb", tag, "the tag of image %s" % image)
    if not rules.klipper_dest_ips(version):
        raise DualstackError(
            "image %s is klipper-lb %s, which reads no DEST_IPS and SRC_RANGES (from v0.4.0; before v0.3.2 "
            "DEST_IP holds one IPv4 address): use %s or a later tag" % (image, version, DEFAULT_IMAGE.rsplit(":", 1)[1]))


def container_name(port: int, protocol: str, fmt: str) -> str:
    """k3s ServiceLB's lb-<proto>-<port>, or the article's lb-port-<port> for the fork."""
    if fmt == "split":
        return "lb-port-%d" % port
    return "lb-%s-%d" % (protocol.lower(), port)


def source_ranges(service: dict, families: list) -> str:
    """SRC_RANGES for klipper-lb: the Service's loadBalancerSourceRanges, or everything."""
    where = "Service %s spec.loadBalancerSourceRanges" % _service_ref(service)
    ranges = (service.get("spec") or {}).get("loadBalancerSourceRanges") or []
    if not isinstance(ranges, list):
        raise DualstackError(Problem(where, ranges, "is not a list",
                                     "Write it as a list of CIDRs, e.g. [192.0.2.0/24, 2001:db8::/64]."))
    if not ranges:
        return " ".join(OPEN_RANGES[family] for family in families)
    checked = []
    for index, item in enumerate(ranges):
        try:
            # strict=False: the API server's net.ParseCIDR takes host bits too; iptables
            # matches on the network either way.
            network = ipaddress.ip_network(item.strip(), strict=False) if isinstance(item, str) else None
        except ValueError:
            network = None
        if network is None or "/" not in item:
            raise DualstackError(Problem("%s[%d]" % (where, index), item, "is not a CIDR",
                                         "Write each entry as address/prefix, e.g. 192.0.2.0/24 or 2001:db8::/64."))
        checked.append(str(network))
    return " ".join(checked)


def _container_env(port: int, protocol: str, destinations: dict, fmt: str, ranges: str) -> list:
    env = [{"name": "SRC_PORT", "value": str(port)}]
    if fmt == "dest_ips":
        env.append({"name": "SRC_RANGES", "value": ranges})
    env += [
        {"name": "DEST_PROTO", "value": protocol},
        {"name": "DEST_PORT", "value": str(port)},
    ]
    if fmt == "dest_ips":
        # klipper-lb tells the families apart by the ':' in each address.
        env.append({"name": "DEST_IPS", "value": " ".join(destinations.values())})
    else:
        if "IPv4" in destinations:
            env.append({"name": "DEST_IP", "value": destinations["IPv4"]})
        if "IPv6" in destinations:
            env.append({"name": "DEST_IP6", "value": destinations["IPv6"]})
    return env


def pod_sysctls(families: Any) -> list:
    """The sysctls the svclb pods set for a Service of these IP families ("IPv4"/"IPv6",
    any case): IPv6 forwarding in the pod's own network namespace for ip6tables DNAT, as
    k3s ServiceLB's pods did for IPv6 Services from v1.21.7/v1.22.4 (k3s
    pkg/servicelb/controller.go).

    It is not among the kubelet's safe sysctls, and k3s allows it only while its own
    ServiceLB runs, which these pods replace; so every node that runs them needs it in its
    kubelet's allowed-unsafe-sysctls (k3s_server_kubelet_unsafe_sysctls and
    k3s_agent_kubelet_unsafe_sysctls) or the kubelet refuses the pods (SysctlForbidden).
    """
    names = {str(family).lower() for family in (families or [])}
    return [IPV6_FORWARDING_SYSCTL] if "ipv6" in names else []


def spec_hash(daemonset: dict) -> str:
    """A digest of everything the module sets, so a later run can see what it wrote."""
    body = copy.deepcopy(daemonset)
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    annotations.pop(SPEC_HASH_ANNOTATION, None)
    if not annotations:
        meta.pop("annotations", None)
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def default_daemonset_name(service: dict) -> str:
    return "svclb-%s" % ((service.get("metadata") or {}).get("name") or "")


def build_daemonset(
    service: dict,
    fmt: str = "dest_ips",
    image: Optional[str] = None,
    name: Optional[str] = None,
    node_selector: Optional[dict] = None,
) -> dict:
    """The svclb DaemonSet for a LoadBalancer Service: one klipper-lb container per port."""
    if fmt not in FORMATS:
        raise DualstackError("format is %r; it must be one of %s" % (fmt, ", ".join(FORMATS)))
    if not isinstance(service, dict):
        raise DualstackError("service must be a Service object (a dict), got %s" % type(service).__name__)
    meta = service.get("metadata") or {}
    if not meta.get("name"):
        raise DualstackError("service has no metadata.name; pass the whole Service object")
    check_name(meta["name"], "service metadata.name", "service")
    if meta.get("namespace") is not None:
        check_name(meta["namespace"], "service metadata.namespace", "namespace")
    if fmt == "split" and not image:
        raise DualstackError(
            "format split needs image: only forks of klipper-lb (such as the article's "
            "eumel8/klipper-lb dual-stack branch) read DEST_IP and DEST_IP6; set image to the "
            "fork you build or mirror, pinned by tag or digest, or use format dest_ips"
        )
    if fmt == "dest_ips" and image:
        check_image(image)
    destinations = service_destinations(service)
    ports = service_ports(service, fmt)
    namespace = meta.get("namespace") or "default"
    ds_name = check_name(name or default_daemonset_name(service), "daemonset_name", "daemonset")
    label = app_label(ds_name)
    ranges = source_ranges(service, list(destinations))
    containers = []
    for port, protocol in ports:
        cname = container_name(port, protocol, fmt)
        containers.append({
            "name": cname,
            "image": image or DEFAULT_IMAGE,
            "imagePullPolicy": "IfNotPresent",
            "env": _container_env(port, protocol, destinations, fmt, ranges),
            "ports": [{
                "name": cname,
                "containerPort": port,
                "hostPort": port,
                "protocol": protocol,
            }],
            "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
        })
    pod_spec: dict = {
        "automountServiceAccountToken": False,
        "containers": containers,
        "tolerations": copy.deepcopy(TOLERATIONS),
    }
    sysctls = pod_sysctls(list(destinations))
    if sysctls:
        pod_spec["securityContext"] = {"sysctls": [{"name": name, "value": "1"} for name in sysctls]}
    if node_selector:
        pod_spec["nodeSelector"] = check_node_selector(node_selector)
    metadata: dict = {
        "name": ds_name,
        "namespace": namespace,
        "labels": {"app": label, MANAGED_BY_LABEL: MANAGED_BY},
    }
    if meta.get("uid"):
        # Same namespace as the Service, so the garbage collector removes the
        # DaemonSet together with the Service.
        metadata["ownerReferences"] = [{
            "apiVersion": "v1",
            "kind": "Service",
            "name": meta["name"],
            "uid": meta["uid"],
        }]
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata,
        "spec": {
            "selector": {"matchLabels": {"app": label}},
            "template": {"metadata": {"labels": {"app": label}}, "spec": pod_spec},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        },
    }
    metadata["annotations"] = {SPEC_HASH_ANNOTATION: spec_hash(daemonset)}
    return daemonset


def contains(live: Any, wanted: Any) -> bool:
    """True when every field of wanted is in live with the same value (lists item by item);
    fields the API server added to live are ignored."""
    if isinstance(wanted, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(live, list) and len(live) == len(wanted) and all(contains(a, b) for a, b in zip(live, wanted))
    return live == wanted


def project(live: Any, wanted: Any) -> Any:
    """live cut down to the fields wanted has, for a diff that shows only what the module sets."""
    if isinstance(wanted, dict) and isinstance(live, dict):
        return {k: project(live[k], v) for k, v in wanted.items() if k in live}
    if isinstance(wanted, list) and isinstance(live, list):
        return [project(a, b) for a, b in zip(live, wanted)] + live[len(wanted):]
    return live


SERVER_FIELDS = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink")


def without_server_fields(live: dict) -> dict:
    """live without its status and the metadata the API server keeps, for a readable diff."""
    body = {k: copy.deepcopy(v) for k, v in live.items() if k != "status"}
    meta = body.get("metadata") or {}
    for field in SERVER_FIELDS:
        meta.pop(field, None)
    return body


def is_managed(daemonset: dict) -> bool:
    return ((daemonset.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY


def up_to_date(live: dict, desired: dict) -> bool:
    """The live DaemonSet was written from the same desired object and nobody changed those fields."""
    live_hash = ((live.get("metadata") or {}).get("annotations") or {}).get(SPEC_HASH_ANNOTATION)
    return live_hash == desired["metadata"]["annotations"][SPEC_HASH_ANNOTATION] and contains(live, desired)


def daemonset_ready(live: dict) -> bool:
    meta = live.get("metadata") or {}
    status = live.get("status") or {}
    wanted = status.get("desiredNumberScheduled")
    if wanted is None or status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False
    return status.get("updatedNumberScheduled", 0) == wanted and status.get("numberAvailable", 0) == wanted


def node_addresses(nodes: list, families: list) -> list:
    """Each node's ExternalIP addresses (InternalIP where it has none), for the families
    the Service has, primary family first: what EXTERNAL-IP should show."""
    by_family: dict = {family: [] for family in families}
    for node in nodes:
        addresses = (node.get("status") or {}).get("addresses") or []
        external = [a["address"] for a in addresses if a.get("type") == "ExternalIP"]
        chosen = external or [a["address"] for a in addresses if a.get("type") == "InternalIP"]
        for address in chosen:
            try:
                family = ip_family(address, "node address")
            except DualstackError:
                continue
            if family in by_family and address not in by_family[family]:
                by_family[family].append(address)
    return [address for family in families for address in sorted(by_family[family], key=ipaddress.ip_address)]


def selector_string(node_selector: Optional[dict]) -> str:
    return ",".join("%s=%s" % (k, v) for k, v in sorted((node_selector or {}).items()))


class Reconciler:
    """The live path: create, update or delete the DaemonSet and write the Service status.

    ``api`` has the methods of ``klipper_lb_client.KubernetesApi``; every write is
    skipped in check mode, after the same comparison decided it was needed.
    """

    def __init__(self, api: Any, check_mode: bool = False, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self.check_mode = check_mode
        self.sleep = sleep
        self.clock = clock

    def read_service(self, namespace: str, name: str) -> dict:
        service = self.api.get_service(namespace, name)
        if service is None:
            raise DualstackError(
                "Service %s/%s was not found; create it first (for Traefik: wait until the traefik "
                "HelmChart has installed) or check name and namespace" % (namespace, name)
            )
        return service

    def _existing(self, namespace: str, name: str) -> Optional[dict]:
        live = self.api.get_daemonset(namespace, name)
        if live is not None and not is_managed(live):
            raise DualstackError(
                "DaemonSet %s/%s exists but does not carry the label %s=%s, so this module did not "
                "create it (k3s ServiceLB names its DaemonSets svclb-<service> too): disable k3s "
                "servicelb, or set daemonset_name to another name" % (namespace, name, MANAGED_BY_LABEL, MANAGED_BY)
            )
        return live

    def ensure_present(self, desired: dict, wait: bool, wait_timeout: int) -> dict:
        namespace = desired["metadata"]["namespace"]
        name = desired["metadata"]["name"]
        live = self._existing(namespace, name)
        if live is None:
            outcome = {"changed": True, "action": "create", "before": {}, "after": desired}
            result = desired if self.check_mode else self.api.create_daemonset(namespace, desired)
        elif up_to_date(live, desired):
            return {"changed": False, "action": "none", "before": project(live, desired), "after": desired,
                    "result": live}
        else:
            outcome = {"changed": True, "action": "update", "before": project(live, desired), "after": desired}
            body = copy.deepcopy(desired)
            body["metadata"]["resourceVersion"] = (live.get("metadata") or {}).get("resourceVersion")
            result = desired if self.check_mode else self.api.replace_daemonset(namespace, name, body)
        if wait and not self.check_mode:
            result = self.wait_ready(namespace, name, wait_timeout)
        outcome["result"] = result
        return outcome

    def wait_ready(self, namespace: str, name: str, timeout: int) -> dict:
        deadline = self.clock() + timeout
        while True:
            live = self.api.get_daemonset(namespace, name)
            if live is not None and daemonset_ready(live):
                return live
            if self.clock() >= deadline:
                status = (live or {}).get("status") or {}
                raise DualstackError(
                    "DaemonSet %s/%s was not ready after wait_timeout=%ds (desired %s, updated %s, available %s); "
                    "look at its pods: a host port may be taken on a node or the image may not be pullable"
                    % (namespace, name, timeout, status.get("desiredNumberScheduled"),
                       status.get("updatedNumberScheduled"), status.get("numberAvailable"))
                )
            self.sleep(2)

    def ensure_absent(self, namespace: str, name: str, wait: bool, wait_timeout: int) -> dict:
        live = self._existing(namespace, name)
        if live is None:
            return {"changed": False, "action": "none", "before": {}, "after": {}}
        if not self.check_mode:
            self.api.delete_daemonset(namespace, name)
            if wait:
                deadline = self.clock() + wait_timeout
                while self.api.get_daemonset(namespace, name) is not None:
                    if self.clock() >= deadline:
                        raise DualstackError(
                            "DaemonSet %s/%s still exists after wait_timeout=%ds; a finalizer may hold it"
                            % (namespace, name, wait_timeout)
                        )
                    self.sleep(2)
        return {"changed": True, "action": "delete", "before": without_server_fields(live), "after": {}}

    def ensure_status(self, service: dict, addresses: list) -> dict:
        """Write addresses into the Service's status.loadBalancer.ingress (an empty list clears it)."""
        meta = service.get("metadata") or {}
        current = [entry.get("ip") for entry in
                   ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []]
        if current == addresses:
            return {"changed": False, "ingress": addresses}
        if not self.check_mode:
            self.api.patch_service_status(meta.get("namespace") or "default", meta["name"],
                                          [{"ip": address} for address in addresses])
        return {"changed": True, "ingress": addresses, "before": current}

    def status_addresses(self, service: dict, node_selector: Optional[dict], given: Optional[list]) -> list:
        families = list(service_destinations(service))
        if given:
            for index, address in enumerate(given):
                ip_family(address, "status_addresses[%d]" % index)
            return [str(ipaddress.ip_address(a)) for a in given]
        return node_addresses(self.api.list_nodes(selector_string(node_selector)), families)


def run(params: dict, api: Any = None, check_mode: bool = False, reconciler: Optional[Reconciler] = None) -> dict:
    """Everything the module does, given its parameters; returns the module result."""
    state = params.get("state") or "present"
    fmt = params.get("format") or "dest_ips"
    live_path = bool(params.get("apply")) or state == "absent" or bool(params.get("update_status"))
    if params.get("service") is not None and live_path:
        raise DualstackError(
            "service (a dict) renders without a cluster; apply, state=absent and update_status work on "
            "the live Service: pass name and namespace instead of service"
        )
    if params.get("service") is None:
        check_name(params.get("name"), "name", "service")
        check_name(params.get("namespace") or "default", "namespace", "namespace")
    if params.get("daemonset_name") is not None:
        check_name(params["daemonset_name"], "daemonset_name", "daemonset")
    if live_path or params.get("service") is None:
        if api is None and reconciler is None:
            raise DualstackError("reading the Service from the cluster needs the kubernetes client")
        reconciler = reconciler or Reconciler(api, check_mode=check_mode)
        namespace = params.get("namespace") or "default"
        if state == "absent":
            # The DaemonSet may outlive its Service (when it was created without an
            # ownerReference); removing it must not need the Service.
            service = reconciler.api.get_service(namespace, params["name"])
            if service is None:
                service = {"metadata": {"name": params["name"], "namespace": namespace}}
                params = dict(params, update_status=False)
        else:
            service = reconciler.read_service(namespace, params["name"])
    else:
        service = params["service"]
    result: dict = {"changed": False}
    ds_name = params.get("daemonset_name") or default_daemonset_name(service)
    if state == "absent":
        namespace = (service.get("metadata") or {}).get("namespace") or params.get("namespace") or "default"
        outcome = reconciler.ensure_absent(namespace, ds_name, bool(params.get("wait")),
                                           int(params.get("wait_timeout") or 120))
    else:
        desired = build_daemonset(service, fmt=fmt, image=params.get("image"), name=ds_name,
                                  node_selector=params.get("node_selector"))
        result["daemonset"] = desired
        if not params.get("apply"):
            return result
        outcome = reconciler.ensure_present(desired, bool(params.get("wait")), int(params.get("wait_timeout") or 120))
        result["result"] = outcome.get("result")
    result["changed"] = outcome["changed"]
    result["action"] = outcome["action"]
    result["diff"] = {"before": outcome["before"], "after": outcome["after"]}
    if params.get("update_status"):
        addresses = [] if state == "absent" else reconciler.status_addresses(
            service, params.get("node_selector"), params.get("status_addresses"))
        status = reconciler.ensure_status(service, addresses)
        result["load_balancer_ingress"] = status["ingress"]
        result["changed"] = result["changed"] or status["changed"]
    return result
