# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.dualstack.kubernetes.plugins.module_utils import sysctl
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError

MODULES_LOAD = "/etc/modules-load.d/dualstack-kubernetes.conf"
# /proc/net/ipv6_route rows: an RA-learned default route on eth1 (RTF_ADDRCONF|RTF_DEFAULT|
# RTF_GATEWAY|RTF_UP|RTF_EXPIRES), a static default route on eth0, a connected route.
IPV6_ROUTE = (
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fe80000000000000000000fffe000001 00000400 00000001 00000000 00450003     eth1\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fd4201ab025000000000000000000001 00000064 00000001 00000000 00000003     eth0\n"
    "fd4201ab025000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0\n"
)


def put(root, path, text):
    target = os.path.join(str(root), path.lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(text)
    return target


def get(root, path):
    with open(os.path.join(str(root), path.lstrip("/")), encoding="utf-8") as handle:
        return handle.read()


@pytest.fixture
def node(tmp_path):
    """A node's /proc/sys, /proc/net and sysctl folders below a scratch root: a kernel with
    br_netfilter and overlay built in (no /proc/modules), as on the lab's nodes."""
    values = {
        "net/ipv4/ip_forward": "0",
        "net/ipv6/conf/all/forwarding": "0",
        "net/ipv6/conf/all/disable_ipv6": "0",
        "net/ipv6/conf/default/disable_ipv6": "0",
        "net/ipv6/conf/eth0/accept_ra": "1",
        "net/ipv6/conf/eth1/accept_ra": "1",
        "net/ipv6/conf/eth0.100/accept_ra": "1",
        "net/bridge/bridge-nf-call-iptables": "0",
        "net/bridge/bridge-nf-call-ip6tables": "0",
        "net/ipv4/conf/all/rp_filter": "2",
    }
    for path, value in values.items():
        put(tmp_path, "/proc/sys/" + path, value + "\n")
    put(tmp_path, "/proc/net/ipv6_route", IPV6_ROUTE)
    put(tmp_path, "/proc/filesystems", "nodev\tsysfs\nnodev\toverlay\n")
    put(tmp_path, "/usr/lib/sysctl.d/50-pid-max.conf", "kernel.pid_max = 4194304\n")
    put(tmp_path, "/etc/sysctl.conf", "#net.ipv4.ip_forward=1\n")
    os.makedirs(str(tmp_path / "etc/sysctl.d"))
    os.symlink("../sysctl.conf", str(tmp_path / "etc/sysctl.d/99-sysctl.conf"))
    return tmp_path


def params(**overrides):
    result = {
        "ipv4_forwarding": True, "ipv6_forwarding": True, "bridge_nf_call": True,
        "accept_ra_interfaces": "auto", "sysctl_file": sysctl.DEFAULT_SYSCTL_FILE,
        "conflicts": "fail", "extra": {}, "modules_load_file": MODULES_LOAD,
    }
    result.update(overrides)
    return result


def apply(plan, root):
    """A real run below ``root``: the plan's own files and live values (no module to load)."""
    assert plan.modules is None or not plan.modules.to_load
    sysctl.apply_plan(plan, lambda argv: pytest.fail("nothing to modprobe: %s" % argv), str(root))


# --- keys ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key, path", [
    ("net.ipv4.ip_forward", "net/ipv4/ip_forward"),
    ("net/ipv4/ip_forward", "net/ipv4/ip_forward"),
    ("net.ipv6.conf.eth0/100.accept_ra", "net/ipv6/conf/eth0.100/accept_ra"),
    ("net/ipv6/conf/eth0.100/accept_ra", "net/ipv6/conf/eth0.100/accept_ra"),
    ("  net.bridge.bridge-nf-call-ip6tables ", "net/bridge/bridge-nf-call-ip6tables"),
])
def test_key_path_follows_the_first_separator_rule(key, path):
    assert sysctl.key_path(key) == path


