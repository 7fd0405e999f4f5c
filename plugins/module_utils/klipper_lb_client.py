# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place klipper_dualstack_lb talks to the Kubernetes API.

Objects go in and come out as plain dicts (the API's JSON), so the reconciling code
in ``klipper_lb`` never sees the client's model classes and tests can replace the
``CoreV1Api``/``AppsV1Api`` objects with fakes.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

from ansible.module_utils.basic import env_fallback
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # the module reports this through missing_required_lib
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc

    class ApiException(Exception):  # type: ignore[no-redef]
        status = None

# The same option names and environment variables as kubernetes.core's modules.
AUTH_ARG_SPEC = {
    "kubeconfig": {"type": "path", "fallback": (env_fallback, ["K8S_AUTH_KUBECONFIG"])},
    "context": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_CONTEXT"])},
    "host": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_HOST"])},
    "api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["K8S_AUTH_API_KEY"])},
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"], "fallback": (env_fallback, ["K8S_AUTH_VERIFY_SSL"])},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"], "fallback": (env_fallback, ["K8S_AUTH_SSL_CA_CERT"])},
    "client_cert": {"type": "path", "aliases": ["cert_file"], "fallback": (env_fallback, ["K8S_AUTH_CERT_FILE"])},
    "client_key": {"type": "path", "aliases": ["key_file"], "no_log": False,
                   "fallback": (env_fallback, ["K8S_AUTH_KEY_FILE"])},
}

MERGE_PATCH = "application/merge-patch+json"


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    try:
        return json.loads(body).get("message") or str(body)
    except (TypeError, ValueError, AttributeError):
        return str(body or getattr(exc, "reason", exc))


class KubernetesApi:
    """Reads and writes the few objects the module needs; None means "not found"."""

    def __init__(self, core: Any, apps: Any) -> None:
        self.core = core
        self.apps = apps

    @staticmethod
    def _call(what: str, method: Any, *args: Any, missing_ok: bool = False, **kwargs: Any) -> Optional[dict]:
        try:
            response = method(*args, _preload_content=False, **kwargs)
        except ApiException as exc:
            if missing_ok and getattr(exc, "status", None) == 404:
                return None
            raise DualstackError("%s failed: HTTP %s: %s" % (what, getattr(exc, "status", "?"), _message(exc))) from None
        data = getattr(response, "data", b"") or b"{}"
        return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)

    def get_service(self, namespace: str, name: str) -> Optional[dict]:
        return self._call("reading Service %s/%s" % (namespace, name),
                          self.core.read_namespaced_service, name, namespace, missing_ok=True)

    def get_daemonset(self, namespace: str, name: str) -> Optional[dict]:
        return self._call("reading DaemonSet %s/%s" % (namespace, name),
                          self.apps.read_namespaced_daemon_set, name, namespace, missing_ok=True)

    def create_daemonset(self, namespace: str, body: dict) -> dict:
        return self._call("creating DaemonSet %s/%s" % (namespace, body["metadata"]["name"]),
                          self.apps.create_namespaced_daemon_set, namespace, body)

    def replace_daemonset(self, namespace: str, name: str, body: dict) -> dict:
        return self._call("replacing DaemonSet %s/%s" % (namespace, name),
                          self.apps.replace_namespaced_daemon_set, name, namespace, body)

    def delete_daemonset(self, namespace: str, name: str) -> None:
        # Background: the pods go with the DaemonSet, without blocking the call.
        self._call("deleting DaemonSet %s/%s" % (namespace, name), self.apps.delete_namespaced_daemon_set,
                   name, namespace, missing_ok=True, propagation_policy="Background")

    def list_nodes(self, label_selector: str) -> list:
        found = self._call("listing nodes", self.core.list_node, label_selector=label_selector or None)
        return (found or {}).get("items") or []

    def patch_service_status(self, namespace: str, name: str, ingress: list) -> dict:
        body = {"status": {"loadBalancer": {"ingress": ingress}}}
        return self._call("writing the status of Service %s/%s" % (namespace, name),
                          self.core.patch_namespaced_service_status, name, namespace, body,
                          _content_type=MERGE_PATCH)


def connect(params: dict) -> KubernetesApi:
    """A KubernetesApi for the cluster the auth options (or the environment) point at."""
    if not HAS_KUBERNETES:
        raise DualstackError("the kubernetes Python library is needed on the host that talks to the cluster "
                             "(pip install kubernetes), typically the controller: delegate_to: localhost")
    configuration = k8s_client.Configuration()
    try:
        if params.get("host"):
            configuration.host = params["host"]
            if params.get("api_key"):
                configuration.api_key = {"authorization": "Bearer %s" % params["api_key"]}
        elif params.get("kubeconfig") or not os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_kube_config(config_file=params.get("kubeconfig"), context=params.get("context"),
                                        client_configuration=configuration, persist_config=False)
        else:
            k8s_config.load_incluster_config(client_configuration=configuration)
    except Exception as exc:  # the loaders raise several types; all mean "no usable configuration"
        raise DualstackError("could not load a Kubernetes client configuration (kubeconfig=%s, context=%s): %s; "
                             "set kubeconfig, or host and api_key"
                             % (params.get("kubeconfig"), params.get("context"), exc)) from None
    if params.get("validate_certs") is not None:
        configuration.verify_ssl = params["validate_certs"]
    for option, attribute in (("ca_cert", "ssl_ca_cert"), ("client_cert", "cert_file"), ("client_key", "key_file")):
        if params.get(option):
            setattr(configuration, attribute, params[option])
    api_client = k8s_client.ApiClient(configuration)
    return KubernetesApi(k8s_client.CoreV1Api(api_client), k8s_client.AppsV1Api(api_client))
