# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place where a filter's refusal becomes an Ansible error (controller side).

Filters call the plain functions of ``module_utils``, which raise ``DualstackError``; every
filter file builds its table with ``filter_table`` so that a refusal reads the same from any
filter, names the filter, and never ends in a traceback.
"""

from __future__ import annotations

import functools
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError

Filter = t.Callable[..., t.Any]


def refusals_as_filter_errors(func: Filter, name: str = "") -> Filter:
    """``func`` with ``DualstackError`` turned into ``AnsibleFilterError`` naming the filter."""
    shown = "dualstack.kubernetes.%s" % (name or func.__name__)

    @functools.wraps(func)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return func(*args, **kwargs)
        except DualstackError as exc:
            # from None: the message says all; the module_utils frames would only hide it.
            raise AnsibleFilterError("%s: %s" % (shown, exc)) from None

    return wrapper


def filter_table(*funcs: Filter, **named: Filter) -> t.Dict[str, Filter]:
    """The ``filters()`` mapping of a filter plugin, each entry wrapped."""
    table = {func.__name__: refusals_as_filter_errors(func) for func in funcs}
    table.update((name, refusals_as_filter_errors(func, name)) for name, func in named.items())
    return table
