"""dualstack.kubernetes.plan_report on the example inventories: the address_plan role's fact
in, address-plan.md and an SVG that opens as an image out, and nothing to do the second time.

Opening the SVG needs rsvg-convert (Debian package librsvg2-bin), drawing it in a browser needs
Chromium (Debian package chromium); without them those checks skip."""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
INVENTORIES = [REPO / 'inventories' / name for name in ('kubeadm-article', 'k3s-article')]
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def ansible_env() -> dict:
    return dict(os.environ, ANSIBLE_FORCE_COLOR='0', ANSIBLE_NOCOLOR='1')


@pytest.fixture(scope='module', autouse=True)
def needs_ansible() -> None:
    if shutil.which('ansible-playbook') is None:
        pytest.skip('ansible-playbook is not on PATH: source tests/env.sh first')


def render(inventory: pathlib.Path, dest: pathlib.Path, png: bool = False) -> subprocess.CompletedProcess:
    if not (inventory / 'hosts.yml').is_file():
        pytest.skip(f'{inventory.relative_to(REPO)} is not in this checkout')
    play = [{
        'name': 'Render the address plan report',
        'hosts': 'all',
        'gather_facts': False,
        'roles': ['dualstack.kubernetes.address_plan'],
        'tasks': [{
            'name': 'Write the report',
            'dualstack.kubernetes.plan_report': {'dest': str(dest), 'png': png},
            'run_once': True,
        }],
    }]
    playbook = dest.parent / f'play-{inventory.name}.yml'
    playbook.write_text(json.dumps(play), encoding='utf-8')
    # Nothing reaches the inventory's machines: the role and the report run on the controller.
    return subprocess.run(
        ['ansible-playbook', '-i', str(inventory), '-e', 'ansible_connection=local',
         '-e', f'ansible_python_interpreter={sys.executable}', str(playbook)],
        cwd=REPO, env=ansible_env(), capture_output=True, text=True, timeout=300, check=False)


def recap_changed(output: str) -> int:
    return sum(int(n) for n in re.findall(r'changed=(\d+)', output.split('PLAY RECAP')[-1]))


@pytest.mark.parametrize('inventory', INVENTORIES, ids=[p.name for p in INVENTORIES])
def test_report_renders_and_is_idempotent(inventory: pathlib.Path, tmp_path: pathlib.Path) -> None:
    dest = tmp_path / 'render'
    first = render(inventory, dest)
    assert first.returncode == 0, first.stdout[-8000:] + first.stderr[-4000:]
    assert recap_changed(first.stdout) == 1
    markdown = (dest / 'address-plan.md').read_text(encoding='utf-8')
    svg = (dest / 'address-plan.svg').read_text(encoding='utf-8')
    root = ET.fromstring(svg.encode('utf-8'))
    texts = '\n'.join(el.text or '' for el in root.iter('{http://www.w3.org/2000/svg}text'))
    hosts = subprocess.run(['ansible-inventory', '-i', str(inventory), '--list'], cwd=REPO, env=ansible_env(),
                           capture_output=True, text=True, check=True)
    for name, host in json.loads(hosts.stdout)['_meta']['hostvars'].items():
        for value in (name, host['address_plan_node_ipv4'], host['address_plan_node_ipv6']):
            assert value in markdown and value in texts, value
    second = render(inventory, dest)
    assert second.returncode == 0, second.stdout[-8000:]
    assert recap_changed(second.stdout) == 0


def test_kubeadm_article_report_content(tmp_path: pathlib.Path) -> None:
    dest = tmp_path / 'render'
    run = render(INVENTORIES[0], dest)
    assert run.returncode == 0, run.stdout[-8000:]
    lines = (dest / 'address-plan.md').read_text(encoding='utf-8').splitlines()
    assert '| Pods (cluster CIDR) | 10.244.0.0/16 | fd00:1::/48 |' in lines
    assert '| Services | 10.96.0.0/12 | fd00::/108 |' in lines
    # 1.18.20: the kubelet takes one node-ip, the primary address.
    assert '| master | 192.168.1.11 | 2001:db8::11 | `192.168.1.11` | 10.244.0.0/24 | fd00:1::/64 |' in lines


