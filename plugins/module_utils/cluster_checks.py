# -*- coding: utf-8 -*-
# Copyright: contributors to the dualstack.kubernetes collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading what a running dual-stack cluster prints, and judging it against the address plan.

The functions take the text of the commands an operator would type (kubectl tables,
``ip -6 route``, ``ip6tables -L -n -t nat``, ping) so that the checks of
``playbooks/verify.yml`` can be tested with real output. Only the standard library is used.
"""

from __future__ import annotations

import ipaddress
import json
import re
import typing as t


from ansible_collections.dualstack.kubernetes.plugins.module_utils import rules
from ansible_collections.dualstack.kubernetes.plugins.module_utils.address_plan import Plan
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError
from ansible_collections.dualstack.kubernetes.plugins.module_utils.rules import FAMILIES, FAMILY_LABEL

PASS = "pass"
FAIL = "fail"
SKIP = "skip"


# What kubectl prints for a column whose JSONPath found nothing.
_NONE = "<none>"
# kubectl separates columns by at least three spaces; header names and cell values such as
# "NOMINATED NODE" or "Ubuntu 18.04.4 LTS" contain single spaces only.
_CELL = re.compile(r"\S+(?: \S+)*")


Result = t.Dict[str, str]


def result(check: str, subject: str, status: str, detail: str) -> Result:
    return {"check": check, "subject": subject, "status": status, "detail": detail}


def address_family(text: str) -> t.Optional[str]:
    """'ipv4' or 'ipv6' for an address or network, None for anything else."""
    try:
        value = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    return "ipv4" if value.version == 4 else "ipv6"


def _network(text: str) -> t.Union[ipaddress.IPv4Network, ipaddress.IPv6Network]:
    return ipaddress.ip_network(text, strict=False)


def _in_any(address: str, networks: t.Iterable[str]) -> bool:
    net = _network(address)
    for cidr in networks:
        other = _network(cidr)
        if other.version == net.version and net.subnet_of(other):  # type: ignore[arg-type]
            return True
    return False


def _lines(text: t.Optional[str]) -> t.List[str]:
    return [line.rstrip() for line in (text or "").splitlines() if line.strip()]


def parse_table(text: t.Optional[str], what: str = "kubectl table") -> t.List[t.Dict[str, str]]:
    """Rows of a kubectl table (default, wide or custom-columns), keyed by the header names.

    A cell kubectl printed as <none> becomes "". Cells are split on runs of two or more
    spaces; where a row has fewer cells than the header (an empty cell), each cell goes to
    the column whose header starts at or before it.
    """
    lines = _lines(text)
    if not lines:
        return []
    header = [(m.start(), m.group()) for m in _CELL.finditer(lines[0])]
    if len(header) < 1 or lines[0][:1].isspace():
        raise DualstackError("%s: the first line %r is not a table header" % (what, lines[0]))
    rows = []
    for line in lines[1:]:
        cells = [(m.start(), m.group()) for m in _CELL.finditer(line)]
        row = {name: "" for _start, name in header}
        if len(cells) == len(header):
            for (_col_start, name), (_cell_start, value) in zip(header, cells):
                row[name] = value
        else:
            for start, value in cells:
                column = header[0][1]
                for col_start, name in header:
                    if col_start <= start:
                        column = name
                row[column] = (row[column] + " " + value).strip()
        rows.append({k: ("" if v == _NONE else v) for k, v in row.items()})
    return rows


def split_addresses(cell: str) -> t.List[str]:
    """Addresses of a cell holding one or more (kubectl joins several with commas)."""
    values = []
    for part in re.split(r"[,\s]+", cell or ""):
        part = part.strip()
        if part and part != _NONE and address_family(part):
            values.append(part)
    return values


def _column(row: t.Dict[str, str], *names: str) -> str:
    for name in row:
        if name.upper() in names:
            return row[name]
    return ""


def parse_node_addresses(text: t.Optional[str]) -> t.Dict[str, t.List[str]]:
    """Node name to its InternalIP addresses, from a table with NAME and INTERNAL-IP columns.

    ``kubectl get nodes -o wide`` shows the first InternalIP only; verify.yml asks for
    ``INTERNAL-IP:.status.addresses[?(@.type=="InternalIP")].address``, which lists all.
    """
    rows = parse_table(text, "node listing")
    if rows and "INTERNAL-IP" not in {k.upper() for k in rows[0]}:
        raise DualstackError("node listing: no INTERNAL-IP column in %r; list the nodes with -o wide or "
                             "custom-columns NAME and INTERNAL-IP" % sorted(rows[0]))
    return {_column(row, "NAME"): split_addresses(_column(row, "INTERNAL-IP")) for row in rows}


def parse_pod_addresses(text: t.Optional[str]) -> t.List[t.Dict[str, t.Any]]:
    """Pods with namespace, name, node, phase and every address a column shows.

    Address columns are those named IP, IPS, IPV4, IPV6 or POD-IPS (custom-columns joins
    several addresses with commas). Namespace, node and phase are "" where not listed.
    """
    pods = []
    for row in parse_table(text, "pod listing"):
        addresses: t.List[str] = []
        for name, value in row.items():
            if name.upper() in ("IP", "IPS", "IPV4", "IPV6", "POD-IPS", "POD-IP"):
                addresses.extend(split_addresses(value))
        pods.append({
            "namespace": _column(row, "NAMESPACE"),
            "name": _column(row, "NAME"),
            "node": _column(row, "NODE"),
            "phase": _column(row, "STATUS", "PHASE"),
            "addresses": addresses,
        })
    return pods


def parse_ip_pools(text: t.Optional[str]) -> t.List[t.Dict[str, str]]:
    """Calico IP pools: name, and cidr where the listing has a CIDR column ("" otherwise)."""
    return [{"name": _column(row, "NAME"), "cidr": _column(row, "CIDR")} for row in parse_table(text, "IP pool listing")]


def parse_ipam_blocks(text: t.Optional[str]) -> t.List[t.Dict[str, str]]:
    """Calico IPAM blocks: name, cidr and the node of a ``host:<node>`` affinity ("" when none)."""
    blocks = []
    for row in parse_table(text, "IPAM block listing"):
        affinity = _column(row, "AFFINITY")
        node = affinity[len("host:"):] if affinity.startswith("host:") else ""
        blocks.append({"name": _column(row, "NAME"), "cidr": _column(row, "CIDR"), "node": node})
    return blocks


_ROUTE_TYPES = ("unicast", "local", "broadcast", "multicast", "blackhole", "unreachable", "prohibit", "throw", "nat", "anycast")


def parse_ip_routes(text: t.Optional[str]) -> t.List[t.Dict[str, str]]:
    """Routes of ``ip route`` / ``ip -6 route``: type, dst (a network, or "default"), via, dev, proto."""
    routes = []
    for line in _lines(text):
        words = line.split()
        kind = "unicast"
        if words[0] in _ROUTE_TYPES:
            kind = words.pop(0)
        if not words:
            continue
        dst = words[0]
        if dst != "default":
            if not address_family(dst):
                raise DualstackError("route listing: %r does not start with a destination; pass the output of "
                                     "`ip -6 route show`" % line)
            dst = str(_network(dst))
        fields = {"type": kind, "dst": dst, "via": "", "dev": "", "proto": ""}
        for key in ("via", "dev", "proto"):
            if key in words[1:-1]:
                fields[key] = words[words.index(key, 1) + 1]
        routes.append(fields)
    return routes


_CHAIN = re.compile(r"^Chain (\S+)")


def parse_iptables_listing(text: t.Optional[str]) -> t.Dict[str, t.List[t.Dict[str, str]]]:
    """Rules per chain of ``iptables -L -n`` or ``ip6tables -L -n``: target, prot, source, destination, extra."""
    chains: t.Dict[str, t.List[t.Dict[str, str]]] = {}
    current = None
    for line in _lines(text):
        match = _CHAIN.match(line)
        if match:
            current = chains.setdefault(match.group(1), [])
            continue
        words = line.split()
        if words[:2] == ["target", "prot"]:
            continue
        if current is None:
            raise DualstackError("iptables listing: rule %r comes before any 'Chain' line; pass the output of "
                                 "`ip6tables -L -n -t nat`" % line)
        rest = words[2:]
        # IPv4 listings print an "opt" column ("--"); ip6tables leaves it blank.
        if rest and (rest[0] == "--" or rest[0] in ("-f", "!f")):
            rest = rest[1:]
        current.append({
            "target": words[0],
            "prot": words[1] if len(words) > 1 else "",
            "source": rest[0] if rest else "",
            "destination": rest[1] if len(rest) > 1 else "",
            "extra": " ".join(rest[2:]),
        })
    return chains


def has_nat_outgoing(chains: t.Dict[str, t.List[t.Dict[str, str]]]) -> bool:
    """Whether Calico's cali-nat-outgoing chain masquerades (a pool with natOutgoing)."""
    return any(rule["target"] == "MASQUERADE" for rule in chains.get("cali-nat-outgoing", []))


