# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name on the controller; this file
# holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: metallb_resources
short_description: Render MetalLB's address pool and advertisements for both families and check them against its CRDs
version_added: 0.1.0
description:
  - On the controller, reads MetalLB's C(metallb-native.yaml) (O(manifest)), checks that it installs release O(version)
    and defines the custom resources written here, and renders from the address plan's LoadBalancer pools one
    C(IPAddressPool) holding the ranges of both families (primary first) and a C(L2Advertisement), or with
    O(mode=bgp) a C(BGPAdvertisement) and one C(BGPPeer) per router.
  - One pool for both families, because MetalLB gives a Service each family's address from the ranges of the one
    pool it picks, so a dual-stack Service needs a pool with both.
  - Every resource is checked against the C(openAPIV3Schema) of its kind and version in the manifest's
    CustomResourceDefinitions; a field the schema does not know is refused (the API server would drop it).
  - With O(dest), writes the resources there as one multi-document YAML file; otherwise only returns them.
options:
  manifest:
    description: MetalLB's C(config/manifests/metallb-native.yaml) on the controller, already verified by its checksum.
    type: path
    required: true
  version:
    description: The MetalLB release the manifest must install (the tag of its controller image), e.g. V(v0.14.9).
    type: str
    required: true
  pools:
    description: The pool entries per family, as the address plan's C(lb_pools) has them (checked there).
    type: dict
    required: true
  families:
    description: The cluster's families, primary first (the address plan's C(families)).
    type: list
    elements: str
    default: [ipv4, ipv6]
  mode:
    description: V(l2) writes an C(L2Advertisement); V(bgp) a C(BGPAdvertisement) and the O(bgp_peers).
    type: str
    default: l2
    choices: [l2, bgp]
  namespace:
    description: The namespace MetalLB runs in (the manifest's C(metallb-system)).
    type: str
    default: metallb-system
  pool_name:
    description: The name of the pool and of its advertisement.
    type: str
    default: dualstack
  bgp_peers:
    description:
      - With O(mode=bgp), the routers to announce the pool to, one C(BGPPeer) each; each a mapping with C(peer_address)
        (IPv4 or IPv6) and C(peer_asn), optionally C(my_asn) (else O(bgp_my_asn)), C(name), C(peer_port) and
        C(ebgp_multihop).
    type: list
    elements: raw
    default: []
  bgp_my_asn:
    description: The cluster's own AS number for peers that give no C(my_asn).
    type: int
  dest:
    description: Where to write the resources on the controller; its folder must exist.
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Reports whether O(dest) would change without writing it.
  connection:
    support: none
  delegation:
    support: none
    details: It runs on the controller whatever the host.
  diff_mode:
    support: full
  platform:
    platforms: all
notes:
  - The role C(dualstack.kubernetes.metallb_dualstack) verifies the manifest's checksum first and applies the result.
seealso:
  - module: dualstack.kubernetes.address_plan
author:
  - dualstack.kubernetes contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Render the pool and its L2 advertisement from the address plan
  dualstack.kubernetes.metallb_resources:
    manifest: /srv/metallb/metallb-native-v0.14.9.yaml
    version: v0.14.9
    pools: "{{ address_plan.lb_pools }}"
    families: "{{ address_plan.families }}"
    dest: /srv/metallb/metallb-dualstack-pools.yaml
  run_once: true
"""

RETURN = r"""
resources:
  description: The resources, in the order to apply them.
  returned: success
  type: list
  elements: dict
  sample:
    - apiVersion: metallb.io/v1beta1
      kind: IPAddressPool
      metadata: {name: dualstack, namespace: metallb-system}
      spec: {addresses: [192.0.2.240-192.0.2.250, "2001:db8:0:1::f0/124"], autoAssign: true}
    - apiVersion: metallb.io/v1beta1
      kind: L2Advertisement
      metadata: {name: dualstack, namespace: metallb-system}
      spec: {ipAddressPools: [dualstack]}
version:
  description: The MetalLB release the manifest installs.
  returned: success
  type: str
  sample: v0.14.9
dest:
  description: The file written, where O(dest) is set.
  returned: when O(dest) is set
  type: str
"""
