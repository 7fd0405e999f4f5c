# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One way to do each thing: every filter goes through the one refusal wrapper, and files are
written in one place only."""
from __future__ import annotations

import importlib
import pathlib
import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError
from ansible_collections.dualstack.kubernetes.plugins.plugin_utils.filters import filter_table, refusals_as_filter_errors

PLUGINS = pathlib.Path(__file__).resolve().parents[3] / "plugins"
FILTER_FILES = sorted(p.stem for p in (PLUGINS / "filter").glob("*.py"))


@pytest.mark.parametrize("name", FILTER_FILES)
def test_every_filter_is_the_one_wrapper_around_its_function(name):
    module = importlib.import_module("ansible_collections.dualstack.kubernetes.plugins.filter." + name)
    table = module.FilterModule().filters()
    assert table
    wrapper_code = refusals_as_filter_errors(len).__code__
    for filter_name, func in table.items():
        assert func.__code__ is wrapper_code, "%s.%s is not wrapped by plugin_utils.filters" % (name, filter_name)
        assert callable(func.__wrapped__)


def test_every_filter_file_builds_its_table_with_the_wrapper():
    for name in FILTER_FILES:
        text = (PLUGINS / "filter" / (name + ".py")).read_text(encoding="utf-8")
        assert "filter_table(" in text, name
        assert "AnsibleFilterError" not in text, "%s raises AnsibleFilterError itself" % name


def test_the_wrapper_names_the_filter():
    def my_filter(value):
        raise DualstackError("x: %s is wrong. Fix it." % value)

    with pytest.raises(AnsibleFilterError, match=r"^dualstack.kubernetes.my_filter: x: 1 is wrong. Fix it.$"):
        filter_table(my_filter)["my_filter"](1)


def test_files_are_written_in_one_place():
    moves, replaces = [], []
    for path in sorted(PLUGINS.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        moves += [path.name] * len(re.findall(r"\batomic_move\(", text))
        replaces += [path.name] * len(re.findall(r"\bos\.(?:replace|rename)\(", text))
    assert moves == []
    assert replaces == ["files.py"]
