"""Every YAML example in README.md and docs/ that is a whole spec is planned and built; every Python
example marked to run is run in a process of its own, and what it prints is compared with the doc; every
console example's commands are run, a doc's blocks in order in one directory, and what they print is compared
with the doc (times, paths and the last digits of numbers normalised; NOT_RUN says which cannot run, and why)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import specc

from .conftest import ROOT

BLOCK = re.compile(r"```yaml\n(specc: 1\n.*?)```", re.S)
EXAMPLES = [(md.name, i, text) for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
            for i, text in enumerate(BLOCK.findall(md.read_text("utf-8")))]


RUN = re.compile(r"<!-- run by tests/test_docs.py([^>]*)-->\n```python\n(.*?)```\n+prints\n+```text\n(.*?)```", re.S)
# A program marked "after the console blocks" reads what they wrote (a trained run): it runs in their directory.
AFTER = "after the console blocks"
ALL_PROGRAMS = [(md.name, i, code, printed, AFTER in marker)
                for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
                for i, (marker, code, printed) in enumerate(RUN.findall(md.read_text("utf-8")))]
PROGRAMS = [(doc, i, code, printed) for doc, i, code, printed, after in ALL_PROGRAMS if not after]


def test_the_docs_have_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("doc,index,text", EXAMPLES, ids=[f"{d}#{i}" for d, i, _ in EXAMPLES])
def test_doc_example_builds(tf, doc, index, text):
    model = specc.build(specc.loads(text, f"{doc}#{index}"))
    assert model.outputs


def test_residual_example_names(tf):
    text = next(t for d, _, t in EXAMPLES if "res_y" in t)
    model = specc.build(specc.loads(text, "res.yaml"))
    assert sorted(model.variables) == ["res/fc/bias", "res/fc/kernel"]
    ops = {op.name for op in model.graph.get_operations()}
    assert {"res/fc/MatMul", "res/sum/Add", "res_y/fc/MatMul", "res_y/sum/Add"} <= ops


def test_the_docs_have_programs():
    assert "scoping.md" in {doc for doc, *_ in PROGRAMS}


@pytest.mark.parametrize("doc,index,code,printed", PROGRAMS, ids=[f"{d}#{i}" for d, i, *_ in PROGRAMS])
def test_doc_program_prints_what_the_doc_says(doc, index, code, printed):
    # From the repository root, as a reader runs it.
    assert run_program(code, ROOT) == printed


def run_program(code: str, cwd: Path) -> str:
    """What a doc's Python program prints, run in a process of its own; this checkout's specc first."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- console examples: the commands a doc shows, run, and what they print compared with the doc --------------

CONSOLE = re.compile(r"```console\n(.*?)```", re.S)
CONSOLE_BLOCKS = {md.name: CONSOLE.findall(md.read_text("utf-8"))
                  for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]}

# The blocks that cannot run here (by doc and index among its console blocks), and why: none today.
NOT_RUN: dict[tuple[str, int], str] = {}

# Commands that are not run again here, and why.
NOT_RUN_COMMANDS = {
    "specc sweep specs/experiments/width_and_sharing.yaml -o runs/ --jobs 2":
        "tests/test_sweep.py sweeps this grid; again here it costs four TensorFlow worker processes (~45 s)",
}

def tutorial_checkpoints(directory: Path) -> None:
    """The checkpoints docs/checkpoints.md reads: what TensorFlow's MNIST tutorial (mnist.py's `inference()`,
    trained by fully_connected_feed.py) saves at step 2000 in `mnist_train`, and the same model built under
    a name scope `mnist` in `mnist_scoped`."""
    import tensorflow as tf

    v1 = tf.compat.v1
    for name, scope in (("mnist_train", ""), ("mnist_scoped", "mnist")):
        with tf.Graph().as_default():
            with v1.name_scope(scope or None):
                for layer, fan_in, units in (("hidden1", 784, 128), ("hidden2", 128, 32), ("softmax_linear", 32, 10)):
                    with v1.name_scope(layer):
                        v1.Variable(v1.truncated_normal([fan_in, units], stddev=fan_in ** -0.5), name="weights")
                        v1.Variable(v1.zeros([units]), name="biases")
            step = v1.Variable(0, name="global_step", trainable=False)
            with v1.Session() as sess:
                sess.run(v1.global_variables_initializer())
                sess.run(step.assign(2000))
                v1.train.Saver().save(sess, str(directory / name / "model.ckpt"), global_step=2000)


