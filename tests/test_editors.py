"""Editors and other validators see what specc sees: the real yaml-language-server (behind VS Code's YAML
extension, Neovim's yamlls, Helix and Emacs lsp-mode), driven over stdio as an editor drives it, and ajv,
each over the checked-in schemas (docs/editors.md tells people how to set them up).

The Node tools come from npm: .ci/run installs them into .ci/node/ (`npm install --prefix .ci/node
yaml-language-server ajv-cli ajv-formats`); a tool found there is used first, else one on PATH. Without
node or the tools, these tests skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml
from typer.testing import CliRunner

import specc
from specc.cli import app
from specc.layers import LAYER_TYPES

from .conftest import ROOT, SPECS

SCHEMAS = ROOT / "schemas"
WRITTEN = SCHEMAS / "specc-v1.schema.json"
RESOLVED = SCHEMAS / "specc-v1.resolved.schema.json"
SPEC_FILES = sorted(SPECS.rglob("*.yaml"))
NODE_TOOLS = ROOT / ".ci" / "node" / "node_modules" / ".bin"
INSTALL = "npm install --prefix .ci/node yaml-language-server ajv-cli ajv-formats, as .ci/run does"

# What docs/editors.md tells editors to say: the written schema, by a path relative to the workspace, for
# `*.specc.yaml` and specs/. The schema store is off: it comes from the network, and only our schema is
# under test.
SETTINGS = {
    "yaml": {
        "validate": True,
        "hover": True,
        "completion": True,
        "schemas": {"./schemas/specc-v1.schema.json": ["*.specc.yaml", "specs/**/*.yaml"]},
        "schemaStore": {"enable": False},
        "format": {"enable": False},
    },
}
TIMEOUT = 20.0  # seconds: the longest any one answer may take (they take well under one here)
QUIET = 0.5  # seconds without a new publication before a document's diagnostics count as final

# Three mistakes, one per layer; their lines (0-based, as LSP counts) and the text each diagnostic covers.
BROKEN = """\
specc: 1
inputs: {x: {shape: [null, 3]}}
layers:
  - id: a
    type: dense
    units: eight
  - id: b
    type: dense
    units: 3
    unitz: 4
  - {id: c, type: densse, units: 3}
outputs: [c]
"""
BROKEN_AT = {5: "eight", 9: "unitz", 10: "densse"}


def node_tool(name: str) -> str:
    """A Node tool's executable: the one .ci/run installed into .ci/node/, else one on PATH."""
    if shutil.which("node") is None:
        pytest.skip(f"node is not installed (apt-get install nodejs npm): {name} cannot run")
    local = NODE_TOOLS / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed ({INSTALL})")
    return found


def modeline(document: Path) -> str:
    """The first line that ties a document at `document` to the written schema, by a relative path."""
    return f"# yaml-language-server: $schema={os.path.relpath(WRITTEN, document.parent)}\n"


# -- a minimal Language Server Protocol client ---------------------------------------------------