def test_key_name_writes_dotted_interfaces_with_slashes():
    assert sysctl.key_name("net/ipv6/conf/eth0.100/accept_ra") == "net.ipv6.conf.eth0/100.accept_ra"


# Path components as /proc/sys has them: no empty ones, dots only inside (interface names),
# and none in the top folder (net, kernel, vm, ...): neither separator rule could express one.
TOP = st.from_regex(r"[a-z0-9_-]{1,4}", fullmatch=True)
COMPONENT = st.from_regex(r"[a-z0-9_-]{1,4}(\.[a-z0-9_-]{1,4})?", fullmatch=True)


@given(TOP, st.lists(COMPONENT, min_size=1, max_size=5))
def test_key_name_and_key_path_round_trip(top, components):
    path = "/".join([top] + components)
    assert sysctl.key_path(sysctl.key_name(path)) == path


def test_parse_skips_comments_and_reads_dash_keys():
    text = "# c\n; c\n\n-net.ipv4.ip_forward =  1\nnet.core.x = a   b\nnot an assignment\n"
    assert sysctl.parse_sysctl_text(text) == [
        sysctl.Entry(4, "net/ipv4/ip_forward", "1"),
        sysctl.Entry(5, "net/core/x", "a b"),
    ]


# --- boot order and conflicts -------------------------------------------------------------

def test_boot_files_sort_across_folders_etc_shadows_and_sysctl_conf_comes_last(node):
    put(node, "/usr/lib/sysctl.d/10-vendor.conf", "a.b = 1\n")
    put(node, "/etc/sysctl.d/10-vendor.conf", "a.b = 2\n")
    put(node, "/run/sysctl.d/20-run.conf", "a.b = 3\n")
    put(node, "/usr/local/lib/sysctl.d/05-local.conf", "a.b = 4\n")
    files = sysctl.boot_files(str(node))
    assert [f.path for f in files] == [
        "/usr/local/lib/sysctl.d/05-local.conf",
        "/etc/sysctl.d/10-vendor.conf",
        "/run/sysctl.d/20-run.conf",
        "/usr/lib/sysctl.d/50-pid-max.conf",
        "/etc/sysctl.d/99-sysctl.conf",
        "/etc/sysctl.conf",
    ]


def test_only_later_files_with_other_values_conflict(node):
    wanted = {"net/ipv6/conf/all/forwarding": "1", "net/ipv4/ip_forward": "1"}
    put(node, "/etc/sysctl.d/10-early.conf", "net.ipv6.conf.all.forwarding = 0\n")
    put(node, "/etc/sysctl.d/95-same.conf", "net.ipv6.conf.all.forwarding = 1\n")
    put(node, "/etc/sysctl.d/96-glob.conf", "net.ipv6.conf.*.forwarding = 0\n")
    put(node, "/etc/sysctl.d/99-zz.conf", "# x\nnet.ipv6.conf.all.forwarding = 0\n")
    put(node, "/etc/sysctl.conf", "net/ipv4/ip_forward=0\n")
    conflicts = sysctl.find_conflicts(wanted, sysctl.DEFAULT_SYSCTL_FILE, str(node))
    # /etc/sysctl.conf is reached through Debian's 99-sysctl.conf link first: reported once.
    assert conflicts == [
        sysctl.Conflict("/etc/sysctl.d/99-sysctl.conf", "/etc/sysctl.conf", 1, "net/ipv4/ip_forward", "0", "1"),
        sysctl.Conflict("/etc/sysctl.d/99-zz.conf", "/etc/sysctl.d/99-zz.conf", 2,
                        "net/ipv6/conf/all/forwarding", "0", "1"),
    ]


def test_a_vendor_file_our_name_shadows_is_no_conflict(node):
    put(node, "/usr/lib/sysctl.d/90-dualstack-kubernetes.conf", "net.ipv4.ip_forward = 0\n")
    assert sysctl.find_conflicts({"net/ipv4/ip_forward": "1"}, sysctl.DEFAULT_SYSCTL_FILE, str(node)) == []


