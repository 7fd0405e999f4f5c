# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one file writer: plan, diff, atomic write, modes, links and OS errors."""
from __future__ import annotations

import errno
import os
import stat
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.dualstack.kubernetes.plugins.module_utils.errors import REDACTED, DualstackError
from ansible_collections.dualstack.kubernetes.plugins.module_utils.files import plan_file, write_file


def mode_of(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


def leftovers(folder):
    return [name for name in os.listdir(str(folder)) if name.startswith(".dualstack-")]


def test_a_new_file_gets_exactly_the_requested_mode_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        plan_file(str(tmp_path / "a.conf"), "a\n", 0o644).apply()
    finally:
        os.umask(old)
    old = os.umask(0o000)
    try:
        plan_file(str(tmp_path / "b.conf"), "b\n", 0o600).apply()
    finally:
        os.umask(old)
    assert mode_of(tmp_path / "a.conf") == 0o644
    assert mode_of(tmp_path / "b.conf") == 0o600
    assert leftovers(tmp_path) == []


def test_plan_then_apply_then_nothing_to_do(tmp_path):
    path = str(tmp_path / "x.conf")
    first = plan_file(path, "new\n", 0o600)
    assert first.before is None and first.changed
    assert first.diff() == {"before_header": path, "after_header": path, "before": "", "after": "new\n"}
    assert not os.path.exists(path), "planning writes nothing"
    first.apply()
    again = plan_file(path, "new\n", 0o600)
    assert again.before == "new\n" and not again.changed


def test_a_wrong_mode_alone_is_a_change_and_is_repaired(tmp_path):
    path = tmp_path / "x.conf"
    path.write_text("same\n")
    os.chmod(str(path), 0o666)
    change = plan_file(str(path), "same\n", 0o600)
    assert change.changed and change.current_mode == 0o666
    change.apply()
    assert mode_of(path) == 0o600 and path.read_text() == "same\n"


def test_a_relative_path_means_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan_file("rel.conf", "r\n").apply()
    assert (tmp_path / "rel.conf").read_text() == "r\n"


def test_mode_none_keeps_the_mode_found(tmp_path):
    path = tmp_path / "x.conf"
    path.write_text("old\n")
    os.chmod(str(path), 0o640)
    plan_file(str(path), "new\n", None).apply()
    assert mode_of(path) == 0o640
    assert plan_file(str(tmp_path / "new.conf"), "n\n", None).mode == 0o644


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real/target.conf").write_text("old\n")
    os.symlink("real/target.conf", str(tmp_path / "link.conf"))
    change = plan_file(str(tmp_path / "link.conf"), "new\n", 0o600)
    assert change.before == "old\n"
    change.apply()
    assert os.readlink(str(tmp_path / "link.conf")) == "real/target.conf"
    assert (tmp_path / "real/target.conf").read_text() == "new\n"
    assert mode_of(tmp_path / "real/target.conf") == 0o600
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "real") == []


def test_a_dangling_symlink_creates_its_target(tmp_path):
    os.symlink("made.conf", str(tmp_path / "link.conf"))
    plan_file(str(tmp_path / "link.conf"), "x\n").apply()
    assert os.path.islink(str(tmp_path / "link.conf"))
    assert (tmp_path / "made.conf").read_text() == "x\n"


def test_not_following_a_link_replaces_the_link_itself(tmp_path):
    (tmp_path / "vendor.conf").write_text("vendor\n")
    os.symlink("vendor.conf", str(tmp_path / "shadow.conf"))
    plan_file(str(tmp_path / "shadow.conf"), "mine\n", follow_symlinks=False).apply()
    assert not os.path.islink(str(tmp_path / "shadow.conf"))
    assert (tmp_path / "vendor.conf").read_text() == "vendor\n"


def test_a_symlink_loop_is_refused_naming_the_path(tmp_path):
    os.symlink("b", str(tmp_path / "a"))
    os.symlink("a", str(tmp_path / "b"))
    with pytest.raises(DualstackError, match=r"cannot write .*/a: .*symlink loop"):
        plan_file(str(tmp_path / "a"), "x\n")


def test_a_directory_in_the_way_is_refused(tmp_path):
    (tmp_path / "d.conf").mkdir()
    with pytest.raises(DualstackError, match=r"cannot write .*/d.conf: Is a directory; it is a directory"):
        plan_file(str(tmp_path / "d.conf"), "x\n")
    with pytest.raises(DualstackError, match="it is a directory"):
        write_file(str(tmp_path / "d.conf"), "x\n")


def test_a_missing_folder_is_refused_at_plan_time_so_check_mode_sees_it(tmp_path):
    with pytest.raises(DualstackError, match=r"its folder .*/missing does not exist; create the folder first"):
        plan_file(str(tmp_path / "missing/x.conf"), "x\n")
    plan_file(str(tmp_path / "made/x.conf"), "x\n", create_folder=True).apply()
    assert (tmp_path / "made/x.conf").read_text() == "x\n"


