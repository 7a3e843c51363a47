"""A build directory holds a complete build or nothing: kills, crashes and rivals never leave a mix."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from specc.builddir import MARKER, check_target, staged
from specc.errors import OutputRefused

from .conftest import SPECS

SIAMESE = SPECS / "siamese.yaml"


def complete(directory: Path) -> bool:
    """A directory is a complete build when its marker lists exactly the files present."""
    marker = json.loads((directory / MARKER).read_text())
    return sorted(p.name for p in directory.iterdir() if p.name != MARKER) == marker["files"]


def fake_build(directory: Path, content: str) -> None:
    with staged(directory, str(SIAMESE)) as tmp:
        (tmp / "graph.pbtxt").write_text(content)
        (tmp / "plan.json").write_text("{}")


def run_child(code: str) -> int:
    script = textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parent.parent).returncode


def test_killed_while_writing_leaves_the_previous_build(tmp_path):
    out = tmp_path / "model"
    fake_build(out, "old")
    rc = run_child(f"""
        import os, signal
        from pathlib import Path
        from specc.builddir import staged
        with staged(Path({str(out)!r}), {str(SIAMESE)!r}) as tmp:
            (tmp / "graph.pbtxt").write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert rc == -signal.SIGKILL
    assert (out / "graph.pbtxt").read_text() == "old" and complete(out)
    assert list(tmp_path.glob(".model.tmp-*"))  # the killed build's leftovers...
    fake_build(out, "new")
    assert not list(tmp_path.glob(".model.tmp-*"))  # ...are tidied by the next build
    assert (out / "graph.pbtxt").read_text() == "new" and complete(out)


def test_killed_between_the_two_renames_the_previous_build_comes_back(tmp_path):
    out = tmp_path / "model"
    fake_build(out, "old")
    rc = run_child(f"""
        import os, signal
        from pathlib import Path
        import specc.builddir as output
        real_rename = os.rename
        def rename_then_die(a, b):
            real_rename(a, b)
            if ".old-" in str(b):  # the previous build was just moved aside
                os.kill(os.getpid(), signal.SIGKILL)
        output.os.rename = rename_then_die
        with output.staged(Path({str(out)!r}), {str(SIAMESE)!r}) as tmp:
            (tmp / "graph.pbtxt").write_text("new")
    """)
    assert rc == -signal.SIGKILL
    assert not out.exists()  # the worst moment: only the moved-aside previous build exists
    fake_build(out, "newer")  # the next build first puts the previous one back, then replaces it whole
    assert (out / "graph.pbtxt").read_text() == "newer" and complete(out)
    assert not list(tmp_path.glob(".model.*-*"))


def test_a_failing_build_leaves_the_previous_one_untouched(tmp_path):
    out = tmp_path / "model"
    fake_build(out, "old")
    with pytest.raises(RuntimeError):
        with staged(out, str(SIAMESE)) as tmp:
            (tmp / "graph.pbtxt").write_text("half")
            raise RuntimeError("emitter failed")
    assert (out / "graph.pbtxt").read_text() == "old" and complete(out)
    assert not list(tmp_path.glob(".model.tmp-*"))


@pytest.mark.parametrize("held, kind", [("run", "build"), ("build", "export"), ("export", "run"), ("run", "export")])
def test_a_run_build_or_export_is_never_replaced_by_another_kind_without_force(tmp_path, held, kind):
    """A trained run's checkpoints are not lost to a `specc build -o` of the same spec (nor an export to a
    build): only the same kind replaces a directory of this spec unasked."""
    out = tmp_path / "model"
    with staged(out, str(SIAMESE), kind=held) as tmp:
        (tmp / "model.ckpt.index").write_text("trained")
    assert json.loads((out / MARKER).read_text())["kind"] == held
    with pytest.raises(OutputRefused, match=rf"{out} holds an? {held} of this spec \(written by `specc .*`\), "
                                            rf"which an? {kind} would replace whole; choose another -o or pass --force"):
        check_target(out, str(SIAMESE), False, kind)
    check_target(out, str(SIAMESE), False, held)  # the same kind again: replaced, as before
    check_target(out, str(SIAMESE), True, kind)  # --force: the user said so


def test_a_marker_from_before_kinds_were_recorded_is_replaced_as_before(tmp_path):
    out = tmp_path / "model"
    fake_build(out, "old")
    marker = json.loads((out / MARKER).read_text())
    del marker["kind"]
    (out / MARKER).write_text(json.dumps(marker))
    for kind in ("build", "run", "export"):
        check_target(out, str(SIAMESE), False, kind)