def test_conflicts_fail_names_the_file_and_changes_nothing(node):
    put(node, "/etc/sysctl.d/99-zz.conf", "net.ipv6.conf.all.forwarding = 0\n")
    with pytest.raises(DualstackError) as failure:
        sysctl.build_plan(params(), str(node))
    assert "/etc/sysctl.d/99-zz.conf line 1 sets net.ipv6.conf.all.forwarding = 0" in str(failure.value)
    assert "conflicts=override" in str(failure.value)
    assert failure.value.details["conflicts"][0]["action"] == "failed"
    assert not os.path.exists(str(node / "etc/sysctl.d/90-dualstack-kubernetes.conf"))
    assert get(node, "/proc/sys/net/ipv6/conf/all/forwarding") == "0\n"


def test_override_edits_etc_files_in_place_and_shadows_vendor_files(node):
    put(node, "/etc/sysctl.d/99-zz.conf", "net.ipv6.conf.all.forwarding = 0\nkernel.x = 1\n")
    put(node, "/usr/lib/sysctl.d/95-vendor.conf", "net.ipv4.ip_forward = 0\n")
    put(node, "/etc/sysctl.conf", "net.bridge.bridge-nf-call-iptables=0\n")
    plan = sysctl.build_plan(params(conflicts="override"), str(node))
    assert sorted(c.path for c in plan.conflict_files) == [
        "/etc/sysctl.conf", "/etc/sysctl.d/95-vendor.conf", "/etc/sysctl.d/99-zz.conf"]
    apply(plan, node)
    assert get(node, "/etc/sysctl.d/99-zz.conf") == (
        "# dualstack_sysctl: set by /etc/sysctl.d/90-dualstack-kubernetes.conf instead: "
        "net.ipv6.conf.all.forwarding = 0\nkernel.x = 1\n")
    # The vendor file stays as the package shipped it; the copy in /etc hides it.
    assert get(node, "/usr/lib/sysctl.d/95-vendor.conf") == "net.ipv4.ip_forward = 0\n"
    assert get(node, "/etc/sysctl.d/95-vendor.conf").startswith("# dualstack_sysctl:")
    # Debian's link still points at /etc/sysctl.conf, whose line is commented out.
    assert os.readlink(str(node / "etc/sysctl.d/99-sysctl.conf")) == "../sysctl.conf"
    assert get(node, "/etc/sysctl.conf").startswith("# dualstack_sysctl:")
    again = sysctl.build_plan(params(conflicts="override"), str(node))
    assert again.conflicts == [] and not again.changed


def test_warn_keeps_the_conflict_and_still_plans_the_values(node):
    put(node, "/etc/sysctl.d/99-zz.conf", "net.ipv6.conf.all.forwarding = 0\n")
    plan = sysctl.build_plan(params(conflicts="warn"), str(node))
    assert [c.file for c in plan.conflicts] == ["/etc/sysctl.d/99-zz.conf"]
    assert plan.conflict_files == []
    assert "net/ipv6/conf/all/forwarding" in plan.live_changes


# --- the plan -----------------------------------------------------------------------------

def test_fresh_node_plan_then_nothing_to_do(node):
    plan = sysctl.build_plan(params(), str(node))
    assert plan.changed
    assert plan.accept_ra_interfaces == ["eth1"]
    assert plan.changed_keys == [
        "net.ipv6.conf.eth1.accept_ra", "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding",
        "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"]
    # accept_ra=2 must be live before forwarding is turned on, and come first in the file.
    assert plan.live_changes[0] == "net/ipv6/conf/eth1/accept_ra"
    body = [line for line in plan.file.after.splitlines() if not line.startswith("#")]
    assert body == [
        "net.ipv6.conf.eth1.accept_ra = 2", "net.ipv4.ip_forward = 1", "net.ipv6.conf.all.forwarding = 1",
        "net.bridge.bridge-nf-call-iptables = 1", "net.bridge.bridge-nf-call-ip6tables = 1"]
    apply(plan, node)
    assert get(node, "/proc/sys/net/ipv6/conf/eth1/accept_ra") == "2\n"
    assert get(node, "/proc/sys/net/ipv6/conf/all/forwarding") == "1\n"
    assert get(node, "/etc/sysctl.d/90-dualstack-kubernetes.conf") == plan.file.after
    again = sysctl.build_plan(params(), str(node))
    assert not again.changed and again.changed_keys == []


