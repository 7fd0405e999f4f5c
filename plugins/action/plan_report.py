# -*- coding: utf-8 -*-
# Copyright: contributors to the dualstack.kubernetes collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writes the address-plan report and diagram on the controller (documented in plugins/modules/plan_report.py)."""

from __future__ import annotations

import os
import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.dualstack.kubernetes.plugins.module_utils.plan_report import (
    PNG_NAME,
    SVG_NAME,
    DualstackError,
    render,
    svg_to_png,
    write_files,
)

ARGUMENT_SPEC = {
    "plan": {"type": "dict"},
    "dest": {"type": "path", "required": True},
    "png": {"type": "bool", "default": False},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        plan = args["plan"]
        if plan is None:
            if "address_plan" not in task_vars:
                result.update(failed=True, msg="plan is not set and the host has no address_plan fact; run the "
                                               "dualstack.kubernetes.address_plan role first or pass plan")
                return result
            plan = self._templar.template(task_vars["address_plan"])
        dest = os.path.abspath(os.path.expanduser(args["dest"]))
        try:
            files = render(plan)
            if args["png"]:
                files[PNG_NAME] = svg_to_png(files[SVG_NAME])
            outcome = write_files(dest, files, check_mode=bool(self._task.check_mode))
        except DualstackError as exc:
            result.update(failed=True, msg="dualstack.kubernetes.plan_report: %s" % exc)
            return result
        result.update(changed=outcome["changed"], dest=dest, files=outcome["files"], written=outcome["written"])
        if self._task.diff and outcome["diff"]:
            result["diff"] = outcome["diff"]
        return result
