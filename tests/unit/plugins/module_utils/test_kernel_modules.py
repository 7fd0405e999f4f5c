# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os

import pytest

from ansible_collections.dualstack.kubernetes.plugins.module_utils import kernel_modules as km
from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import DualstackError

FILE = km.DEFAULT_MODULES_LOAD_FILE


def put(root, path, text):
    target = os.path.join(str(root), path.lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(text)


@pytest.fixture
def builtin(tmp_path):
    """A kernel without loadable modules that has overlay and br_netfilter built in."""
    put(tmp_path, "/proc/filesystems", "nodev\tsysfs\nnodev\toverlay\n")
    os.makedirs(str(tmp_path / "proc/sys/net/bridge"))
    return tmp_path


@pytest.fixture
def modular(tmp_path):
    """A kernel with loadable modules, none of the two loaded yet."""
    put(tmp_path, "/proc/filesystems", "nodev\tsysfs\n")
    put(tmp_path, "/proc/modules", "nf_tables 1 0 - Live 0x0\n")
    return tmp_path


def test_built_in_modules_are_found_by_what_they_provide_and_need_no_file(builtin):
    plan = km.plan_modules(["overlay", "br_netfilter"], FILE, str(builtin))
    assert plan.present == ["overlay", "br_netfilter"]
    assert plan.to_load == [] and not plan.loadable and plan.file is None
    assert not plan.changed


def test_a_missing_module_without_module_support_fails_naming_it(builtin):
    with pytest.raises(DualstackError, match="no loadable module support .* does not have ip_vs built in"):
        km.plan_modules(["overlay", "ip_vs"], FILE, str(builtin))


def test_modular_kernel_loads_missing_modules_and_lists_them(modular):
    plan = km.plan_modules(["overlay", "br_netfilter", "overlay"], FILE, str(modular))
    assert plan.names == ["overlay", "br_netfilter"]
    assert plan.to_load == ["overlay", "br_netfilter"]
    assert plan.file.before is None
    assert plan.file.after.endswith("overlay\nbr_netfilter\n")
    calls = []

    def run(argv):
        calls.append(argv)
        # modprobe doing its work: the functions appear.
        if argv[-1] == "overlay":
            put(modular, "/proc/filesystems", "nodev\toverlay\n")
        else:
            os.makedirs(str(modular / "proc/sys/net/bridge"))
        return 0, "", ""

    km.load_modules(plan, run, str(modular))
    assert calls == [["modprobe", "--", "overlay"], ["modprobe", "--", "br_netfilter"]]


def test_a_failed_modprobe_is_reported_with_its_error(modular):
    plan = km.plan_modules(["br_netfilter"], FILE, str(modular))
    with pytest.raises(DualstackError, match="modprobe br_netfilter failed .rc 1.: FATAL: not found"):
        km.load_modules(plan, lambda argv: (1, "", "FATAL: not found\n"), str(modular))


def test_other_modules_are_found_in_proc_modules_or_sys_module(modular):
    assert km.module_present("nf_tables", str(modular))
    os.makedirs(str(modular / "sys/module/ip_vs"))
    assert km.module_present("ip_vs", str(modular))
    assert not km.module_present("sctp", str(modular))


def test_the_file_keeps_other_lines_and_adds_missing_names_once():
    existing = "# mine\nnf_conntrack\noverlay # for containerd\n"
    after = km.render_modules_load(existing, ["overlay", "br_netfilter"])
    assert after == existing + "br_netfilter\n"
    assert km.render_modules_load(after, ["overlay", "br_netfilter"]) == after


@pytest.mark.parametrize("names, message", [
    (["br netfilter"], r"names: 'br netfilter' is not a kernel module name"),
    (["../x"], "is not a kernel module name"),
])
def test_bad_names_are_refused(modular, names, message):
    with pytest.raises(DualstackError, match=message):
        km.plan_modules(names, FILE, str(modular))


@pytest.mark.parametrize("path", ["/etc/modules", "/etc/modules-load.d/x.txt", "/tmp/x.conf"])
def test_the_file_must_be_in_modules_load_d(modular, path):
    with pytest.raises(DualstackError, match="modules_load_file: .* directly in /etc/modules-load.d"):
        km.plan_modules(["overlay"], path, str(modular))