def test_a_concurrent_build_is_refused_clearly(tmp_path):
    out = tmp_path / "model"
    with open(tmp_path / ".model.lock", "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        with pytest.raises(OutputRefused, match="another specc build is writing"):
            fake_build(out, "x")
    assert not out.exists()


def test_the_lock_file_is_removed_when_the_writer_finishes(tmp_path):
    out = tmp_path / "model"
    fake_build(out, "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    with pytest.raises(RuntimeError):
        with staged(out, str(SIAMESE)):
            assert (tmp_path / ".model.lock").exists()  # held while writing
            raise RuntimeError("emitter failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_writer_that_locked_a_removed_lock_file_tries_the_path_again(tmp_path, monkeypatch):
    """The race removing the lock opens: B opens `.model.lock`, A finishes and unlinks it, C creates a
    new one and holds it; B's flock then succeeds on the dead inode. B must see that the path names
    another file, open it again, and be refused because C holds it."""
    import specc.builddir as builddir

    out = tmp_path / "model"
    lock_path = tmp_path / ".model.lock"
    stale = os.open(lock_path, os.O_RDWR | os.O_CREAT)  # B's view, before A removes the file
    lock_path.unlink()  # A finished
    rival = os.open(lock_path, os.O_RDWR | os.O_CREAT)  # C, writing now
    fcntl.flock(rival, fcntl.LOCK_EX)
    opened = []
    real_open = os.open

    def open_the_stale_file_first(path, *args):
        opened.append(path)
        return os.dup(stale) if len(opened) == 1 else real_open(path, *args)

    monkeypatch.setattr(builddir.os, "open", open_the_stale_file_first)
    try:
        with pytest.raises(OutputRefused, match="another specc build is writing"):
            fake_build(out, "x")
        assert len(opened) == 2 and not out.exists()  # opened the path again, found C's lock
        assert lock_path.exists()  # C's file is left alone
    finally:
        os.close(rival)
        os.close(stale)
    monkeypatch.undo()
    fake_build(out, "x")  # C done (its file remains, as after a kill): the next build takes it, then removes it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_two_processes_never_write_at_once(tmp_path):
    """Many writers of one directory, in separate processes, each holding the lock a moment: at most one is
    ever inside, and no lock file is left."""
    out = tmp_path / "model"
    inside = tmp_path / "inside"
    inside.mkdir()
    code = f"""
        import os, sys, time
        from pathlib import Path
        from specc.builddir import staged
        from specc.errors import OutputRefused
        done = 0
        deadline = time.monotonic() + 3
        while done < 20 and time.monotonic() < deadline:
            try:
                with staged(Path({str(out)!r}), {str(SIAMESE)!r}) as tmp:
                    mine = Path({str(inside)!r}) / str(os.getpid())
                    mine.touch()
                    if len(list(Path({str(inside)!r}).iterdir())) > 1:
                        sys.exit(7)  # another writer is inside too
                    (tmp / "graph.pbtxt").write_text("x")
                    mine.unlink()
                done += 1
            except OutputRefused:
                time.sleep(0.001)
        sys.exit(0 if done else 9)
    """
    children = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=Path(__file__).parent.parent)
                for _ in range(3)]
    try:
        codes = [child.wait(timeout=60) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert codes == [0, 0, 0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inside", "model"] and complete(out)


@pytest.mark.parametrize("delay", [0.3, 1.5, 2.6])
def test_sigkill_of_the_cli_at_any_moment_never_leaves_a_mix(tmp_path, delay):
    out = tmp_path / "siamese"
    specc = [sys.executable, "-m", "specc.cli", "build", str(SIAMESE), "-o", str(out), "-q"]
    assert subprocess.run(specc, capture_output=True).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name in ("graph.pbtxt", "plan.json")}
    # --no-cache: unchanged, the build would be reused, and there would be no writing to interrupt
    child = subprocess.Popen([*specc, "--no-cache"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    child.kill()
    child.wait()
    assert out.is_dir() or list(tmp_path.glob(".siamese.old-*"))
    if out.is_dir():
        assert complete(out)
        after = {p.name: p.read_bytes() for p in out.iterdir() if p.name in ("graph.pbtxt", "plan.json")}
        assert after == before  # the same spec rebuilds identically, so old or new, it is whole
