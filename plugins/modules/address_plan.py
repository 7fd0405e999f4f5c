# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name on the controller; this file
# holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: address_plan
short_description: Check and derive every address of a dual-stack Kubernetes cluster
version_added: 0.1.0
description:
  - Checks an IPv4/IPv6 dual-stack cluster's address plan against the rules of Kubernetes, kubeadm, k3s
    and Calico, on the controller and before any host changes, and derives everything the roles need
    from it.
  - A refused plan fails the task with one message that lists every problem, each naming the option,
    the value, the rule it breaks and a fix.
  - 'Rules: every CIDR parses in address/prefix-length form and has no host bits set; each list holds exactly
    one CIDR per family (pod and Service lists both families); Service CIDRs list the pod CIDRs'' primary family
    first; pod, Service and node networks do not overlap in either direction; a Service CIDR has at most
    20 host bits and room for the DNS address (the tenth), with a warning above 16 host bits for IPv6; a
    node mask is not shorter than its pod CIDR (equal holds one node) and, for IPv6 (and for IPv4 with
    kubeadm), at most 16 bits longer; the pod CIDR holds a node CIDR for every node unless node CIDR
    allocation is off; Calico pools lie inside the pod CIDRs, block sizes are 20..32 (IPv4) and 116..128
    (IPv6) and each pool has a block for every node; every node has a unique name and exactly one routable
    address of each family, inside O(node_cidrs) where given and outside the pod and Service networks; the
    IPv6DualStack feature gate is set below Kubernetes 1.21 and not set from 1.25; every release is within the
    range the collection knows for its component, and no pre-release; no CIDR or node address touches a
    special-purpose block of the IANA registries (loopback, link-local, multicast, reserved, IPv4-mapped, ...;
    the documentation prefixes are allowed);
    IPv6 VXLAN needs Calico 3.23 or later; more than one control plane needs one API endpoint, O(api_vips)
    (one free address per family, primary first, not a node address, outside the pod and Service CIDRs, inside O(node_cidrs)
    where given) or O(api_endpoint), not both; an even number of control planes draws a warning; LoadBalancer pools (O(lb_pools)) as described there.'
  - The plan is returned as the fact C(address_plan); run with C(run_once), every host of the play gets it.
    The role C(dualstack.kubernetes.address_plan) does exactly that at the start of every role of the
    collection.
