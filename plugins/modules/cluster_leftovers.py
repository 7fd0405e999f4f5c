#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_leftovers
short_description: Remove what a stopped cluster leaves on a node, as k3s's killall script does
version_added: 0.1.0
description:
  - Kills every process tree whose command line names a containerd shim of k3s (C(<k3s_data_dir>/data/*/bin/containerd-shim*)),
    which is every container k3s started, since stopping the k3s service leaves them running.
  - Deletes the CNI network namespaces (O(netns_pattern)), the veths enslaved to C(cni0), the devices named in O(interfaces)
    (flannel's, Calico's, kube-proxy's IPVS device) and those matching O(interface_pattern) (Calico's pod veths); the fallback
    IPIP device C(tunl0) cannot be deleted, so its addresses are flushed and it is set down.
  - Destroys the IP sets matching O(ipset_pattern) (Calico's and kube-proxy's) and deletes the nftables tables of O(nft_tables)
    (kube-proxy's nftables mode).
  - Run M(dualstack.kubernetes.firewall_chains) first, since the kernel refuses to destroy an IP set that a rule still uses,
    and stop the cluster's services before both, or they make it all again.
  - A part whose tool (C(ip), C(ipset), C(nft)) is not installed is skipped and named in RV(skipped). What k3s's
    C(k3s-killall.sh) does besides (unmounting, removing files) is the node_reset role's.
  - Needs only the Python 3 standard library and iproute2 on the node.
author:
  - dualstack.kubernetes contributors (@dualstack-kubernetes)
options:
  k3s_data_dir:
    description: k3s's data directory, whose C(data/<hash>/bin/) holds the containerd shims.
    type: path
    default: /var/lib/rancher/k3s
  interfaces:
    description: Network devices removed by name.
    type: list
    elements: str
    default: [cni0, flannel.1, flannel-v6.1, kube-ipvs0, flannel-wg, flannel-wg-v6, vxlan.calico, vxlan-v6.calico,
              wireguard.cali, wg-v6.cali, tunl0]
  interface_pattern:
    description:
      - Python regular expression; network devices whose name it finds are removed too.
      - The default finds the host ends of Calico's pod veths, C(cali) and 11 hex digits.
    type: str
    default: "^cali[0-9a-f]{11}$"
  ipset_pattern:
    description: Python regular expression; IP sets whose name it finds are destroyed.
    type: str
    default: "^(cali|KUBE-)"
  netns_pattern:
    description: Python regular expression; network namespaces under C(/run/netns) whose name it finds are deleted.
    type: str
    default: "^cni-"
  nft_tables:
    description: nftables tables deleted, each as C(<family> <name>).
    type: list
    elements: str
    default: [ip kube-proxy, ip6 kube-proxy]
attributes:
  check_mode:
    support: full
    description: Reports what would be killed and removed without doing it.
  diff_mode:
    support: none
    description: The result lists what was removed; there is no file to diff.
  platform:
    platforms: posix
    support: full
    description: Linux nodes.
seealso:
  - module: dualstack.kubernetes.firewall_chains
"""

EXAMPLES = r"""
- name: Remove the cluster's chains, then what else the cluster left
  block:
    - name: Chains of both families
      dualstack.kubernetes.firewall_chains:
    - name: Shims, namespaces, devices, IP sets
      dualstack.kubernetes.cluster_leftovers:
"""

RETURN = r"""
processes:
  description: The processes killed (or that would be), each as C(<pid> <command line>), shims before their children.
  returned: always
  type: list
  elements: str
  sample: ["4711 /var/lib/rancher/k3s/data/4a8b/bin/containerd-shim-runc-v2 -namespace k8s.io -id 9f2c"]
netns:
  description: The network namespaces deleted.
  returned: always
  type: list
  elements: str
  sample: [cni-5c8b5a5e-1b7c-4b1f-9d3e-0a1b2c3d4e5f]
interfaces:
  description: The network devices deleted (tunl0 with a note that it was emptied instead).
  returned: always
  type: list
  elements: str
  sample: [veth1a2b3c4d, cni0, flannel.1, cali5f3e2d1c0b9]
ipsets:
  description: The IP sets destroyed.
  returned: always
  type: list
  elements: str
  sample: [cali40all-ipam-pools, KUBE-CLUSTER-IP]
nft_tables:
  description: The nftables tables deleted.
  returned: always
  type: list
  elements: str
  sample: [ip kube-proxy]
skipped:
  description: The parts left alone, with the reason.
  returned: always
  type: dict
  sample: {ipsets: ipset is not installed}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dualstack.kubernetes.plugins.module_utils import cluster_leftovers as leftovers
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import fail_on_error


def run(module: AnsibleModule) -> dict:
    def command(argv: list) -> tuple:
        return module.run_command(argv)

    params = module.params
    return leftovers.clean(
        command, module.get_bin_path, data_dir=params["k3s_data_dir"], interfaces=params["interfaces"],
        interface_pattern=params["interface_pattern"], ipset_pattern=params["ipset_pattern"],
        netns_pattern=params["netns_pattern"], nft_tables=params["nft_tables"], check_mode=module.check_mode,
    ).as_result()


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            k3s_data_dir=dict(type="path", default=leftovers.DEFAULT_DATA_DIR),
            interfaces=dict(type="list", elements="str", default=list(leftovers.DEFAULT_INTERFACES)),
            interface_pattern=dict(type="str", default=leftovers.DEFAULT_INTERFACE_PATTERN),
            ipset_pattern=dict(type="str", default=leftovers.DEFAULT_IPSET_PATTERN),
            netns_pattern=dict(type="str", default=leftovers.DEFAULT_NETNS_PATTERN),
            nft_tables=dict(type="list", elements="str", default=list(leftovers.DEFAULT_NFT_TABLES)),
        ),
        supports_check_mode=True,
    )
    fail_on_error(module, lambda: run(module))


if __name__ == "__main__":
    main()