class LanguageServer:
    """A language server as a subprocess, spoken to in JSON-RPC with Content-Length framing over stdio.

    A reader thread files the server's answers by id and its diagnostics by document, and answers the
    server's own requests: `workspace/configuration` from SETTINGS-like `settings` (yaml-language-server
    pulls its settings that way, also after `workspace/didChangeConfiguration`), anything else with null.
    """

    def __init__(self, argv: list[str], settings: dict):
        self.settings = settings
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     cwd=ROOT)
        self.changed = threading.Condition()
        self.write_lock = threading.Lock()
        self.answers: dict[int, dict] = {}
        self.published: dict[str, list[tuple[float, list]]] = {}  # uri -> [(when, diagnostics)]
        self.configured = 0  # workspace/configuration requests answered
        self.next_id = 0
        self.closed = False
        self.reader = threading.Thread(target=self._read, name="yaml-language-server reader", daemon=True)
        self.reader.start()

    # transport

    def _send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        with self.write_lock:
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.proc.stdin.flush()

    def _read(self) -> None:
        stream = self.proc.stdout
        try:
            while True:
                headers = {}
                while (line := stream.readline().strip()):
                    name, _, value = line.decode("ascii").partition(":")
                    headers[name.strip().lower()] = value.strip()
                if not headers:  # end of the stream: the server is gone
                    break
                self._dispatch(json.loads(stream.read(int(headers["content-length"]))))
        except (OSError, ValueError):
            pass
        finally:
            with self.changed:
                self.closed = True
                self.changed.notify_all()

    def _dispatch(self, message: dict) -> None:
        if "method" in message and "id" in message:  # the server asks
            result = None
            if message["method"] == "workspace/configuration":
                result = [self.settings.get(item.get("section")) for item in message["params"]["items"]]
            self._send({"id": message["id"], "result": result})
            if message["method"] == "workspace/configuration":
                with self.changed:
                    self.configured += 1
                    self.changed.notify_all()
        elif "id" in message:
            with self.changed:
                self.answers[message["id"]] = message
                self.changed.notify_all()
        elif message.get("method") == "textDocument/publishDiagnostics":
            params = message["params"]
            with self.changed:
                self.published.setdefault(params["uri"], []).append((time.monotonic(), params["diagnostics"]))
                self.changed.notify_all()

    def _wait(self, ready, what: str, timeout: float = TIMEOUT):
        """Wait until ready() is true (under the lock); fail, saying what was awaited, after `timeout`."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not ready():
                if self.closed:
                    raise AssertionError(f"yaml-language-server exited while waiting for {what}:\n{self.log()}")
                if not self.changed.wait(timeout=deadline - time.monotonic()) and time.monotonic() >= deadline:
                    raise AssertionError(f"no {what} from yaml-language-server within {timeout:g} s:\n{self.log()}")

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")[-3000:]

    # protocol

    def request(self, method: str, params, timeout: float = TIMEOUT):
        self.next_id += 1
        number = self.next_id
        self._send({"id": number, "method": method, "params": params})
        self._wait(lambda: number in self.answers, f"answer to {method}", timeout)
        answer = self.answers.pop(number)
        assert "error" not in answer, f"{method}: {answer['error']}"
        return answer["result"]

    def notify(self, method: str, params) -> None:
        self._send({"method": method, "params": params})

    def initialize(self, root: Path) -> dict:
        capabilities = {
            "workspace": {"configuration": True, "didChangeConfiguration": {"dynamicRegistration": False}},
            "textDocument": {
                "hover": {"contentFormat": ["markdown", "plaintext"]},
                "completion": {"completionItem": {"snippetSupport": False, "documentationFormat": ["markdown"]}},
                "publishDiagnostics": {},
            },
        }
        result = self.request("initialize", {
            "processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": capabilities,
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
        })
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": self.settings})
        self._wait(lambda: self.configured >= 1, "workspace/configuration request")
        return result

    def open(self, uri: str, text: str) -> None:
        self.notify("textDocument/didOpen",
                    {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}})

    def diagnostics(self, uris: list[str], timeout: float = TIMEOUT) -> dict[str, list]:
        """The diagnostics last published for each document, once each has some and none changed for QUIET s
        (a document opened while the server applies its settings is checked again after)."""
        self._wait(lambda: all(uri in self.published for uri in uris), "diagnostics for every document", timeout)
        deadline = time.monotonic() + timeout
        while True:
            with self.changed:
                last = max(self.published[uri][-1][0] for uri in uris)
            if time.monotonic() - last >= QUIET:
                break
            assert time.monotonic() < deadline, f"diagnostics still changing after {timeout:g} s"
            time.sleep(QUIET / 5)
        with self.changed:
            return {uri: self.published[uri][-1][1] for uri in uris}

    def schemas_of(self, uri: str) -> list[str]:
        """The files of the schemas yaml-language-server applies to a document (`yaml/get/jsonSchema`)."""
        return sorted(unquote(urlparse(schema["uri"]).path) for schema in self.request("yaml/get/jsonSchema", uri))

    def close(self) -> None:
        """Shut down politely, then by signals to the server's own PID: never leave it running."""
        try:
            if self.proc.poll() is None and not self.closed:
                self.request("shutdown", None, timeout=5)
                self.notify("exit", None)
                self.proc.wait(timeout=5)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()  # SIGTERM to self.proc.pid
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self.reader.join(timeout=5)
            self.stderr.close()


