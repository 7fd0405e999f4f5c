# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one error type, and how values are shown in its messages.

Every refusal names the variable, the value, the rule the value breaks and a fix, so that a
user can act on the message alone. Module utils raise ``DualstackError``; modules turn it
into ``fail_json`` in ``fail_on_error`` and filters into ``AnsibleFilterError`` in one
wrapper, so no code path ends in a traceback.

Values come from users and attackers alike: a message never echoes a value whole when it is
long (a 100,000-character string), never lists thousands of items, and never shows a value
the caller marked secret.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

# A message stays readable on a terminal and in a CI log: long values are cut in the middle
# and long lists summarised, with the count of what was left out.
MAX_VALUE_CHARS = 120
MAX_LISTED = 10
REDACTED = "(secret, not shown)"


def show(value: t.Any, limit: int = MAX_VALUE_CHARS) -> str:
    """Render a value the way the user wrote it (strings bare, lists as lists), capped."""
    if value is None or value == "":
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        shown = [show(item, limit) for item in value[:MAX_LISTED]]
        if len(value) > MAX_LISTED:
            shown.append(f"... {len(value) - MAX_LISTED} more")
        text = "[" + ", ".join(shown) + "]"
    else:
        text = str(value)
    if len(text) > limit:
        half = (limit - 20) // 2
        text = f"{text[:half]}...({len(text) - 2 * half} characters left out)...{text[-half:]}"
    return text


def summarise(items: t.Sequence[str], limit: int = MAX_LISTED) -> str:
    """``a, b and c``; past ``limit`` items, the first ones and how many more."""
    shown = [show(item) for item in items[:limit]]
    rest = len(items) - len(shown)
    if rest > 0:
        return ", ".join(shown) + f" and {rest} more"
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]


@dataclass(frozen=True)
class Problem:
    """One broken rule: which variable, which value, what rule it breaks, how to fix it.

    ``rule`` reads as a predicate of the value ("has 32 host bits; ..."), ``fix`` as an
    instruction, so that the rendered message is one readable line. ``secret`` keeps the
    value out of the message.
    """

    option: str
    value: t.Any
    rule: str
    fix: str
    secret: bool = False

    def __str__(self) -> str:
        value = REDACTED if self.secret else show(self.value)
        return f"{self.option}: {value} {self.rule}. {self.fix}"


class DualstackError(Exception):
    """The collection refuses an input or a state; nothing was changed.

    Built from one or more ``Problem``s, or from a message that already names the variable,
    the value, the rule and the fix. ``details`` go into the failed result beside ``msg``.
    """

    def __init__(self, problems: t.Union[str, Problem, t.Sequence[Problem]], *,
                 summary: str = "", **details: t.Any) -> None:
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            message = problems
        else:
            self.problems = [problems] if isinstance(problems, Problem) else list(problems)
            lines = [str(problem) for problem in self.problems[:MAX_LISTED]]
            if len(self.problems) > MAX_LISTED:
                lines.append(f"... and {len(self.problems) - MAX_LISTED} more problems of the same kinds")
            if summary or len(lines) > 1:
                head = summary or f"{len(self.problems)} problems"
                message = head + ":\n" + "\n".join(f"- {line}" for line in lines)
            else:
                message = lines[0] if lines else summary
        super().__init__(message)
        self.details = details

    def to_result(self) -> dict[str, t.Any]:
        """The keyword arguments of ``fail_json``."""
        result = dict(self.details)
        result["msg"] = str(self)
        return result


def fail_on_error(module: t.Any, work: t.Callable[[], dict[str, t.Any]]) -> t.NoReturn:
    """Run a module's work and exit: ``exit_json`` with its result, ``fail_json`` on refusal.

    The one place where module code turns the collection's error into a failed result.
    """
    try:
        result = work()
    except DualstackError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(**result)
    raise AssertionError("exit_json returned")  # pragma: no cover - AnsibleModule exits
