# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The calico-config ConfigMap of calico.yaml, trimmed to what the Calico editor reads, and the
first lines of its calico-node DaemonSet, for the tests of what it edits and of what its
results mean."""

from __future__ import annotations

CALICO_CONFIG = """\
kind: ConfigMap
apiVersion: v1
metadata:
  name: calico-config
  namespace: kube-system
data:
  typha_service_name: "none"
  # MTU of pod interfaces.
  veth_mtu: "1440"
  cni_network_config: |-
    {
      "name": "k8s-pod-network",
      "plugins": [
        {
          "type": "calico",
          "mtu": __CNI_MTU__,
          "ipam": {
              "type": "calico-ipam"
          }
        }
      ]
    }
"""

# The calico-node DaemonSet down to its pod spec; each test writes the containers it needs.
CALICO_NODE_HEADER = """\
kind: DaemonSet
apiVersion: apps/v1
metadata:
  name: calico-node
  namespace: kube-system
spec:
  template:
    spec:
"""
