"""Benchmark: playbooks/site.yml on the lab with 1, 3 and 6 nodes.

For each size, fresh lab nodes (host numbers from 101, or --first-host) form one cluster of the chosen kind
(the first node the server or control plane, the rest agents or workers), built with the
lab inventory's settings and the lab's doubles. The first converge and a second run are
timed side by side in the same run of this command, and the table shows wall time and the
tasks each host ran (from the play recap), so the cost of a node and of an idempotent rerun
can be compared across sizes; a line per size gives the second run's share of the first
converge. The nodes are reached the way the lab inventory says (its ansible_connection),
which the output names. A command, not a test: nothing here passes or fails on time.

    . tests/env.sh && python bench/site.py [--kind k3s|kubeadm] [--sizes 1 3 6] [--keep]
                                          [--control-planes N [N ...]]

With --control-planes N the first N nodes are control planes (servers) behind the virtual
IPs 10.250.0.100 and fd42:1ab:250::100 (the host number below the first node; the HA shape), the rest workers (agents). With
several numbers (--control-planes 1 3 --sizes 4) each shape is measured in the same run, one
table each, so their times can be set side by side.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import yaml

REPO = pathlib.Path(__file__).resolve().parents[1]
LAB = REPO / 'tests' / 'lab' / 'lab.sh'
PREFIX = 'dssite'
# Lab host numbers: the nodes from here on, the HA shape's virtual IPs just below them.
# --first-host moves both, e.g. off the kubeadm-ha scenario's 100-109 while the suite runs.
FIRST_HOST = 101
GROUPS = {'k3s': ('k3s_servers', 'k3s_agents'), 'kubeadm': ('kubeadm_control_plane', 'kubeadm_workers')}
RECAP = re.compile(r'^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)', re.M)


def inventory(kind: str, size: int, folder: pathlib.Path, control_planes: int = 1,
              first_host: int = FIRST_HOST) -> pathlib.Path:
    """The lab inventory of that kind, with this run's nodes in its groups."""
    first, rest = GROUPS[kind]
    lines = ['---']
    servers = list(range(first_host, first_host + control_planes))
    for group, numbers in ((first, servers), (rest, list(range(first_host + control_planes, first_host + size)))):
        lines.append(f'{group}:')
        lines.append('  hosts:' if numbers else '  hosts: {}')
        for number in numbers:
            lines += [f'    {PREFIX}-{number - first_host + 1}:',
                      f'      address_plan_node_ipv4: 10.250.0.{number}',
                      f'      address_plan_node_ipv6: "fd42:1ab:250::{number}"']
    (folder / 'hosts.yml').write_text('\n'.join(lines) + '\n')
    # The lab inventory's settings: the group_vars folder sits beside the hosts file.
    (folder / 'group_vars').symlink_to(REPO / 'inventories' / f'lab-{kind}' / 'group_vars')
    return folder / 'hosts.yml'


def transport(kind: str) -> str:
    """How Ansible reaches the nodes: the lab inventory's ansible_connection."""
    settings = yaml.safe_load((REPO / 'inventories' / f'lab-{kind}' / 'group_vars' / 'all.yml').read_text())
    return str(settings.get('ansible_connection', 'ssh'))


def run(path: pathlib.Path, playbook: str, *extra: str) -> tuple[float, dict[str, tuple[int, int, int]]]:
    start = time.monotonic()
    result = subprocess.run(['ansible-playbook', '-i', str(path), '-e', f'lab_repo={REPO}', *extra, playbook],
                            cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f'{playbook} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}')
    recap = {host: (int(ok), int(changed), int(skipped))
             for host, ok, changed, _unreachable, _failed, skipped in RECAP.findall(result.stdout)}
    return elapsed, recap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--kind', choices=sorted(GROUPS), default='k3s')
    parser.add_argument('--sizes', type=int, nargs='+', default=[1, 3, 6])
    parser.add_argument('--keep', action='store_true', help='leave the last size\'s nodes running')
    parser.add_argument('--control-planes', type=int, nargs='+', default=[1],
                        help='control planes (servers) behind virtual IPs, the rest join as workers (agents); '
                             'several numbers measure each shape in the same run')
    parser.add_argument('--first-host', type=int, default=FIRST_HOST,
                        help='lab host number of the first node; the virtual IPs take the number below it')
    args = parser.parse_args()
    if not 2 <= args.first_host <= 254 - max(args.sizes):
        parser.error(f'--first-host {args.first_host} leaves no room for the virtual IPs or the nodes in the lab subnet')
    if any(count < 1 for count in args.control_planes) or any(
            size < count for size in args.sizes for count in args.control_planes):
        parser.error(f'--control-planes {args.control_planes} needs at least 1 and no more than the smallest size')
    for control_planes in args.control_planes:
        measure(args, control_planes)


def measure(args: argparse.Namespace, control_planes: int) -> None:
    """Every size in one shape, then its table."""
    vip = args.first_host - 1
    ha = ['-e', json.dumps({'address_plan_api_vips': [f'10.250.0.{vip}', f'fd42:1ab:250::{vip}']})] \
        if control_planes > 1 else []
    rows = []
    for size in args.sizes:
        subprocess.run([str(LAB), 'down', '-p', PREFIX], check=True, capture_output=True)
        subprocess.run([str(LAB), 'up', '-n', str(size), '-p', PREFIX, '-f', str(args.first_host)], check=True,
                       capture_output=True)
        with tempfile.TemporaryDirectory() as temp:
            path = inventory(args.kind, size, pathlib.Path(temp), control_planes, args.first_host)
            run(path, 'tests/lab/doubles.yml')
            first, first_recap = run(path, 'playbooks/site.yml', *ha)
            second, second_recap = run(path, 'playbooks/site.yml', *ha)
        rows.append((size, first, second,
                     max(ok + skipped for ok, _changed, skipped in first_recap.values()),
                     max(ok + skipped for ok, _changed, skipped in second_recap.values()),
                     sum(changed for _ok, changed, _skipped in second_recap.values())))
        if size != args.sizes[-1] or control_planes != args.control_planes[-1] or not args.keep:
            subprocess.run([str(LAB), 'down', '-p', PREFIX], check=True, capture_output=True)

    shape = f', {control_planes} control planes behind virtual IPs' if control_planes > 1 else ''
    print(f'\nsite.yml, {args.kind}{shape}, on the lab (wall time in seconds; tasks: the most any one host ran)')
    print(f'transport: {transport(args.kind)}')
    print(f'{"nodes":>5} {"first":>8} {"second":>8} {"second/first":>12} {"tasks/host 1st":>14} '
          f'{"tasks/host 2nd":>14} {"changed 2nd":>11}')
    for size, first, second, tasks_first, tasks_second, changed in rows:
        print(f'{size:>5} {first:>8.1f} {second:>8.1f} {second / first:>12.2f} {tasks_first:>14} '
              f'{tasks_second:>14} {changed:>11}')
    for size, first, second, *_rest in rows:
        print(f'{size} nodes: second run / first converge = {second / first:.2f}')
    base = rows[0]
    for size, first, second, *_rest in rows[1:]:
        print(f'{size} nodes against {base[0]}: first converge x{first / base[1]:.2f}, second run x{second / base[2]:.2f}')


if __name__ == '__main__':
    main()
