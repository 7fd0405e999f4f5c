#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the dualstack.kubernetes collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the plan_report action; the work happens on the controller in plugins/action/plan_report.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: plan_report
short_description: Write the dual-stack address plan as a Markdown report and a network diagram
version_added: 0.1.0
description:
  - Renders the C(address_plan) fact of the C(dualstack.kubernetes.address_plan) role into the directory O(dest)
    on the controller.
  - C(address-plan.md) holds the settings, a table of the networks of each family (pods, Services, nodes, node CIDR
    mask, Calico pool and block size), the nodes with their addresses, C(node-ip) and expected pod blocks, the
    API server and DNS Service addresses, capacity, and the plan's warnings.
  - C(address-plan.svg) is a network figure in the manner of the kubeadm article's diagram, with per family the
    node network and every node on it, each node's addresses and expected pod block, and the pod and Service
    networks.
  - With node CIDR allocation, kube-controller-manager gives the i-th node to register the i-th block of size
    C(node_mask) of the pod CIDR; the report takes the inventory order as that order and labels the blocks
    expected.
  - Each file is written to a temporary file beside it and renamed into place, and only when its content or
    mode differs, so a second run reports no change.
author:
  - dualstack.kubernetes contributors (@dualstack-kubernetes)
options:
  plan:
    description:
      - The address plan, in the form the C(dualstack.kubernetes.address_plan) role sets as C(address_plan).
      - Defaults to the host's C(address_plan) fact.
    type: dict
  dest:
    description:
      - Directory on the controller to write the files into; created when missing.
      - A relative path is taken from the current working directory.
    type: path
    required: true
  png:
    description:
      - Also write C(address-plan.png), drawn from the SVG by C(rsvg-convert) on the controller (Debian and
        Ubuntu package C(librsvg2-bin)).
    type: bool
    default: false
attributes:
  action:
    support: full
    description: The work is done by an action plugin on the controller.
  check_mode:
    support: full
    description: Check mode reports the files that would change, by the same comparison a real run uses.
  diff_mode:
    support: full
    description: Shows the before and after text of the Markdown and SVG files that change.
  platform:
    support: full
    platforms: controller
    description: Runs on the Ansible controller; the target host is not contacted.
notes:
  - Runs on the controller only; run it once (C(run_once) or a play on C(localhost)).
"""

EXAMPLES = r"""
- name: Write the address plan report and diagram
  dualstack.kubernetes.plan_report:
    dest: "{{ dualstack_render_dir }}"
  run_once: true

- name: Same, with a PNG of the diagram, from a plan held in another variable
  dualstack.kubernetes.plan_report:
    plan: "{{ hostvars[groups['kubeadm_control_plane'][0]].address_plan }}"
    dest: /tmp/cluster-plan
    png: true
  run_once: true
"""

RETURN = r"""
dest:
  description: The directory, as an absolute path.
  returned: success
  type: str
  sample: /home/ops/render
files:
  description: Every file of the report.
  returned: success
  type: list
  elements: str
  sample: [/home/ops/render/address-plan.md, /home/ops/render/address-plan.svg]
written:
  description: The files whose content or mode differed and were (or in check mode would be) written.
  returned: success
  type: list
  elements: str
  sample: [/home/ops/render/address-plan.svg]
"""
