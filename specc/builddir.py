"""Build directories, written atomically: all of a build appears at once, or nothing does.

A build is written into a temporary sibling directory, then swapped in by rename.
An existing directory is replaced only if it is a previous build of the same
spec (it carries specc's marker file); anything else needs `force`.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import OutputRefused

MARKER = ".specc-build.json"


# What writes a directory (a, by): a build never silently replaces a run (trained checkpoints) or an
# export, nor the other way round.
KINDS = {"build": ("a build", "`specc build`"), "run": ("a run", "`specc train` or `specc sweep`"),
         "export": ("an export", "`specc export`")}


def check_target(directory: Path, spec_file: str, force: bool, kind: str = "build") -> None:
    """Refuse a target that is not empty and not a previous `kind` (build, run, export) of this spec.

    Even --force never replaces a directory that holds the spec itself or the
    working directory: that would delete the user's sources.
    """
    target = directory.resolve()
    for precious, what in ((Path(spec_file).resolve(), "the spec being built"), (Path.cwd(), "the working directory")):
        if precious == target or target in precious.parents:
            raise OutputRefused(f"{directory} contains {what}; a build replaces its output directory whole, "
                                "so choose an output directory of its own (e.g. build/<name>)")
    if not directory.exists() or force:
        return
    if not directory.is_dir():
        raise OutputRefused(f"{directory} exists and is not a directory; pass --force to replace it")
    entries = list(directory.iterdir())
    if not entries:
        return
    marker = directory / MARKER
    if not marker.exists():
        raise OutputRefused(f"{directory} holds files specc did not write; choose another -o or pass --force")
    try:
        previous = json.loads(marker.read_text("utf-8"))
    except (OSError, ValueError):
        raise OutputRefused(f"{directory} holds a damaged build marker; pass --force to replace it") from None
    if previous.get("spec_file") != str(Path(spec_file).resolve()):
        raise OutputRefused(f"{directory} holds the build of another spec ({previous.get('spec_file')}); "
                            "choose another -o or pass --force")
    held = previous.get("kind", kind)  # markers written before kinds were recorded: as before
    if held != kind and held in KINDS:
        raise OutputRefused(f"{directory} holds {KINDS[held][0]} of this spec (written by {KINDS[held][1]}), "
                            f"which {KINDS[kind][0]} would replace whole; choose another -o or pass --force")
    extra = sorted({p.name for p in entries} - set(previous.get("files", [])) - {MARKER})
    if extra:
        raise OutputRefused(f"{directory} holds files specc did not write ({', '.join(extra)}); "
                            "choose another -o or pass --force")


@contextmanager
def staged(directory: Path, spec_file: str, key: str | None = None, kind: str = "build") -> Iterator[Path]:
    """Yield a temporary directory to fill; on success it replaces `directory` whole.

    The marker, written last, names the spec, what wrote the directory (`kind`: KINDS), the files and
    their SHA-256 digests, and the build's cache `key` (specc.buildcache), so that a later build can tell
    whether this one stands for it.

    If the body raises, the temporary directory is removed and `directory` is
    untouched. One build at a time writes a directory: a second concurrent one is
    refused (a lock file `.<name>.lock` beside it, removed when the build ends). Leftovers of a build that was
    killed are cleaned up first, and a previous build caught between the two
    renames of a swap is put back.
    """
    directory = directory.resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    with _locked(directory):
        _recover(directory)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would outlive the rename
        try:
            yield tmp
            files = sorted(p.name for p in tmp.iterdir())
            write_text(tmp / MARKER, json.dumps({"spec_file": str(Path(spec_file).resolve()), "kind": kind, "files": files,
                                                 "sha256": file_digests(tmp), "key": key}))
            _swap(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def read_marker(directory: Path) -> dict | None:
    """The marker of a build directory; None if there is none or it is damaged."""
    try:
        marker = json.loads((Path(directory) / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def file_digests(directory: Path) -> dict[str, str]:
    """Every file under `directory` but the marker, by relative path -> the SHA-256 of its content."""
    from hashlib import sha256  # here: validate and explain import this module and hash nothing

    directory = Path(directory)
    out = {}
    for entry in sorted(directory.rglob("*")):
        if entry.is_dir() or (entry.name == MARKER and entry.parent == directory):
            continue
        digest = sha256()
        with open(entry, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        out[entry.relative_to(directory).as_posix()] = digest.hexdigest()
    return out


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Hold `.<name>.lock` beside `directory` for one writer, and remove it when done.

    Removing a lock file races with a writer that opened it just before: that one then locks
    the unlinked inode while a third creates a fresh file and locks that, and both would write.
    So the file is unlinked while still locked, and a writer that got the lock checks that the
    path still names the inode it holds, opening the path again if not.
    """
    lock_path = directory.parent / f".{directory.name}.lock"
    for _ in range(_LOCK_ATTEMPTS):
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputRefused(f"another specc build is writing {directory} right now; wait for it to finish") from None
        if _same_file(fd, lock_path):
            break
        os.close(fd)  # a finished writer removed (or replaced) the file we opened: try the path again
    else:  # pragma: no cover - only under a storm of writers of one directory
        raise OutputRefused(f"could not lock {directory}: other specc builds keep replacing {lock_path.name}")
    try:
        yield
    finally:
        try:
            os.unlink(lock_path)  # still locked: whoever opens the path from now on gets a new file
        finally:
            os.close(fd)  # releases the lock


_LOCK_ATTEMPTS = 100


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _recover(directory: Path) -> None:
    """Called under the lock: what a killed build left behind is safe to tidy."""
    olds = sorted(directory.parent.glob(f".{directory.name}.old-*"))
    if not directory.exists() and olds:
        os.rename(olds.pop(), directory)  # killed between the two renames: the previous build returns
    for stale in olds + list(directory.parent.glob(f".{directory.name}.tmp-*")):
        shutil.rmtree(stale, ignore_errors=True)


def _swap(new: Path, directory: Path) -> None:
    if not directory.exists():
        os.rename(new, directory)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
    os.rmdir(old)
    os.rename(directory, old)  # between these two renames the previous build survives as `old`
    os.rename(new, directory)
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()


def write_text(path: Path, text: str) -> None:
    """Write `path` whole or not at all: a temporary file beside it, then a rename.

    The temporary is named after this process (`.NAME.tmp-PID`); ones that a killed
    writer left behind are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        if not _alive(stale.name.rsplit("-", 1)[-1]):
            stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _alive(pid: str) -> bool:
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_json(path: Path, data) -> None:
    """Write JSON atomically (temp file, then rename)."""
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")