def test_diff_shows_file_and_live_values(node):
    diffs = sysctl.build_plan(params(accept_ra_interfaces=[]), str(node)).diffs()
    assert diffs[0]["before"] == "" and "net.ipv4.ip_forward = 1" in diffs[0]["after"]
    live = diffs[-1]
    assert live["before_header"] == "live values"
    assert "net.ipv6.conf.all.forwarding = 0" in live["before"]
    assert "net.ipv6.conf.all.forwarding = 1" in live["after"]


def test_a_persisted_file_that_differs_is_a_change_even_when_live_values_match(node):
    plan = sysctl.build_plan(params(accept_ra_interfaces=[]), str(node))
    apply(plan, node)
    put(node, "/etc/sysctl.d/90-dualstack-kubernetes.conf", "net.ipv4.ip_forward = 0\n")
    again = sysctl.build_plan(params(accept_ra_interfaces=[]), str(node))
    assert again.changed and again.live_changes == []
    assert "net.ipv4.ip_forward" in again.changed_keys


def test_auto_keeps_interfaces_an_earlier_run_persisted(node):
    apply(sysctl.build_plan(params(), str(node)), node)
    put(node, "/proc/net/ipv6_route", "")  # the RA route is gone for a moment
    assert sysctl.build_plan(params(), str(node)).accept_ra_interfaces == ["eth1"]


def test_vlan_interfaces_are_written_with_slashes(node):
    plan = sysctl.build_plan(params(accept_ra_interfaces=["eth0.100"]), str(node))
    assert "net.ipv6.conf.eth0/100.accept_ra = 2\n" in plan.file.after
    apply(plan, node)
    assert get(node, "/proc/sys/net/ipv6/conf/eth0.100/accept_ra") == "2\n"
    assert not sysctl.build_plan(params(accept_ra_interfaces=["eth0.100"]), str(node)).changed


def test_forwarding_options_off_leave_their_keys_alone(node):
    plan = sysctl.build_plan(params(ipv4_forwarding=False, ipv6_forwarding=False, bridge_nf_call=False,
                                    extra={"net.ipv4.conf.all.rp_filter": 0}), str(node))
    assert plan.wanted == {"net/ipv4/conf/all/rp_filter": "0"}


def test_extra_keys_are_checked(node):
    with pytest.raises(DualstackError, match=r"extra: 'net\.ipv4 ip_forward' is not a sysctl key"):
        sysctl.build_plan(params(extra={"net.ipv4 ip_forward": 1}), str(node))
    with pytest.raises(DualstackError, match="contradicts the value 1"):
        sysctl.build_plan(params(extra={"net.ipv4.ip_forward": 0}), str(node))
    with pytest.raises(DualstackError, match=r"net\.core\.nope does not exist on this node"):
        sysctl.build_plan(params(extra={"net.core.nope": 1}), str(node))


@pytest.mark.parametrize("value, message", [
    (["eth9"], "interface 'eth9' does not exist"),
    (["all"], "'all' is not an interface name"),
    ("eth0", "neither 'auto' nor a list"),
])
def test_accept_ra_interfaces_are_checked(node, value, message):
    with pytest.raises(DualstackError, match=message):
        sysctl.build_plan(params(accept_ra_interfaces=value), str(node))


@pytest.mark.parametrize("path", ["/etc/sysctl.conf", "/etc/sysctl.d/x.txt", "/run/sysctl.d/x.conf",
                                  "/etc/sysctl.d/sub/x.conf"])
