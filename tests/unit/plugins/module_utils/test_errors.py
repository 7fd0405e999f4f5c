# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import errors


def test_a_long_value_is_cut_in_the_middle_and_says_how_much_was_left_out():
    text = errors.show("a" * 100_000 + "END")
    assert len(text) <= errors.MAX_VALUE_CHARS + 40
    assert text.startswith("aaaa") and text.endswith("END")
    assert "characters left out" in text


def test_a_long_list_is_summarised_with_its_count():
    text = errors.show([str(n) for n in range(70_000)])
    assert text.startswith("[0, 1, 2") and "69990 more" in text
    assert errors.summarise([str(n) for n in range(12)]) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more"
    assert errors.summarise(["a", "b"]) == "a and b"


def test_a_problem_reads_as_one_line_naming_variable_value_rule_and_fix():
    problem = errors.Problem("address_plan_pod_cidrs", ["10.0.0.1/8"], "has host bits set", "Use 10.0.0.0/8.")
    assert str(problem) == "address_plan_pod_cidrs: [10.0.0.1/8] has host bits set. Use 10.0.0.0/8."


def test_a_secret_value_never_reaches_the_message():
    problem = errors.Problem("k3s_server_token", "s3cr3t-planted", "is too short", "Use 32 characters.", secret=True)
    error = errors.DualstackError(problem)
    assert "s3cr3t-planted" not in str(error)
    assert errors.REDACTED in str(error)


def test_many_problems_are_listed_up_to_a_cap():
    problems = [errors.Problem(f"node-{n}", n, "is wrong", "Fix it.") for n in range(4000)]
    error = errors.DualstackError(problems, summary="The plan is refused")
    lines = str(error).splitlines()
    assert lines[0] == "The plan is refused:"
    assert len(lines) == errors.MAX_LISTED + 2
    assert "3990 more" in lines[-1]
    assert error.problems == problems


class _Exit(Exception):
    pass


class _Module:
    def __init__(self):
        self.result = None

    def exit_json(self, **result):
        self.result = ("exit", result)
        raise _Exit

    def fail_json(self, **result):
        self.result = ("fail", result)
        raise _Exit


def test_fail_on_error_turns_the_error_into_fail_json_with_its_details():
    module = _Module()

    def work():
        raise errors.DualstackError("dest=/x: is a folder. Name a file.", path="/x")

    with pytest.raises(_Exit):
        errors.fail_on_error(module, work)
    assert module.result == ("fail", {"msg": "dest=/x: is a folder. Name a file.", "path": "/x"})


def test_fail_on_error_exits_with_the_result():
    module = _Module()
    with pytest.raises(_Exit):
        errors.fail_on_error(module, lambda: {"changed": False})
    assert module.result == ("exit", {"changed": False})