options:
  control_plane_hosts:
    description:
      - The control-plane nodes by name, in order; the first one initialises the cluster. Each must be one of O(nodes).
    type: list
    elements: str
    default: []
  api_vips:
    description:
      - The API endpoint of several control planes as virtual IPs, one per family, primary family first.
    type: list
    elements: str
    default: []
  api_endpoint:
    description:
      - The API endpoint as an external load balancer's DNS name or address, optionally with C(:port); an IPv6
        address with a port in brackets.
    type: str
    default: ""
  api_port:
    description:
      - The API endpoint's port where O(api_endpoint) names none, and the virtual IPs' port.
    type: int
    default: 6443
  pod_cidrs:
    description:
      - The pod networks, one CIDR per family; the first one's family is the cluster's primary family.
      - A comma-separated string is read as a list.
    type: list
    elements: str
    required: true
  service_cidrs:
    description:
      - The Service networks, one CIDR per family, in the same family order as O(pod_cidrs).
      - At most 20 host bits each (IPv6 /108 or longer); an IPv6 range larger than /112 draws a warning.
    type: list
    elements: str
    required: true
  node_cidrs:
    description:
      - The networks the nodes' own addresses lie in, at most one per family.
      - When given, every node address must lie inside the network of its family, and the networks must not
        overlap the pod and Service networks.
    type: list
    elements: str
    default: []
  node_mask_ipv4:
    description:
      - Prefix length of the IPv4 pod CIDR each node gets (kube-controller-manager C(node-cidr-mask-size-ipv4)).
    type: int
    default: 24
  node_mask_ipv6:
    description:
      - Prefix length of the IPv6 pod CIDR each node gets (kube-controller-manager C(node-cidr-mask-size-ipv6)).
      - At most 16 bits longer than the IPv6 pod CIDR's prefix.
    type: int
    default: 64
  node_cidr_allocation:
    description:
      - Whether kube-controller-manager hands every node a pod CIDR of each family.
      - With V(false), Calico's own IPAM gives pods their addresses and the node masks do not limit the
        number of nodes; the plan then carries a warning that says so.
    type: bool
    default: true
  nodes:
    description:
      - The cluster's nodes. Each is a mapping with C(name) (the inventory name), C(ipv4) and C(ipv6)
        (the node's one address of each family, which kubelet gets as C(--node-ip)).
      - Optional C(labels), a mapping of label keys to values, and C(taints), a list of C(key=value:Effect) strings
        or C({key, value, effect}) mappings, are what the node's kubelet registers it with. Keys are qualified names
        (an optional DNS subdomain prefix of at most 253 characters and C(/), a name of at most 63), values at most
        63 characters of the same kind or empty, effects C(NoSchedule), C(PreferNoSchedule) or C(NoExecute), each
        key and effect pair once; labels in the C(kubernetes.io) and C(k8s.io) namespaces other than those under
        C(kubelet.kubernetes.io), C(node.kubernetes.io) and the well-known ones are refused, since the kubelet
        refuses to set them on itself (C(node-role.kubernetes.io/worker) among them).
    type: list
    elements: dict
    required: true
  distribution:
    description:
      - How the cluster is built.
    type: str
    required: true
    choices: [kubeadm, k3s]
  kubernetes_version:
    description:
      - The Kubernetes release (V(1.31.2) or V(v1.31.2)) or, for k3s, the k3s release tag (V(v1.31.2+k3s1)).
      - Kubernetes 1.15.0 to 1.37.x, k3s v1.21.0+k3s1 to v1.37.x; pre-releases (V(1.32.0-rc.1)) are refused.
      - Quote it in YAML; an unquoted V(1.30) is read as the number 1.3.
    type: str
    required: true
  calico_version:
    description:
      - The Calico release, for example V(3.30.7) or V(v3.30.7); 3.15.0 to 3.30.x.
    type: str
    required: true
  calico_ipv4_block_size:
    description:
      - Prefix length of the IPv4 address blocks Calico hands to nodes, 20 to 32.
    type: int
    default: 26
  calico_ipv6_block_size:
    description:
      - Prefix length of the IPv6 address blocks Calico hands to nodes, 116 to 128.
    type: int
    default: 122
  calico_ipv6_encapsulation:
    description:
      - How Calico carries IPv6 pod traffic between nodes. V(none) routes it (BGP); V(vxlan) needs Calico 3.23 or later.
    type: str
    default: none
    choices: [none, vxlan]
  calico_ipv4_pool_cidr:
    description:
      - The Calico IPv4 pool; inside the IPv4 pod CIDR. Defaults to the IPv4 pod CIDR.
    type: str
  calico_ipv6_pool_cidr:
    description:
      - The Calico IPv6 pool; inside the IPv6 pod CIDR. Defaults to the IPv6 pod CIDR.
    type: str
  feature_gates:
    description:
      - Kubernetes feature gates the cluster is given, name to value.
      - C(IPv6DualStack) is added where the release needs it (below 1.21); it must not be false, and must not be
        given at all from 1.25, where Kubernetes removed it.
    type: dict
    default: {}
  lb_pools:
    description:
      - LoadBalancer address pools for MetalLB (the C(dualstack.kubernetes.metallb_dualstack) role), each a CIDR or
        a C(first-last) range of one family, for example V(192.168.1.240-192.168.1.250) or V(2001:db8::f0/124).
      - When given, both families need a range. No pool may overlap another, the pod or Service CIDRs, a node
        address or O(api_vips), nor touch a special-purpose block; with O(lb_mode=l2) each lies inside O(node_cidrs)
        of its family where those are given, an IPv4 one without that network's first and last address.
    type: list
    elements: str
    default: []
  lb_mode:
    description:
      - How MetalLB announces the pool addresses. V(l2) answers ARP/NDP on the node network (the pools must lie
        on it); V(bgp) announces them to your routers (the pools may lie anywhere routable).
    type: str
    default: l2
    choices: [l2, bgp]
  variable_prefix:
    description:
      - Prefix of the variables the options come from, so that messages and warnings name what the user set
        (V(address_plan_) turns C(pod_cidrs) into C(address_plan_pod_cidrs) and a node's C(ipv6) into
        C(address_plan_node_ipv6 of <node>)).
      - The returned plan is the same either way.
    type: str
    default: ""
  fingerprint:
    description:
      - A digest of the inputs, returned in the plan as it is. The role C(dualstack.kubernetes.address_plan) sets it
        and skips the check when every host already has a plan of the same fingerprint.
    type: str
    default: ""
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.facts
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
    details: It changes nothing, so check mode returns the same plan.
  connection:
    support: none
  delegation:
    support: none
    details: It runs on the controller whatever the host.
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: all
notes:
  - The checks run on the controller with the Python standard library; nodes need nothing.
  - Run it with C(run_once) so that the plan is computed once, every host gets the fact, and a refusal
    (with C(any_errors_fatal)) stops every host.
  - The fact is also a plain variable C(address_plan) while C(inject_facts_as_vars) is on (the default);
    C(ansible_facts.address_plan) works either way.
seealso:
  - module: dualstack.kubernetes.dualstack_sysctl
  - plugin: dualstack.kubernetes.ula_prefix
    plugin_type: filter
author:
  - dualstack.kubernetes contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Check the plan of the kubeadm article's two nodes
  dualstack.kubernetes.address_plan:
    pod_cidrs: [10.244.0.0/16, "fd00:1::/48"]
    service_cidrs: [10.96.0.0/12, "fd00::/108"]
    nodes:
      - {name: master, ipv4: 192.168.1.11, ipv6: "2001:db8::11"}
      - {name: worker, ipv4: 192.168.1.12, ipv6: "2001:db8::12"}
    distribution: kubeadm
    kubernetes_version: "1.31.2"
    calico_version: "3.30.7"
  run_once: true
  any_errors_fatal: true

- name: An IPv6-primary k3s plan with IPv6 VXLAN and smaller node CIDRs
  dualstack.kubernetes.address_plan:
    pod_cidrs: ["fd12:3456:789a:100::/56", 10.42.0.0/16]
    service_cidrs: ["fd12:3456:789a:200::/112", 10.43.0.0/16]
    node_cidrs: ["fd12:3456:789a::/64", 192.168.0.0/24]
    node_mask_ipv6: 64
    nodes:
      - {name: k3s-1, ipv4: 192.168.0.15, ipv6: "fd12:3456:789a::15"}
    distribution: k3s
    kubernetes_version: v1.31.2+k3s1
    calico_version: "3.30.7"
    calico_ipv6_encapsulation: vxlan
  run_once: true
  any_errors_fatal: true

- name: Use the plan on every host
  ansible.builtin.debug:
    msg: "kubelet --node-ip={{ ansible_facts.address_plan.nodes[inventory_hostname].node_ip }}"
"""

RETURN = r"""
ansible_facts:
  description: The fact C(address_plan).
  returned: success
  type: dict
  contains:
    address_plan:
      description: The normalised plan. Lists and values of both families are in primary order.
      returned: success
      type: dict
      contains:
        distribution:
          description: V(kubeadm) or V(k3s).
          type: str
          sample: kubeadm
        kubernetes_version:
          description: The Kubernetes release without a leading v and without a k3s build suffix.
          type: str
          sample: 1.31.2
        k3s_version:
          description: The k3s release as k3s names it (leading v, C(+k3sN) kept); null for kubeadm.
          type: str
          sample: v1.31.2+k3s1
        primary_family:
          description: The family of the first pod CIDR.
          type: str
          sample: ipv4
        families:
          description: Both families, primary first.
          type: list
          elements: str
          sample: [ipv4, ipv6]
        pod_cidrs:
          description: The pod CIDRs, normalised, primary first.
          type: list
          elements: str
          sample: [10.244.0.0/16, "fd00:1::/48"]
        service_cidrs:
          description: The Service CIDRs, normalised, primary first.
          type: list
          elements: str
          sample: [10.96.0.0/12, "fd00::/108"]
        node_cidrs:
          description: The node networks that were given, primary first.
          type: list
          elements: str
          sample: []
        pod_subnet:
          description: The pod CIDRs as kubeadm's C(podSubnet) and k3s's C(cluster-cidr) take them.
          type: str
          sample: 10.244.0.0/16,fd00:1::/48
        service_subnet:
          description: The Service CIDRs as kubeadm's C(serviceSubnet) and k3s's C(service-cidr) take them.
          type: str
          sample: 10.96.0.0/12,fd00::/108
        pod_cidr_by_family:
          description: The pod CIDR of each family.
          type: dict
          sample: {ipv4: 10.244.0.0/16, ipv6: "fd00:1::/48"}
        service_cidr_by_family:
          description: The Service CIDR of each family.
          type: dict
          sample: {ipv4: 10.96.0.0/12, ipv6: "fd00::/108"}
        node_mask:
          description: The node mask of each family.
          type: dict
          sample: {ipv4: 24, ipv6: 64}
        node_cidr_allocation:
          description: Whether kube-controller-manager hands out node CIDRs.
          type: bool
          sample: true
        nodes:
          description:
            - Per node (by name) its addresses and its kubelet C(--node-ip) value, primary first.
            - The C(--node-ip) value holds both addresses from Kubernetes 1.20 on; a kubeadm cluster on an
              older release gets the primary address alone, since that kubelet takes one.
            - C(labels) (sorted by key) and C(taints) (as C({key, value, effect}), C(value) left out where empty) are the
              node's checked labels and taints, empty where none were given.
          type: dict
          sample: {master: {ipv4: 192.168.1.11, ipv6: "2001:db8::11", node_ip: "192.168.1.11,2001:db8::11",
                            labels: {example.com/rack: r1}, taints: [{key: example.com/dedicated, value: db, effect: NoSchedule}]}}
        api_service_ip:
          description: The kubernetes API Service address of each family (the first of the Service CIDR).
          type: dict
          sample: {ipv4: 10.96.0.1, ipv6: "fd00::1"}
        dns_service_ip:
          description: The cluster DNS Service address of each family (the tenth of the Service CIDR).
          type: dict
          sample: {ipv4: 10.96.0.10, ipv6: "fd00::a"}
        node_capacity:
          description:
            - How many nodes the plan holds per family; the smaller of the node CIDRs (when allocated) and the Calico
              pool's blocks.
          type: dict
          sample: {ipv4: 256, ipv6: 65536}
        feature_gates:
          description: The feature gates to give every component, including C(IPv6DualStack) where the release needs it.
          type: dict
          sample: {IPv6DualStack: true}
        calico:
          description: The Calico part of the plan.
          type: dict
          sample:
            version: 3.30.7
            ipv4_pool_cidr: 10.244.0.0/16
            ipv6_pool_cidr: "fd00:1::/48"
            ipv4_block_size: 26
            ipv6_block_size: 122
            ipv6_encapsulation: none
        schema:
          description: The layout version of the plan; consumers refuse a fact of another layout.
          type: int
          sample: 2
        fingerprint:
          description: The O(fingerprint) the plan was computed with.
          type: str
          sample: 3f1c0a...
        decisions:
          description:
            - Every release-dependent choice, so that roles and templates read a decision instead of comparing versions.
            - V(node_ip_pair) kubelet's --node-ip holds both addresses (Kubernetes 1.20 on);
              V(service_ip_families) Services take C(ipFamilies), C(ipFamilyPolicy) and C(clusterIPs) (1.20 on);
              V(feature_gate_needed) components need C(IPv6DualStack=true) (before 1.21);
              V(kubeadm_api_version) the kubeadm config API written; V(kubeadm_extra_args_list) its extraArgs are
              name/value lists (v1beta4); V(kubernetes_apt_packages) pkgs.k8s.io has the release (1.24 on);
              V(k3s_dual_stack_stable), V(k3s_legacy_flags) (C(--no-flannel), up to v1.25),
              V(k3s_flannel_dualstack), V(k3s_flannel_ipv6_masq), V(servicelb_dualstack) (v1.21.7/v1.22.3 on),
              V(traefik_layout) the values layout of the bundled Traefik chart (null where unknown);
              V(calico_mtu_auto) (3.17 on) and V(calico_ipv6_vxlan) (3.23 on).
          type: dict
          sample: {node_ip_pair: true, service_ip_families: true, calico_mtu_auto: true, calico_ipv6_vxlan: true}
        control_planes:
          description: The control-plane nodes in the order given; the first one initialises the cluster.
          type: list
          elements: str
          sample: [cp-1, cp-2, cp-3]
        api_endpoint:
          description:
            - The one API endpoint of the control planes; null where neither O(api_vips) nor O(api_endpoint) is given.
            - C(host) the address or DNS name (no brackets), C(port), C(vips) the virtual IPs in primary order
              (empty for an external endpoint), C(url_host) the host as it goes before C(:port) (an IPv6 address
              in brackets).
          type: dict
          sample: {host: 192.168.1.10, port: 6443, vips: [192.168.1.10, "2001:db8::10"], url_host: 192.168.1.10}
        lb_pools:
          description:
            - The LoadBalancer pool entries of each family as given (CIDRs normalised, ranges as C(first-last)); empty
              lists where O(lb_pools) is empty.
          type: dict
          sample: {ipv4: [192.168.1.240-192.168.1.250], ipv6: ["2001:db8::f0/124"]}
        lb_mode:
          description: The O(lb_mode) the pools were checked for.
          type: str
          sample: l2
        warnings:
          description: What the plan allows but should be known (also shown as task warnings).
          type: list
          elements: str
          sample: ["service_cidrs: fd00::/108 has 20 host bits; ..."]
table:
  description: A short table of the plan, one line per family and per node.
  returned: success
  type: list
  elements: str
  sample:
    - kubeadm 1.31.2, Calico 3.30.7, primary family ipv4
    - "family  pods           services      node mask  max nodes  API IP     DNS IP      Calico pool"
    - "ipv4    10.244.0.0/16  10.96.0.0/12  /24        256        10.96.0.1  10.96.0.10  10.244.0.0/16 /26"
problems:
  description: The problems of a refused plan, one message each; past ten, the first ten and how many more.
  returned: failure
  type: list
  elements: str
  sample:
    - "service_cidrs: fd00::/96 has 32 host bits; kube-apiserver allows at most 20 (mask >= 108 for IPv6). Use a /108../112, e.g. fd00::/112"
"""
