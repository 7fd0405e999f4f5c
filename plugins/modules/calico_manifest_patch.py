#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: calico_manifest_patch
short_description: Make a Calico install manifest IPv4/IPv6 dual-stack, changing only the lines that must change
version_added: 0.1.0
description:
  - Edits Calico's C(calico.yaml) (manifest mode) or the C(Installation) of Calico's
    C(custom-resources.yaml) (operator mode) for IPv4/IPv6 dual-stack, the edit that the
    install guides have users make by hand.
  - "Manifest mode: in ConfigMap C(calico-config), sets C(assign_ipv4) and C(assign_ipv6) in the CNI
    C(ipam) block (and the optional pool lists) and C(veth_mtu); in the C(calico-node) container of
    DaemonSet C(calico-node), sets C(FELIX_IPV6SUPPORT=true), C(IP6=autodetect) and the pool,
    encapsulation, NAT and autodetection variables asked for. Missing variables are added right
    after C(FELIX_IPV6SUPPORT)."
  - "Operator mode: leaves one IPv4 and one IPv6 pool in C(spec.calicoNetwork.ipPools) (adding the
    IPv6 pool when missing) and sets C(nodeAddressAutodetectionV6)."
  - Finds the documents by kind and C(metadata.name) wherever they are in the stream, whatever the
    order of env entries, the quoting or the indentation, and rewrites only the lines that change;
    comments, folding, quoting and blank lines elsewhere stay byte for byte. A plain YAML load and
    dump would rewrite thousands of lines.
  - Reads the Calico version from the C(calico/node) image tag and refuses what that version cannot
    do (VXLAN for IPv6 before v3.23, O(mtu=auto) before v3.17). IPIP never carries IPv6.
  - Fails, writing nothing, on a file that is not a Calico manifest or lacks a part it must change,
    and on one whose meaning a line edit cannot control in the documents it changes (a key written
    twice, an env item in flow style, YAML aliases or merge keys, a tag on a value to change).
  - Needs only the Python 3 standard library where it runs.
author:
  - dualstack.kubernetes contributors (@dualstack-kubernetes)
