# -*- coding: utf-8 -*-
# Copyright: contributors to the dualstack.kubernetes collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The address plan as a Markdown report and an SVG network diagram, and writing them.

Everything here works from the ``address_plan`` fact of the ``dualstack.kubernetes.address_plan``
role and uses only the standard library.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import typing as t
from xml.sax.saxutils import escape
from ansible_collections.dualstack.kubernetes.plugins.module_utils.files import os_error, plan_file


from ansible_collections.dualstack.kubernetes.plugins.module_utils.address_plan import Plan
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError
from ansible_collections.dualstack.kubernetes.plugins.module_utils.rules import FAMILY_LABEL

LABEL = FAMILY_LABEL
BITS = {"ipv4": 32, "ipv6": 128}
# The kube-apiserver's IPv6 Service IP allocator keeps a bitmap of at most 2^16 addresses.
IPV6_SERVICE_ALLOCATOR_CAP = 65536

MARKDOWN_NAME = "address-plan.md"
SVG_NAME = "address-plan.svg"
PNG_NAME = "address-plan.png"


def _require(plan: t.Mapping[str, t.Any], key: str) -> t.Any:
    if key not in plan or plan[key] in (None, ""):
        raise DualstackError("address_plan.%s is missing; pass the fact the dualstack.kubernetes.address_plan role sets" % key)
    return plan[key]


def _family_of(cidr: str) -> str:
    try:
        return "ipv4" if ipaddress.ip_network(cidr, strict=False).version == 4 else "ipv6"
    except ValueError:
        raise DualstackError("%r is not an IP network; fix the address plan variables and run the address_plan role again" % (cidr,))


def families(plan: t.Mapping[str, t.Any]) -> t.List[str]:
    """The plan's families, primary first, as the plan loader reads them."""
    return list(Plan.from_fact(plan).families)


def by_family(cidrs: t.Optional[t.Iterable[str]]) -> t.Dict[str, str]:
    """The first network of each family in a list such as pod_cidrs."""
    found: t.Dict[str, str] = {}
    for cidr in cidrs or []:
        found.setdefault(_family_of(cidr), cidr)
    return found


def node_mask(plan: t.Mapping[str, t.Any], family: str) -> int:
    masks = _require(plan, "node_mask")
    if family not in masks:
        raise DualstackError("address_plan.node_mask has no %s entry" % family)
    return int(masks[family])


def expected_node_blocks(plan: t.Mapping[str, t.Any]) -> t.Dict[str, t.Dict[str, t.Optional[str]]]:
    """Per inventory node and family, the node CIDR it is expected to get.

    kube-controller-manager hands out the blocks of size node_mask of the pod CIDR in turn,
    in the order the nodes register; this takes the plan's node order as that order, so a
    block is an expectation, not a promise. None where the pod CIDR has no block left, and
    {} for every node when node CIDR allocation is off.
    """
    nodes = _require(plan, "nodes")
    if not plan.get("node_cidr_allocation", True):
        return {host: {} for host in nodes}
    pods = by_family(_require(plan, "pod_cidrs"))
    blocks: t.Dict[str, t.Dict[str, t.Optional[str]]] = {host: {} for host in nodes}
    for family in families(plan):
        network = ipaddress.ip_network(pods[family], strict=False)
        mask = node_mask(plan, family)
        if mask < network.prefixlen or mask > BITS[family]:
            raise DualstackError("address_plan.node_mask.%s: %d does not fit the pod CIDR %s; it must lie between %d and %d"
                                 % (family, mask, network, network.prefixlen, BITS[family]))
        count = 2 ** (mask - network.prefixlen)
        size = 2 ** (BITS[family] - mask)
        for index, host in enumerate(nodes):
            if index >= count:
                blocks[host][family] = None
                continue
            start = int(network.network_address) + index * size
            blocks[host][family] = str(ipaddress.ip_network((start, mask)))
    return blocks


def _count(value: int) -> str:
    """A count as digits, or as a power of two once it is too long to read."""
    if value >= 2 ** 24 and value & (value - 1) == 0:
        return "2^%d" % (value.bit_length() - 1)
    return str(value)


