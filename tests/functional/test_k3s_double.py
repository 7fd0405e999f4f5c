# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The k3s test double accepts what the release it declares accepts, handles the rest as that
release does, and its kubelet refuses what the real kubelet refuses.

An accepted start records itself under /var/lib/rancher and serves port 6443, which the
Molecule scenarios k3s and k3s-article cover in the lab; here the double runs as a command
(refusals, double-admit), as processes that join one another over the loopback (several
servers), or is loaded as a module.
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

DOUBLES = Path(__file__).resolve().parents[1] / "doubles"
FACTS = json.loads((DOUBLES / "data" / "k3s.json").read_text(encoding="utf-8"))["releases"]
RELEASES = sorted(FACTS, key=lambda name: tuple(int(p) for p in name.lstrip("v").split("+")[0].split(".")))
DUAL_STACK = ('node-ip: "10.0.0.1,fd00::1"\ncluster-cidr: "10.42.0.0/16,fd00:42::/56"\n'
              'service-cidr: "10.43.0.0/16,fd00:43::/112"\n')
SVCLB_POD = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "svclb-traefik"},
             "spec": {"template": {"spec": {"securityContext": {"sysctls": [
                 {"name": "net.ipv6.conf.all.forwarding", "value": "1"}]}}}}}


def release(tmp_path: Path, version: str) -> Path:
    path = tmp_path / ("k3s-" + version)
    subprocess.run([sys.executable, str(DOUBLES / "k3s" / "build.py"), version, str(path)],
                   check=True, capture_output=True, text=True)
    return path


