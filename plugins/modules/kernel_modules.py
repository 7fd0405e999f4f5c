#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kernel_modules
short_description: Make sure kernel modules are in the running kernel and come back at boot
version_added: 0.1.0
description:
  - For each module in O(names), finds out whether what it provides is already in the running kernel,
    built in or loaded, by what it provides rather than by name (C(overlay) when C(/proc/filesystems) lists it,
    C(br_netfilter) when C(/proc/sys/net/bridge) exists, any other module when C(/proc/modules) or
    C(/sys/module) shows it).
  - Where the kernel has loadable module support (C(/proc/modules) exists), loads what is missing with
    C(modprobe) and lists every module in one O(modules_load_file) for the next boot.
  - Where it has none, fails for a module that is not built in, and writes no file.
  - Needs only the Python 3 standard library and, for loading, C(modprobe) on the node.
author:
  - dualstack.kubernetes contributors (@dualstack-kubernetes)
options:
  names:
    description: Kernel module names, for example V(overlay) and V(br_netfilter).
    type: list
    elements: str
    required: true
  modules_load_file:
    description:
      - The file in C(/etc/modules-load.d) that lists the modules for systemd-modules-load. Missing names
        are added; lines already in it are kept, so other tasks may share it.
    type: path
    default: /etc/modules-load.d/dualstack-kubernetes.conf
attributes:
  check_mode:
    support: full
    description: Reports what would be loaded and written without doing it.
  diff_mode:
    support: full
    description: Shows the modules-load file before and after.
  platform:
    platforms: posix
    support: full
    description: Linux nodes.
seealso:
  - module: community.general.modprobe
  - module: dualstack.kubernetes.dualstack_sysctl
"""

EXAMPLES = r"""
- name: Container runtime and Kubernetes networking modules
  dualstack.kubernetes.kernel_modules:
    names: [overlay, br_netfilter]

- name: Another file
  dualstack.kubernetes.kernel_modules:
    names: [overlay]
    modules_load_file: /etc/modules-load.d/containerd.conf
"""

RETURN = r"""
loaded:
  description: Modules loaded with modprobe by this run (or that would be in check mode).
  returned: always
  type: list
  elements: str
  sample: [br_netfilter]
present:
  description: Modules whose function was already in the kernel, built in or loaded.
  returned: always
  type: list
  elements: str
  sample: [overlay]
loadable_modules:
  description: Whether the kernel has loadable module support (C(/proc/modules) exists).
  returned: always
  type: bool
  sample: true
modules_load_file:
  description: The modules-load.d file, or null when the kernel has no loadable modules and no file is written.
  returned: always
  type: str
  sample: /etc/modules-load.d/dualstack-kubernetes.conf
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import fail_on_error
from ansible_collections.dualstack.kubernetes.plugins.module_utils.kernel_modules import (
    DEFAULT_MODULES_LOAD_FILE,
    apply_modules,
    plan_modules,
)


def run(module: AnsibleModule) -> dict:
    plan = plan_modules(module.params["names"], module.params["modules_load_file"])
    if not module.check_mode:
        apply_modules(plan, lambda argv: module.run_command(
            [module.get_bin_path(argv[0], required=True)] + argv[1:]))
    result = {
        "changed": plan.changed,
        "loaded": plan.to_load,
        "present": plan.present,
        "loadable_modules": plan.loadable,
        "modules_load_file": plan.file.path if plan.file else None,
    }
    if module._diff and plan.file:
        result["diff"] = plan.file.diff()
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            names=dict(type="list", elements="str", required=True),
            modules_load_file=dict(type="path", default=DEFAULT_MODULES_LOAD_FILE),
        ),
        supports_check_mode=True,
    )
    fail_on_error(module, lambda: run(module))


if __name__ == "__main__":
    main()