_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_REPLY = re.compile(r"\d+ bytes from ")


def parse_ping(text: t.Optional[str]) -> t.Dict[str, int]:
    """Packets sent and answered, from iputils or busybox ping output.

    Without the summary line (output cut short) the replies are counted instead, and
    ``transmitted`` is -1.
    """
    body = text or ""
    summary = _SUMMARY.search(body)
    if summary:
        return {"transmitted": int(summary.group(1)), "received": int(summary.group(2))}
    return {"transmitted": -1, "received": len(_REPLY.findall(body))}


def parse_cluster_ips(text: t.Optional[str]) -> t.List[str]:
    """A Service's clusterIPs from ``-o jsonpath={.spec.clusterIPs}`` (a JSON list) or a comma list."""
    body = (text or "").strip()
    if not body:
        return []
    if body.startswith("["):
        try:
            values = json.loads(body)
        except ValueError as exc:
            raise DualstackError("clusterIPs: %r is not a JSON list (%s); pass the output of "
                                 "-o jsonpath={.spec.clusterIPs}" % (body, exc))
        return [str(value) for value in values]
    return split_addresses(body)


def _json_items(text: t.Optional[str], what: str) -> t.List[t.Dict[str, t.Any]]:
    """Objects of ``kubectl get ... -o json``: one object, or the items of a List ([] for no output,
    which is what ``--ignore-not-found`` prints for a missing object).

    kubectl prints one named object as itself and anything else as a ``List``, and nothing at all
    when --ignore-not-found found nothing (kubernetes/kubectl pkg/cmd/get/get.go, printGeneric).
    """
    body = (text or "").strip()
    if not body:
        return []
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise DualstackError("%s: the output is not JSON (%s); pass the output of kubectl get -o json" % (what, exc))
    if not isinstance(value, dict):
        raise DualstackError("%s: %r is not a Kubernetes object or List; pass the output of kubectl get -o json" % (what, body[:80]))
    items = value.get("items") if value.get("kind", "").endswith("List") else [value]
    return [item for item in items or [] if isinstance(item, dict)]