# What a doc's commands read outside their directory: made in it by SETUP, its paths given to the commands
# there, and said back as the doc says them.
SETUP = {"checkpoints.md": tutorial_checkpoints}
ELSEWHERE = {"checkpoints.md": ("/tmp/mnist_train", "/tmp/mnist_scoped")}

# A YAML block that opens with a comment naming a file (`# ffn.yaml`) is that file, as the doc shows it:
# written, comment and all, where the doc's console blocks run.
NAMED = re.compile(r"```yaml\n(# ([\w.-]+\.yaml)\n.*?)```", re.S)

# Files a doc's commands read that the doc describes but does not show, by doc; written as the doc describes
# them, so that what specc says of them (lines, columns, messages) is checked against the doc.
TOWERS = """\
specc: 1
inputs:
  a: {shape: [null, 10]}
  b: {shape: [null, 10]}
layers:
  - id: left
    type: block
    input: a
    scope: tower
    layers:
      - {id: fc1, type: dense, units: 64}
  - id: right
    type: block
    input: b
    scope: tower
    layers:
      - {id: fc1, type: dense, units: 64}
"""
FILES = {
    "README.md": {"broken.yaml": lambda: TOWERS},  # two towers in one scope, the second without `share`
    "checkpoints.md": {"siamese_renamed.yaml": lambda: (ROOT / "specs" / "siamese.yaml").read_text("utf-8")
                       .replace("scope: tower", "scope: encoder")},
    # Two towers of one structure, each in a scope of its own: the lint's SC301 case.
    "lint.md": {"model.yaml": lambda: TOWERS.replace("left", "tower").replace("right", "tower2")
                .replace("    scope: tower\n", "") + "outputs: [tower, tower2]\n"},
}


def console_steps(block: str) -> list[tuple[str, list[str]]]:
    """A console block's commands (continuation lines joined, comments dropped) and the lines each prints."""
    steps: list[tuple[str, list[str]]] = []
    lines = iter(block.splitlines())
    for line in lines:
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\"):
                command = command[:-1] + next(lines).strip()
            steps.append((command, []))
        elif line:
            steps[-1][1].append(line)
    return steps


def normal(text: str, root: Path) -> str:
    """What may differ from run to run and machine to machine, made equal; whitespace (a doc wraps long lines)
    collapsed."""
    text = text.replace(f"{root}/", "/home/me/")
    text = re.sub(r"in \d+\.\d s", "in N s", text)
    text = re.sub(r"(?<![\d.])\d+\.\d\d(?![\d.])", "N.NN", text)  # seconds to build, in a sweep's table
    # Numbers to 3 places: the same run gives the same digits on one machine, not on every CPU.
    text = re.sub(r"-?\d+\.\d{4,}", lambda m: f"{float(m.group()):.3f}", text)
    return " ".join(text.split())


def shown(expected: list[str], printed: str, root: Path) -> bool:
    """Whether `printed` is what the doc shows, where a line `...` stands for any lines the doc leaves out."""
    chunks: list[list[str]] = [[]]
    for line in expected:
        if line.strip() == "...":
            chunks.append([])
        else:
            chunks[-1].append(line)
    pattern = ".*?".join(re.escape(normal("\n".join(chunk), root)) for chunk in chunks)
    return re.fullmatch(pattern, normal(printed, root), re.S) is not None