def test_sysctl_file_must_be_in_etc_sysctl_d(node, path):
    with pytest.raises(DualstackError, match="sysctl_file: .* directly in /etc/sysctl.d"):
        sysctl.build_plan(params(sysctl_file=path), str(node))


def test_ra_routes_are_told_apart_by_their_flags(node):
    assert sysctl.ra_default_route_interfaces(str(node)) == ["eth1"]


# --- IPv6 disabled ------------------------------------------------------------------------

def test_disable_ipv6_fails_naming_the_setting_and_the_file(node):
    put(node, "/proc/sys/net/ipv6/conf/all/disable_ipv6", "1\n")
    put(node, "/etc/sysctl.d/10-noipv6.conf", "net.ipv6.conf.all.disable_ipv6 = 1\n")
    with pytest.raises(DualstackError) as failure:
        sysctl.build_plan(params(), str(node))
    message = str(failure.value)
    assert "net.ipv6.conf.all.disable_ipv6 = 1" in message
    assert "/etc/sysctl.d/10-noipv6.conf:1" in message
    assert "set it to 0" in message
    assert not os.path.exists(str(node / "etc/sysctl.d/90-dualstack-kubernetes.conf"))


def test_a_kernel_without_ipv6_fails(node):
    shutil.rmtree(str(node / "proc/sys/net/ipv6"))
    with pytest.raises(DualstackError, match="ipv6.disable=1"):
        sysctl.build_plan(params(), str(node))


def test_ipv6_off_at_next_boot_fails_too(node):
    put(node, "/etc/sysctl.d/10-noipv6.conf", "net.ipv6.conf.default.disable_ipv6 = 1\n")
    with pytest.raises(DualstackError, match="would be disabled at the next boot"):
        sysctl.build_plan(params(), str(node))


def test_ipv4_only_use_does_not_need_ipv6(node):
    shutil.rmtree(str(node / "proc/sys/net/ipv6"))
    plan = sysctl.build_plan(params(ipv6_forwarding=False, bridge_nf_call=False), str(node))
    assert plan.wanted == {"net/ipv4/ip_forward": "1"}


# --- bridge netfilter on a kernel with loadable modules -----------------------------------

def test_bridge_keys_wait_for_br_netfilter_on_a_modular_kernel(node):
    shutil.rmtree(str(node / "proc/sys/net/bridge"))
    put(node, "/proc/modules", "overlay 151552 0 - Live 0x0\n")
    plan = sysctl.build_plan(params(accept_ra_interfaces=[]), str(node))
    assert plan.modules.to_load == ["br_netfilter"]
    assert plan.live_before["net/bridge/bridge-nf-call-iptables"] is None
    assert plan.modules.file.after.endswith("br_netfilter\n")
    assert "net.bridge.bridge-nf-call-iptables = (absent)" in plan.diffs()[-1]["before"]


def test_a_failed_write_leaves_live_values_and_the_old_file_as_they_were(node, monkeypatch):
    """Files are persisted before live values: a write that fails changes nothing live.

    The rename is made to fail as it does over an immutable file (chattr +i: EPERM even
    for root), which a scratch folder cannot reproduce for real.
    """
    put(node, "/etc/sysctl.d/90-dualstack-kubernetes.conf", "# old\n")
    plan = sysctl.build_plan(params(), str(node))
    assert plan.live_changes
    live = {path: sysctl.read_live(path, str(node)) for path in plan.wanted}

    def immutable(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "replace", immutable)
    with pytest.raises(DualstackError, match=r"cannot write /etc/sysctl.d/90-dualstack-kubernetes.conf: "
                                             r"Operation not permitted; .*chattr -i"):
        apply(plan, node)
    assert {path: sysctl.read_live(path, str(node)) for path in plan.wanted} == live
    assert get(node, "/etc/sysctl.d/90-dualstack-kubernetes.conf") == "# old\n"
    assert [name for name in os.listdir(str(node / "etc/sysctl.d")) if name.startswith(".")] == []