@pytest.mark.parametrize('inventory', INVENTORIES, ids=[p.name for p in INVENTORIES])
def test_diagram_opens_as_an_image(inventory: pathlib.Path, tmp_path: pathlib.Path) -> None:
    program = shutil.which('rsvg-convert')
    if program is None:
        pytest.skip('rsvg-convert is not installed (Debian package librsvg2-bin): the SVG cannot be opened here')
    dest = tmp_path / 'render'
    run = render(inventory, dest, png=True)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-4000:]
    png = (dest / 'address-plan.png').read_bytes()
    assert png.startswith(PNG_MAGIC)
    # The PNG header's IHDR: width and height of the drawing.
    width, height = int.from_bytes(png[16:20], 'big'), int.from_bytes(png[20:24], 'big')
    assert width >= 400 and height >= 300
    # And the SVG file itself converts on its own, as a viewer would open it.
    converted = subprocess.run([program, '--format', 'png', str(dest / 'address-plan.svg')], capture_output=True, check=False)
    assert converted.returncode == 0, converted.stderr
    assert converted.stdout.startswith(PNG_MAGIC)
    keep = os.environ.get('DUALSTACK_KEEP_RENDER')
    if keep:
        shutil.copy(dest / 'address-plan.png', pathlib.Path(keep) / f'address-plan-{inventory.name}.png')


def png_pixels(data: bytes) -> tuple:
    """Width, height and rows of RGB triples of an 8-bit RGB or RGBA PNG (what Chromium writes)."""
    assert data.startswith(PNG_MAGIC)
    pos, idat, header = 8, b'', b''
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], 'big')
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b'IHDR':
            header = body
        elif kind == b'IDAT':
            idat += body
        pos += 12 + length
    width, height = int.from_bytes(header[0:4], 'big'), int.from_bytes(header[4:8], 'big')
    depth, colour, interlace = header[8], header[9], header[12]
    assert depth == 8 and colour in (2, 6) and interlace == 0, 'only 8-bit RGB(A), not interlaced'
    step = 3 if colour == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * step, [], bytearray(width * step)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        # The five PNG filters (PNG spec, 9.2): each byte relative to its left, upper or both.
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up, corner = prev[i], prev[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                near = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))
                line[i] = (line[i] + near[2]) & 0xFF
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, step)])
        prev = line
    return width, height, rows


def near(pixel: tuple, colour: str, slack: int = 40) -> bool:
    want = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return all(abs(a - b) <= slack for a, b in zip(pixel, want))


@pytest.mark.parametrize('inventory', INVENTORIES, ids=[p.name for p in INVENTORIES])
def test_diagram_draws_in_a_browser(inventory: pathlib.Path, tmp_path: pathlib.Path) -> None:
    program = shutil.which('chromium') or shutil.which('chromium-browser')
    if program is None:
        pytest.skip('chromium is not installed (Debian package chromium): the SVG cannot be drawn in a browser here')
    dest = tmp_path / 'render'
    run = render(inventory, dest)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-4000:]
    svg = dest / 'address-plan.svg'
    root = ET.parse(svg).getroot()
    width, height = int(root.get('width')), int(root.get('height'))
    shot = tmp_path / 'shot.png'
    # A fresh profile and nothing that reaches the network: the browser opens one local file.
    drawn = subprocess.run(
        [program, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run', f'--user-data-dir={tmp_path / "profile"}',
         f'--window-size={width + 40},{height + 40}', f'--screenshot={shot}', svg.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert drawn.returncode == 0 and shot.is_file(), drawn.stderr[-4000:]
    rows = png_pixels(shot.read_bytes())[2]
    picture = [pixel for row in rows[:height] for pixel in row[:width]]
    # Drawn, not blank: a good share of the picture is ink.
    ink = sum(1 for pixel in picture if sum(pixel) < 3 * 235)
    assert ink > len(picture) // 100, f'{ink} of {len(picture)} pixels are not white'
    # The node address buses are drawn in their family's colour: each shows on screen.
    buses = {line.get('stroke') for line in root.iter('{http://www.w3.org/2000/svg}line')}
    assert len(buses) >= 2, buses
    for colour in buses:
        assert any(near(pixel, colour) for pixel in picture), f'no pixel in the colour {colour}'
    keep = os.environ.get('DUALSTACK_KEEP_RENDER')
    if keep:
        shutil.copy(shot, pathlib.Path(keep) / f'address-plan-{inventory.name}-chromium.png')
