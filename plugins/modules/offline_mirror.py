#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the files of an offline mirror folder against their sha256; the work is in module_utils."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: offline_mirror
short_description: Check the release files of an offline mirror folder against their sha256
version_added: 0.1.0
description:
  - Finds the files an install with no internet needs in the mirror folder O(dir), in the layout the
    collection's README describes under I(Installs with no internet), and checks each against the sha256 the
    collection records for that release (C(plugins/module_utils/release_checksums.py)) or the one given in
    O(checksums).
  - Every missing file, damaged file, or file without a known sha256 is named in one refusal, with its path,
    the upstream URL it comes from and the variable to fix; nothing is returned for a folder that is not
    complete, so the roles change no host.
  - Changes nothing; the roles copy the verified files to the nodes.
author:
  - dualstack.kubernetes contributors (@dualstack-kubernetes)
options:
  dir:
    description: The mirror folder, an absolute path on the host the module runs on (the controller).
    type: path
    required: true
  k3s_version:
    description: A k3s release tag, such as C(v1.31.2+k3s1); checks its binary and airgap image tarball.
    type: str
  kubernetes_version:
    description:
      - A Kubernetes release, such as C(1.31.2); checks kubeadm, kubelet and kubectl, and every image tarball
        (C(*.tar)) in C(kubernetes/v<version>/images/).
    type: str
  arch:
    description: The nodes' architecture, as the release files name it.
    type: str
    default: amd64
    choices: [amd64, arm64, arm]
  calico_version:
    description: A Calico release, such as C(3.30.7); checks C(calico/v<version>/calico.yaml).
    type: str
  calico_checksum:
    description: C(sha256:<hex>) of that calico.yaml (the calico_dualstack role's record).
    type: str
    default: ""
  checksums:
    description:
      - C(sha256:<hex>) of files in the folder, by their path in it, for releases the collection records no
        sum of and for the image tarballs a user exported. They take the place of a recorded sum.
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode does the same.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  platform:
    support: full
    platforms: posix
    description: Meant to run on the controller (C(delegate_to) localhost), where the folder is.
notes:
  - The sha256 of each file is computed by reading it in chunks; image tarballs take a few seconds each.
"""

EXAMPLES = r"""
- name: Check the k3s files of the mirror before any node changes
  dualstack.kubernetes.offline_mirror:
    dir: /srv/mirror
    k3s_version: v1.31.2+k3s1
  delegate_to: localhost
  register: mirror

- name: Check kubeadm's binaries and the preloaded images, one of them exported by the user
  dualstack.kubernetes.offline_mirror:
    dir: /srv/mirror
    kubernetes_version: 1.31.2
    checksums:
      kubernetes/v1.31.2/images/kube-apiserver.tar: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  delegate_to: localhost
"""

RETURN = r"""
artifacts:
  description: Each verified file by its name (k3s, k3s_images, kubeadm, kubelet, kubectl, calico).
  returned: success
  type: dict
  sample:
    k3s: {name: k3s, path: k3s/v1.31.2+k3s1/k3s, src: /srv/mirror/k3s/v1.31.2+k3s1/k3s, sha256: 256ca8..., url: https://github.com/...}
images:
  description: The verified image tarballs to preload on kubeadm nodes, in name order.
  returned: success
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dualstack.kubernetes.plugins.module_utils import offline_mirror
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import fail_on_error


def run(module: AnsibleModule) -> dict:
    params = module.params
    wanted = []
    if params["k3s_version"]:
        wanted += offline_mirror.k3s_artifacts(params["k3s_version"], params["arch"])
    if params["kubernetes_version"]:
        wanted += offline_mirror.kubernetes_artifacts(params["kubernetes_version"], params["arch"])
        wanted += offline_mirror.image_artifacts(params["dir"], params["kubernetes_version"])
    if params["calico_version"]:
        wanted.append(offline_mirror.calico_artifact(params["calico_version"], params["calico_checksum"]))
    verified = offline_mirror.verify(params["dir"], wanted, params["checksums"])
    return {
        "changed": False,
        "artifacts": {item["name"]: item for item in verified if item["name"] != "image"},
        "images": [item for item in verified if item["name"] == "image"],
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            dir=dict(type="path", required=True),
            k3s_version=dict(type="str"),
            kubernetes_version=dict(type="str"),
            arch=dict(type="str", default="amd64", choices=["amd64", "arm64", "arm"]),
            calico_version=dict(type="str"),
            calico_checksum=dict(type="str", default=""),
            checksums=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    fail_on_error(module, lambda: run(module))


if __name__ == "__main__":
    main()