def _service_addresses(cidr: str) -> str:
    network = ipaddress.ip_network(cidr, strict=False)
    size = network.num_addresses
    if network.version == 6 and size > IPV6_SERVICE_ALLOCATOR_CAP:
        return "%d (of %s: the allocator uses at most %d)" % (IPV6_SERVICE_ALLOCATOR_CAP, _count(size), IPV6_SERVICE_ALLOCATOR_CAP)
    return _count(size)


def _cell(value: t.Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|") if text else "-"


def _row(cells: t.Iterable[t.Any]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _table(header: t.Sequence[str], rows: t.Iterable[t.Sequence[t.Any]]) -> t.List[str]:
    lines = [_row(header), "|" + "|".join("---" for _name in header) + "|"]
    lines.extend(_row(r) for r in rows)
    return lines


def _endpoint_rows(plan: t.Mapping[str, t.Any]) -> t.List[t.List[t.Any]]:
    """The API endpoint and the control planes, where the plan has several or an endpoint."""
    endpoint = plan.get("api_endpoint")
    control_planes = list(plan.get("control_planes") or [])
    rows: t.List[t.List[t.Any]] = []
    if endpoint:
        where = "virtual IPs %s" % ", ".join(endpoint["vips"]) if endpoint["vips"] else "external load balancer"
        rows.append(["API endpoint", "`%s:%s` (%s)" % (endpoint["url_host"], endpoint["port"], where)])
    if len(control_planes) > 1 or endpoint:
        rows.append(["Control planes", ", ".join(
            "%s (%s)" % (name, "initialises" if index == 0 else "joins") for index, name in enumerate(control_planes))
            or "none listed"])
    return rows


def lb_pools(plan: t.Mapping[str, t.Any]) -> t.Dict[str, t.List[str]]:
    """The LoadBalancer pool entries of each family (none where the plan has no pools)."""
    pools = plan.get("lb_pools") or {}
    return {family: list(pools.get(family) or []) for family in families(plan) if pools.get(family)}


def _lb_pool_rows(plan: t.Mapping[str, t.Any], fams: t.Sequence[str]) -> t.List[t.List[t.Any]]:
    pools = lb_pools(plan)
    if not pools:
        return []
    mode = "%s" % (plan.get("lb_mode") or "l2")
    return [["LoadBalancer pools (MetalLB, %s)" % mode] + [", ".join(pools.get(f) or []) or None for f in fams]]


def markdown(plan: t.Mapping[str, t.Any]) -> str:
    """The address-plan report: settings, networks per family, nodes, Service IPs, capacity, warnings."""
    fams = families(plan)
    labels = [LABEL[f] for f in fams]
    pods = by_family(_require(plan, "pod_cidrs"))
    services = by_family(_require(plan, "service_cidrs"))
    nodes_net = by_family(plan.get("node_cidrs"))
    calico = plan.get("calico") or {}
    nodes = _require(plan, "nodes")
    blocks = expected_node_blocks(plan)
    allocation = bool(plan.get("node_cidr_allocation", True))
    gates = plan.get("feature_gates") or {}
    version = plan.get("k3s_version") or _require(plan, "kubernetes_version")

    out = ["# Address plan", ""]
    out += _table(["Setting", "Value"], [
        ["Distribution", _require(plan, "distribution")],
        ["Kubernetes", version],
        ["Primary family", LABEL[_require(plan, "primary_family")]],
        ["Pod CIDRs (kubeadm podSubnet, k3s cluster-cidr)", "`%s`" % _require(plan, "pod_subnet")],
        ["Service CIDRs (kubeadm serviceSubnet, k3s service-cidr)", "`%s`" % _require(plan, "service_subnet")],
        ["Node CIDR allocation", "on: kube-controller-manager gives each node a block of the pod CIDRs" if allocation
         else "off: Calico IPAM alone hands out pod addresses"],
        ["Feature gates", ", ".join("%s=%s" % (k, str(v).lower()) for k, v in sorted(gates.items())) or "none needed"],
        ["Calico", calico.get("version")],
    ] + _endpoint_rows(plan))
    out += ["", "## Networks", ""]
    rows = [
        ["Pods (cluster CIDR)"] + [pods.get(f) for f in fams],
        ["Services"] + [services.get(f) for f in fams],
        ["Nodes"] + [nodes_net.get(f, "not given") for f in fams],
        ["Node CIDR mask"] + ["/%d" % node_mask(plan, f) for f in fams],
        ["Calico IP pool"] + [calico.get("%s_pool_cidr" % f) or pods.get(f) for f in fams],
        ["Calico block size"] + ["/%s" % calico["%s_block_size" % f] if calico.get("%s_block_size" % f) else None for f in fams],
    ]
    if calico.get("ipv6_encapsulation") and "ipv6" in fams:
        rows.append(["IPv6 encapsulation"] + [calico["ipv6_encapsulation"] if f == "ipv6" else None for f in fams])
    rows += _lb_pool_rows(plan, fams)
    out += _table(["Network"] + labels, rows)

    out += ["", "## Nodes", ""]
    header = ["Node"] + labels + ["node-ip"]
    if allocation:
        header += ["%s pod block (expected)" % label for label in labels]
    node_rows = []
    for host, node in nodes.items():
        row = [host] + [node.get(f) for f in fams] + ["`%s`" % node["node_ip"] if node.get("node_ip") else None]
        if allocation:
            row += [blocks[host].get(f) or "none left" for f in fams]
        node_rows.append(row)
    out += _table(header, node_rows)
    if allocation:
        out += ["", "The controller manager gives the i-th node to register the i-th block of the pod CIDR, so the blocks "
                "above are expected in inventory order, not promised. Calico IPAM assigns the pod addresses themselves "
                "from blocks of its IP pools."]

    out += ["", "## Service addresses", ""]
    api = plan.get("api_service_ip") or {}
    dns = plan.get("dns_service_ip") or {}
    out += _table(["Service"] + labels, [
        ["kubernetes.default (API server)"] + [api.get(f) for f in fams],
        ["Cluster DNS"] + [dns.get(f) for f in fams],
    ])

    out += ["", "## Capacity", ""]
    capacity = plan.get("node_capacity") or {}
    out += _table(["Limit"] + labels, [
        ["Nodes the pod CIDR holds"] + [_count(int(capacity[f])) if f in capacity else None for f in fams],
        ["Addresses per node block"] + [_count(2 ** (BITS[f] - node_mask(plan, f))) for f in fams],
        ["Service addresses"] + [_service_addresses(services[f]) if f in services else None for f in fams],
    ])

    out += ["", "## Warnings", ""]
    warnings = plan.get("warnings") or []
    out += ["- %s" % w for w in warnings] if warnings else ["None."]
    return "\n".join(out) + "\n"


# Diagram geometry, in SVG user units.
_COLOR = {"ipv4": "#1f5fa8", "ipv6": "#1e8a4c"}
_FILL = {"ipv4": "#e8f0fb", "ipv6": "#e6f5ec"}
_CHAR = 7.0
_LINE = 16
_MARGIN = 20
_PER_ROW = 4


def _text(x: float, y: float, value: str, size: int = 12, weight: str = "normal", color: str = "#222222", anchor: str = "start") -> str:
    return ('<text x="%g" y="%g" font-size="%d" font-weight="%s" fill="%s" text-anchor="%s">%s</text>'
            % (x, y, size, weight, color, anchor, escape(value)))


def _rect(x: float, y: float, w: float, h: float, stroke: str, fill: str, dash: bool = False) -> str:
    extra = ' stroke-dasharray="5,3"' if dash else ""
    return ('<rect x="%g" y="%g" width="%g" height="%g" rx="6" fill="%s" stroke="%s" stroke-width="1.5"%s/>'
            % (x, y, w, h, fill, stroke, extra))


def _line(x1: float, y1: float, x2: float, y2: float, color: str, width: float = 2) -> str:
    return '<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="%g"/>' % (x1, y1, x2, y2, color, width)


def svg(plan: t.Mapping[str, t.Any]) -> str:
    """A network figure: per family a node network line with every node on it, each node's
    addresses and expected pod block, then per family the pod and Service networks."""
    fams = families(plan)
    pods = by_family(_require(plan, "pod_cidrs"))
    services = by_family(_require(plan, "service_cidrs"))
    nodes_net = by_family(plan.get("node_cidrs"))
    nodes = _require(plan, "nodes")
    blocks = expected_node_blocks(plan)
    calico = plan.get("calico") or {}
    allocation = bool(plan.get("node_cidr_allocation", True))
    api = plan.get("api_service_ip") or {}
    dns = plan.get("dns_service_ip") or {}

    # Each node box lists its addresses and blocks; its width follows the longest line.
    boxes = []
    for host, node in nodes.items():
        lines = [(f, "%s %s" % (LABEL[f], node.get(f) or "-")) for f in fams]
        lines.append(("", "node-ip %s" % (node.get("node_ip") or "-")))
        pod_lines = []
        if allocation:
            pod_lines = [(f, "%s %s" % (LABEL[f], blocks[host].get(f) or "none left")) for f in fams]
        boxes.append((host, lines, pod_lines))
    longest = max([len(box[0]) for box in boxes] + [len(text) for box in boxes for _family, text in box[1] + box[2]] + [24])
    box_w = longest * _CHAR + 30
    box_h = _LINE * (len(fams) + 2) + 24 + ((_LINE * (len(fams) + 1) + 16) if allocation else 0)
    per_row = min(_PER_ROW, max(1, len(boxes)))
    gap = 30
    title = "Address plan: %s, Kubernetes %s, %s primary" % (
        _require(plan, "distribution"), plan.get("k3s_version") or _require(plan, "kubernetes_version"), LABEL[_require(plan, "primary_family")])

    net_lines = []
    for f in fams:
        net_lines.append("%s pod network %s" % (LABEL[f], pods.get(f, "-")))
        pool = calico.get("%s_pool_cidr" % f) or pods.get(f, "-")
        size = calico.get("%s_block_size" % f)
        net_lines.append("  Calico pool %s%s" % (pool, ", blocks /%s" % size if size else ""))
        net_lines.append("%s Service network %s" % (LABEL[f], services.get(f, "-")))
        net_lines.append("  API %s, DNS %s" % (api.get(f, "-"), dns.get(f, "-")))
    net_w = max(len(s) for s in net_lines) * _CHAR + 30
    width = max(per_row * box_w + (per_row - 1) * gap, len(fams) * net_w + (len(fams) - 1) * gap, len(title) * 8.5) + 2 * _MARGIN

    out: t.List[str] = []
    y = 34
    out.append(_text(_MARGIN, y, title, size=16, weight="bold"))
    y += 26
    bus_y = {}
    # Drawn last, on a white backing, so that the lines to the nodes pass behind them.
    bus_labels = []
    vips = by_family((plan.get("api_endpoint") or {}).get("vips"))
    pools = lb_pools(plan)
    for f in fams:
        label = "%s node network %s" % (LABEL[f], nodes_net[f]) if f in nodes_net else "%s node addresses" % LABEL[f]
        if f in vips:
            label += ", API virtual IP %s" % vips[f]
        if f in pools:
            # With BGP the pool is routed to the nodes, not part of their network.
            label += ", LoadBalancer pool%s %s" % (" (BGP)" if plan.get("lb_mode") == "bgp" else "", ", ".join(pools[f]))
        bus_labels.append('<rect x="%g" y="%g" width="%g" height="15" fill="#ffffff"/>' % (_MARGIN - 3, y - 12, len(label) * 7.4 + 6))
        bus_labels.append(_text(_MARGIN, y, label, size=12, weight="bold", color=_COLOR[f]))
        y += 8
        out.append(_line(_MARGIN, y, width - _MARGIN, y, _COLOR[f], 3))
        bus_y[f] = y
        y += 22
    rows = [boxes[i:i + per_row] for i in range(0, len(boxes), per_row)]
    for row_index, row in enumerate(rows):
        top = y + row_index * (box_h + gap)
        for col, (host, lines, pod_lines) in enumerate(row):
            x = _MARGIN + col * (box_w + gap)
            for i, f in enumerate(fams):
                # Each node hangs off every family's node network.
                px = x + 20 + i * 12
                out.append(_line(px, bus_y[f], px, top, _COLOR[f], 1.5))
                out.append('<circle cx="%g" cy="%g" r="3.5" fill="%s"/>' % (px, bus_y[f], _COLOR[f]))
            out.append(_rect(x, top, box_w, box_h, "#444444", "#ffffff"))
            ty = top + 22
            out.append(_text(x + 12, ty, host, size=14, weight="bold"))
            for f, text in lines:
                ty += _LINE
                out.append(_text(x + 12, ty, text, color=_COLOR.get(f, "#222222")))
            if allocation:
                inner_y = ty + 12
                inner_h = _LINE * (len(fams) + 1) + 8
                out.append(_rect(x + 8, inner_y, box_w - 16, inner_h, "#888888", "#fafafa", dash=True))
                ty = inner_y + _LINE
                out.append(_text(x + 16, ty, "pod block (expected)", size=11, color="#555555"))
                for f, text in pod_lines:
                    ty += _LINE
                    out.append(_text(x + 16, ty, text, color=_COLOR[f]))
    out.extend(bus_labels)
    y = y + len(rows) * (box_h + gap) + 4
    net_h = _LINE * 4 + 22
    for i, f in enumerate(fams):
        x = _MARGIN + i * (net_w + gap)
        out.append(_rect(x, y, net_w, net_h, _COLOR[f], _FILL[f]))
        ty = y + 6
        for text in net_lines[i * 4:(i + 1) * 4]:
            ty += _LINE
            out.append(_text(x + 12, ty, text, color=_COLOR[f], weight="normal" if text.startswith("  ") else "bold"))
    y += net_h + 24
    if allocation:
        note = ("Pod blocks are expected, not promised: kube-controller-manager gives the i-th node to register "
                "the i-th block of the pod network. Calico IPAM assigns pod addresses from its pools' blocks.")
    else:
        note = "Node CIDR allocation is off: Calico IPAM assigns pod addresses from its pools' blocks on demand."
    words, line = note.split(), ""
    limit = int((width - 2 * _MARGIN) / 6.5)
    for word in words:
        if line and len(line) + 1 + len(word) > limit:
            out.append(_text(_MARGIN, y, line, size=11, color="#555555"))
            y += 15
            line = word
        else:
            line = (line + " " + word).strip()
    out.append(_text(_MARGIN, y, line, size=11, color="#555555"))
    height = y + _MARGIN

    head = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans Mono, monospace">'
            % (width, height, width, height))
    return "\n".join([head, "<title>%s</title>" % escape(title),
                      '<rect width="100%" height="100%" fill="#ffffff"/>'] + out + ["</svg>"]) + "\n"


def render(plan: t.Mapping[str, t.Any]) -> t.Dict[str, bytes]:
    """File name to content of every file the report consists of (PNG excepted)."""
    return {MARKDOWN_NAME: markdown(plan).encode("utf-8"), SVG_NAME: svg(plan).encode("utf-8")}


def _text_or_none(data: t.Optional[t.Union[str, bytes]]) -> t.Optional[str]:
    if data is None or isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def write_files(dest: str, files: t.Mapping[str, bytes], check_mode: bool = False, mode: int = 0o644) -> t.Dict[str, t.Any]:
    """Bring ``dest`` to hold ``files``: the same comparison decides what check mode reports
    and what a real run writes (the collection's one file writer, ``files.plan_file``).

    Returns ``changed``, ``files`` (every path), ``written`` (paths that differ) and ``diff``
    (before/after of the text files that differ).
    """
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise DualstackError("dest: %s exists and is not a directory; name a directory for the report" % dest)
    created_dir = not os.path.isdir(dest)
    if created_dir and not check_mode:
        try:
            os.makedirs(dest, mode=0o755, exist_ok=True)
        except OSError as exc:
            raise os_error(dest, exc, "create the folder") from None
    changes = [plan_file(os.path.join(dest, name), files[name], mode, create_folder=created_dir)
               for name in sorted(files)]
    changed = [change for change in changes if change.changed]
    diffs = []
    for change in changed:
        before, after = _text_or_none(change.before or b""), _text_or_none(change.after)
        if before is not None and after is not None:
            diffs.append(change.diff())
        if not check_mode:
            change.apply()
    return {"changed": bool(changed) or created_dir, "files": [change.path for change in changes],
            "written": [change.path for change in changed], "diff": diffs}


def svg_to_png(svg_data: bytes, program: str = "rsvg-convert") -> bytes:
    """The diagram as PNG, drawn by librsvg's rsvg-convert on this machine."""
    found = shutil.which(program)
    if not found:
        raise DualstackError("png: true needs %s on the controller (Debian and Ubuntu package librsvg2-bin, Fedora "
                             "librsvg2-tools); install it or set png: false" % program)
    done = subprocess.run([found, "--format", "png"], input=svg_data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0 or not done.stdout.startswith(b"\x89PNG\r\n\x1a\n"):
        raise DualstackError("%s could not convert the diagram (exit %d): %s" % (found, done.returncode, done.stderr.decode("utf-8", "replace").strip()))
    return done.stdout
