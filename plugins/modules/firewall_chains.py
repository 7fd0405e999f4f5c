#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewall_chains
short_description: Remove a cluster's iptables and ip6tables chains and the rules that jump to them
version_added: 0.1.0
description:
  - Reads the ruleset of each family with C(iptables-save) and C(ip6tables-save), takes out every chain whose
    name matches O(chain_pattern), the rules in those chains and every rule elsewhere that jumps (C(-j)) or goes
    (C(-g)) to one, and gives the tables that changed back to C(iptables-restore) and C(ip6tables-restore).
  - Everything else stays as it was, the node's own chains and rules included; tables without a match are not
    restored at all.
  - A family whose tools are not installed, or whose save fails (a kernel without IPv6 tables), is skipped and
    named in RV(skipped). A refused restore fails the task.
  - Stop the services that add the chains (kubelet with kube-proxy, k3s, calico-node) first, or they add them again.
  - Needs only the Python 3 standard library and the iptables tools on the node.
author:
  - dualstack.kubernetes contributors (@dualstack-kubernetes)
options:
  chain_pattern:
    description:
      - Python regular expression matched at the start of each chain name. The default names the chains of
        kube-proxy (C(KUBE-)), Calico (C(cali-)), the CNI plugins (C(CNI-)) and flannel.
    type: str
    default: "^(KUBE-|cali-|CNI-|FLANNEL-|flannel|KUBE-ROUTER)"
  families:
    description: The address families whose rulesets are cleaned.
    type: list
    elements: str
    choices: [ipv4, ipv6]
    default: [ipv4, ipv6]
attributes:
  check_mode:
    support: full
    description: Reports the chains and rules that would go without restoring anything.
  diff_mode:
    support: full
    description: Shows each changed family's ruleset before and after.
  platform:
    platforms: posix
    support: full
    description: Linux nodes with iptables (legacy or nft backend).
seealso:
  - module: ansible.builtin.iptables
"""

EXAMPLES = r"""
- name: Take the cluster's chains out of both families' firewalls
  dualstack.kubernetes.firewall_chains:

- name: Only Calico's chains, only IPv6
  dualstack.kubernetes.firewall_chains:
    chain_pattern: "^cali-"
    families: [ipv6]
"""

RETURN = r"""
removed_chains:
  description: The chains removed (or that would be in check mode), by family, as C(table/chain).
  returned: always
  type: dict
  sample: {ipv4: [filter/KUBE-SERVICES, nat/cali-nat-outgoing], ipv6: []}
removed_rules:
  description: "The rules removed, by family, each as C(table: rule) in iptables-save form."
  returned: always
  type: dict
  sample: {ipv4: ["filter: -A FORWARD -j KUBE-SERVICES"], ipv6: []}
skipped:
  description: The families left alone, with the reason.
  returned: always
  type: dict
  sample: {ipv6: ip6tables-save failed (rc 1)}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dualstack.kubernetes.plugins.module_utils.firewall_chains import (
    DEFAULT_CHAIN_PATTERN,
    remove_chains,
)
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import fail_on_error


def run(module: AnsibleModule) -> dict:
    def command(argv: list, stdin: str | None) -> tuple:
        return module.run_command(argv, data=stdin, binary_data=False)

    results = remove_chains(command, module.get_bin_path, module.params["families"],
                            module.params["chain_pattern"], module.check_mode)
    result = {
        "changed": any(r.cleanup is not None and r.cleanup.changed for r in results),
        "removed_chains": {r.family: r.cleanup.removed_chains if r.cleanup else [] for r in results},
        "removed_rules": {r.family: r.cleanup.removed_rules if r.cleanup else [] for r in results},
        "skipped": {r.family: r.skipped for r in results if r.skipped},
    }
    if module._diff:
        result["diff"] = [{"before_header": "%s (before)" % r.family, "after_header": "%s (after)" % r.family,
                           "before": r.cleanup.before_text(), "after": r.cleanup.restore_text()}
                          for r in results if r.cleanup is not None and r.cleanup.changed]
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            chain_pattern=dict(type="str", default=DEFAULT_CHAIN_PATTERN),
            families=dict(type="list", elements="str", choices=["ipv4", "ipv6"], default=["ipv4", "ipv6"]),
        ),
        supports_check_mode=True,
    )
    fail_on_error(module, lambda: run(module))


if __name__ == "__main__":
    main()