@pytest.mark.parametrize("code, fix", [
    (errno.EPERM, "chattr -i"),
    (errno.EACCES, "become: true"),
    (errno.EROFS, "remount it read-write"),
    (errno.ENOSPC, "free some space"),
])
def test_an_os_error_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch, code, fix):
    """The rename fails as it does over an immutable file or on a read-only or full disk."""
    path = tmp_path / "x.conf"
    path.write_text("old\n")
    change = plan_file(str(path), "new\n")

    def failing(src, dst):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(DualstackError) as caught:
        change.apply()
    assert str(caught.value).startswith("cannot write %s: %s; " % (path, os.strerror(code)))
    assert fix in str(caught.value)
    assert path.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_an_unwritable_folder_is_refused_for_a_user_without_rights(tmp_path):
    (tmp_path / "ro").mkdir()
    os.chmod(str(tmp_path / "ro"), 0o555)
    try:
        if os.access(str(tmp_path / "ro"), os.W_OK):
            pytest.skip("this user (root) writes into a 0555 folder; the EACCES path is covered above")
        with pytest.raises(DualstackError, match="Permission denied; .*become: true"):
            plan_file(str(tmp_path / "ro/x.conf"), "x\n").apply()
    finally:
        os.chmod(str(tmp_path / "ro"), 0o755)


def test_an_unreadable_target_is_a_refusal_not_a_traceback(tmp_path, monkeypatch):
    path = tmp_path / "x.conf"
    path.write_text("old\n")
    real_open = open

    def denied(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", denied)
    with pytest.raises(DualstackError, match=r"cannot read .*x.conf: Permission denied"):
        plan_file(str(path), "x\n")


def test_a_secret_file_shows_that_it_changes_but_not_its_content(tmp_path):
    path = tmp_path / "token.env"
    path.write_text("K3S_TOKEN=old-planted\n")
    change = plan_file(str(path), "K3S_TOKEN=new-planted\n", 0o600, secret=True)
    assert change.changed
    assert "planted" not in repr(change.diff())
    assert change.diff()["after"] == REDACTED + "\n"


def test_owner_and_group_by_name_and_an_unknown_owner(tmp_path):
    path = tmp_path / "x.conf"
    plan_file(str(path), "x\n", owner="root", group="root").apply()
    assert (os.stat(str(path)).st_uid, os.stat(str(path)).st_gid) == (0, 0) or os.geteuid() != 0
    with pytest.raises(DualstackError, match="owner: no-such-user-here is not a user on this host"):
        plan_file(str(path), "x\n", owner="no-such-user-here")


@settings(derandomize=True, max_examples=80, deadline=None)
@given(
    content=st.one_of(st.text(max_size=200), st.binary(max_size=200)),
    old=st.one_of(st.none(), st.binary(max_size=50)),
    mode=st.sampled_from([0o600, 0o640, 0o644, 0o400, 0o755]),
    through_link=st.booleans(),
    failure=st.sampled_from([None, errno.EPERM, errno.EACCES, errno.EROFS, errno.ENOSPC]),
)
def test_any_content_mode_layout_and_failure_ends_as_asked_or_as_it_was(tmp_path_factory, content, old, mode,
                                                                        through_link, failure):
    """For every input: either the file holds exactly the content with exactly the mode, the
    link (if any) is still a link and a second plan sees no change; or (the rename failing as
    on an immutable, unwritable, read-only or full file system) a refusal naming the path, and
    the old file as it was. Never a temporary file left behind."""
    folder = tmp_path_factory.mktemp("w")
    real = folder / "real.conf"
    if old is not None:
        real.write_bytes(old)
    path = folder / "link.conf" if through_link else real
    if through_link:
        os.symlink("real.conf", str(path))
    change = plan_file(str(path), content, mode)
    if failure is None or not change.changed:
        # A file that is already as planned is not written, so nothing can fail.
        change.apply()
    else:
        with mock.patch.object(os, "replace", side_effect=OSError(failure, os.strerror(failure))):
            with pytest.raises(DualstackError) as caught:
                change.apply()
        assert str(caught.value).startswith("cannot write %s: " % path)
        assert real.exists() == (old is not None) and (old is None or real.read_bytes() == old)
        assert leftovers(folder) == []
        return
    expected = content if isinstance(content, bytes) else content.encode("utf-8", "surrogateescape")
    assert real.read_bytes() == expected
    assert mode_of(real) == mode
    assert os.path.islink(str(path)) == through_link
    assert leftovers(folder) == []
    assert not plan_file(str(path), content, mode).changed
