"""How long calico_manifest_patch's work takes next to a ruamel.yaml round trip.

    . tests/env.sh && python bench/calico_patch.py [--repeat N]

Two inputs, both from $DUALSTACK_SHARED/manifests/calico: calico-v3.30.7.yaml, and the
same file with the documents of tigera-operator-v3.28.5.yaml appended (a stream of about
2.2 MB). For each it times, in this one run, the module's own work (scan the stream, patch,
render the diff) and a plain ruamel.yaml load and dump of the same text, which is what a
YAML-library patcher would at least have to do, and prints the ratio of the two. The aim
is a ratio under 0.1. Each time is the process's CPU time (both sides are single-threaded,
and CPU time does not count what other programs on a busy machine take), the best of
--repeat runs.
"""
from __future__ import annotations

import argparse
import io
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / ".build" / "collections"))

from ansible_collections.dualstack.kubernetes.plugins.module_utils.calico_manifest import (  # noqa: E402
    patch_manifest,
    validate_options,
)

SETTINGS = dict(
    ipv4_pool_cidr="10.244.0.0/16",
    ipv6_pool_cidr="fd00:1::/48",
    ipv4_encapsulation="vxlan-crosssubnet",
    ipv6_encapsulation="vxlan-crosssubnet",
    ipv6_nat_outgoing=True,
    mtu="auto",
)


def best_of(repeat: int, work) -> float:
    best = float("inf")
    for _run in range(repeat):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (the best counts)")
    args = parser.parse_args()
    try:
        from ruamel.yaml import YAML
    except ImportError:
        print("ruamel.yaml is missing: run '. tests/env.sh' first", file=sys.stderr)
        return 2
    shared = pathlib.Path(os.environ.get("DUALSTACK_SHARED", REPO.parent / "shared")) / "manifests" / "calico"
    calico = shared / "calico-v3.30.7.yaml"
    operator = shared / "tigera-operator-v3.28.5.yaml"
    if not calico.is_file() or not operator.is_file():
        print(f"the shared manifests are not at {shared}", file=sys.stderr)
        return 2
    base = calico.read_text()
    inputs = [
        ("calico-v3.30.7.yaml", base),
        ("calico-v3.30.7.yaml + tigera-operator-v3.28.5.yaml", base.rstrip("\n") + "\n---\n" + operator.read_text()),
    ]
    opts = validate_options(SETTINGS)

    def module_work(text: str):
        result = patch_manifest(text, opts)
        result.diff("before", "after")
        return result

    def ruamel_round_trip(text: str) -> str:
        yaml = YAML()
        yaml.preserve_quotes = True
        out = io.StringIO()
        yaml.dump_all(list(yaml.load_all(text)), out)
        return out.getvalue()

    print(f"{'input':52} {'bytes':>9} {'module':>9} {'ruamel':>9} {'ratio':>7}")
    worst = 0.0
    for label, text in inputs:
        result = module_work(text)
        assert result.changed and result.lines_removed == 5, "the benchmark input did not patch as expected"
        ours = best_of(args.repeat, lambda: module_work(text))
        theirs = best_of(max(1, args.repeat // 3), lambda: ruamel_round_trip(text))
        ratio = ours / theirs
        worst = max(worst, ratio)
        print(f"{label:52} {len(text.encode()):>9} {ours:>8.3f}s {theirs:>8.3f}s {ratio:>7.4f}")
    print(f"aim: ratio under 0.1; {'met' if worst < 0.1 else 'NOT met'} (worst {worst:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
