# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The address_plan action: options in, plan or one failure listing every problem out."""

from __future__ import annotations

import typing as t
from unittest.mock import MagicMock

import pytest

from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.template import Templar

from ansible_collections.dualstack.kubernetes.plugins.action.address_plan import ActionModule
from ansible_collections.dualstack.kubernetes.tests.unit.plugins.module_utils import article_plans

# The kubeadm article's options, on the current releases the table's first line names.
ARTICLE_ARGS: t.Dict[str, t.Any] = article_plans.kubeadm_params(kubernetes_version="1.31.2", calico_version="3.30.7")


def run_action(args: t.Mapping[str, t.Any], check_mode: bool = False) -> t.Dict[str, t.Any]:
    task = Task()
    task.args = dict(args)
    task.check_mode = check_mode
    connection = MagicMock()
    loader = DataLoader()
    action = ActionModule(task, connection, PlayContext(), loader, Templar(loader=loader), None)
    result = action.run(task_vars={})
    # Nothing may reach the host: no command, no file.
    assert connection.exec_command.call_count == 0
    assert connection.put_file.call_count == 0
    return result


@pytest.mark.parametrize("check_mode", [False, True])
def test_good_plan_returns_the_plan_and_a_table_and_changes_nothing(check_mode):
    result = run_action(ARTICLE_ARGS, check_mode)
    assert not result.get("failed")
    assert result["changed"] is False
    assert result["ansible_facts"]["address_plan"]["pod_subnet"] == "10.244.0.0/16,fd00:1::/48"
    assert result["ansible_facts"]["address_plan"]["nodes"]["worker"]["node_ip"] == "192.168.1.12,2001:db8::12"
    assert result["table"][0] == "kubeadm 1.31.2, Calico 3.30.7, primary family ipv4"
    assert result["warnings"] == result["ansible_facts"]["address_plan"]["warnings"]


def test_options_take_their_defaults():
    plan = run_action(ARTICLE_ARGS)["ansible_facts"]["address_plan"]
    assert plan["node_mask"] == {"ipv4": 24, "ipv6": 64}
    assert plan["node_cidr_allocation"] is True
    assert (plan["calico"]["ipv4_block_size"], plan["calico"]["ipv6_block_size"]) == (26, 122)
    assert plan["calico"]["ipv6_encapsulation"] == "none"


def test_comma_separated_cidrs_and_numbers_as_strings_are_converted():
    plan = run_action(dict(ARTICLE_ARGS, pod_cidrs="10.244.0.0/16,fd00:1::/48", node_mask_ipv6="56"))["ansible_facts"]["address_plan"]
    assert plan["pod_cidrs"] == ["10.244.0.0/16", "fd00:1::/48"]
    assert plan["node_mask"]["ipv6"] == 56


def test_bad_plan_fails_once_with_every_problem_and_changes_nothing():
    result = run_action(dict(ARTICLE_ARGS, pod_cidrs=["10.96.0.0/16", "fd00:1::1/48"],
                             service_cidrs=["10.96.0.0/12", "fd00::/96"]))
    assert result["failed"] is True
    assert result["changed"] is False
    assert "ansible_facts" not in result
    assert result["msg"].startswith("The address plan is refused (3 problems); no host was changed:")
    assert [p.split(":")[0] for p in result["problems"]] == ["pod_cidrs[1]", "pod_cidrs", "service_cidrs"]


def test_variable_prefix_names_the_role_variables_in_problems_and_warnings():
    result = run_action(dict(ARTICLE_ARGS, variable_prefix="address_plan_", service_cidrs=["10.96.0.0/12", "fd00::/96"]))
    assert result["problems"] == [
        "address_plan_service_cidrs: fd00::/96 has 32 host bits; kube-apiserver allows at most 20 (mask >= 108 for IPv6). "
        "Use a /108../112, e.g. fd00::/112"]
    warned = run_action(dict(ARTICLE_ARGS, variable_prefix="address_plan_"))
    assert warned["warnings"][0].startswith("address_plan_service_cidrs: fd00::/108 has 20 host bits")


@pytest.mark.parametrize("args, option", [
    ({k: v for k, v in ARTICLE_ARGS.items() if k != "calico_version"}, "calico_version"),
    (dict(ARTICLE_ARGS, node_mask_ipv4="wide"), "node_mask_ipv4"),
    (dict(ARTICLE_ARGS, distribution="kind"), "distribution"),
])
def test_options_of_the_wrong_type_or_missing_are_refused_by_name(args, option):
    with pytest.raises(AnsibleActionFail, match=option):
        run_action(args)
