# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-ins for kubernetes.client.CoreV1Api and AppsV1Api that keep objects in memory
and answer like an API server: raw JSON responses with _preload_content=False,
ApiException 404/409, defaulted fields, resourceVersion and generation."""

from __future__ import annotations

import copy
import itertools
import json

from kubernetes.client.rest import ApiException

ARTICLE_SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "traefik", "namespace": "kube-system", "uid": "5a0c6e0e-8d8f-4f5b-9b0e-1f2a3b4c5d6e"},
    "spec": {
        "type": "LoadBalancer",
        "ipFamilyPolicy": "RequireDualStack",
        "ipFamilies": ["IPv4", "IPv6"],
        "clusterIP": "10.43.206.211",
        "clusterIPs": ["10.43.206.211", "fd45:a71:55a6:1:2:1:0:db1"],
        "ports": [
            {"name": "web", "port": 80, "protocol": "TCP", "targetPort": "web", "nodePort": 30080},
            {"name": "websecure", "port": 443, "protocol": "TCP", "targetPort": "websecure", "nodePort": 30443},
            {"name": "traefik", "port": 9000, "protocol": "TCP", "targetPort": "traefik", "nodePort": 30900},
        ],
    },
    "status": {"loadBalancer": {}},
}


def article_service(**spec_changes):
    service = copy.deepcopy(ARTICLE_SERVICE)
    service["spec"].update(spec_changes)
    return service


def node(name, *addresses, labels=None):
    return {
        "metadata": {"name": name, "labels": dict(labels or {})},
        "status": {"addresses": [{"type": kind, "address": address} for kind, address in addresses]},
    }


class Response:
    def __init__(self, obj):
        self.data = json.dumps(obj).encode()


def _not_found(kind, name):
    return ApiException(status=404, reason="Not Found",
                        body=json.dumps({"message": '%s "%s" not found' % (kind, name)}))


class Cluster:
    """What the fake API server stores; the test reads it to see the effect of a run."""

    def __init__(self, services=(), nodes=(), ready_after_reads=0):
        self.services = {(s["metadata"]["namespace"], s["metadata"]["name"]): copy.deepcopy(s) for s in services}
        self.daemonsets = {}
        self.nodes = [copy.deepcopy(n) for n in nodes]
        self.calls = []
        self.ready_after_reads = ready_after_reads
        self._versions = itertools.count(100)

    def writes(self):
        return [c for c in self.calls if c[0] in ("create", "replace", "delete", "patch_status")]

    def _version(self):
        return str(next(self._versions))


class FakeCoreV1Api:
    def __init__(self, cluster):
        self.cluster = cluster

    def read_namespaced_service(self, name, namespace, _preload_content=True):
        self.cluster.calls.append(("read_service", namespace, name))
        found = self.cluster.services.get((namespace, name))
        if found is None:
            raise _not_found("services", name)
        return Response(found)

    def list_node(self, label_selector=None, _preload_content=True):
        self.cluster.calls.append(("list_node", label_selector))
        wanted = dict(item.split("=", 1) for item in label_selector.split(",")) if label_selector else {}
        items = [n for n in self.cluster.nodes
                 if all(n["metadata"]["labels"].get(k) == v for k, v in wanted.items())]
        return Response({"kind": "NodeList", "items": items})

    def patch_namespaced_service_status(self, name, namespace, body, _preload_content=True, _content_type=None):
        self.cluster.calls.append(("patch_status", namespace, name, copy.deepcopy(body), _content_type))
        service = self.cluster.services.get((namespace, name))
        if service is None:
            raise _not_found("services", name)
        # A JSON merge patch replaces the ingress list as a whole.
        service.setdefault("status", {}).setdefault("loadBalancer", {})["ingress"] = \
            body["status"]["loadBalancer"]["ingress"]
        return Response(service)


class FakeAppsV1Api:
    def __init__(self, cluster):
        self.cluster = cluster

    def _defaulted(self, body, generation):
        stored = copy.deepcopy(body)
        meta = stored["metadata"]
        meta.update({"resourceVersion": self.cluster._version(), "generation": generation,
                     "uid": meta.get("uid") or "ds-uid", "creationTimestamp": "2021-09-24T10:00:00Z"})
        pod = stored["spec"]["template"]["spec"]
        pod.setdefault("dnsPolicy", "ClusterFirst")
        pod.setdefault("restartPolicy", "Always")
        for container in pod["containers"]:
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("resources", {})
        stored["status"] = {"desiredNumberScheduled": 1, "observedGeneration": generation - 1,
                            "updatedNumberScheduled": 0, "numberAvailable": 0}
        return stored

    def read_namespaced_daemon_set(self, name, namespace, _preload_content=True):
        self.cluster.calls.append(("read_daemonset", namespace, name))
        found = self.cluster.daemonsets.get((namespace, name))
        if found is None:
            raise _not_found("daemonsets.apps", name)
        if self.cluster.ready_after_reads is not None:
            if self.cluster.ready_after_reads <= 0:
                gen = found["metadata"]["generation"]
                found["status"].update({"observedGeneration": gen, "updatedNumberScheduled": 1, "numberAvailable": 1})
            self.cluster.ready_after_reads -= 1
        return Response(found)

    def create_namespaced_daemon_set(self, namespace, body, _preload_content=True):
        self.cluster.calls.append(("create", namespace, copy.deepcopy(body)))
        key = (namespace, body["metadata"]["name"])
        if key in self.cluster.daemonsets:
            raise ApiException(status=409, reason="Conflict", body=json.dumps({"message": "already exists"}))
        self.cluster.daemonsets[key] = self._defaulted(body, 1)
        return Response(self.cluster.daemonsets[key])

    def replace_namespaced_daemon_set(self, name, namespace, body, _preload_content=True):
        self.cluster.calls.append(("replace", namespace, name, copy.deepcopy(body)))
        live = self.cluster.daemonsets.get((namespace, name))
        if live is None:
            raise _not_found("daemonsets.apps", name)
        if body["metadata"].get("resourceVersion") != live["metadata"]["resourceVersion"]:
            raise ApiException(status=409, reason="Conflict",
                               body=json.dumps({"message": "the object has been modified"}))
        self.cluster.daemonsets[(namespace, name)] = self._defaulted(body, live["metadata"]["generation"] + 1)
        return Response(self.cluster.daemonsets[(namespace, name)])

    def delete_namespaced_daemon_set(self, name, namespace, _preload_content=True, propagation_policy=None):
        self.cluster.calls.append(("delete", namespace, name, propagation_policy))
        if self.cluster.daemonsets.pop((namespace, name), None) is None:
            raise _not_found("daemonsets.apps", name)
        return Response({"kind": "Status", "status": "Success"})