@contextmanager
def language_server(settings: dict):
    """A running, initialized yaml-language-server with these settings; stopped on the way out, however."""
    server = LanguageServer([node_tool("yaml-language-server"), "--stdio"], settings)
    try:
        info = server.initialize(ROOT)
        assert info["serverInfo"]["name"] == "yaml-language-server", info
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def yamlls():
    """One yaml-language-server for the module, configured as docs/editors.md says."""
    with language_server(SETTINGS) as server:
        yield server


def span(text: str, range_: dict) -> str:
    """The text a one-line LSP range covers."""
    start, end = range_["start"], range_["end"]
    assert start["line"] == end["line"], range_
    return text.splitlines()[start["line"]][start["character"]:end["character"]]


# -- yaml-language-server ------------------------------------------------------------------------

def test_language_server_accepts_every_example_spec_by_settings(yamlls):
    uris = {spec.as_uri(): spec for spec in SPEC_FILES}
    for uri, spec in uris.items():
        yamlls.open(uri, spec.read_text("utf-8"))
    found = yamlls.diagnostics(list(uris))
    assert len(SPEC_FILES) >= 15
    assert {uri: [d["message"] for d in diags] for uri, diags in found.items() if diags} == {}
    for uri in uris:  # no diagnostics because the schema was applied, not because none was
        assert yamlls.schemas_of(uri) == [str(WRITTEN)], uri


def test_language_server_accepts_every_example_spec_by_modeline(yamlls):
    """The modeline docs/editors.md recommends: a relative path from the spec to schemas/. The documents
    live (only in the server's memory) in a folder the settings' file patterns do not match."""
    uris = {}
    for spec in SPEC_FILES:
        virtual = ROOT / "modeline" / spec.relative_to(SPECS)
        uris[virtual.as_uri()] = modeline(virtual) + spec.read_text("utf-8")
        yamlls.open(virtual.as_uri(), uris[virtual.as_uri()])
    assert modeline(ROOT / "modeline" / "x.yaml") == \
        "# yaml-language-server: $schema=../schemas/specc-v1.schema.json\n"  # as docs/editors.md shows
    found = yamlls.diagnostics(list(uris))
    assert {uri: [d["message"] for d in diags] for uri, diags in found.items() if diags} == {}
    for uri in uris:
        assert yamlls.schemas_of(uri) == [str(WRITTEN)], uri


def test_language_server_accepts_every_resolved_spec_with_the_resolved_schema(yamlls):
    uris = []
    for spec in SPEC_FILES:
        result = CliRunner().invoke(app, ["resolve", str(spec)])  # `specc resolve FILE`
        assert result.exit_code == 0, result.output
        virtual = ROOT / "resolved" / spec.name
        yamlls.open(virtual.as_uri(), f"# yaml-language-server: $schema=../schemas/{RESOLVED.name}\n{result.stdout}")
        uris.append(virtual.as_uri())
    found = yamlls.diagnostics(uris)
    assert {uri: [d["message"] for d in diags] for uri, diags in found.items() if diags} == {}
    for uri in uris:
        assert yamlls.schemas_of(uri) == [str(RESOLVED)], uri


