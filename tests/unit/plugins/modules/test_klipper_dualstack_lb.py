# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module end to end through main(), with the kubernetes client replaced by fakes,
as kubernetes.core tests its modules."""

from __future__ import annotations

import json
from unittest import mock

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.dualstack.kubernetes.plugins.module_utils.klipper_lb_client import KubernetesApi
from ansible_collections.dualstack.kubernetes.plugins.modules import klipper_dualstack_lb as module
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils.klipper_fakes import (
    Cluster,
    FakeAppsV1Api,
    FakeCoreV1Api,
    article_service,
    node,
)


class Outcome:
    """What one main() run printed and whom it asked for a client."""

    def __init__(self, failed, result, connect):
        self.failed = failed
        self.result = result
        self.connect = connect


def run_module(args, cluster=None, check_mode=False, diff=False, capsys=None):
    """Run main() and return its Outcome from the JSON it prints."""
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    connect = mock.Mock(side_effect=lambda params: KubernetesApi(FakeCoreV1Api(cluster), FakeAppsV1Api(cluster)))
    with patch_module_args(args), mock.patch.object(module, "connect", connect):
        with pytest.raises(SystemExit) as exited:
            module.main()
    result = json.loads(capsys.readouterr().out)
    return Outcome(exited.value.code != 0, result, connect)


@pytest.fixture
def cluster():
    return Cluster(services=[article_service()],
                   nodes=[node("k3s-1", ("InternalIP", "10.250.0.75"), ("InternalIP", "fd42:1ab:250::75"))],
                   ready_after_reads=0)


LIVE = {"name": "traefik", "namespace": "kube-system", "apply": True}


def test_render_from_a_dict_connects_to_nothing(capsys):
    run = run_module({"service": article_service()}, capsys=capsys)
    assert not run.failed and not run.result["changed"]
    run.connect.assert_not_called()
    assert run.result["daemonset"]["kind"] == "DaemonSet"
    assert "diff" not in run.result


def test_create_then_unchanged(cluster, capsys):
    first = run_module(LIVE, cluster, capsys=capsys)
    assert not first.failed and first.result["changed"] and first.result["action"] == "create"
    second = run_module(LIVE, cluster, capsys=capsys)
    assert not second.failed and not second.result["changed"] and second.result["action"] == "none"
    assert [c[0] for c in cluster.writes()] == ["create"]


def test_diff_only_when_asked(cluster, capsys):
    plain = run_module(LIVE, cluster, capsys=capsys)
    assert "diff" not in plain.result
    with_diff = run_module(dict(LIVE, node_selector={"lb": "yes"}), cluster, diff=True, capsys=capsys).result
    assert with_diff["diff"]["after"]["spec"]["template"]["spec"]["nodeSelector"] == {"lb": "yes"}
    assert "nodeSelector" not in with_diff["diff"]["before"]["spec"]["template"]["spec"]


def test_check_mode_changes_nothing(cluster, capsys):
    run = run_module(dict(LIVE, update_status=True, wait=True), cluster, check_mode=True, capsys=capsys)
    assert not run.failed and run.result["changed"] and run.result["action"] == "create"
    assert cluster.writes() == []


def test_status_write_through_the_module(cluster, capsys):
    run = run_module(dict(LIVE, update_status=True, wait=True), cluster, capsys=capsys)
    assert run.result["load_balancer_ingress"] == ["10.250.0.75", "fd42:1ab:250::75"]
    status = cluster.services[("kube-system", "traefik")]["status"]["loadBalancer"]["ingress"]
    assert status == [{"ip": "10.250.0.75"}, {"ip": "fd42:1ab:250::75"}]


def test_absent_through_the_module(cluster, capsys):
    run_module(LIVE, cluster, capsys=capsys)
    run = run_module({"name": "traefik", "namespace": "kube-system", "state": "absent"}, cluster, capsys=capsys)
    assert not run.failed and run.result["changed"] and cluster.daemonsets == {}


def test_missing_service_fails_once_with_the_reason(cluster, capsys):
    run = run_module(dict(LIVE, name="nope"), cluster, capsys=capsys)
    assert run.failed and "Service kube-system/nope was not found" in run.result["msg"]
    assert cluster.writes() == []


def test_bad_service_dict_fails_with_the_rule(capsys):
    run = run_module({"service": article_service(type="NodePort")}, capsys=capsys)
    assert run.failed and "spec.type NodePort" in run.result["msg"] and "LoadBalancer" in run.result["msg"]


def test_name_or_service_is_required(capsys):
    run = run_module({"apply": False}, capsys=capsys)
    assert run.failed and "one of the following is required: name, service" in run.result["msg"]


def test_api_key_is_not_logged(cluster, capsys):
    run = run_module(dict(LIVE, host="https://10.250.0.75:6443", api_key="s3cr3t-token"), cluster, capsys=capsys)
    assert run.connect.call_args.args[0]["api_key"] == "s3cr3t-token"
    assert "s3cr3t-token" not in json.dumps(run.result)
