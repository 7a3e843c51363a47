"""The build cache: when a previous build directory can stand for the build about to be made.

A build's key is a digest of everything its files depend on: the resolved spec and
the plan, the overrides, the options that change what is written (a checkpoint to
initialise from, a training data file), and the versions of specc and TensorFlow.
The key goes into the build's marker (specc.builddir) with a digest of every file;
a directory is reused only if its key matches and every file is there, unedited.

Nothing here imports TensorFlow: its version is read from the installed package's
metadata, which is what makes a reused build cheap.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .builddir import file_digests, read_marker

if TYPE_CHECKING:
    from .experiments.runs import Prepared

_TENSORFLOW_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-macos", "tf-nightly")


def build_key(prepared: "Prepared", options: dict[str, Any]) -> str | None:
    """The key of building `prepared` with `options` (plain JSON data naming what else shapes the output).

    None when TensorFlow's version cannot be told without importing it: such a build is never reused.
    """
    from .experiments.runs import resolved_yaml

    versions = _versions()
    if versions is None:
        return None
    parts = {
        "versions": versions,
        "resolved": resolved_yaml(prepared.spec.document.data),
        "plan": prepared.plan_data,
        "overrides": prepared.overrides_json(),
        "options": options,
    }
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reusable(directory: Path, spec_file: str, key: str | None) -> bool:
    """Does `directory` hold a complete, unedited build of `spec_file` made under `key`?"""
    if key is None:
        return False
    marker = read_marker(directory)
    if marker is None or marker.get("key") != key or marker.get("spec_file") != str(Path(spec_file).resolve()):
        return False
    try:
        return file_digests(directory) == marker.get("sha256")
    except OSError:  # a file vanished while it was read
        return False


def file_stamp(path: Path | None) -> list | None:
    """What identifies the files at `path` (a file, a directory, or a checkpoint prefix) without reading
    them: each one's name, size and modification time. A checkpoint is large; its stamp is enough."""
    if path is None:
        return None
    path = Path(path).resolve()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
    else:
        files = sorted(p for p in path.parent.glob(f"{path.name}*") if p.is_file())
    stamp: list = [str(path)]
    for f in files:
        st = f.stat()
        stamp.append([f.name, st.st_size, st.st_mtime_ns])
    return stamp


@lru_cache(maxsize=1)
def installed_tensorflow() -> tuple[str, str] | None:
    """The distribution that installs TensorFlow and its version, from its metadata (no import); None if none."""
    for name in _TENSORFLOW_DISTRIBUTIONS:
        try:
            return name, metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


@lru_cache(maxsize=1)
def _versions() -> dict[str, str] | None:
    from . import __version__

    installed = installed_tensorflow()
    if installed is None:
        return None
    # specc's own sources too: a changed emitter under an unchanged version number must rebuild.
    return {"specc": __version__, "specc_sources": _source_digest(), "tensorflow": " ".join(installed)}


def _source_digest() -> str:
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for source in sorted(root.rglob("*.py")):
        digest.update(str(source.relative_to(root)).encode("utf-8") + b"\0")
        digest.update(source.read_bytes())
    return digest.hexdigest()
