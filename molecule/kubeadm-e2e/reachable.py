#!/usr/bin/env python
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Can this machine run the kubeadm-e2e scenario? It needs the Kubernetes package repository,
the image registry, and the SHA-256 of the repository key that the user checked themselves
(DUALSTACK_K8S_APT_KEY_SHA256): the roles refuse an unpinned key.

Exit 0 when everything is there. When a host is unreachable (what this machine cannot have),
print one line starting with "SKIP:" and exit 3: tests/functional/test_kubeadm_e2e.py turns it
into a pytest skip, and tests/run skips the scenario on its own through requires-internet. A
missing checksum is a mistake in the setup, not a limit of the machine: exit 2.
"""

import os
import re
import sys
import urllib.error
import urllib.request

MINOR = os.environ.get("DUALSTACK_E2E_KUBERNETES_MINOR", "1.31")
URLS = (
    "https://pkgs.k8s.io/core:/stable:/v%s/deb/Release.key" % MINOR,
    "https://registry.k8s.io/v2/",
)


def unreachable():
    for url in URLS:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10).close()
        except urllib.error.HTTPError:
            continue  # the host answered; the registry answers /v2/ with 401
        except (urllib.error.URLError, OSError) as exc:
            return "%s is unreachable from this machine (%s); the scenario installs real kubeadm " \
                   "packages and pulls real images, so it needs the internet" % (url, getattr(exc, "reason", exc))
    return ""


def unpinned():
    if not re.match(r"^sha256:[0-9a-f]{64}$", os.environ.get("DUALSTACK_K8S_APT_KEY_SHA256", "")):
        return "DUALSTACK_K8S_APT_KEY_SHA256 is not set to sha256:<hex> of %s (check the key's " \
               "fingerprint yourself, then pin its checksum)" % URLS[0]
    return ""


if __name__ == "__main__":
    reason = unreachable()
    if reason:
        print("SKIP: kubeadm-e2e: " + reason)
        sys.exit(3)
    problem = unpinned()
    if problem:
        print("kubeadm-e2e: error: " + problem)
        sys.exit(2)
    print("kubeadm-e2e: the package repository and the registry are reachable")
