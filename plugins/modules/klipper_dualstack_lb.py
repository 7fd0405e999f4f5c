#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: klipper_dualstack_lb
short_description: Expose a LoadBalancer Service on the nodes' IPv4 and IPv6 addresses with klipper-lb
description:
  - Builds the C(svclb-<service>) DaemonSet that k3s ServiceLB would run for a Service of type
    LoadBalancer, for both address families; one klipper-lb container per Service port with
    C(hostPort) equal to the port, forwarding to the Service's clusterIPs.
  - For clusters whose ServiceLB handles only one family (k3s before v1.21.7 and v1.22.3), clusters
    that replace ServiceLB, and GitOps repositories that want the DaemonSet as a manifest.
  - The Service is read from the cluster (O(name), O(namespace)) or passed as a dict (O(service)),
    which renders without any cluster access.
  - With O(apply=true) the DaemonSet is created or updated in the Service's namespace with an
    ownerReference to the Service, so that it is deleted together with the Service.
  - The pods need C(net.ipv6.conf.all.forwarding) as a pod sysctl when the Service has an IPv6
    clusterIP. k3s's kubelet allows it; other kubelets need
    C(--allowed-unsafe-sysctls=net.ipv6.conf.all.forwarding).
  - Refuses, naming the field, what the API server would refuse or what would mean something else
    than written (Service, namespace and DaemonSet names over their limits, ports that are not whole
    numbers, C(spec.clusterIPs) that is not a list, C(loadBalancerSourceRanges) entries that are not
    CIDRs). A DaemonSet name longer than a label value gets an C(app) label of its head and a digest.
version_added: 0.1.0
author:
  - dualstack.kubernetes contributors (@dualstack-kubernetes)
requirements:
  - kubernetes >= 24.2.0 (Python library) on the host that runs the module, unless O(service) is given
    and O(apply), O(update_status) and O(state=absent) are not used.
options:
  name:
    description:
      - Name of the Service to read from the cluster.
      - Mutually exclusive with O(service); one of them is required.
    type: str
  namespace:
    description:
      - Namespace of the Service; the DaemonSet is created in the same namespace.
    type: str
    default: default
  service:
    description:
      - The Service object as a dict, for example a rendered manifest or the output of
        M(kubernetes.core.k8s_info). It must carry C(spec.clusterIPs).
      - Only for rendering; O(apply), O(update_status) and O(state=absent) need O(name).
    type: dict
  format:
    description:
      - How the destinations are handed to klipper-lb.
      - V(dest_ips) puts all clusterIPs, space separated, into C(DEST_IPS) and names containers
        C(lb-<protocol>-<port>), as k3s ServiceLB does; klipper-lb v0.3.2 and later read it.
      - V(split) puts the IPv4 clusterIP into C(DEST_IP) and the IPv6 one into C(DEST_IP6) and names
        containers C(lb-port-<port>), the format of the klipper-lb fork the k3s dual-stack article used.
        It needs O(image).
    type: str
    choices: [dest_ips, split]
    default: dest_ips
  image:
    description:
      - The klipper-lb image.
      - Defaults to C(rancher/klipper-lb:v0.4.13) for O(format=dest_ips); required for O(format=split).
    type: str
  daemonset_name:
    description:
      - Name of the DaemonSet. Defaults to C(svclb-<service name>).
    type: str
  node_selector:
    description:
      - nodeSelector for the DaemonSet's pods, to expose the Service only on some nodes.
      - With O(update_status), only these nodes' addresses are written into the Service status.
    type: dict
  apply:
    description:
      - V(false) only builds the DaemonSet and returns it in RV(daemonset).
      - V(true) creates or updates it in the cluster.
    type: bool
    default: false
  state:
    description:
      - V(absent) deletes the DaemonSet (only one this module created) and, with O(update_status),
        clears the Service's C(status.loadBalancer.ingress). The Service need not exist any more.
    type: str
    choices: [present, absent]
    default: present
  update_status:
    description:
      - Write the nodes' addresses into the Service's C(status.loadBalancer.ingress), so that
        C(kubectl get svc) stops showing EXTERNAL-IP C(<pending>).
      - Uses O(status_addresses) when given, else each selected node's ExternalIP addresses (its
        InternalIP addresses where it has none) of the Service's families, primary family first.
    type: bool
    default: false
  status_addresses:
    description:
      - Addresses to write with O(update_status) instead of the nodes' addresses.
    type: list
    elements: str
  wait:
    description:
      - Wait until all pods of the DaemonSet are updated and available (or, with O(state=absent),
        until the DaemonSet is gone).
    type: bool
    default: false
  wait_timeout:
    description:
      - How many seconds to wait with O(wait).
    type: int
    default: 120
  kubeconfig:
    description:
      - Path to a kubeconfig file. Without it and without O(host), C(~/.kube/config) or
        the in-cluster service account is used.
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
    type: path
  context:
    description:
      - The kubeconfig context to use. Can also be set with E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - URL of the API server, instead of a kubeconfig. Can also be set with E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token for O(host). Can also be set with E(K8S_AUTH_API_KEY).
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's certificate. Can also be set with E(K8S_AUTH_VERIFY_SSL).
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - CA certificate that signed the API server's certificate. Can also be set with E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Client certificate for the API server. Can also be set with E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Key of O(client_cert). Can also be set with E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
attributes:
  check_mode:
    support: full
    description: Decides what would change by the same comparison that a real run uses, and writes nothing.
  diff_mode:
    support: full
    description: Shows the DaemonSet fields the module sets, before and after.