@pytest.mark.parametrize("way", ["settings", "modeline"])
def test_language_server_reports_each_mistake_on_its_line(yamlls, way):
    if way == "settings":
        uri, text, shift = (ROOT / "tests" / "broken.specc.yaml").as_uri(), BROKEN, 0
    else:
        where = ROOT / "modeline" / "broken.yaml"
        uri, text, shift = where.as_uri(), modeline(where) + BROKEN, 1
    yamlls.open(uri, text)
    (found,) = yamlls.diagnostics([uri]).values()
    assert sorted((d["range"]["start"]["line"] - shift, span(text, d["range"])) for d in found) == \
        sorted(BROKEN_AT.items())
    by_word = {span(text, d["range"]): d for d in found}
    assert by_word["eight"]["message"] == 'Incorrect type. Expected "integer".'
    assert by_word["unitz"]["message"] == "Property unitz is not allowed."
    assert by_word["densse"]["message"].startswith('Value is not accepted. Valid values: "dense", ')
    assert all(d["severity"] == 1 and d["source"].startswith("yaml-schema: specc model spec") for d in found)


def test_language_server_and_specc_both_read_yaml_1_2(yamlls):
    """`no` is text in YAML 1.2, as specc and yaml-language-server read it: both refuse it for a boolean."""
    text = "specc: 1\ninputs: {x: {shape: [null, 3]}}\nlayers:\n  - {id: a, type: dense, units: 3, use_bias: no}\n"
    with pytest.raises(specc.SpecError) as info:
        specc.loads(text, "yaml12.yaml")
    assert info.value.message == "expected true or false, got string 'no'"
    assert (info.value.where.line, info.value.where.col) == (4, 46)
    uri, fixed_uri = ((ROOT / "tests" / f"{name}.specc.yaml").as_uri() for name in ("yes_no", "true_false"))
    yamlls.open(uri, text)
    yamlls.open(fixed_uri, text.replace("use_bias: no", "use_bias: false"))
    found = yamlls.diagnostics([uri, fixed_uri])
    assert [(d["range"]["start"]["line"], span(text, d["range"]), d["message"]) for d in found[uri]] == \
        [(3, "no", 'Incorrect type. Expected "boolean".')]
    assert found[fixed_uri] == []


def test_language_server_yaml_1_1_setting_is_not_specc_yaml():
    """Its `yamlVersion: "1.1"` is no cure: it reads `y` and `n` as booleans too (PyYAML does not), and `y`
    is a common input name; so docs/editors.md leaves the default alone."""
    settings = {"yaml": {**SETTINGS["yaml"], "yamlVersion": "1.1"}}
    text = ("specc: 1\ninputs: {x: {shape: [null, 3]}, y: {shape: [null]}}\n"
            "layers:\n  - {id: a, type: dense, units: 3}\n")
    assert [i.name for i in specc.loads(text, "y.yaml").inputs] == ["x", "y"]
    with language_server(settings) as server:
        uri = (ROOT / "tests" / "yaml11.specc.yaml").as_uri()
        server.open(uri, text)
        (found,) = server.diagnostics([uri]).values()
    assert [(d["range"]["start"]["line"], span(text, d["range"]), d["message"]) for d in found] == \
        [(1, "y", 'Incorrect type. Expected "string".')]


def test_language_server_hover_shows_the_schema_description(yamlls):
    expected = json.loads(WRITTEN.read_text("utf-8"))["$defs"]["layer_dense"]["properties"]["units"]["description"]
    uri = (ROOT / "tests" / "hover.specc.yaml").as_uri()
    text = "specc: 1\ninputs: {x: {shape: [null, 3]}}\nlayers:\n  - id: fc\n    type: dense\n    units: 8\n"
    yamlls.open(uri, text)
    assert yamlls.diagnostics([uri]) == {uri: []}
    hover = yamlls.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                  "position": {"line": 5, "character": 6}})
    assert hover is not None, "no hover on `units`"
    assert span(text, hover["range"]) == "units"
    assert hover["contents"]["kind"] == "markdown"
    assert expected in hover["contents"]["value"].split("\n\n"), hover["contents"]["value"]