def parse_services(text: t.Optional[str]) -> t.List[t.Dict[str, t.Any]]:
    """Services of ``kubectl get services -o json``: name, namespace, type, cluster_ips
    (spec.clusterIPs, else spec.clusterIP), ip_family (the alpha spec.ipFamily of 1.18 and
    1.19, "" otherwise), ports (name, port, node_port) and the load balancer addresses
    (status.loadBalancer.ingress ips, and spec.externalIPs apart)."""
    services = []
    for item in _json_items(text, "Service listing"):
        meta = item.get("metadata") or {}
        spec = item.get("spec") or {}
        status = (item.get("status") or {}).get("loadBalancer") or {}
        cluster_ips = [str(ip) for ip in spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
                       if address_family(str(ip))]
        services.append({
            "name": str(meta.get("name", "")),
            "namespace": str(meta.get("namespace", "")),
            "type": str(spec.get("type") or "ClusterIP"),
            "cluster_ips": cluster_ips,
            "ip_family": str(spec.get("ipFamily") or ""),
            "ports": [{"name": str(port.get("name") or ""), "port": int(port.get("port") or 0),
                       "node_port": int(port.get("nodePort") or 0)} for port in spec.get("ports") or []],
            "ingress": [str(entry["ip"]) for entry in status.get("ingress") or [] if entry.get("ip")],
            "external_ips": [str(ip) for ip in spec.get("externalIPs") or []],
        })
    return services


