"""job_files on a real temporary folder: no link followed, no overwrite, moves that a crash cannot lose."""

from __future__ import annotations

import errno
import hashlib
import os

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import job_files


@pytest.fixture
def job(tmp_path):
    folder = tmp_path / "job"
    (folder / "clips").mkdir(parents=True)
    (folder / "clips" / "c0.mp4").write_bytes(b"clip zero")
    fd = job_files.open_job(str(folder))
    yield folder, fd
    os.close(fd)


@pytest.mark.parametrize("relative", ["", "/etc/passwd", "../x", "a/../b", "./a", "a//b", "a/", "a\0b", None])
def test_paths_that_leave_the_job_are_refused(relative):
    with pytest.raises(job_files.UnsafePath, match="must be a relative path inside the job"):
        job_files.split_relative(relative)


@pytest.mark.parametrize(("relative", "parts"), [("a", ["a"]), ("clips/c0.mp4", ["clips", "c0.mp4"]), ("a/b/c", ["a", "b", "c"])])
def test_relative_paths_split_into_components(relative, parts):
    assert job_files.split_relative(relative) == parts


def test_digest_of_a_file_a_missing_file_and_a_link(job, tmp_path):
    folder, fd = job
    assert job_files.digest_inside(fd, "clips/c0.mp4") == hashlib.sha256(b"clip zero").hexdigest()
    assert job_files.digest_inside(fd, "clips/none.mp4") is None
    assert job_files.digest_inside(fd, "nofolder/none.mp4") is None
    (folder / "clips" / "link.mp4").symlink_to(folder / "clips" / "c0.mp4")
    with pytest.raises(job_files.UnsafePath, match="not a regular file"):
        job_files.digest_inside(fd, "clips/link.mp4")
    (folder / "linked").symlink_to(tmp_path)
    with pytest.raises(job_files.UnsafePath, match="linked is a link"):
        job_files.digest_inside(fd, "linked/job/clips/c0.mp4")


def test_a_linked_job_folder_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    with pytest.raises(job_files.UnsafePath, match="is a link"):
        job_files.open_job(str(tmp_path / "alias"))


def test_move_renames_and_creates_the_destination_folders(job):
    folder, fd = job
    assert job_files.check_move(fd, "clips/c0.mp4", "q/v1.2/clips/c0.mp4") == "move"
    assert not (folder / "q").exists(), "check_move changes nothing"
    assert job_files.move(fd, "clips/c0.mp4", "q/v1.2/clips/c0.mp4") == "renamed"
    assert (folder / "q/v1.2/clips/c0.mp4").read_bytes() == b"clip zero" and not (folder / "clips/c0.mp4").exists()
    assert job_files.move(fd, "clips/c0.mp4", "q/v1.2/clips/c0.mp4") == "already there"


def test_a_missing_source_with_no_destination_is_reported_not_invented(job):
    _folder, fd = job
    assert job_files.move(fd, "clips/gone.mp4", "q/clips/gone.mp4") == "missing"


@pytest.mark.parametrize(("squatter", "message"), [(b"other bytes", "exists with other bytes"), (None, "is not a regular file")])
def test_move_never_overwrites(job, squatter, message):
    folder, fd = job
    target = folder / "q" / "c0.mp4"
    target.parent.mkdir()
    if squatter is None:
        target.symlink_to("/etc/passwd")
    else:
        target.write_bytes(squatter)
    with pytest.raises(job_files.UnsafePath, match=message):
        job_files.move(fd, "clips/c0.mp4", "q/c0.mp4")
    assert (folder / "clips/c0.mp4").read_bytes() == b"clip zero"


def test_a_destination_folder_that_is_a_link_is_refused(job, tmp_path):
    folder, fd = job
    outside = tmp_path / "outside"
    outside.mkdir()
    (folder / "q").symlink_to(outside)
    with pytest.raises(job_files.UnsafePath, match="q is a link or not a folder"):
        job_files.move(fd, "clips/c0.mp4", "q/c0.mp4")
    assert list(outside.iterdir()) == []


def _no_cross_folder_links(monkeypatch, code=errno.EXDEV):
    real_link = os.link

    def link(*args, **kwargs):
        if kwargs.get("src_dir_fd") != kwargs.get("dst_dir_fd"):
            raise OSError(code, os.strerror(code))
        return real_link(*args, **kwargs)

    monkeypatch.setattr(os, "link", link)


@pytest.mark.parametrize("code", [errno.EXDEV, errno.EPERM])
def test_a_move_across_filesystems_copies_then_removes(job, monkeypatch, code):
    folder, fd = job
    os.chmod(folder / "clips/c0.mp4", 0o640)
    _no_cross_folder_links(monkeypatch, code)
    assert job_files.move(fd, "clips/c0.mp4", "q/c0.mp4") == "copied"
    assert (folder / "q/c0.mp4").read_bytes() == b"clip zero" and not (folder / "clips/c0.mp4").exists()
    assert os.stat(folder / "q/c0.mp4").st_mode & 0o777 == 0o640
    assert sorted(p.name for p in (folder / "q").iterdir()) == ["c0.mp4"]