def test_language_server_completes_the_keys_of_the_layer_type(yamlls):
    uri = (ROOT / "tests" / "completion.specc.yaml").as_uri()
    text = "specc: 1\ninputs: {x: {shape: [null, 3]}}\nlayers:\n  - id: fc\n    type: dense\n    \n"
    yamlls.open(uri, text)
    completion = yamlls.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                            "position": {"line": 5, "character": 4}})
    items = completion["items"] if isinstance(completion, dict) else completion
    labels = {item["label"] for item in items}
    assert {"units", "activation", "use_bias", "kernel_initializer"} <= labels, sorted(labels)
    assert not labels & {"filters", "kernel_size", "rate"}, sorted(labels)  # other layer types' keys
    units = next(item for item in items if item["label"] == "units")
    assert units["documentation"] == "The output width."


# -- ajv ------------------------------------------------------------------------------------------

def run_ajv(schema: Path, files: list[Path]) -> dict[str, list]:
    """ajv's verdict on each file: {file name: [] if valid, else its errors}."""
    ajv = node_tool("ajv")
    argv = [ajv, "validate", "--spec=draft2020", "--strict=false", "--all-errors", "--errors=line",
            "-c", "ajv-formats", "-s", str(schema)]
    for f in files:
        argv += ["-d", str(f)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    verdicts: dict[str, list] = {}
    for line in done.stdout.splitlines():
        name, _, word = line.rpartition(" ")
        if word == "valid":
            verdicts[Path(name).name] = []
    lines = done.stderr.splitlines()
    for said, errors in zip(lines[::2], lines[1::2]):  # "FILE invalid", then its errors on one line of JSON
        name, _, word = said.rpartition(" ")
        assert word == "invalid", done.stderr
        verdicts[Path(name).name] = json.loads(errors)
    assert sorted(verdicts) == sorted(f.name for f in files), (done.stdout, done.stderr)
    assert done.returncode == (0 if all(v == [] for v in verdicts.values()) else 1), done.stderr
    return verdicts


def as_json(directory: Path, name: str, text: str) -> Path:
    """A YAML document as the JSON file ajv reads, parsed by PyYAML as specc parses it (YAML 1.1)."""
    path = directory / f"{name}.json"
    path.write_text(json.dumps(yaml.safe_load(text)), encoding="utf-8")
    return path


def test_ajv_accepts_every_example_spec_with_the_written_schema(tmp_path):
    files = [as_json(tmp_path, str(spec.relative_to(SPECS).with_suffix("")).replace("/", "__"),
                     spec.read_text("utf-8")) for spec in SPEC_FILES]
    assert run_ajv(WRITTEN, files) == {f.name: [] for f in files}


def test_ajv_accepts_every_resolved_spec_with_the_resolved_schema(tmp_path):
    files = []
    for spec in SPEC_FILES:
        result = CliRunner().invoke(app, ["resolve", "-f", "json", str(spec)])  # `specc resolve -f json FILE`
        assert result.exit_code == 0, result.output
        path = tmp_path / f"{spec.stem}.json"
        path.write_text(result.stdout, encoding="utf-8")
        files.append(path)
    assert run_ajv(RESOLVED, files) == {f.name: [] for f in files}


@pytest.mark.parametrize("schema", [WRITTEN, RESOLVED], ids=["written", "resolved"])
def test_ajv_refuses_each_mistake(tmp_path, schema):
    fixed = BROKEN.replace("eight", "8").replace("    unitz: 4\n", "").replace("densse", "dense")
    files = [as_json(tmp_path, "broken", BROKEN), as_json(tmp_path, "valid", fixed)]
    verdicts = run_ajv(schema, files)
    assert verdicts["valid.json"] == []
    # Each mistake where it is (the other errors are the anyOf/if/then around them):
    leaves = {(e["instancePath"], e["keyword"], json.dumps(e["params"])) for e in verdicts["broken.json"]
              if e["keyword"] in ("type", "additionalProperties", "enum", "const", "required")}
    assert leaves == {
        ("/layers/0/units", "type", '{"type": "integer"}'),
        ("/layers/1", "additionalProperties", '{"additionalProperty": "unitz"}'),
        ("/layers/2/type", "enum", json.dumps({"allowedValues": list(LAYER_TYPES)})),
    }, verdicts["broken.json"]
