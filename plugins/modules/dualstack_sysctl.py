#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dualstack_sysctl
short_description: IPv4 and IPv6 forwarding and bridge sysctls for a dual-stack node, live and persisted
version_added: 0.1.0
description:
  - Sets the sysctls a dual-stack Kubernetes node needs in one call, live and in one file under
    C(/etc/sysctl.d), written atomically (temporary file, fsync, rename; a symlink is written at its
    target).
  - Writes the files first and sets live values after them, so that a write that fails (read-only or
    immutable file) leaves the live values as they were; the failure names the file and the fix.
  - Keeps IPv6 default routes learned from router advertisements. Turning
    C(net.ipv6.conf.all.forwarding) on makes the kernel drop those routes and ignore further
    advertisements on every interface whose C(accept_ra) is 1, so the module first sets
    C(accept_ra=2) on the interfaces named by O(accept_ra_interfaces).
  - Reads every file that C(systemd-sysctl) and C(sysctl --system) apply at boot, in their order
    (C(/etc/sysctl.d), C(/run/sysctl.d), C(/usr/local/lib/sysctl.d), C(/usr/lib/sysctl.d), C(/lib/sysctl.d),
    sorted by file name across folders with C(/etc) shadowing the same name elsewhere, then
    C(/etc/sysctl.conf)), and reports each later file that would set one of its keys to another
    value at boot. O(conflicts) says whether that fails, warns or is fixed.
  - Fails, changing nothing, when IPv6 is disabled on the node.
  - Needs only the Python 3 standard library on the node.
author:
  - dualstack.kubernetes contributors (@dualstack-kubernetes)
options:
  ipv4_forwarding:
    description:
      - Set C(net.ipv4.ip_forward=1). V(false) leaves the key alone (it does not set 0).
    type: bool
    default: true
  ipv6_forwarding:
    description:
      - Set C(net.ipv6.conf.all.forwarding=1) and C(accept_ra=2) on O(accept_ra_interfaces).
        V(false) leaves these keys alone.
    type: bool
    default: true
  bridge_nf_call:
    description:
      - Make sure C(br_netfilter) is in the kernel (loaded with C(modprobe) and listed in
        O(modules_load_file) where the kernel has loadable modules; found built in otherwise) and set
        C(net.bridge.bridge-nf-call-iptables=1) and C(net.bridge.bridge-nf-call-ip6tables=1).
    type: bool
    default: true
  accept_ra_interfaces:
    description:
      - Interfaces that get C(net.ipv6.conf.<interface>.accept_ra=2), so that they keep learning
        their IPv6 default route from router advertisements while the node forwards.
      - V(auto) picks every interface with C(accept_ra) 1 (or already 2) that holds an IPv6 default
        route learned from a router advertisement (C(proto ra)), plus interfaces that an earlier run
        persisted and that still exist.
      - A list names the interfaces; each must exist. V([]) sets none.
      - Interface names with dots (VLANs such as C(eth0.100)) are written the way both sysctl readers
        understand (C(net.ipv6.conf.eth0/100.accept_ra)).
    type: raw
    default: auto
  sysctl_file:
    description:
      - The one file the module writes its keys to. It must be directly in C(/etc/sysctl.d) and end
        in C(.conf). The module owns it; its content is replaced.
    type: path
    default: /etc/sysctl.d/90-dualstack-kubernetes.conf
  conflicts:
    description:
      - What to do about lines in files read after O(sysctl_file) at boot that set one of its keys
        to another value (they would undo the value at the next boot).
      - V(fail) fails, names each file and line, and changes nothing.
      - V(warn) sets the values anyway and warns about each line.
      - V(override) comments out each such line with a note naming O(sysctl_file). Files under
        C(/etc) are edited in place (a symlink at its target, such as Debian's
        C(/etc/sysctl.d/99-sysctl.conf) to C(/etc/sysctl.conf)); a file outside C(/etc) is shadowed by
        a copy with the same name in C(/etc/sysctl.d), which both readers use instead of it.
    type: str
    choices: [fail, warn, override]
    default: fail
  extra:
    description:
      - Further keys for the same file, as a mapping of key to value, for example
        C(net.ipv4.conf.all.rp_filter) with V(0). Keys may use dots or slashes as sysctl accepts them.
      - Each key must exist on the node. A key that contradicts one the module sets from its own
        options is an error.
    type: dict
    default: {}
  modules_load_file:
    description:
      - The C(/etc/modules-load.d) file that lists C(br_netfilter) for the next boot when O(bridge_nf_call)
        is on. Lines already in it are kept, so it can be shared with M(dualstack.kubernetes.kernel_modules).
    type: path
    default: /etc/modules-load.d/dualstack-kubernetes.conf
attributes:
  check_mode:
    support: full
    description: Reports the same changes and diff a real run makes, without making them.
  diff_mode:
    support: full
    description: Shows the file, any conflicting file it edits, the modules-load file and the live values.
  platform:
    platforms: posix
    support: full
    description: Linux nodes with systemd-sysctl or procps sysctl.
seealso:
  - module: ansible.posix.sysctl
  - module: dualstack.kubernetes.kernel_modules
