"""Benchmark: one dualstack_sysctl task against ansible.posix.sysctl, one task per key.

Both set the same four keys (IPv4 and IPv6 forwarding, bridge-nf-call-iptables and
-ip6tables) live and in a file under /etc/sysctl.d on the same lab node (host number 36).
Before every run the node is put back to the same starting state, outside the timing.
Runs alternate between the two so that drift on the machine hits both alike. Printed:
the median task time (from the ansible.posix.json callback) and the median playbook wall
time of each, and their ratios.

    . tests/env.sh && python bench/sysctl.py [--runs 5] [--keep]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
LAB = REPO / 'tests' / 'lab' / 'lab.sh'
PREFIX = 'dsbench'
HOST_NUMBER = 36
NODE = f'{PREFIX}-1'
KEYS = {
    'net.ipv4.ip_forward': '1',
    'net.ipv6.conf.all.forwarding': '1',
    'net.bridge.bridge-nf-call-iptables': '1',
    'net.bridge.bridge-nf-call-ip6tables': '1',
}
DUALSTACK_FILE = '/etc/sysctl.d/90-dualstack-kubernetes.conf'
POSIX_FILE = '/etc/sysctl.d/90-posix-bench.conf'
# The starting state: nothing persisted, forwarding off, bridge netfilter calls off.
RESET = (f'rm -f {DUALSTACK_FILE} {POSIX_FILE}; '
         'sysctl -qw net.ipv6.conf.all.forwarding=0 net.ipv4.ip_forward=0 '
         'net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0')


def playbooks() -> dict[str, list]:
    dualstack = [{
        'name': 'dualstack_sysctl', 'hosts': NODE, 'gather_facts': False,
        'tasks': [{
            'name': 'measured: dualstack_sysctl',
            'dualstack.kubernetes.dualstack_sysctl': {'accept_ra_interfaces': [], 'sysctl_file': DUALSTACK_FILE},
        }],
    }]
    posix = [{
        'name': 'ansible.posix.sysctl', 'hosts': NODE, 'gather_facts': False,
        'tasks': [{
            'name': f'measured: ansible.posix.sysctl {key}',
            'ansible.posix.sysctl': {'name': key, 'value': value, 'sysctl_file': POSIX_FILE,
                                     'sysctl_set': True, 'reload': False},
        } for key, value in KEYS.items()],
    }]
    return {'dualstack_sysctl': dualstack, 'ansible.posix.sysctl': posix}


def seconds(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace('Z', '+00:00')).timestamp()


def run_once(playbook: pathlib.Path, inventory: pathlib.Path) -> tuple[float, float]:
    """(sum of the measured tasks' durations, playbook wall time) for one run."""
    subprocess.run(['podman', 'exec', NODE, 'sh', '-c', RESET], check=True)
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_CALLBACK_RESULT_FORMAT='json')
    start = time.perf_counter()
    out = subprocess.run(['ansible-playbook', '-i', str(inventory), str(playbook)], env=env, cwd=REPO,
                         capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f'{playbook.name} failed:\n{out.stdout[-4000:]}\n{out.stderr[-2000:]}')
    report = json.loads(out.stdout)
    tasks = 0.0
    for play in report['plays']:
        for task in play['tasks']:
            if task['task']['name'].startswith('measured:'):
                host = task['hosts'][NODE]
                if not host.get('changed'):
                    sys.exit(f'{task["task"]["name"]} did not change the reset node: the runs do not compare')
                duration = task['task']['duration']
                tasks += seconds(duration['end']) - seconds(duration['start'])
    return tasks, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--runs', type=int, default=5, help='runs of each (at least 5)')
    parser.add_argument('--keep', action='store_true', help='leave the node running afterwards')
    args = parser.parse_args()
    if args.runs < 5:
        parser.error('--runs must be at least 5 for a median worth printing')
    with tempfile.TemporaryDirectory(prefix='dualstack-bench-') as scratch:
        work = pathlib.Path(scratch)
        inventory = work / 'inventory.yml'
        up = subprocess.run([str(LAB), 'up', '-n', '1', '-p', PREFIX, '-f', str(HOST_NUMBER), '-i', str(inventory)],
                            capture_output=True, text=True, check=False)
        if up.returncode != 0:
            sys.exit(f'lab.sh up failed:\n{up.stderr}')
        try:
            files = {}
            for name, play in playbooks().items():
                files[name] = work / (name.replace('.', '_') + '.yml')
                files[name].write_text(json.dumps(play), encoding='utf-8')
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in files}
            for _run in range(args.runs):
                for name, path in files.items():
                    results[name].append(run_once(path, inventory))
        finally:
            if not args.keep:
                subprocess.run([str(LAB), 'down', '-p', PREFIX, '-i', str(inventory)], capture_output=True, check=False)
    medians = {name: (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
               for name, runs in results.items()}
    print(f'{len(KEYS)} keys, live and persisted, on {NODE}; median of {args.runs} runs each, alternating')
    print(f'{"":24} {"tasks (s)":>10} {"playbook (s)":>13}')
    for name, (tasks, wall) in medians.items():
        print(f'{name:24} {tasks:10.3f} {wall:13.3f}')
    ours, theirs = medians['dualstack_sysctl'], medians['ansible.posix.sysctl']
    print(f'ratio ansible.posix.sysctl / dualstack_sysctl: tasks {theirs[0] / ours[0]:.2f}x, '
          f'playbook {theirs[1] / ours[1]:.2f}x')


if __name__ == '__main__':
    main()
