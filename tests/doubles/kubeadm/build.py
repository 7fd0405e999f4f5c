#!/usr/bin/env python
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the kubeadm, kubelet and kubectl stand-ins for one Kubernetes version into a folder,
ready for the roles' offline path (binaries_source: files), and print the list the roles take:

    build.py 1.31.2 OUTDIR   ->   [{"name": "kubeadm", "src": ".../kubeadm", "checksum": "sha256:..."}, ...]
"""

import hashlib
import json
import os
import re
import sys

NAMES = ("kubeadm", "kubelet", "kubectl")


def build(version, outdir):
    if not re.match(r"^\d+\.\d+\.\d+$", version):
        raise SystemExit("version %r: write MAJOR.MINOR.PATCH, for example 1.31.2" % version)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "k8s_double.py")) as handle:
        source = handle.read()
    marker = 'DECLARED_VERSION = "@VERSION@"'
    if marker not in source:
        raise SystemExit("k8s_double.py has no %s line" % marker)
    source = source.replace(marker, 'DECLARED_VERSION = "%s"' % version)
    # The upstream facts go inside, so that the copy runs on a node alone.
    with open(os.path.join(here, os.pardir, "data", "kubernetes.json")) as handle:
        facts = json.load(handle)
    if source.count("\nFACTS = None\n") != 1:
        raise SystemExit("k8s_double.py has no single FACTS = None line")
    source = source.replace("\nFACTS = None\n", "\nFACTS = json.loads(%r)\n"
                            % json.dumps(facts, sort_keys=True, separators=(",", ":")))
    # Lab nodes, like most servers, have python3 but no "python".
    source = "#!/usr/bin/python3\n" + source.split("\n", 1)[1]
    os.makedirs(outdir, exist_ok=True)
    binaries = []
    for name in NAMES:
        target = os.path.join(outdir, name)
        with open(target, "w") as handle:
            handle.write(source)
        os.chmod(target, 0o755)
        binaries.append({"name": name, "src": target,
                         "checksum": "sha256:" + hashlib.sha256(source.encode()).hexdigest()})
    with open(os.path.join(outdir, "binaries.json"), "w") as handle:
        json.dump(binaries, handle, indent=2)
    return binaries


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print(json.dumps(build(sys.argv[1], os.path.abspath(sys.argv[2])), indent=2))
