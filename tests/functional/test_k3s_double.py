# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The k3s test double refuses what the release it declares would refuse.

Only refusals are exercised here: an accepted start records itself under /var/lib/rancher
and serves port 6443, which the Molecule scenarios k3s and k3s-article cover in the lab.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOUBLE = Path(__file__).resolve().parents[1] / "doubles" / "k3s" / "k3s"


def release(tmp_path: Path, version: str) -> Path:
    text = re.sub(r'(?m)^DECLARED_VERSION = .*$', 'DECLARED_VERSION = "%s"' % version,
                  DOUBLE.read_text(encoding="utf-8"))
    path = tmp_path / ("k3s-" + version)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path


def run(binary: Path, *args: str, config: str | None = None, tmp_path: Path | None = None):
    argv = [sys.executable, str(binary), *args]
    if config is not None:
        assert tmp_path is not None
        config_path = tmp_path / "config.yaml"
        config_path.write_text(config, encoding="utf-8")
        argv += ["--config", str(config_path)]
    env = {key: value for key, value in os.environ.items() if key != "NOTIFY_SOCKET"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env, check=False)


def test_version_is_the_declared_release(tmp_path):
    result = run(release(tmp_path, "v1.21.4+k3s1"), "--version")
    assert result.returncode == 0
    assert result.stdout.startswith("k3s version v1.21.4+k3s1")


def test_current_release_refuses_the_removed_no_flannel_key(tmp_path):
    result = run(release(tmp_path, "v1.31.2+k3s1"), "server", tmp_path=tmp_path,
                 config='no-flannel: true\n')
    assert result.returncode == 1
    assert "unknown key 'no-flannel'" in result.stderr


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
    assert "only server, agent and --version" in result.stderr
