# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of dualstack.kubernetes.address_plan: checks the plan, never touches a host."""

from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.dualstack.kubernetes.plugins.module_utils.address_plan import (
    ARGUMENT_SPEC,
    AddressPlanError,
    as_variables,
    build_plan,
    format_plan_table,
)
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import MAX_LISTED


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    # The plan is pure computation on the controller; nothing needs the host.
    _requires_connection = False

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result["changed"] = False
        try:
            plan = build_plan(args)
        except AddressPlanError as exc:
            prefix = args["variable_prefix"]
            result["failed"] = True
            result["msg"] = as_variables(str(exc), prefix)
            shown = exc.problems[:MAX_LISTED]
            result["problems"] = [as_variables(str(problem), prefix) for problem in shown]
            if len(exc.problems) > len(shown):
                result["problems"].append(f"... and {len(exc.problems) - len(shown)} more problems of the same kinds")
            return result
        # A fact rather than a plain result: with run_once, Ansible gives it to every host.
        result["ansible_facts"] = {"address_plan": plan}
        result["table"] = format_plan_table(plan)
        if plan["warnings"]:
            result["warnings"] = [as_variables(warning, args["variable_prefix"]) for warning in plan["warnings"]]
        return result
