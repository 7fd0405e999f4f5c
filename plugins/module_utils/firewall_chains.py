# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster's chains taken out of an iptables-save ruleset (stdlib only).

kube-proxy, Calico, the CNI plugins and flannel add chains of their own to every table and
rules in the built-in chains that jump to them. Taking a node back removes those chains and
those jumps and keeps everything else: iptables-restore replaces each table it is given as
a whole, so the cleaned text of the tables that changed is all that needs restoring.

The ruleset format is the one iptables-save writes (iptables/iptables-save.c and
iptables/iptables-xml.c in the netfilter iptables source): ``*table`` opens a table,
``:CHAIN POLICY [packets:bytes]`` declares a chain, ``-A CHAIN ...`` appends a rule,
``COMMIT`` closes the table, ``#`` starts a comment line.
"""

from __future__ import annotations

import re
import shlex
import typing as t
from dataclasses import dataclass, field

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError

# Chains the cluster's components add: kube-proxy (KUBE-), Calico (cali-), the CNI portmap
# and bridge plugins (CNI-), flannel (FLANNEL-, flannel) and k3s's network policy
# controller (KUBE-ROUTER, already covered by KUBE-).
DEFAULT_CHAIN_PATTERN = "^(KUBE-|cali-|CNI-|FLANNEL-|flannel|KUBE-ROUTER)"
FAMILY_TOOLS = {"ipv4": "iptables", "ipv6": "ip6tables"}


def chain_matcher(pattern: str) -> t.Pattern[str]:
    """The compiled pattern; a bad regular expression is refused with the fix."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise DualstackError(
            "chain_pattern %r is not a regular expression (%s): give a Python regular expression "
            "such as %r" % (pattern, exc, DEFAULT_CHAIN_PATTERN), chain_pattern=pattern) from None


def _words(line: str) -> list[str]:
    # Comments are quoted in iptables-save output; a line shlex cannot split is read by spaces.
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def _rule_touches(words: list[str], matcher: t.Pattern[str]) -> bool:
    """Whether an ``-A`` rule belongs to a matching chain or jumps or goes to one."""
    if len(words) >= 2 and matcher.match(words[1]):
        return True
    for flag, target in zip(words, words[1:]):
        if flag in ("-j", "--jump", "-g", "--goto") and matcher.match(target):
            return True
    return False


@dataclass
class Table:
    name: str
    original: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    removed_chains: list[str] = field(default_factory=list)
    removed_rules: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.removed_chains or self.removed_rules)


@dataclass
class Cleanup:
    """The tables of one ruleset, with what the pattern takes out of each."""
    tables: list[Table]

    @property
    def changed(self) -> bool:
        return any(table.changed for table in self.tables)

    @property
    def removed_chains(self) -> list[str]:
        return ["%s/%s" % (table.name, chain) for table in self.tables for chain in table.removed_chains]

    @property
    def removed_rules(self) -> list[str]:
        return ["%s: %s" % (table.name, rule) for table in self.tables for rule in table.removed_rules]

    def restore_text(self) -> str:
        """What iptables-restore gets: the changed tables only, each whole and cleaned."""
        return "".join("*%s\n%s" % (table.name, "".join(line + "\n" for line in table.lines))
                       for table in self.tables if table.changed)

    def before_text(self) -> str:
        """The changed tables as they were, for a diff against restore_text."""
        return "".join("*%s\n%s" % (table.name, "".join(line + "\n" for line in table.original))
                       for table in self.tables if table.changed)


def clean_ruleset(saved: str, pattern: str = DEFAULT_CHAIN_PATTERN) -> Cleanup:
    """Split an iptables-save ruleset into tables without the matching chains and jumps."""
    matcher = chain_matcher(pattern)
    tables: list[Table] = []
    current: Table | None = None
    for number, raw in enumerate(saved.splitlines(), start=1):
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            current = Table(line[1:].strip())
            tables.append(current)
            continue
        if current is None:
            raise DualstackError(
                "line %d of the saved ruleset comes before any '*table' line: %r; the output of "
                "iptables-save starts every table with one" % (number, line), line=line)
        current.original.append(line)
        if line.startswith(":"):
            chain = line[1:].split()[0] if line[1:].split() else ""
            if matcher.match(chain):
                current.removed_chains.append(chain)
                continue
        elif line.startswith("-A ") and _rule_touches(_words(line), matcher):
            current.removed_rules.append(line)
            continue
        current.lines.append(line)
    return Cleanup(tables)


Runner = t.Callable[[t.List[str], t.Optional[str]], t.Tuple[int, str, str]]


@dataclass
class FamilyResult:
    family: str
    cleanup: Cleanup | None = None
    # Why the family was left alone: no tools on the node, or a kernel without its tables.
    skipped: str = ""


def remove_chains(run: Runner, find_tool: t.Callable[[str], t.Optional[str]], families: t.Sequence[str],
                  pattern: str = DEFAULT_CHAIN_PATTERN, check_mode: bool = False) -> list[FamilyResult]:
    """Save each family's ruleset, take the matching chains out, restore the changed tables.

    ``run(argv, stdin)`` runs a command; ``find_tool(name)`` gives its path or None. A
    family whose tools are missing or whose save fails (a kernel without IPv6 tables) is
    skipped with the reason; a restore that fails is an error, since the node would keep
    the cluster's rules.
    """
    chain_matcher(pattern)
    results = []
    for family in families:
        if family not in FAMILY_TOOLS:
            raise DualstackError("families holds %r: use ipv4 and ipv6" % family, families=list(families))
        tool = FAMILY_TOOLS[family]
        save, restore = find_tool(tool + "-save"), find_tool(tool + "-restore")
        if not save or not restore:
            results.append(FamilyResult(family, skipped="%s-save or %s-restore is not installed" % (tool, tool)))
            continue
        rc, out, err = run([save], None)
        if rc != 0:
            results.append(FamilyResult(family, skipped="%s-save failed (rc %d): %s" % (tool, rc, err.strip())))
            continue
        cleanup = clean_ruleset(out, pattern)
        if cleanup.changed and not check_mode:
            rc, _out, err = run([restore], cleanup.restore_text())
            if rc != 0:
                raise DualstackError(
                    "%s-restore refused the cleaned ruleset (rc %d): %s; the cluster's chains are still there "
                    "(run %s-save to see them)" % (tool, rc, err.strip(), tool), family=family)
        results.append(FamilyResult(family, cleanup=cleanup))
    return results