def run_console(command: str, last_exit: int) -> tuple[str, int]:
    """One `$ ...` line, run as a shell would: specc in this process (TensorFlow is imported once),
    `saved_model_cli` as a process, `echo $?`, `; echo $?` and `> FILE`."""
    import shlex

    from typer.testing import CliRunner

    from specc.cli import app

    from .conftest import saved_model_cli

    command, echo = (command[:-len("; echo $?")], True) if command.endswith("; echo $?") else (command, False)
    program, *args = shlex.split(command, comments=True)
    if [program, *args] == ["echo", "$?"]:
        return f"{last_exit}\n", last_exit
    target = None
    if ">" in args:
        args, target = args[:args.index(">")], args[args.index(">") + 1]
    if program == "specc":
        result = CliRunner().invoke(app, args)
        assert "internal error" not in result.output, (command, result.output)
        printed, code = result.output, result.exit_code
    else:
        assert program == "saved_model_cli", f"no way to run {program!r} in a doc's console block"
        printed, code = saved_model_cli(*args), 0
    if target:
        Path(target).write_text(printed, "utf-8")
        printed = ""
    return printed + (f"{code}\n" if echo else ""), code


def test_the_docs_have_console_examples():
    assert sum(len(blocks) for blocks in CONSOLE_BLOCKS.values()) >= 15
    assert all(0 <= i < len(CONSOLE_BLOCKS[doc]) for doc, i in NOT_RUN)


@pytest.mark.parametrize("doc", [doc for doc, blocks in CONSOLE_BLOCKS.items() if blocks])
def test_console_examples_print_what_the_doc_says(doc, tmp_path, monkeypatch, tf):
    # In an empty directory with the repository's specs/, as a reader in a checkout runs them; one
    # directory for the doc's blocks, in order, as the reader follows the doc (`export` reads `train`'s run).
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    for name, text in FILES.get(doc, {}).items():
        (tmp_path / name).write_text(text(), "utf-8")
    for text, name in NAMED.findall(((ROOT / "docs" / doc) if doc != "README.md" else ROOT / doc).read_text("utf-8")):
        (tmp_path / name).write_text(text, "utf-8")
    if doc in SETUP:
        SETUP[doc](tmp_path)
    here = {path: str(tmp_path / Path(path).name) for path in ELSEWHERE.get(doc, ())}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "160")
    ran = 0
    for index, block in enumerate(CONSOLE_BLOCKS[doc]):
        if (doc, index) in NOT_RUN:
            continue
        code = 0
        for command, expected in console_steps(block):
            if command in NOT_RUN_COMMANDS:
                continue
            for path, made in here.items():
                command = command.replace(path, made)
            printed, code = run_console(command, code)
            for path, made in here.items():
                printed = printed.replace(made, path)
            if expected:  # a command the doc shows without its output only has to succeed
                assert shown(expected, printed, tmp_path), f"{doc}, console block {index}: {command}\n{printed}"
            else:
                assert code == 0, (command, printed)
            ran += 1
    assert ran or all((doc, i) in NOT_RUN for i in range(len(CONSOLE_BLOCKS[doc])))
    for program_doc, index, code, printed, after in ALL_PROGRAMS:
        if after and program_doc == doc:
            assert run_program(code, tmp_path) == printed, f"{doc}, program {index}"


def test_the_serving_doc_shows_the_whole_road():
    """spec -> train -> export -> saved_model_cli run, then the spec inside a hand-written program."""
    import shlex

    steps = [shlex.split(command)[:2] for command, _ in console_steps(CONSOLE_BLOCKS["serving.md"][0])]
    assert steps == [["specc", "train"], ["specc", "export"], ["saved_model_cli", "run"]]
    (program,) = [code for doc, _, code, _, after in ALL_PROGRAMS if doc == "serving.md" and after]
    assert "specc.apply(" in program and "init_from_checkpoint(\"runs/small\"" in program