notes:
  - Interfaces created later (pod veths) take C(net.ipv6.conf.default.*); forwarding turned on
    through C(all) is copied to C(default) by the kernel.
  - At boot, per-interface keys are applied again by systemd's udev rule when the interface
    appears, so C(accept_ra=2) lines for interfaces that come up late still take effect.
"""

EXAMPLES = r"""
- name: Forward IPv4 and IPv6, keep RA-learned routes, bridge traffic through ip(6)tables
  dualstack.kubernetes.dualstack_sysctl:

- name: Same, fixing any later sysctl file that would undo the values at boot
  dualstack.kubernetes.dualstack_sysctl:
    conflicts: override

- name: Name the RA interface, add a key, use another file
  dualstack.kubernetes.dualstack_sysctl:
    accept_ra_interfaces: [eth0]
    sysctl_file: /etc/sysctl.d/60-cluster.conf
    extra:
      net.ipv4.conf.all.rp_filter: 0
      net.ipv6.conf.eth0/100.accept_dad: 0

- name: Forwarding only, no br_netfilter
  dualstack.kubernetes.dualstack_sysctl:
    bridge_nf_call: false
"""

RETURN = r"""
changed_keys:
  description: Keys whose live value or persisted line changed (or would change in check mode).
  returned: always
  type: list
  elements: str
  sample: [net.ipv6.conf.eth0.accept_ra, net.ipv6.conf.all.forwarding]
file:
  description: The sysctl file the module owns.
  returned: always
  type: str
  sample: /etc/sysctl.d/90-dualstack-kubernetes.conf
settings:
  description: Every key the module manages and its value, in the order written to the file.
  returned: always
  type: dict
  sample: {net.ipv4.ip_forward: "1", net.ipv6.conf.all.forwarding: "1"}
conflicts:
  description:
    - Lines of files read after O(sysctl_file) at boot that set one of its keys to another value.
    - C(action) is C(warned) or C(overridden); with O(conflicts=fail) the failed result holds them with C(failed).
  returned: always
  type: list
  elements: dict
  sample:
    - {file: /etc/sysctl.d/99-zz.conf, real_file: /etc/sysctl.d/99-zz.conf, line: 1,
       key: net.ipv6.conf.all.forwarding, value: "0", wanted: "1", action: overridden}
accept_ra_interfaces:
  description: Interfaces that got C(accept_ra=2).
  returned: always
  type: list
  elements: str
  sample: [eth0]
files_changed:
  description: Every file written (or that would be in check mode).
  returned: always
  type: list
  elements: str
  sample: [/etc/sysctl.d/90-dualstack-kubernetes.conf, /etc/sysctl.d/99-zz.conf]
modules_loaded:
  description: Kernel modules loaded with modprobe (C(br_netfilter) at most).
  returned: always
  type: list
  elements: str
  sample: [br_netfilter]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import fail_on_error
from ansible_collections.dualstack.kubernetes.plugins.module_utils.kernel_modules import DEFAULT_MODULES_LOAD_FILE
from ansible_collections.dualstack.kubernetes.plugins.module_utils.sysctl import (
    DEFAULT_SYSCTL_FILE,
    apply_plan,
    build_plan,
    key_name,
)


def run(module: AnsibleModule) -> dict:
    plan = build_plan(module.params)
    files = [plan.file] + plan.conflict_files
    if plan.modules and plan.modules.file:
        files.append(plan.modules.file)
    written = [change.path for change in files if change.changed]
    to_load = plan.modules.to_load if plan.modules else []
    if not module.check_mode:
        apply_plan(plan, lambda argv: module.run_command(
            [module.get_bin_path(argv[0], required=True)] + argv[1:]))
    action = {"fail": "failed", "warn": "warned", "override": "overridden"}[module.params["conflicts"]]
    for conflict in plan.conflicts:
        if action == "warned":
            module.warn("%s line %d sets %s = %s; at the next boot it replaces %s from %s. Change that "
                        "line, or use conflicts=override."
                        % (conflict.file, conflict.line, key_name(conflict.key), conflict.value,
                           conflict.wanted, plan.file.path))
    result = {
        "changed": plan.changed,
        "changed_keys": plan.changed_keys,
        "file": plan.file.path,
        "settings": {key_name(path): value for path, value in plan.wanted.items()},
        "conflicts": [c.as_dict(action) for c in plan.conflicts],
        "accept_ra_interfaces": plan.accept_ra_interfaces,
        "files_changed": written,
        "modules_loaded": to_load,
    }
    if module._diff:
        result["diff"] = plan.diffs()
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            ipv4_forwarding=dict(type="bool", default=True),
            ipv6_forwarding=dict(type="bool", default=True),
            bridge_nf_call=dict(type="bool", default=True),
            accept_ra_interfaces=dict(type="raw", default="auto"),
            sysctl_file=dict(type="path", default=DEFAULT_SYSCTL_FILE),
            conflicts=dict(type="str", default="fail", choices=["fail", "warn", "override"]),
            extra=dict(type="dict", default={}),
            modules_load_file=dict(type="path", default=DEFAULT_MODULES_LOAD_FILE),
        ),
        supports_check_mode=True,
    )
    fail_on_error(module, lambda: run(module))


if __name__ == "__main__":
    main()
