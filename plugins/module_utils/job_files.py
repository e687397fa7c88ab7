# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A job folder's files, read and moved without following a link: the version that wrote the folder is not trusted.

Every path is relative to the job folder and walked one component at a time with O_NOFOLLOW, so a
link planted anywhere (a clip, a clip folder, the quarantine folder) is refused instead of followed.
A move never overwrites: a same-filesystem move is link + unlink (no clobber), a move across
filesystems is copy to a hidden partial file, fsync, checksum both, link into place, then unlink
the source. A crash at any point leaves the clip at its source, at its destination, or at both
with the same bytes, which the next move finishes.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
# link() may be refused by the filesystem (EXDEV across mounts; EPERM/ENOTSUP where it has no hard links).
_NO_LINK = (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK)


class UnsafePath(ValueError):
    """A path that leaves the job folder, goes through a link, or would overwrite a file; the message names it."""


def split_relative(relative):
    """The components of a relative path inside the job; UnsafePath for '', '/x', '..', '.', 'a//b'."""
    parts = relative.split("/") if isinstance(relative, str) else [""]
    if any(part in ("", ".", "..") for part in parts) or "\0" in relative:
        raise UnsafePath(f"{relative!r} must be a relative path inside the job")
    return parts


def open_job(job_dir):
    """A descriptor of the job folder itself; UnsafePath when the folder is a link."""
    try:
        return os.open(job_dir, _DIR_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePath(f"{job_dir} is a link or not a folder") from exc
        raise


def _open_folder(job_fd, parts, shown, create=False):
    """Descriptor of the folder job/parts, created where asked; None when absent and not created."""
    fd = os.dup(job_fd)
    try:
        for depth, part in enumerate(parts):
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o750, dir_fd=fd)
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                os.close(fd)
                return None
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePath(f"{shown}: {'/'.join(parts[: depth + 1])} is a link or not a folder") from exc
                raise
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def _kind(folder_fd, name):
    """'missing', 'file' (regular) or 'other' (a link, a device, a folder) for one name in a folder."""
    try:
        mode = os.lstat(name, dir_fd=folder_fd).st_mode
    except FileNotFoundError:
        return "missing"
    return "file" if stat.S_ISREG(mode) else "other"


def _sha256_at(folder_fd, name):
    digest = hashlib.sha256()
    fd = os.open(name, _READ_FLAGS, dir_fd=folder_fd)
    with os.fdopen(fd, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def digest_inside(job_fd, relative):
    """Hex sha256 of a regular file inside the job; None when missing; UnsafePath for a link or a non-file."""
    parts = split_relative(relative)
    folder = _open_folder(job_fd, parts[:-1], relative)
    if folder is None:
        return None
    try:
        kind = _kind(folder, parts[-1])
        if kind == "missing":
            return None
        if kind != "file":
            raise UnsafePath(f"{relative} is not a regular file (a link?)")
        return _sha256_at(folder, parts[-1])
    finally:
        os.close(folder)


def check_move(job_fd, source, destination):
    """What move() would do, without changing anything: 'move', 'finish' (both there, identical), 'done' or 'missing'."""
    dst_parts = split_relative(destination)
    src_digest = digest_inside(job_fd, source)
    dst_folder = _open_folder(job_fd, dst_parts[:-1], destination)
    if dst_folder is None:
        return "move" if src_digest is not None else "missing"
    try:
        kind = _kind(dst_folder, dst_parts[-1])
        if kind == "missing":
            return "move" if src_digest is not None else "missing"
        if kind != "file":
            raise UnsafePath(f"{destination} exists and is not a regular file: refusing to overwrite it")
        dst_digest = _sha256_at(dst_folder, dst_parts[-1])
    finally:
        os.close(dst_folder)
    if src_digest is None:
        return "done"
    if src_digest != dst_digest:
        raise UnsafePath(f"{destination} exists with other bytes than {source}: refusing to overwrite it")
    return "finish"


def _copy_verified(src_folder, name, dst_folder, target):
    """Copy into a hidden partial file, fsync, compare both checksums, then link it into place (no overwrite)."""
    partial = f".{target}.partial"
    if _kind(dst_folder, partial) != "missing":
        os.unlink(partial, dir_fd=dst_folder)
    source_hash = hashlib.sha256()
    in_fd = os.open(name, _READ_FLAGS, dir_fd=src_folder)
    try:
        mode = stat.S_IMODE(os.fstat(in_fd).st_mode)
        out_fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dst_folder)
        try:
            for block in iter(lambda: os.read(in_fd, 1 << 20), b""):
                source_hash.update(block)
                view = memoryview(block)
                while view:
                    view = view[os.write(out_fd, view) :]
            os.fsync(out_fd)
        finally:
            os.close(out_fd)
    finally:
        os.close(in_fd)
    if _sha256_at(dst_folder, partial) != source_hash.hexdigest():
        os.unlink(partial, dir_fd=dst_folder)
        raise OSError(errno.EIO, f"the copy of {name} does not match its source")
    try:
        os.link(partial, target, src_dir_fd=dst_folder, dst_dir_fd=dst_folder, follow_symlinks=False)
        os.unlink(partial, dir_fd=dst_folder)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            os.unlink(partial, dir_fd=dst_folder)
            raise UnsafePath(f"{target} appeared while it was copied: refusing to overwrite it") from exc
        if exc.errno not in _NO_LINK:
            raise
        os.rename(partial, target, src_dir_fd=dst_folder, dst_dir_fd=dst_folder)
    os.fsync(dst_folder)


