"""The package's shape: every module imports on its own (no import cycles), TensorFlow only when a
graph is built, `specc --help` only what it needs, and every error type lives in errors.py."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "specc"
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")


def test_every_module_imports_first_in_a_fresh_interpreter_without_tensorflow():
    """Imported first, each module finds what it needs: an import cycle fails here (as
    `import specc.emit.rnn` once did), and importing never brings TensorFlow in."""
    script = textwrap.dedent("""
        import importlib, json, subprocess, sys
        failures = {}
        for name in sys.argv[1:]:
            code = f"import importlib, sys; importlib.import_module({name!r}); " \\
                   "assert 'tensorflow' not in sys.modules, 'imported tensorflow'"
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
            if done.returncode:
                failures[name] = done.stderr.strip().splitlines()[-1]
        print(json.dumps(failures))
    """)
    done = subprocess.run([sys.executable, "-c", script, *MODULES], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {}
    assert len(MODULES) >= 40


def test_help_imports_neither_the_pipeline_nor_rich():
    script = textwrap.dedent("""
        import json, sys
        from specc.cli import app
        app(["--help"], standalone_mode=False)
        print("RESULT " + json.dumps(sorted(m for m in sys.modules if m.startswith(("specc.", "rich", "yaml",
                                                                                    "pydantic", "jsonschema")))))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.rsplit("RESULT ", 1)[1])
    # specc.emit.emitters names the emitters and the default (`--emit`); it imports them only when asked for one.
    assert loaded == ["specc.api", "specc.cli", "specc.cli.app", "specc.cli.export", "specc.cli.runs", "specc.emit",
                      "specc.emit.emitters", "specc.errors", "specc.limits", "specc.record"]


def test_validate_imports_only_what_a_plain_spec_needs():
    """No experiment machinery (sweeps, build directories, tempfile) for a file without `sweep:` or `experiment:`."""
    script = textwrap.dedent("""
        import json, sys
        from specc.cli import app
        try:
            app(["validate", sys.argv[1], "-q"], standalone_mode=False)
        finally:
            print("RESULT " + json.dumps(sorted(m for m in sys.modules if m.startswith((
                "specc.experiments.sweep", "specc.experiments.runs", "specc.builddir", "tempfile")))))
    """)
    done = subprocess.run([sys.executable, "-c", script, str(PACKAGE.parent / "specs" / "siamese.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.rsplit("RESULT ", 1)[1]) == []


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py") if p.name != "errors.py"),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_error_types_live_in_errors_py(path):
    tree = ast.parse(path.read_text("utf-8"))
    defined = [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
               and any(isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception")) or b.id == "Exception")
                       for b in node.bases)]
    assert defined == [], f"{path.name} defines error types {defined}; they belong in specc/errors.py"