def test_a_stale_partial_copy_is_replaced(job, monkeypatch):
    folder, fd = job
    (folder / "q").mkdir()
    (folder / "q" / ".c0.mp4.partial").write_bytes(b"torn")
    _no_cross_folder_links(monkeypatch)
    assert job_files.move(fd, "clips/c0.mp4", "q/c0.mp4") == "copied"
    assert sorted(p.name for p in (folder / "q").iterdir()) == ["c0.mp4"]


def test_a_copy_that_does_not_match_its_source_is_removed_and_the_source_kept(job, monkeypatch):
    folder, fd = job
    _no_cross_folder_links(monkeypatch)
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda out, data: real_write(out, bytes(data).replace(b"zero", b"ZERO")))
    with pytest.raises(OSError, match="does not match its source"):
        job_files.move(fd, "clips/c0.mp4", "q/c0.mp4")
    assert (folder / "clips/c0.mp4").read_bytes() == b"clip zero" and list((folder / "q").iterdir()) == []


def test_both_copies_present_after_a_crash_is_finished(job):
    folder, fd = job
    (folder / "q").mkdir()
    (folder / "q" / "c0.mp4").write_bytes(b"clip zero")
    assert job_files.check_move(fd, "clips/c0.mp4", "q/c0.mp4") == "finish"
    assert job_files.move(fd, "clips/c0.mp4", "q/c0.mp4") == "already there"
    assert not (folder / "clips/c0.mp4").exists() and (folder / "q/c0.mp4").read_bytes() == b"clip zero"


@pytest.fixture
def output_root(tmp_path):
    (tmp_path / "v1.1" / "job-1" / "clips").mkdir(parents=True)
    (tmp_path / "v1.1" / "job-1" / "manifest.json").write_text("{")
    fd = job_files.open_job(str(tmp_path))
    yield tmp_path, fd
    os.close(fd)


def test_a_folder_moves_whole_and_its_parents_are_created(output_root):
    root, fd = output_root
    job_files.move_folder(fd, "v1.1/job-1", ".unreadable-jobs/v1.1/job-1")
    assert not (root / "v1.1" / "job-1").exists()
    assert (root / ".unreadable-jobs" / "v1.1" / "job-1" / "manifest.json").read_text() == "{"


def test_a_folder_never_lands_on_an_existing_one_even_empty(output_root):
    root, fd = output_root
    (root / ".unreadable-jobs" / "v1.1" / "job-1").mkdir(parents=True)
    with pytest.raises(job_files.UnsafePath, match="exists: refusing to overwrite it"):
        job_files.move_folder(fd, "v1.1/job-1", ".unreadable-jobs/v1.1/job-1")
    assert (root / "v1.1" / "job-1" / "manifest.json").exists()
    assert job_files.free_folder_name(fd, [".unreadable-jobs", "v1.1", "job-1"]) == [".unreadable-jobs", "v1.1", "job-1.1"]
    assert job_files.free_folder_name(fd, [".unreadable-jobs", "v1.1", "job-2"]) == [".unreadable-jobs", "v1.1", "job-2"]
    assert job_files.free_folder_name(fd, ["nowhere", "job-1"]) == ["nowhere", "job-1"]


def test_a_folder_move_follows_no_link(output_root, tmp_path_factory):
    root, fd = output_root
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (root / "v1.1" / "job-link").symlink_to(elsewhere)
    with pytest.raises(job_files.UnsafePath, match="is a link or not a folder"):
        job_files.move_folder(fd, "v1.1/job-link", ".unreadable-jobs/v1.1/job-link")
    (root / ".unreadable-jobs").symlink_to(elsewhere)
    with pytest.raises(job_files.UnsafePath, match="is a link or not a folder"):
        job_files.move_folder(fd, "v1.1/job-1", ".unreadable-jobs/v1.1/job-1")
    assert list(elsewhere.iterdir()) == [] and (root / "v1.1" / "job-1").is_dir()


def test_a_new_file_is_written_once(output_root):
    root, fd = output_root
    job_files.write_new_file(fd, ".unreadable-jobs/v1.1/job-1.json", b"{}")
    assert (root / ".unreadable-jobs" / "v1.1" / "job-1.json").read_bytes() == b"{}"
    with pytest.raises(job_files.UnsafePath, match="exists: refusing to overwrite it"):
        job_files.write_new_file(fd, ".unreadable-jobs/v1.1/job-1.json", b"other")
    assert (root / ".unreadable-jobs" / "v1.1" / "job-1.json").read_bytes() == b"{}"


def test_a_free_folder_name_avoids_the_names_already_planned(output_root):
    _root, fd = output_root
    assert job_files.free_folder_name(fd, ["v1.1", "job-2"], {"v1.1/job-2", "v1.1/job-2.1"}) == ["v1.1", "job-2.2"]
    assert job_files.free_folder_name(fd, ["v1.1", "job-1"], {"v1.1/job-1.1"}) == ["v1.1", "job-1.2"]
    assert job_files.free_folder_name(fd, ["nowhere", "x"], {"nowhere/x"}) == ["nowhere", "x.1"]