def double(version: str):
    """The double's source as a module, declaring ``version`` (its facts from the data folder)."""
    loader = importlib.machinery.SourceFileLoader("k3s_double_" + version.replace(".", "_").replace("+", "_"),
                                                  str(DOUBLES / "k3s" / "k3s"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    module.DECLARED_VERSION = version
    return module


def run(binary: Path, *args: str, config: str | None = None, tmp_path: Path | None = None):
    argv = [sys.executable, str(binary), *args]
    if config is not None:
        assert tmp_path is not None
        config_path = tmp_path / "config.yaml"
        config_path.write_text(config, encoding="utf-8")
        argv += ["--config", str(config_path)]
    env = {key: value for key, value in os.environ.items() if key != "NOTIFY_SOCKET"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env, check=False)


def write_config(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["server", "agent"])
@pytest.mark.parametrize("version", RELEASES)
def test_every_key_of_the_release_is_accepted_and_an_unknown_one_handled_as_upstream(tmp_path, version, command):
    k3s = double(version)
    known = FACTS[version]["keys"][command]
    config = write_config(tmp_path, "".join('%s: "x"\n' % key for key in known))
    settings, warnings = k3s.load_config(command, str(config))
    assert sorted(settings) == sorted(known) and warnings == []
    found = k3s.parse_args(command, ["%s%s=x" % ("-" if len(key) == 1 else "--", key) for key in known])
    assert sorted({pair[0] for pair in found}) == sorted(known)

    unknown = write_config(tmp_path, 'node-ip: "10.0.0.1"\nnot-a-k3s-flag: "1"\n', "unknown.yaml")
    if FACTS[version]["unknown_key"][command] == "warn":
        settings, warnings = k3s.load_config(command, str(unknown))
        assert settings == {"node-ip": "10.0.0.1"}
        assert warnings == ["Unknown flag --not-a-k3s-flag found in config.yaml, skipping"]
    else:
        with pytest.raises(k3s.Refused, match="flag provided but not defined: -not-a-k3s-flag"):
            k3s.load_config(command, str(unknown))
    with pytest.raises(k3s.Refused, match="flag provided but not defined: -not-a-k3s-flag"):
        k3s.parse_args(command, ["--not-a-k3s-flag=1"])
    for key in FACTS[version]["uncertain_keys"][command]:
        with pytest.raises(k3s.Refused, match="not settled"):
            k3s.parse_args(command, ["--%s=1" % key])


def test_unknown_keys_follow_the_release_and_the_command_end_to_end(tmp_path):
    manifest = write_config(tmp_path, json.dumps({"kind": "Pod", "spec": {}}), "pod.json")
    config = DUAL_STACK + 'flannel-backend: "none"\nnot-a-k3s-flag: "1"\n'
    old = run(release(tmp_path, "v1.21.4+k3s1"), "double-admit", "server", str(manifest),
              config=config, tmp_path=tmp_path)
    assert old.returncode == 1 and "flag provided but not defined: -not-a-k3s-flag" in old.stderr
    new = run(release(tmp_path, "v1.22.17+k3s1"), "double-admit", "server", str(manifest),
              config=config, tmp_path=tmp_path)
    assert new.returncode == 0, new.stderr
    assert "Unknown flag --not-a-k3s-flag found in config.yaml, skipping" in new.stderr
    agent = run(release(tmp_path, "v1.22.17+k3s1"), "double-admit", "agent", str(manifest),
                "--server", "https://10.0.0.1:6443", "--token", "t",
                config='node-ip: "10.0.0.2,fd00::2"\nnot-a-k3s-flag: "1"\n', tmp_path=tmp_path)
    assert agent.returncode == 1 and "flag provided but not defined: -not-a-k3s-flag" in agent.stderr


@pytest.mark.parametrize("version, key, accepted", [
    ("v1.24.17+k3s1", "flannel-ipv6-masq", True),
    ("v1.21.4+k3s1", "flannel-ipv6-masq", False),
    ("v1.26.15+k3s1", "no-flannel", False),
    ("v1.25.16+k3s4", "no-flannel", True),
    ("v1.26.15+k3s1", "embedded-registry", True),
    ("v1.31.2+k3s1", "embedded-registry", True),
])
def test_each_release_has_its_own_table(version, key, accepted):
    k3s = double(version)
    if accepted:
        assert k3s.parse_args("server", ["--" + key]) == [(key, "true")]
    else:
        with pytest.raises(k3s.Refused, match="-" + key):
            k3s.parse_args("server", ["--" + key])


def test_a_release_without_facts_is_refused(tmp_path):
    result = subprocess.run([sys.executable, str(DOUBLES / "k3s" / "build.py"), "v1.26.0+k3s1",
                             str(tmp_path / "k3s")], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "no upstream facts for k3s v1.26.0+k3s1" in result.stderr and "v1.26.15+k3s1" in result.stderr


def test_dropins_override_and_append_as_k3s_does(tmp_path):
    k3s = double("v1.31.2+k3s1")
    config = write_config(tmp_path, 'node-ip: "10.0.0.1"\nnode-label:\n  - "a=1"\ndisable: "traefik"\n')
    write_config(tmp_path, 'node-label+:\n  - "b=2"\ndisable: "servicelb"\n', "config.yaml.d/20-b.yaml")
    write_config(tmp_path, 'node-label+: "c=3"\n', "config.yaml.d/10-c.yml")
    write_config(tmp_path, 'node-ip: "10.9.9.9"\n', "config.yaml.d/30-ignored.conf")
    settings, warnings = k3s.load_config("server", str(config))
    assert settings == {"node-ip": "10.0.0.1", "node-label": ["a=1", "c=3", "b=2"], "disable": "servicelb"}
    assert warnings == []


def test_dropins_alone_are_read(tmp_path):
    k3s = double("v1.31.2+k3s1")
    write_config(tmp_path, 'node-ip: "10.0.0.7"\n', "config.yaml.d/a.yaml")
    assert k3s.load_config("agent", str(tmp_path / "config.yaml")) == ({"node-ip": "10.0.0.7"}, [])


@pytest.mark.parametrize("version", RELEASES)
def test_the_kubelet_allows_what_k3s_allows_for_the_release(version):
    k3s = double(version)
    own = FACTS[version]["kubelet_unsafe_sysctls"]
    base = {"cluster-cidr": "10.42.0.0/16,fd00:42::/56", "node-ip": "10.0.0.1,fd00::1"}
    enabled = own["sysctls"] if own["when"] != "never" else []
    assert k3s.kubelet_unsafe_sysctls("server", base) == enabled
    assert k3s.kubelet_unsafe_sysctls("agent", base) == enabled
    assert k3s.kubelet_unsafe_sysctls("server", dict(base, disable=["servicelb"])) == []
    ours = dict(base, disable=["servicelb"], **{"kubelet-arg": ["allowed-unsafe-sysctls=net.ipv6.conf.all.forwarding"]})
    assert k3s.kubelet_unsafe_sysctls("server", ours) == ["net.ipv6.conf.all.forwarding"]
    with pytest.raises(k3s.Refused, match="SysctlForbidden"):
        k3s.admit(SVCLB_POD, k3s.kubelet_unsafe_sysctls("server", dict(base, disable=["servicelb"])))
    k3s.admit(SVCLB_POD, k3s.kubelet_unsafe_sysctls("server", ours))


def test_safe_sysctls_need_no_allowance():
    k3s = double("v1.31.2+k3s1")
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"securityContext": {"sysctls": [
        {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]}}}
    k3s.admit(pod, [])
    pod["spec"]["securityContext"]["sysctls"].append({"name": "net.ipv4.ip_forward", "value": "1"})
    with pytest.raises(k3s.Refused, match="forbidden sysctl 'net.ipv4.ip_forward'"):
        k3s.admit(pod, ["net.ipv6.*"])
    k3s.admit(pod, ["net.ipv4.*"])


def test_version_is_the_declared_release(tmp_path):
    result = run(release(tmp_path, "v1.21.4+k3s1"), "--version")
    assert result.returncode == 0
    assert result.stdout.startswith("k3s version v1.21.4+k3s1")


def test_current_agent_refuses_the_removed_no_flannel_key(tmp_path):
    result = run(release(tmp_path, "v1.31.2+k3s1"), "agent", tmp_path=tmp_path,
                 config='no-flannel: true\n')
    assert result.returncode == 1
    assert "flag provided but not defined: -no-flannel" in result.stderr


def test_current_release_refuses_the_removed_no_deploy_flag(tmp_path):
    result = run(release(tmp_path, "v1.31.2+k3s1"), "server", "--no-deploy", "traefik")
    assert result.returncode == 1
    assert "flag provided but not defined: -no-deploy" in result.stderr


def test_article_release_refuses_a_flag_it_did_not_have(tmp_path):
    result = run(release(tmp_path, "v1.21.4+k3s1"), "server", "--flannel-ipv6-masq")
    assert result.returncode == 1
    assert "-flannel-ipv6-masq" in result.stderr


@pytest.mark.parametrize("config, refusal", [
    pytest.param('node-ip: "10.0.0.1,fd00::1"\ncluster-cidr: "10.42.0.0/16,fd00:42::/56"\n'
                 'service-cidr: "10.43.0.0/16,fd00:43::/112"\nkube-apiserver-arg:\n'
                 '  - "feature-gates=IPv6DualStack=true"\n',
                 "unrecognized feature gate: IPv6DualStack", id="removed-feature-gate"),
    pytest.param('node-ip: "10.0.0.1"\ncluster-cidr: "10.42.0.0/16,fd00:42::/56"\n'
                 'service-cidr: "10.43.0.0/16,fd00:43::/112"\n',
                 "node-ip with an address of each family", id="dual-stack-without-both-node-addresses"),
    pytest.param('node-ip: "10.0.0.1,fd00::1"\ncluster-cidr: "10.42.0.0/16,fd00:42::/96"\n'
                 'service-cidr: "10.43.0.0/16,fd00:43::/112"\nflannel-backend: "none"\n'
                 'kube-controller-manager-arg:\n  - "node-cidr-mask-size-ipv6=120"\n',
                 "node CIDR size is too big", id="oversized-ipv6-node-mask"),
])
def test_current_release_refuses_a_config_the_real_k3s_refuses(tmp_path, config, refusal):
    result = run(release(tmp_path, "v1.31.2+k3s1"), "server", tmp_path=tmp_path, config=config)
    assert result.returncode == 1
    assert refusal in result.stderr


def test_agent_without_token_is_refused(tmp_path):
    env_token = os.environ.pop("K3S_TOKEN", None)
    try:
        result = run(release(tmp_path, "v1.31.2+k3s1"), "agent", "--server", "https://10.0.0.1:6443")
    finally:
        if env_token is not None:
            os.environ["K3S_TOKEN"] = env_token
    assert result.returncode == 1
    assert "--token is required" in result.stderr


@pytest.mark.parametrize("command", ["etcd-snapshot", "kubectl"])
def test_unimplemented_commands_fail_loudly(tmp_path, command):
    result = run(release(tmp_path, "v1.31.2+k3s1"), command)
    assert result.returncode == 1
    assert "only server, agent, double-admit and --version" in result.stderr


# Several servers, for real on the loopback of both families: each double is a process that
# listens on its own API port, with its data-dir, kubeconfig and start records in tmp_path.
def free_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.bind(("::", 0))
        return sock.getsockname()[1]


class Servers:
    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.binary = release(tmp_path, "v1.31.2+k3s1")
        self.processes: list = []

    def start(self, name: str, token: str, **keys: str) -> tuple:
        folder = self.tmp / name
        folder.mkdir()
        port = free_port()
        lines = [DUAL_STACK, 'node-name: "%s"\n' % name, 'data-dir: "%s"\n' % (folder / "data"),
                 'write-kubeconfig: "%s"\n' % (folder / "k3s.yaml"), "https-listen-port: %d\n" % port]
        lines += ["%s: %s\n" % (key, json.dumps(value)) for key, value in keys.items()]
        config = write_config(folder, "".join(lines))
        env = {key: value for key, value in os.environ.items() if key != "NOTIFY_SOCKET"}
        env.update(K3S_TOKEN=token, K3S_DOUBLE_RECORD_DIR=str(folder / "records"))
        process = subprocess.Popen([sys.executable, str(self.binary), "server", "--config", str(config)],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.processes.append(process)
        return process, port, folder

    def started(self, process, folder: Path) -> dict:
        """The start record of a server that came up, or the error of one k3s would stop."""
        records = folder / "records" / "starts.jsonl"
        for _attempt in range(100):
            if records.exists() and records.read_text():
                return json.loads(records.read_text().splitlines()[-1])
            if process.poll() is not None:
                return {"refused": process.stderr.read()}
            time.sleep(0.1)
        raise AssertionError("the double neither started nor stopped")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)


@pytest.fixture
def servers(tmp_path):
    found = Servers(tmp_path)
    yield found
    found.stop()


def test_servers_join_the_cluster_init_server_through_its_url_in_both_families(servers):
    first, port, folder = servers.start("s1", "cluster-token", **{"cluster-init": True})
    record = servers.started(first, folder)
    assert record["etcd"] == "cluster-init" and record["members"] == ["s1"]
    # k3s keeps the token it started with in server/token, readable by root alone, in its secure
    # format: K10, the sha256 of the cluster CA, then the server's credentials.
    ca_hash = hashlib.sha256((folder / "data" / "server" / "tls" / "server-ca.crt").read_bytes()).hexdigest()
    assert (folder / "data" / "server" / "token").read_text() == "K10%s::server:cluster-token\n" % ca_hash
    assert (folder / "data" / "server" / "token").stat().st_mode & 0o777 == 0o600
    for name, host in (("s2", "127.0.0.1"), ("s3", "[::1]")):
        joiner, _joiner_port, joined_folder = servers.start(name, "cluster-token", server="https://%s:%d" % (host, port))
        record = servers.started(joiner, joined_folder)
        assert record.get("etcd") == "joined", record
        assert record["joined_via"] == "https://%s:%d" % (host, port)
    assert record["members"] == ["s1", "s2", "s3"]
    assert "cluster-token" not in (joined_folder / "records" / "starts.jsonl").read_text()


def test_a_server_with_the_wrong_token_is_refused(servers):
    first, port, folder = servers.start("s1", "cluster-token", **{"cluster-init": True})
    servers.started(first, folder)
    joiner, _joiner_port, joined_folder = servers.start("s2", "another-token", server="https://127.0.0.1:%d" % port)
    record = servers.started(joiner, joined_folder)
    assert "401 Unauthorized: the token is not this cluster's" in record["refused"]
    assert joiner.returncode == 1


def test_a_server_started_without_cluster_init_cannot_be_joined(servers):
    alone, port, folder = servers.start("s1", "cluster-token")
    assert servers.started(alone, folder)["etcd"] is None
    joiner, _joiner_port, joined_folder = servers.start("s2", "cluster-token", server="https://[::1]:%d" % port)
    assert "runs no embedded etcd" in servers.started(joiner, joined_folder)["refused"]


def test_a_server_without_a_url_starts_a_cluster_of_its_own(servers):
    alone, _alone_port, folder = servers.start("s2", "cluster-token")
    record = servers.started(alone, folder)
    assert record["etcd"] is None and "joined_via" not in record


def test_a_server_without_a_token_generates_one_the_others_join_with(servers):
    first, port, folder = servers.start("s1", "", **{"cluster-init": True})
    assert servers.started(first, folder)["etcd"] == "cluster-init"
    token_file = folder / "data" / "server" / "token"
    token = token_file.read_text().strip()
    ca_hash = hashlib.sha256((folder / "data" / "server" / "tls" / "server-ca.crt").read_bytes()).hexdigest()
    prefix = "K10%s::server:" % ca_hash
    # 16 random bytes in hex, as k3s generates the server's password.
    assert token.startswith(prefix) and len(token[len(prefix):]) == 32
    int(token[len(prefix):], 16)
    joiner, _joiner_port, joined_folder = servers.start("s2", token, server="https://[::1]:%d" % port)
    assert servers.started(joiner, joined_folder)["members"] == ["s1", "s2"]
    # The joined server shares the cluster CA, so its server/token is the same.
    assert (joined_folder / "data" / "server" / "token").read_text() == token + "\n"
    assert token not in (joined_folder / "records" / "starts.jsonl").read_text()


def test_a_token_naming_another_cluster_ca_is_refused(servers):
    first, port, folder = servers.start("s1", "cluster-token", **{"cluster-init": True})
    servers.started(first, folder)
    joiner, _joiner_port, joined_folder = servers.start(
        "s2", "K10%s::server:cluster-token" % ("0" * 64), server="https://127.0.0.1:%d" % port)
    assert "token CA hash does not match" in servers.started(joiner, joined_folder)["refused"]


def start_agent(servers, name: str, token: str, url: str) -> tuple:
    folder = servers.tmp / name
    folder.mkdir()
    config = write_config(folder, 'node-ip: "10.0.0.9,fd00::9"\nnode-name: "%s"\nserver: "%s"\n' % (name, url))
    env = {key: value for key, value in os.environ.items() if key != "NOTIFY_SOCKET"}
    env.update(K3S_TOKEN=token, K3S_DOUBLE_RECORD_DIR=str(folder / "records"))
    process = subprocess.Popen([sys.executable, str(servers.binary), "agent", "--config", str(config)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    servers.processes.append(process)
    return process, folder


def test_an_agent_joins_with_the_servers_token_and_is_refused_with_another(servers):
    first, port, folder = servers.start("s1", "", **{"cluster-init": True})
    servers.started(first, folder)
    token = (folder / "data" / "server" / "token").read_text().strip()
    url = "https://[::1]:%d" % port
    agent, agent_folder = start_agent(servers, "a1", token, url)
    record = servers.started(agent, agent_folder)
    assert record.get("joined_via") == url and record["server_reachable"], record
    wrong, wrong_folder = start_agent(servers, "a2", "not-the-token", url)
    assert "401 Unauthorized" in servers.started(wrong, wrong_folder)["refused"]
