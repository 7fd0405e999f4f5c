#!/usr/bin/env python
# Copyright: dualstack.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the k3s double of one k3s release, with that release's upstream facts inside, so
that the copy runs on a node alone and each release has a checksum of its own:

    build.py v1.31.2+k3s1 OUT   ->   {"src": "OUT", "checksum": "sha256:...", "changed": true}

An OUT that already holds the same double is left alone ("changed": false).
"""

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "k3s")


def source_module():
    loader = importlib.machinery.SourceFileLoader("k3s_double_source", SOURCE)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def render(version):
    if not re.match(r"^v\d+\.\d+\.\d+\+k3s\d+$", version):
        raise SystemExit("version %r: write vMAJOR.MINOR.PATCH+k3sN, for example v1.31.2+k3s1" % version)
    module = source_module()
    try:
        facts = module.release_facts(version)
    except module.Refused as exc:
        raise SystemExit(str(exc))
    with open(SOURCE, encoding="utf-8") as handle:
        text = handle.read()
    for marker, line in (('DECLARED_VERSION = "v1.31.2+k3s1"', 'DECLARED_VERSION = "%s"' % version),
                         ("RELEASE_FACTS = None", "RELEASE_FACTS = json.loads(%r)"
                          % json.dumps(facts, sort_keys=True, separators=(",", ":")))):
        if text.count(marker) != 1:
            raise SystemExit("%s has no single %r line" % (SOURCE, marker))
        text = text.replace(marker, line)
    return text


def build(version, out):
    text = render(version)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    try:
        with open(out, encoding="utf-8") as handle:
            changed = handle.read() != text
    except OSError:
        changed = True
    if changed:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
    if os.stat(out).st_mode & 0o777 != 0o755:
        os.chmod(out, 0o755)
        changed = True
    return {"src": os.path.abspath(out), "checksum": "sha256:" + hashlib.sha256(text.encode()).hexdigest(),
            "changed": changed}


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print(json.dumps(build(sys.argv[1], sys.argv[2])))