def format_table(results: t.Sequence[Result]) -> str:
    """Results as an aligned text table, with a closing count line."""
    headers = ("CHECK", "SUBJECT", "RESULT", "DETAIL")
    rows = [(r["check"], r["subject"], r["status"].upper(), r["detail"]) for r in results]
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers[:-1])]
    lines = []
    for row in [headers] + rows:
        cells = [str(cell).ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    counts = {status: sum(1 for r in results if r["status"] == status) for status in (PASS, FAIL, SKIP)}
    lines.append("%d passed, %d failed, %d skipped" % (counts[PASS], counts[FAIL], counts[SKIP]))
    return "\n".join(lines)


def read_plan(plan: t.Any) -> Plan:
    """The address_plan fact, read once by the loader (not checked again)."""
    return Plan.from_fact(plan)


def _plan_families(plan: t.Any) -> t.List[str]:
    return list(read_plan(plan).families)


def _release(release: t.Tuple[int, ...]) -> str:
    return "%d.%d" % release[:2]


def match_nodes(plan: t.Mapping[str, t.Any], node_addresses: t.Mapping[str, t.List[str]]) -> t.Dict[str, str]:
    """Inventory host to Kubernetes node name: by a planned address the node reports, else by name."""
    found = {}
    for host, planned in (plan.get("nodes") or {}).items():
        wanted = {str(planned.get(family) or "") for family in FAMILIES} - {""}
        for name, addresses in node_addresses.items():
            if wanted & set(addresses):
                found[host] = name
                break
        else:
            if host in node_addresses:
                found[host] = host
    return found


def check_node_addresses(plan: t.Mapping[str, t.Any], nodes_text: t.Optional[str]) -> t.List[Result]:
    """Every node reports an InternalIP of each family, and the planned ones."""
    check = "node InternalIPs"
    families = _plan_families(plan)
    reported = parse_node_addresses(nodes_text)
    matched = match_nodes(plan, reported)
    by_name = {name: host for host, name in matched.items()}
    results = []
    for host in plan.get("nodes") or {}:
        if host not in matched:
            planned = plan["nodes"][host]
            results.append(result(check, host, FAIL, "no registered node has the name or an address of %s (%s); "
                                  "the node has not joined the cluster" % (host, planned.get("node_ip", ""))))
    for name, addresses in reported.items():
        planned = (plan.get("nodes") or {}).get(by_name.get(name, ""), {})
        have = {family: [a for a in addresses if address_family(a) == family] for family in families}
        missing = [f for f in families if not have[f]]
        shown = ", ".join(addresses) or "none"
        # Before 1.20 the kubelet takes one node-ip, so the plan gives only the primary address
        # and the node cannot report the other: that is the release, not a mistake to fix.
        one_address = bool(planned.get("node_ip")) and "," not in str(planned["node_ip"])
        if missing and one_address and have[families[0]]:
            detail = "reports InternalIP %s only: the kubelet of Kubernetes %s takes one node-ip (a pair from %s)" % (
                shown, plan.get("kubernetes_version", ""), _release(rules.KUBELET_NODE_IP_PAIR))
            results.append(result(check, name, SKIP, detail))
            continue
        if missing:
            fix = "kubelet's node-ip is missing the %s address" % " and ".join(FAMILY_LABEL[f] for f in missing)
            if planned.get("node_ip"):
                fix += "; set node-ip to %s" % planned["node_ip"]
            else:
                fix += "; set node-ip to the node's IPv4 and IPv6 addresses, comma separated"
            results.append(result(check, name, FAIL, "reports InternalIP %s only: %s" % (shown, fix)))
            continue
        wrong = [planned[f] for f in families if planned.get(f) and planned[f] not in have[f]]
        if wrong:
            planned_addresses = ",".join(str(planned[f]) for f in families if planned.get(f))
            results.append(result(check, name, FAIL, "reports InternalIP %s, the plan says %s; set node-ip to %s"
                                  % (shown, planned_addresses, planned.get("node_ip", ""))))
        else:
            results.append(result(check, name, PASS, shown))
    if not reported:
        results.append(result(check, "cluster", FAIL, "the node listing is empty"))
    return results


def check_pod_addresses(plan: t.Mapping[str, t.Any], pods_text: t.Optional[str], limit: int = 5) -> t.List[Result]:
    """Every running pod has an address of each family (one row, naming the pods that do not)."""
    check = "pod addresses"
    families = _plan_families(plan)
    pods = [p for p in parse_pod_addresses(pods_text) if p["phase"] in ("", "Running")]
    if not pods:
        return [result(check, "running pods", FAIL, "no running pod is listed")]
    bad = []
    for pod in pods:
        missing = [FAMILY_LABEL[f] for f in families if not any(address_family(a) == f for a in pod["addresses"])]
        if missing:
            where = " on %s" % pod["node"] if pod["node"] else ""
            name = "%s/%s" % (pod["namespace"], pod["name"]) if pod["namespace"] else pod["name"]
            bad.append("%s%s has no %s address (%s)" % (name, where, "/".join(missing), ", ".join(pod["addresses"]) or "none"))
    if not bad:
        return [result(check, "running pods", PASS, "%d pods, each with %s" % (len(pods), " and ".join(FAMILY_LABEL[f] for f in families)))]
    more = " and %d more" % (len(bad) - limit) if len(bad) > limit else ""
    return [result(check, "running pods", FAIL, "%d of %d: %s%s" % (len(bad), len(pods), "; ".join(bad[:limit]), more))]


def _pool_cidrs(plan: t.Mapping[str, t.Any]) -> t.Dict[str, str]:
    """The planned Calico pool of each family: the explicit pool CIDR, else the pod CIDR."""
    calico = plan.get("calico") or {}
    pools = {}
    for cidr in plan.get("pod_cidrs") or []:
        pools[address_family(cidr) or ""] = cidr
    for family in FAMILIES:
        if calico.get("%s_pool_cidr" % family):
            pools[family] = calico["%s_pool_cidr" % family]
    return pools


def check_ip_pools(plan: t.Mapping[str, t.Any], pools_text: t.Optional[str]) -> t.List[Result]:
    """A Calico IP pool of each family exists (and is the planned one where CIDRs are listed)."""
    check = "Calico IP pools"
    planned = _pool_cidrs(plan)
    pools = parse_ip_pools(pools_text)
    results = []
    for family in _plan_families(plan):
        label = FAMILY_LABEL[family]
        if any(p["cidr"] for p in pools):
            mine = [p for p in pools if address_family(p["cidr"]) == family]
        else:
            # The default listing (NAME, AGE) has no CIDR; Calico names the pools it makes
            # from CALICO_IPV4POOL_CIDR / CALICO_IPV6POOL_CIDR default-ipv4-ippool and default-ipv6-ippool.
            mine = [p for p in pools if family in p["name"].lower()]
        if not mine:
            detail = "no %s pool (pools: %s)" % (label, ", ".join(p["name"] for p in pools) or "none")
            if family == "ipv6":
                detail += "; calico-node makes the IPv6 pool only with FELIX_IPV6SUPPORT true, IP6=autodetect and an IPv6 pod CIDR"
            results.append(result(check, label, FAIL, detail))
            continue
        shown = ", ".join(("%s %s" % (p["name"], p["cidr"])).strip() for p in mine)
        want = planned.get(family)
        if want and all(p["cidr"] for p in mine) and not any(_network(p["cidr"]) == _network(want) for p in mine):
            results.append(result(check, label, FAIL, "%s; the plan's pool is %s" % (shown, want)))
        else:
            results.append(result(check, label, PASS, shown))
    return results


def check_ipam_blocks(plan: t.Mapping[str, t.Any], blocks_text: t.Optional[str], node_names: t.Iterable[str]) -> t.List[Result]:
    """Every node holds a Calico IPAM block of each family, inside the planned pool."""
    check = "Calico IPAM blocks"
    pools = _pool_cidrs(plan)
    blocks = parse_ipam_blocks(blocks_text)
    results = []
    for node in node_names:
        mine = [b for b in blocks if b["node"] == node]
        problems = []
        for family in _plan_families(plan):
            have = [b["cidr"] for b in mine if address_family(b["cidr"]) == family]
            if not have:
                problems.append("no %s block" % FAMILY_LABEL[family])
            elif pools.get(family) and not all(_in_any(cidr, [pools[family]]) for cidr in have):
                problems.append("%s outside the pool %s" % (", ".join(have), pools[family]))
        shown = ", ".join(b["cidr"] for b in mine) or "no blocks"
        if problems:
            results.append(result(check, node, FAIL, "%s (%s); Calico gives a node blocks when a pod starts on it, "
                                  "with assign_ipv4 and assign_ipv6 \"true\" in the CNI ipam config" % ("; ".join(problems), shown)))
        else:
            results.append(result(check, node, PASS, shown))
    return results


def check_ipv6_routes(node: str, routes_text: t.Optional[str], blocks_text: t.Optional[str]) -> Result:
    """The node routes every other node's IPv6 Calico block (BGP or VXLAN alike)."""
    check = "IPv6 routes to pod blocks"
    routes = [r for r in parse_ip_routes(routes_text) if r["type"] == "unicast"]
    by_dst = {r["dst"]: r for r in routes}
    others = [b for b in parse_ipam_blocks(blocks_text) if b["node"] and b["node"] != node and address_family(b["cidr"]) == "ipv6"]
    if not others:
        return result(check, node, SKIP, "no other node holds an IPv6 block")
    missing, found = [], []
    for block in others:
        route = by_dst.get(str(_network(block["cidr"])))
        if route is None:
            missing.append("%s (%s)" % (block["cidr"], block["node"]))
        else:
            found.append("%s via %s" % (block["cidr"], route["via"] or route["dev"]))
    if missing:
        return result(check, node, FAIL, "no route to %s; calico-node's BGP (or IPv6 VXLAN) has not shared them" % ", ".join(missing))
    return result(check, node, PASS, "; ".join(found))


def check_service(plan: t.Mapping[str, t.Any], name: str, cluster_ips: t.Sequence[str]) -> Result:
    """A RequireDualStack Service has one clusterIP of each family, inside the Service CIDRs."""
    check = "Service clusterIPs"
    families = _plan_families(plan)
    have = {family: [ip for ip in cluster_ips if address_family(ip) == family] for family in families}
    missing = [FAMILY_LABEL[f] for f in families if not have[f]]
    shown = ", ".join(cluster_ips) or "none"
    if missing:
        return result(check, name, FAIL, "clusterIPs %s: no %s address; the API server needs a Service CIDR of each "
                      "family (--service-cluster-ip-range) and the Service ipFamilyPolicy RequireDualStack" % (shown, "/".join(missing)))
    outside = [ip for ip in cluster_ips if not _in_any(ip, plan.get("service_cidrs") or [ip])]
    if outside:
        return result(check, name, FAIL, "clusterIPs %s: %s outside the Service CIDRs %s" % (shown, ", ".join(outside), ", ".join(plan["service_cidrs"])))
    return result(check, name, PASS, shown)


def url_for(address: str, port: int) -> str:
    host = "[%s]" % address if address_family(address) == "ipv6" else address
    return "http://%s:%d/" % (host, port)


def check_http(answers: t.Sequence[t.Mapping[str, t.Any]]) -> t.List[Result]:
    """HTTP answers from the test Service: registered results of ansible.builtin.uri with item {address, url, source}."""
    check = "Service answers"
    results = []
    for answer in answers:
        item = answer.get("item") or {}
        subject = "%s %s" % (FAMILY_LABEL.get(address_family(str(item.get("address", ""))) or "", "?"), item.get("address", ""))
        status = answer.get("status", -1)
        source = " from %s" % item["source"] if item.get("source") else ""
        if status == 200:
            results.append(result(check, subject, PASS, "HTTP 200%s" % source))
        else:
            why = answer.get("msg") or "status %s" % status
            results.append(result(check, subject, FAIL, "%s%s: %s" % (item.get("url", ""), source, why)))
    return results


def verify_probes(plan: t.Mapping[str, t.Any], nodes_text: t.Optional[str], pods_text: t.Optional[str],
                  outside: str = "", service: t.Optional[str] = "", port: int = 80,
                  services: t.Optional[str] = "", traefik: t.Optional[str] = "") -> t.Dict[str, t.Any]:
    """Which address each probe pings or asks: from the test pods' listing (one pod per node),
    the nodes, the test Service's clusterIPs (``service``, the jsonpath text), the test
    Services (``services``, ``-o json``) and the Traefik Service (``traefik``, ``-o json``).

    Pod i pings the pod on the next node, and a pod on another node pings every node address
    of each family; each inventory node pings the test pod of the next node; with ``outside``
    set, every pod and node pings it too. Returns ``{"pod_pings": [probe...], "node_pings":
    {host: [probe...]}, "http": [{address, url}...], "outside": [{check, service, subject,
    address, url}...]}`` (``outside``: the NodePorts and the Traefik web entry point, asked from
    outside the cluster); a probe is ``{check, source, pod, node, target, target_label}`` (pod
    "" for node probes).
    """
    reported = parse_node_addresses(nodes_text)
    matched = match_nodes(plan, reported)
    pods = sorted((p for p in parse_pod_addresses(pods_text) if p["phase"] in ("", "Running")), key=lambda p: p["node"])
    pod_v6 = [(p, [a for a in p["addresses"] if address_family(a) == "ipv6"]) for p in pods]
    pod_v6 = [(p, v6[0]) for p, v6 in pod_v6 if v6]
    nodes = [p["node"] for p, _address in pod_v6]
    pod_pings: t.List[t.Dict[str, str]] = []
    node_pings: t.Dict[str, t.List[t.Dict[str, str]]] = {host: [] for host in (plan.get("nodes") or {})}
    if len(pod_v6) > 1:
        for i, (pod, _address) in enumerate(pod_v6):
            peer, address = pod_v6[(i + 1) % len(pod_v6)]
            pod_pings.append({"check": "pod to pod IPv6", "source": "%s on %s" % (pod["name"], pod["node"]), "pod": pod["name"],
                              "node": pod["node"], "target": address, "target_label": "%s on %s" % (peer["name"], peer["node"])})
    for host in node_pings:
        name = matched.get(host, host)
        if name in nodes and len(pod_v6) > 1:
            peer, address = pod_v6[(nodes.index(name) + 1) % len(pod_v6)]
        elif pod_v6 and name not in nodes:
            peer, address = pod_v6[0]
        else:
            continue
        node_pings[host].append({"check": "node to pod IPv6", "source": host, "pod": "", "node": name,
                                 "target": address, "target_label": "%s on %s" % (peer["name"], peer["node"])})
    if outside:
        for pod, _address in pod_v6:
            pod_pings.append({"check": "pod to outside IPv6", "source": "%s on %s" % (pod["name"], pod["node"]), "pod": pod["name"],
                              "node": pod["node"], "target": outside, "target_label": outside})
        for host in node_pings:
            node_pings[host].append({"check": "node to outside IPv6", "source": host, "pod": "", "node": matched.get(host, host),
                                     "target": outside, "target_label": outside})
    pod_pings.extend(_pod_to_node_probes(plan, nodes_text, pods))
    http = [{"address": address, "url": url_for(address, port)} for address in parse_cluster_ips(service)]
    return {"pod_pings": pod_pings, "node_pings": node_pings, "http": http,
            "outside": nodeport_probes(plan, nodes_text, services) + traefik_probes(traefik)}


def _family_label(address: str) -> str:
    return FAMILY_LABEL.get(address_family(address) or "", "?")


def node_targets(plan: t.Mapping[str, t.Any], nodes_text: t.Optional[str]) -> t.List[t.Dict[str, str]]:
    """Each node's address of each planned family: its InternalIP, else (a kubelet of a release
    that takes one node-ip reports only the first family) the plan's address of the node."""
    reported = parse_node_addresses(nodes_text)
    host_of = {name: host for host, name in match_nodes(plan, reported).items()}
    targets = []
    for name in sorted(reported):
        planned = (plan.get("nodes") or {}).get(host_of.get(name, ""), {})
        for family in _plan_families(plan):
            have = [a for a in reported[name] if address_family(a) == family]
            address = have[0] if have else str(planned.get(family) or "")
            if address:
                targets.append({"node": name, "family": family, "address": address})
    return targets


def _pod_to_node_probes(plan: t.Mapping[str, t.Any], nodes_text: t.Optional[str],
                        pods: t.Sequence[t.Mapping[str, t.Any]]) -> t.List[t.Dict[str, str]]:
    """A test pod on another node (the one on the node before, in name order) pings each node
    address; a single-node cluster's pod pings its own node."""
    if not pods:
        return []
    probes = []
    for target in node_targets(plan, nodes_text):
        others = [p for p in pods if p["node"] != target["node"]]
        earlier = [p for p in others if p["node"] < target["node"]]
        pod = (earlier[-1] if earlier else others[-1]) if others else pods[0]
        probes.append({"check": "pod to node %s" % FAMILY_LABEL[target["family"]], "source": "%s on %s" % (pod["name"], pod["node"]),
                       "pod": pod["name"], "node": pod["node"], "target": target["address"],
                       "target_label": "node %s %s" % (target["node"], target["address"])})
    return probes


def _service_families(service: t.Mapping[str, t.Any]) -> t.List[str]:
    """The families a test Service serves: its ipFamily (1.18/1.19 form), else its clusterIPs'."""
    if service["ip_family"]:
        return [f for f in FAMILIES if FAMILY_LABEL[f] == service["ip_family"]]
    return [f for f in FAMILIES if any(address_family(ip) == f for ip in service["cluster_ips"])]


def nodeport_probes(plan: t.Mapping[str, t.Any], nodes_text: t.Optional[str], services_text: t.Optional[str]) -> t.List[t.Dict[str, t.Any]]:
    """Every node address of each family on the NodePort of the test Service serving that family."""
    targets = node_targets(plan, nodes_text)
    probes = []
    for service in parse_services(services_text):
        ports = [p["node_port"] for p in service["ports"] if p["node_port"]]
        if not ports:
            continue
        for family in _service_families(service):
            for target in (x for x in targets if x["family"] == family):
                probes.append({"check": "NodePort %s" % FAMILY_LABEL[family], "service": "%s/%s" % (service["namespace"], service["name"]),
                               "subject": "%s %s:%d" % (target["node"], target["address"], ports[0]),
                               "address": target["address"], "url": url_for(target["address"], ports[0])})
    return probes


# The Traefik chart names the Service port of its web entry point "web" (port 80 in k3s).
_TRAEFIK_WEB = "web"


def traefik_addresses(service: t.Mapping[str, t.Any]) -> t.List[str]:
    """The load balancer's addresses: status.loadBalancer.ingress, then spec.externalIPs (what a
    hand-written svclb DaemonSet such as the k3s article's publishes, since it sets no status)."""
    addresses: t.List[str] = []
    for address in list(service["ingress"]) + list(service["external_ips"]):
        if address_family(address) and address not in addresses:
            addresses.append(address)
    return addresses


def _traefik_web_port(service: t.Mapping[str, t.Any]) -> int:
    for port in service["ports"]:
        if port["name"] == _TRAEFIK_WEB:
            return int(port["port"])
    return 80


def traefik_probes(traefik_text: t.Optional[str]) -> t.List[t.Dict[str, t.Any]]:
    """The web entry point on every load balancer address of the Traefik Service (none without one)."""
    probes = []
    for service in parse_services(traefik_text):
        if service["type"] != "LoadBalancer":
            continue
        port = _traefik_web_port(service)
        for address in traefik_addresses(service):
            probes.append({"check": "Traefik web entry point", "service": "%s/%s" % (service["namespace"], service["name"]),
                           "subject": "%s %s:%d" % (_family_label(address), address, port),
                           "address": address, "url": url_for(address, port)})
    return probes


def check_legacy_services(plan: t.Mapping[str, t.Any], services_text: t.Optional[str]) -> t.List[Result]:
    """Kubernetes 1.18 and 1.19: one Service per family (spec.ipFamily), each with a clusterIP of its family."""
    check = "Service clusterIPs (spec.ipFamily)"
    services = parse_services(services_text)
    results = []
    for family in _plan_families(plan):
        label = FAMILY_LABEL[family]
        mine = [s for s in services if s["ip_family"] == label]
        if not mine:
            results.append(result(check, label, FAIL, "no test Service with spec.ipFamily %s (Services: %s)"
                                  % (label, ", ".join(s["name"] for s in services) or "none")))
            continue
        service = mine[0]
        name = "%s/%s" % (service["namespace"], service["name"])
        shown = ", ".join(service["cluster_ips"]) or "none"
        wrong = [ip for ip in service["cluster_ips"] if address_family(ip) != family]
        if not service["cluster_ips"] or wrong:
            results.append(result(check, name, FAIL, "spec.ipFamily %s but clusterIP %s; the API server needs a Service CIDR of "
                                  "each family (--service-cluster-ip-range) and the IPv6DualStack feature gate" % (label, shown)))
        elif not _in_any(service["cluster_ips"][0], plan.get("service_cidrs") or service["cluster_ips"]):
            results.append(result(check, name, FAIL, "clusterIP %s outside the Service CIDRs %s" % (shown, ", ".join(plan["service_cidrs"]))))
        else:
            results.append(result(check, name, PASS, "spec.ipFamily %s, clusterIP %s" % (label, shown)))
    return results


def _outside_answer(answer: t.Mapping[str, t.Any], reached: t.Callable[[int], bool], hint: str) -> Result:
    item = answer.get("item") or {}
    status = int(answer.get("status", -1) or -1)
    if answer.get("skipped"):
        return result(item.get("check", ""), item.get("subject", ""), SKIP, "not run")
    if reached(status):
        return result(item.get("check", ""), item.get("subject", ""), PASS, "HTTP %d from outside the cluster" % status)
    why = answer.get("msg") or "status %s" % status
    return result(item.get("check", ""), item.get("subject", ""), FAIL, "%s: %s; %s" % (item.get("url", ""), why, hint))


def check_nodeports(plan: t.Mapping[str, t.Any], services_text: t.Optional[str], answers: t.Sequence[t.Mapping[str, t.Any]],
                    outside_host: str) -> t.List[Result]:
    """Every node answers on the test Service's NodePort on its address of each family, asked from outside."""
    mine = [a for a in answers if str((a.get("item") or {}).get("check", "")).startswith("NodePort ")] if outside_host else []
    results = []
    served = set()
    for service in parse_services(services_text):
        if any(p["node_port"] for p in service["ports"]):
            served.update(_service_families(service))
    for family in _plan_families(plan):
        check = "NodePort %s" % FAMILY_LABEL[family]
        if family not in served:
            results.append(result(check, "test Service", FAIL, "no test Service of this family has a nodePort (Services: %s)"
                                  % (", ".join("%s %s" % (s["name"], s["type"]) for s in parse_services(services_text)) or "none")))
        elif not outside_host:
            results.append(result(check, "every node", SKIP, "dualstack_verify_outside_host is empty: nothing asks from outside the cluster"))
    hint = "kube-proxy serves NodePorts on the node addresses of each family (see its nodePortAddresses and the node's firewall)"
    results.extend(_outside_answer(a, lambda status: status == 200, hint) for a in mine)
    return results


def check_traefik(plan: t.Mapping[str, t.Any], name: str, traefik_text: t.Optional[str], answers: t.Sequence[t.Mapping[str, t.Any]],
                  outside_host: str) -> t.List[Result]:
    """The Traefik Service is a LoadBalancer with an address of each family, and its web entry point
    answers HTTP on each from outside the cluster (any status: 404 is Traefik with no route for /)."""
    check = "Traefik load balancer"
    services = parse_services(traefik_text)
    if not services:
        return [result(check, name, SKIP, "no Service %s: the cluster runs no Traefik" % name)]
    service = services[0]
    if service["type"] != "LoadBalancer":
        return [result(check, name, SKIP, "type %s, not LoadBalancer: no load balancer addresses to ask" % service["type"])]
    addresses = traefik_addresses(service)
    results = []
    for family in _plan_families(plan):
        mine = [a for a in addresses if address_family(a) == family]
        if mine:
            results.append(result(check, "%s %s" % (name, FAMILY_LABEL[family]), PASS, ", ".join(mine)))
        else:
            results.append(result(check, "%s %s" % (name, FAMILY_LABEL[family]), FAIL,
                                  "no %s address in status.loadBalancer.ingress or spec.externalIPs (%s); the Service needs "
                                  "ipFamilyPolicy RequireDualStack and a load balancer that publishes both families"
                                  % (FAMILY_LABEL[family], ", ".join(addresses) or "none")))
    if not outside_host:
        results.append(result("Traefik web entry point", name, SKIP,
                              "dualstack_verify_outside_host is empty: nothing asks from outside the cluster"))
        return results
    mine = [a for a in answers if (a.get("item") or {}).get("check") == "Traefik web entry point"]
    hint = "the load balancer forwards port %d to Traefik on this address (svclb pods, DEST_IPS)" % _traefik_web_port(service)
    results.extend(_outside_answer(a, lambda status: status >= 100, hint) for a in mine)
    return results


def lb_pool_entries(plan: t.Mapping[str, t.Any]) -> t.Dict[str, t.List[str]]:
    """The plan's LoadBalancer pool entries (CIDRs or first-last ranges) by family."""
    pools = plan.get("lb_pools") or {}
    return {family: [str(entry) for entry in pools.get(family) or []] for family in FAMILIES if pools.get(family)}


def _in_pool_entry(address: str, entry: str) -> bool:
    found = ipaddress.ip_address(address)
    if "/" in entry:
        network = _network(entry)
        return network.version == found.version and found in network
    first, last = (ipaddress.ip_address(part.strip()) for part in entry.split("-"))
    return first.version == found.version and first <= found <= last  # type: ignore[operator]


def check_loadbalancer(plan: t.Mapping[str, t.Any], name: str, service_text: t.Optional[str]) -> t.List[Result]:
    """The test LoadBalancer Service (RequireDualStack) got exactly one address of each family,
    each from the plan's pools: MetalLB hands them out from its pool of both families."""
    check = "LoadBalancer addresses"
    pools = lb_pool_entries(plan)
    services = parse_services(service_text)
    if not services:
        return [result(check, name, FAIL, "no Service %s was read back; the test workload did not apply" % name)]
    addresses = [a for a in services[0]["ingress"] if address_family(a)]
    results = []
    hint = ("MetalLB (the metallb_dualstack role) gives one address of each family from its pool of both families; see "
            "kubectl describe service -n %s for its events" % name.replace("/", " "))
    for family in _plan_families(plan):
        mine = [a for a in addresses if address_family(a) == family]
        subject = "%s %s" % (name, FAMILY_LABEL[family])
        if len(mine) != 1:
            results.append(result(check, subject, FAIL, "%d %s addresses in status.loadBalancer.ingress (%s), not one; %s"
                                  % (len(mine), FAMILY_LABEL[family], ", ".join(addresses) or "none", hint)))
        elif not any(_in_pool_entry(mine[0], entry) for entry in pools.get(family) or []):
            results.append(result(check, subject, FAIL, "%s lies outside the plan's pools %s; another load balancer "
                                  "answered, or MetalLB's pool is not the plan's" % (mine[0], ", ".join(pools.get(family) or []) or "none")))
        else:
            results.append(result(check, subject, PASS, "%s from the pool %s" % (mine[0], ", ".join(pools[family]))))
    return results


def _ping_result(answer: t.Mapping[str, t.Any]) -> t.Tuple[t.Mapping[str, str], bool, str]:
    probe = answer.get("item") or {}
    if answer.get("skipped"):
        return probe, False, "not run"
    counts = parse_ping(answer.get("stdout", ""))
    ok = counts["received"] > 0
    target = probe.get("target_label") or probe.get("target", "")
    if counts["transmitted"] >= 0:
        detail = "%s answered %d of %d" % (target, counts["received"], counts["transmitted"])
    else:
        detail = "%s answered %d" % (target, counts["received"]) if ok else "%s: no answer" % target
    if not ok and (answer.get("stderr") or "").strip():
        detail += " (%s)" % answer["stderr"].strip().splitlines()[-1]
    return probe, ok, detail


def check_pings(answers: t.Sequence[t.Mapping[str, t.Any]]) -> t.List[Result]:
    """Ping results (registered command results whose item is a probe of verify_probes).

    A pod's outside probe is skipped, not failed, when its node could not reach the
    outside either: the network has no IPv6 way out, which is no fault of the cluster.
    """
    node_outside = {}
    for answer in answers:
        probe, ok, _detail = _ping_result(answer)
        if probe.get("check") == "node to outside IPv6":
            node_outside[probe.get("node", "")] = ok
    results = []
    for answer in answers:
        probe, ok, detail = _ping_result(answer)
        check = probe.get("check", "ping")
        subject = probe.get("source", "")
        if ok:
            results.append(result(check, subject, PASS, detail))
        elif check == "node to outside IPv6":
            results.append(result(check, subject, SKIP, "%s: no IPv6 way out from this node" % detail))
        elif check == "pod to outside IPv6" and not node_outside.get(probe.get("node", ""), True):
            results.append(result(check, subject, SKIP, "%s: the node cannot reach it either" % detail))
        else:
            results.append(result(check, subject, FAIL, detail))
    return results


def check_nat_outgoing(node: str, nat_text: t.Optional[str]) -> Result:
    """Whether the node masquerades pod IPv6 traffic leaving the pools (informational: skip when absent)."""
    check = "IPv6 NAT outgoing"
    if has_nat_outgoing(parse_iptables_listing(nat_text)):
        return result(check, node, PASS, "cali-nat-outgoing masquerades traffic from the IPv6 pools")
    return result(check, node, SKIP, "no MASQUERADE in cali-nat-outgoing: pods leave with their own IPv6 addresses "
                  "(set natOutgoing on the IPv6 pool where the network does not route the pod CIDR)")


def verify_report(plan: t.Mapping[str, t.Any], nodes: t.Optional[str] = None, pods: t.Optional[str] = None,
                  ippools: t.Optional[str] = None, ipamblocks: t.Optional[str] = None,
                  service: t.Optional[t.Mapping[str, t.Any]] = None,
                  http: t.Optional[t.Sequence[t.Mapping[str, t.Any]]] = None,
                  node_reports: t.Optional[t.Mapping[str, t.Mapping[str, t.Any]]] = None,
                  pod_pings: t.Optional[t.Sequence[t.Mapping[str, t.Any]]] = None,
                  services: t.Optional[str] = None, traefik: t.Optional[str] = None,
                  traefik_name: str = "kube-system/traefik",
                  outside: t.Optional[t.Sequence[t.Mapping[str, t.Any]]] = None,
                  outside_host: str = "", loadbalancer: t.Optional[str] = None,
                  loadbalancer_name: str = "dualstack-verify/dualstack-verify-lb") -> t.Dict[str, t.Any]:
    """Every check of verify.yml from the raw outputs; returns results, the table and counts.

    ``service`` is ``{name, cluster_ips}`` (cluster_ips: the jsonpath text) or None where the
    Kubernetes version has no dual-stack Services. ``node_reports`` maps inventory hosts to
    ``{routes, nat, pings}`` (texts and the registered ping results). ``services`` and
    ``traefik`` are the ``-o json`` listings of the test Services and of the Traefik Service
    (None: not read, no rows); ``outside`` the registered answers of the ``outside`` probes,
    asked from ``outside_host`` ("" when nothing asked from outside the cluster);
    ``loadbalancer`` the ``-o json`` of the test LoadBalancer Service (None: the plan has no pools).
    """
    results: t.List[Result] = []
    results.extend(check_node_addresses(plan, nodes))
    results.extend(check_pod_addresses(plan, pods))
    results.extend(check_ip_pools(plan, ippools))
    reported = parse_node_addresses(nodes)
    matched = match_nodes(plan, reported)
    results.extend(check_ipam_blocks(plan, ipamblocks, sorted(reported)))
    node_reports = node_reports or {}
    for host in sorted(node_reports):
        name = matched.get(host, host)
        if "ipv6" in _plan_families(plan):
            results.append(check_ipv6_routes(name, node_reports[host].get("routes"), ipamblocks))
            results.append(check_nat_outgoing(name, node_reports[host].get("nat")))
    if service is None and services is not None:
        results.extend(check_legacy_services(plan, services))
    elif service is None:
        results.append(result("Service clusterIPs", "test Service", SKIP, "Kubernetes %s has no dual-stack Services "
                              "(ipFamilyPolicy came with %s)" % (plan.get("kubernetes_version", ""),
                                                                 _release(rules.SERVICE_IP_FAMILIES))))
    else:
        results.append(check_service(plan, str(service.get("name", "")), parse_cluster_ips(service.get("cluster_ips"))))
        results.extend(check_http(http or []))
    answers = list(pod_pings or [])
    for host in sorted(node_reports):
        answers.extend(node_reports[host].get("pings") or [])
    results.extend(check_pings(answers))
    if services is not None:
        results.extend(check_nodeports(plan, services, outside or [], outside_host))
    if traefik is not None:
        results.extend(check_traefik(plan, traefik_name, traefik, outside or [], outside_host))
    if loadbalancer is not None:
        results.extend(check_loadbalancer(plan, loadbalancer_name, loadbalancer))
    counts = {status: sum(1 for r in results if r["status"] == status) for status in (PASS, FAIL, SKIP)}
    return {"results": results, "table": format_table(results), "passed": counts[PASS],
            "failed": counts[FAIL], "skipped": counts[SKIP]}
