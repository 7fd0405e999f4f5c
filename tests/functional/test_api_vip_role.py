"""The api_vip role's kube-vip static Pod, rendered as the role renders it (the filter and
to_nice_yaml, through ansible), is a valid Pod: kubernetes-validate --strict accepts it for
every Kubernetes version from 1.25 it has schemas for, and every field name is one the
kubernetes Python client's V1Pod model knows (its deserialiser would silently drop others).
The role's health check script is run against loopback listeners."""
from __future__ import annotations

import json
import pathlib
import re
import socket
import ssl
import subprocess
import sys
import threading
import http.server

import pytest
import yaml

VIPS = ["10.250.0.60", "fd42:1ab:250::60"]


def render_pod(repo: pathlib.Path, tmp_path: pathlib.Path) -> pathlib.Path:
    manifest = tmp_path / "kube-vip.yaml"
    expression = ("{{ %s | dualstack.kubernetes.api_vip_kube_vip_pod('eth0', families=['ipv4', 'ipv6']) "
                  "| to_nice_yaml(indent=2) }}" % json.dumps(VIPS))
    proc = subprocess.run(["ansible", "localhost", "-m", "ansible.builtin.copy",
                           "-a", json.dumps({"content": expression, "dest": str(manifest), "mode": "0600"})],
                          cwd=repo, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return manifest


def unknown_fields(data, model: str, path: str = "") -> list:
    """Field names in ``data`` that the kubernetes client's model ``model`` does not have."""
    from kubernetes import client
    list_of = re.fullmatch(r"list\[(.+)\]", model)
    dict_of = re.fullmatch(r"dict\(str, (.+)\)", model)
    if list_of:
        return [u for i, item in enumerate(data) for u in unknown_fields(item, list_of.group(1), f"{path}[{i}]")]
    if dict_of:
        return [u for key, value in data.items() for u in unknown_fields(value, dict_of.group(1), f"{path}.{key}")]
    cls = getattr(client, model, None)
    if cls is None:  # str, int, bool, object
        return []
    by_json_name = {json_name: name for name, json_name in cls.attribute_map.items()}
    problems = []
    for key, value in data.items():
        if key not in by_json_name:
            problems.append(f"{path}.{key}")
        else:
            problems += unknown_fields(value, cls.openapi_types[by_json_name[key]], f"{path}.{key}")
    return problems


def test_kube_vip_pod_passes_kubernetes_validate_strict(repo, tmp_path):
    from kubernetes_validate.utils import all_versions, major_minor
    manifest = render_pod(repo, tmp_path)
    versions = [v for v in all_versions() if major_minor(v) >= major_minor("1.25.0")]
    assert versions
    for version in versions:
        proc = subprocess.run(["kubernetes-validate", "--strict", "-k", version, str(manifest)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0 and "passed" in proc.stdout, (version, proc.stdout, proc.stderr)


def test_kube_vip_pod_fields_are_the_kubernetes_clients_v1pod(repo, tmp_path):
    from kubernetes import client
    pod = yaml.safe_load(render_pod(repo, tmp_path).read_text())
    assert unknown_fields(pod, "V1Pod") == []
    # The walk finds a misspelt field, so an empty list above means something.
    assert unknown_fields({"spec": {"hostNetwrk": True}}, "V1Pod") == [".spec.hostNetwrk"]
    typed = client.ApiClient().deserialize(json.dumps(pod), "V1Pod", "application/json")
    assert typed.spec.host_network is True
    addresses = [[e.value for e in c.env if e.name == "address"][0] for c in typed.spec.containers]
    assert addresses == VIPS
    assert typed.spec.volumes[0].host_path.path == "/etc/kubernetes/admin.conf"


@pytest.fixture(scope="module")
def https_listener(tmp_path_factory):
    """An HTTPS server on 127.0.0.1 whose status code the test sets."""
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test",
                    "-keyout", str(folder / "key"), "-out", str(folder / "crt")], check=True, capture_output=True)
    state = {"status": 200, "paths": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            state["paths"].append(self.path)
            self.send_response(state["status"])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(folder / "crt"), str(folder / "key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], state
    server.shutdown()


def check(repo, *args) -> int:
    script = repo / "roles/api_vip/files/api-vip-check"
    return subprocess.run([sys.executable, str(script), "--address", "127.0.0.1", "--timeout", "2", *args],
                          capture_output=True, text=True, check=False).returncode


def test_health_check_follows_the_api_servers_status(repo, https_listener):
    port, state = https_listener
    state["status"] = 200
    assert check(repo, "--port", str(port)) == 0
    assert state["paths"][-1] == "/livez"
    state["status"] = 500
    assert check(repo, "--port", str(port)) == 1
    state["status"] = 401
    assert check(repo, "--port", str(port), "--path", "/readyz") == 1
    assert check(repo, "--port", str(port), "--status", "200", "--status", "401") == 0
    assert state["paths"][-2] == "/readyz"


def test_health_check_fails_on_a_closed_port_and_tcp_mode_connects(repo, https_listener):
    port = https_listener[0]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    assert check(repo, "--port", str(closed)) == 1
    assert check(repo, "--scheme", "tcp", "--port", str(closed)) == 1
    assert check(repo, "--scheme", "tcp", "--port", str(port)) == 0


REFUSALS = [
    ({"api_vip_addresses": ["10.250.0.61", "fd42:1ab:250::60"]},
     "api_vip_addresses: [10.250.0.61, fd42:1ab:250::60] holds 10.250.0.61, the address of cp-1. "
     "Pick virtual IPs no node has"),
    ({"api_vip_addresses": ["fd42:1ab:250::60", "10.250.0.60"]},
     "lists IPv6 first but the plan's primary family is IPv4. List the IPv4 virtual IP first"),
    ({"api_vip_addresses": ["10.250.0.60", "10.250.0.70"]}, "holds more than one address of a family"),
    ({"api_vip_haproxy": True, "api_vip_haproxy_port": 6443}, "api_vip_haproxy_port: 6443 is the API server's own port"),
    ({"api_vip_auth_pass": "much-too-long-secret"}, "api_vip_auth_pass: (secret, not shown) is not 1 to 8"),
]


@pytest.mark.parametrize("extra, message", REFUSALS, ids=[refusal[1].split(":")[0] + "-" + str(i) for i, refusal in enumerate(REFUSALS)])
def test_the_role_refuses_bad_inputs_on_every_host_with_nothing_changed(repo, tmp_path, extra, message):
    # Three hosts on the controller itself: the checks run before any task touches a host,
    # so a refusal must stop all three with changed=0.
    inventory = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                 "address_plan_api_vips": VIPS, "address_plan_pod_cidrs": ["10.244.0.0/16", "fd42:244::/56"]},
        "hosts": {f"cp-{n}": {"address_plan_node_ipv4": f"10.250.0.6{n}", "address_plan_node_ipv6": f"fd42:1ab:250::6{n}"}
                  for n in (1, 2, 3)}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{
        "name": "api_vip with a bad input", "hosts": "all", "gather_facts": False,
        "roles": [{"role": "dualstack.kubernetes.api_vip", "vars": extra}]}]))
    proc = subprocess.run(["ansible-playbook", "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml")],
                          cwd=repo, capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert message in output, output[-3000:]
    assert "much-too-long-secret" not in output
    assert "Traceback" not in output
    recap = re.findall(r"^(cp-\d)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)", output, re.M)
    assert sorted(recap) == [("cp-1", "0", "1"), ("cp-2", "0", "1"), ("cp-3", "0", "1")], output[-3000:]