def move(job_fd, source, destination):
    """Move one file inside the job, never through a link and never over a file; returns how it went."""
    state = check_move(job_fd, source, destination)
    if state in ("done", "missing"):
        return {"done": "already there", "missing": "missing"}[state]
    src_parts, dst_parts = split_relative(source), split_relative(destination)
    src_folder = _open_folder(job_fd, src_parts[:-1], source)
    dst_folder = _open_folder(job_fd, dst_parts[:-1], destination, create=True)
    try:
        if state == "finish":
            how = "already there"
        else:
            try:
                os.link(src_parts[-1], dst_parts[-1], src_dir_fd=src_folder, dst_dir_fd=dst_folder, follow_symlinks=False)
                how = "renamed"
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    raise UnsafePath(f"{destination} appeared during the move: refusing to overwrite it") from exc
                if exc.errno not in _NO_LINK:
                    raise
                _copy_verified(src_folder, src_parts[-1], dst_folder, dst_parts[-1])
                how = "copied"
            os.fsync(dst_folder)
        os.unlink(src_parts[-1], dir_fd=src_folder)
        os.fsync(src_folder)
        return how
    finally:
        os.close(src_folder)
        os.close(dst_folder)


def free_folder_name(root_fd, parts, reserved=()):
    """parts, or parts with '.N' on the last name, whichever names nothing yet under root nor in reserved ('/'-joined)."""
    parent = _open_folder(root_fd, parts[:-1], "/".join(parts))
    try:
        for suffix in [""] + [f".{n}" for n in range(1, 1000)]:
            candidate = parts[:-1] + [parts[-1] + suffix]
            if "/".join(candidate) not in reserved and (parent is None or _kind(parent, candidate[-1]) == "missing"):
                return candidate
    finally:
        if parent is not None:
            os.close(parent)
    raise UnsafePath(f"{'/'.join(parts)}: a thousand folders of that name are already there")


def move_folder(root_fd, source, destination):
    """Rename the folder root/source to root/destination (created parents, no link followed, never over anything)."""
    src_parts, dst_parts = split_relative(source), split_relative(destination)
    src_parent = _open_folder(root_fd, src_parts[:-1], source)
    if src_parent is None:
        raise UnsafePath(f"{source} is not there any more")
    try:
        try:
            mode = os.lstat(src_parts[-1], dir_fd=src_parent).st_mode
        except FileNotFoundError as exc:
            raise UnsafePath(f"{source} is not there any more") from exc
        if not stat.S_ISDIR(mode):
            raise UnsafePath(f"{source} is a link or not a folder")
        dst_parent = _open_folder(root_fd, dst_parts[:-1], destination, create=True)
        try:
            if _kind(dst_parent, dst_parts[-1]) != "missing":
                raise UnsafePath(f"{destination} exists: refusing to overwrite it")
            # rename() moves a link itself, never what it points to; across mounts it fails with EXDEV and nothing moves.
            os.rename(src_parts[-1], dst_parts[-1], src_dir_fd=src_parent, dst_dir_fd=dst_parent)
            os.fsync(dst_parent)
        finally:
            os.close(dst_parent)
        os.fsync(src_parent)
    finally:
        os.close(src_parent)


def write_new_file(root_fd, relative, data):
    """Create root/relative with data (bytes); refuses a name that exists or a folder on the way that is a link."""
    parts = split_relative(relative)
    folder = _open_folder(root_fd, parts[:-1], relative, create=True)
    try:
        fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640, dir_fd=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except FileExistsError as exc:
        raise UnsafePath(f"{relative} exists: refusing to overwrite it") from exc
    finally:
        os.close(folder)