options:
  src:
    description:
      - The manifest to read.
    type: path
    required: true
  dest:
    description:
      - Where to write the result. Defaults to O(src) (an in-place edit).
      - Its directory must exist. An existing file keeps its mode; a symlink is written at its target.
    type: path
  manifest_type:
    description:
      - V(manifest) for C(calico.yaml), V(operator) for C(custom-resources.yaml).
      - V(auto) picks V(manifest) when the file has DaemonSet C(calico-node) or ConfigMap
        C(calico-config), else V(operator) when it has an C(operator.tigera.io) C(Installation).
    type: str
    choices: [auto, manifest, operator]
    default: auto
  calico_version:
    description:
      - The Calico version (C(3.30.7) or C(v3.30.7)) when the C(calico-node) image does not show it
        (a mirror with another image name), and in operator mode, where the file has no image.
      - When the image shows a version, this must agree with it.
    type: str
  ipv4_pool_cidr:
    description:
      - IPv4 pool CIDR, C(CALICO_IPV4POOL_CIDR) (manifest) or the IPv4 pool's C(cidr) (operator).
      - Unset leaves it to Calico (kubeadm's pod CIDR or Calico's default).
    type: str
  ipv6_pool_cidr:
    description:
      - IPv6 pool CIDR, C(CALICO_IPV6POOL_CIDR) (manifest) or the IPv6 pool's C(cidr) (operator).
      - Needed where Calico cannot read the pod CIDR from kubeadm (k3s), and in operator mode when
        the file has no IPv6 pool yet.
    type: str
  ipv4_encapsulation:
    description:
      - Encapsulation of IPv4 pod traffic between nodes (C(CALICO_IPV4POOL_IPIP) and
        C(CALICO_IPV4POOL_VXLAN), or the pool's C(encapsulation)). Unset leaves the manifest's.
    type: str
    choices: [ipip, ipip-crosssubnet, vxlan, vxlan-crosssubnet, none]
  ipv6_encapsulation:
    description:
      - Encapsulation of IPv6 pod traffic between nodes, one of V(none), V(vxlan) or
        V(vxlan-crosssubnet) (C(CALICO_IPV6POOL_VXLAN)). V(none) routes IPv6 pod traffic between
        nodes without a tunnel.
      - V(vxlan) and V(vxlan-crosssubnet) need Calico v3.23 or later. IPIP is refused, as it never
        carries IPv6.
    type: str
  ipv4_nat_outgoing:
    description:
      - Masquerade IPv4 pod traffic leaving the pool (C(CALICO_IPV4POOL_NAT_OUTGOING) or C(natOutgoing)).
        Unset leaves the manifest's (Calico's default is on).
    type: bool
  ipv6_nat_outgoing:
    description:
      - Masquerade IPv6 pod traffic leaving the pool (C(CALICO_IPV6POOL_NAT_OUTGOING), default off in
        Calico), as for pods with unique local addresses. Turn it off where a router learns the pod
        networks by BGP.
    type: bool
  mtu:
    description:
      - Pod interface and tunnel MTU, C(veth_mtu) (manifest) or C(calicoNetwork.mtu) (operator),
        an integer from 1280 to 65535, or V(auto) (Calico detects it; v3.17 or later).
      - Without encapsulation it equals the node NIC's MTU; IPIP takes 20 bytes, VXLAN 50
        (70 over IPv6).
    type: raw
  ip_autodetection_method:
    description:
      - How calico-node picks each node's IPv4 address (C(IP_AUTODETECTION_METHOD) or
        C(nodeAddressAutodetectionV4)), e.g. V(first-found), V(kubernetes-internal-ip),
        V(can-reach=192.0.2.1), V(interface=eth.*), V(skip-interface=docker.*), V(cidr=192.168.1.0/24).
    type: str
  ip6_autodetection_method:
    description:
      - The same for IPv6 (C(IP6_AUTODETECTION_METHOD) or C(nodeAddressAutodetectionV6)).
      - In operator mode, unset means V(first-found).
    type: str
  ipv4_block_size:
    description:
      - Prefix length of the per-node IPv4 blocks, 20 to 32 (Calico's default 26).
    type: int
  ipv6_block_size:
    description:
      - Prefix length of the per-node IPv6 blocks, 116 to 128 (Calico's default 122).
    type: int
  ipam_ipv4_pools:
    description:
      - The CNI C(ipam) block's C(ipv4_pools), IPv4 CIDRs or IPPool names that pods take addresses
        from (manifest mode only).
    type: list
    elements: str
  ipam_ipv6_pools:
    description:
      - The CNI C(ipam) block's C(ipv6_pools) (manifest mode only).
    type: list
    elements: str
  backup:
    description:
      - Keep a copy of O(dest) as it was, with a timestamp in its name, before changing it.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Computes the change with the same code that writes it, and writes nothing.
  diff_mode:
    support: full
    description: Returns the change as a unified diff of exactly the lines that change.
notes:
  - The IP pools are created by calico-node on its first start from these settings; changing
    them later in the manifest does not change existing pools.
seealso:
  - name: Calico IPv6 and dual-stack
    description: Calico's guide to enabling IPv6 in manifest and operator installs.
    link: https://docs.tigera.io/calico/latest/networking/ipam/ipv6
"""

EXAMPLES = r"""
- name: Make calico.yaml v3.15.1 dual-stack as in the kubeadm guide (no IPIP, IPv6 NAT, MTU 1500)
  dualstack.kubernetes.calico_manifest_patch:
    src: /srv/calico/calico.yaml
    mtu: 1500
    ipv4_encapsulation: none
    ipv6_nat_outgoing: true
    backup: true

- name: Patch a copy for k3s, with explicit pools and the CNI pool lists
  dualstack.kubernetes.calico_manifest_patch:
    src: /srv/calico/calico-v3.30.7.yaml
    dest: /srv/calico/calico-v3.30.7-dualstack.yaml
    ipv4_pool_cidr: 10.42.0.0/16
    ipv6_pool_cidr: fd45:a71:55a6:1:2:2::/96
    ipv6_nat_outgoing: true
    ipv6_encapsulation: vxlan-crosssubnet
    mtu: auto
    ipam_ipv4_pools: [10.42.0.0/16]
    ipam_ipv6_pools: ["fd45:a71:55a6:1:2:2::/96"]

- name: Operator install, one pool per family
  dualstack.kubernetes.calico_manifest_patch:
    src: /srv/calico/custom-resources.yaml
    calico_version: 3.30.7
    ipv4_pool_cidr: 10.244.0.0/16
    ipv6_pool_cidr: fd00:1::/48
    ipv6_encapsulation: none
    ip6_autodetection_method: kubernetes-internal-ip
  register: calico_patch
"""

RETURN = r"""
src:
  description: The manifest read.
  returned: always
  type: str
  sample: /srv/calico/calico.yaml
dest:
  description: The file written (or that would be written in check mode).
  returned: always
  type: str
  sample: /srv/calico/calico.yaml
manifest_type:
  description: The kind of file patched, V(manifest) or V(operator).
  returned: always
  type: str
  sample: manifest
calico_version:
  description: The Calico version the checks used (from the image tag or O(calico_version)); null in operator mode without O(calico_version).
  returned: always
  type: str
  sample: v3.15.1
changes:
  description: One line per setting changed, with the old and the new value.
  returned: always
  type: list
  elements: str
  sample:
    - "calico-config veth_mtu: '1440' -> '1500'"
    - "calico-node env CALICO_IPV4POOL_IPIP: 'Always' -> 'Never'"
lines_removed:
  description: Lines of O(src) that the edit replaces.
  returned: always
  type: int
  sample: 4
lines_added:
  description: Lines the edit writes in their place.
  returned: always
  type: int
  sample: 10
backup_file:
  description: The copy of O(dest) kept by O(backup).
  returned: when O(backup) is set and O(dest) changed
  type: str
  sample: /srv/calico/calico.yaml.12345.2025-01-01@10:00:00~
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dualstack.kubernetes.plugins.module_utils.calico_manifest import (
    ENCAPSULATIONS_IPV4,
    MODES,
    diff_against,
    patch_manifest,
    read_manifest,
    validate_options,
)
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import fail_on_error
from ansible_collections.dualstack.kubernetes.plugins.module_utils.files import plan_file


def run(module: AnsibleModule) -> dict:
    src = module.params["src"]
    dest = module.params["dest"] or src
    opts = validate_options(module.params)
    text = read_manifest(src)
    patched = patch_manifest(text, opts)
    # An existing dest keeps its mode (it may be private on purpose); a new one gets 0644.
    change = plan_file(dest, patched.text, mode=None)
    current = text if dest == src else change.before
    result = dict(
        changed=change.changed,
        src=src,
        dest=dest,
        manifest_type=patched.mode,
        calico_version=patched.calico_version,
        changes=patched.changes,
        lines_removed=patched.lines_removed,
        lines_added=patched.lines_added,
    )
    if change.changed and module._diff:
        result["diff"] = dict(prepared=diff_against(patched, text, current, f"before: {dest}", f"after: {dest}"))
    if change.changed and not module.check_mode:
        if module.params["backup"] and change.before is not None:
            result["backup_file"] = module.backup_local(dest)
        change.apply()
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path", required=True),
            dest=dict(type="path"),
            manifest_type=dict(type="str", choices=list(MODES), default="auto"),
            calico_version=dict(type="str"),
            ipv4_pool_cidr=dict(type="str"),
            ipv6_pool_cidr=dict(type="str"),
            ipv4_encapsulation=dict(type="str", choices=list(ENCAPSULATIONS_IPV4)),
            ipv6_encapsulation=dict(type="str"),
            ipv4_nat_outgoing=dict(type="bool"),
            ipv6_nat_outgoing=dict(type="bool"),
            mtu=dict(type="raw"),
            ip_autodetection_method=dict(type="str"),
            ip6_autodetection_method=dict(type="str"),
            ipv4_block_size=dict(type="int"),
            ipv6_block_size=dict(type="int"),
            ipam_ipv4_pools=dict(type="list", elements="str"),
            ipam_ipv6_pools=dict(type="list", elements="str"),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    fail_on_error(module, lambda: run(module))


if __name__ == "__main__":
    main()