notes:
  - Run it where the kubernetes library and the kubeconfig are, usually with C(delegate_to) the controller.
  - "Disable k3s's own ServiceLB (C(disable: [servicelb])) before applying, or its DaemonSet and this one
    compete for the same host ports; the module refuses to touch a DaemonSet it did not create."
seealso:
  - name: k3s ServiceLB
    description: How k3s exposes LoadBalancer Services with klipper-lb.
    link: https://docs.k3s.io/networking/networking-services#service-load-balancer
"""

EXAMPLES = r"""
- name: Expose Traefik on both families of every node
  dualstack.kubernetes.klipper_dualstack_lb:
    name: traefik
    namespace: kube-system
    apply: true
    wait: true
    update_status: true
    kubeconfig: /etc/rancher/k3s/k3s.yaml
  delegate_to: localhost

- name: Render the DaemonSet for a GitOps repository, no cluster needed
  dualstack.kubernetes.klipper_dualstack_lb:
    service: "{{ lookup('ansible.builtin.file', 'traefik-service.json') | from_json }}"
  register: svclb

- name: Write it next to the other manifests
  ansible.builtin.copy:
    content: "{{ svclb.daemonset | ansible.builtin.to_nice_yaml(indent=2) }}"
    dest: clusters/home/svclb-traefik.yaml
    mode: "0644"
  delegate_to: localhost

- name: The article's fork, which reads DEST_IP and DEST_IP6
  dualstack.kubernetes.klipper_dualstack_lb:
    service: "{{ traefik_service }}"
    format: split
    image: registry.example.com/klipper-lb:dual-stack-2021-09

- name: Remove it again and clear EXTERNAL-IP
  dualstack.kubernetes.klipper_dualstack_lb:
    name: traefik
    namespace: kube-system
    state: absent
    update_status: true
  delegate_to: localhost
"""

RETURN = r"""
daemonset:
  description: The DaemonSet built from the Service (with O(state=present)).
  returned: when O(state=present)
  type: dict
  sample:
    apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: svclb-traefik, namespace: kube-system}
    spec:
      template:
        spec:
          containers:
            - name: lb-tcp-80
              env:
                - {name: SRC_PORT, value: "80"}
                - {name: SRC_RANGES, value: "0.0.0.0/0 ::/0"}
                - {name: DEST_PROTO, value: TCP}
                - {name: DEST_PORT, value: "80"}
                - {name: DEST_IPS, value: "10.43.206.211 fd45:a71:55a6:1:2:1:0:db1"}
action:
  description: What was done (or would be done in check mode) to the DaemonSet.
  returned: when O(apply=true) or O(state=absent)
  type: str
  sample: create
result:
  description: The DaemonSet as the API server returned it (the built one in check mode).
  returned: when O(apply=true) and O(state=present)
  type: dict
load_balancer_ingress:
  description: The addresses in the Service's C(status.loadBalancer.ingress) after the run.
  returned: when O(update_status=true)
  type: list
  elements: str
  sample: ["10.250.0.75", "fd42:1ab:250::75"]
diff:
  description: The DaemonSet fields the module sets, before and after.
  returned: when O(apply=true) or O(state=absent)
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import fail_on_error
from ansible_collections.dualstack.kubernetes.plugins.module_utils.klipper_lb import run
from ansible_collections.dualstack.kubernetes.plugins.module_utils.klipper_lb_client import (
    AUTH_ARG_SPEC,
    connect,
)


def argument_spec() -> dict:
    spec = {
        "name": {"type": "str"},
        "namespace": {"type": "str", "default": "default"},
        "service": {"type": "dict"},
        "format": {"type": "str", "choices": ["dest_ips", "split"], "default": "dest_ips"},
        "image": {"type": "str"},
        "daemonset_name": {"type": "str"},
        "node_selector": {"type": "dict"},
        "apply": {"type": "bool", "default": False},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "update_status": {"type": "bool", "default": False},
        "status_addresses": {"type": "list", "elements": "str"},
        "wait": {"type": "bool", "default": False},
        "wait_timeout": {"type": "int", "default": 120},
    }
    spec.update(AUTH_ARG_SPEC)
    return spec


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("name", "service")],
        required_one_of=[("name", "service")],
        supports_check_mode=True,
    )
    fail_on_error(module, lambda: work(module))


def work(module: AnsibleModule) -> dict:
    params = dict(module.params)
    needs_cluster = params["service"] is None or params["apply"] or params["update_status"] \
        or params["state"] == "absent"
    api = connect(params) if needs_cluster and params["service"] is None else None
    result = run(params, api=api, check_mode=module.check_mode)
    if not module._diff:
        result.pop("diff", None)
    return result


if __name__ == "__main__":
    main()
