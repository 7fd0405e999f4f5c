# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The address_plan documentation matches the options the action plugin takes."""

from __future__ import annotations

import yaml

from ansible_collections.dualstack.kubernetes.plugins.modules import address_plan as module
from ansible_collections.dualstack.kubernetes.plugins.module_utils.address_plan import ARGUMENT_SPEC


def test_documented_options_are_the_argument_spec():
    documented = yaml.safe_load(module.DOCUMENTATION)["options"]
    assert set(documented) == set(ARGUMENT_SPEC)
    for name, spec in ARGUMENT_SPEC.items():
        doc = documented[name]
        assert doc["type"] == spec["type"], name
        assert doc.get("elements") == spec.get("elements"), name
        assert doc.get("required", False) == spec.get("required", False), name
        assert doc.get("default") == spec.get("default"), name
        assert doc.get("choices") == spec.get("choices"), name


def test_examples_use_only_documented_options():
    documented = set(yaml.safe_load(module.DOCUMENTATION)["options"])
    for task in yaml.safe_load(module.EXAMPLES):
        args = task.get("dualstack.kubernetes.address_plan")
        if args is not None:
            assert set(args) <= documented
