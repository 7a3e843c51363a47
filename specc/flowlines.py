"""Lines a generator writes by the thousand, `  - {id: layer_7, type: dense, units: 8}`, read without
the YAML parser.

A big spec is mostly such lines, and through libyaml each costs ten events, each an object with two
marks, plus the Python that turns them into data. A line of this strict form (a sequence entry that
is one flow mapping of plain keys and plain or unescaped quoted ASCII values, nothing else but a
comment) is read here by regular expressions, with the same values, marks and node counts.
The parser is then given the text with each run of such lines (consecutive, equally indented) turned
into one `- {}` and blank lines: line and column numbers stay, and the reader puts the run's entries
where the parser reports that `{}`.

Whether a line is an entry of a block sequence depends on what surrounds it (a block scalar, a
multi-line string); the parser decides. A run whose `{}` the parser does not report as a flow
mapping in a sequence, exactly there, was not entries: the reader then reads the original text
the usual way (read.loads), which also words any error exactly as before.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Callable

_KEY = r"[A-Za-z_][A-Za-z0-9_]*"
# A plain value: characters that never end or start anything in a flow mapping (`-` alone would be a
# block entry); a quoted value: printable ASCII without escapes.
_VALUE = r"""(?:[A-Za-z0-9_./+]|-(?=[A-Za-z0-9_./+-]))[A-Za-z0-9_./+-]*|"[ !#-\[\]-~]*"|'[ -&(-~]*'"""
_PAIR = rf"{_KEY}: +(?:{_VALUE})"
# The usual line holds only words and decimal integers (a word that YAML reads as a boolean or null
# is not one): with every key and value quoted it is JSON, which json.loads reads at C speed.
_WORD = r"(?!(?:true|True|TRUE|false|False|FALSE|null|Null|NULL)(?![A-Za-z0-9_]))[A-Za-z_][A-Za-z0-9_]*"
_JSON_PAIR = rf"{_WORD}: +(?:{_WORD}|-?(?:0|[1-9][0-9]*))"
_LINE = (rf"^( *)- \{{ *(?:({_JSON_PAIR}(?: *, *{_JSON_PAIR})*)|({_PAIR}(?: *, *{_PAIR})*)) *\}}"
         r"(?: *| +#.*)$")
_COMMA, _COLON = re.compile(r" *, *"), re.compile(r": +")
_QUOTED_NUMBER = re.compile(r'"(-?[0-9]+)"')
# A pair and what follows it up to the next key: findall gives each piece, and their lengths the columns.
_PAIRS = rf"({_KEY}):( +)({_VALUE})( *,? *)"

# What the parser counts as a line break beyond "\n": with any of these, line numbers would not be
# those of text.split("\n").
_OTHER_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


@functools.cache
def _compiled(pattern: str, flags: int = 0) -> re.Pattern:
    """A pattern compiled when first used: compiling _LINE is a few milliseconds of every start-up."""
    return re.compile(pattern, flags)


@dataclass
class Run:
    """Consecutive entries read here: the column of the `{` the parser will report (1-based), and
    the entries' data, marks (as read._Builder makes them) and node count."""

    col: int
    data: list
    marks: list
    size: int


def scan(text: str, scalar: Callable[[str], tuple[Any, bool]], line_numbers: list[int],
         lines: tuple[str, ...]) -> tuple[str, dict[int, Run]] | None:
    """The text for the parser and the runs it stands for, keyed by their first line (0-based); None
    when there are none.

    Args:
        scalar: a plain scalar's text -> (its value, whether it is a string), by the reader's schema.
        line_numbers: the int object for each 1-based line number, shared with the reader's marks.
        lines: the text's lines (`str.splitlines`), which the entries' marks are made from when asked for.
    """
    if "- {" not in text or any(brk in text for brk in _OTHER_BREAKS):
        return None
    if len(lines) != text.count("\n") + (not text.endswith("\n")):
        return None  # a character splitlines breaks at and the parser does not (the parser refuses it)
    runs: dict[int, Run] = {}
    blank: list[int] = []  # lines (0-based) the parser is given blank
    line, pos = 0, 0
    current: Run | None = None
    last = -2
    seen: dict[str, tuple[Any, bool]] = {}
    json_bodies: list[str] = []  # the bodies of entries JSON reads, in order (their places hold None meanwhile)
    mixed = False  # whether some entries are not read by JSON
    for m in _compiled(_LINE, re.MULTILINE).finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        body = m.group(2)
        if body is None:
            body = m.group(3)
            data = _entry(body, scalar, seen)
            if data is None:
                continue
            mixed = True
        else:
            data = None
        number = line_numbers[line]
        marks = (number, len(m.group(1)) + 3, Kids(number, lines))
        if current is not None and line == last + 1 and marks[1] == current.col:
            current.data.append(data)
            current.marks.append(marks)
            blank.append(line)
        else:
            current = runs[line] = Run(marks[1], [data], [marks], 0)
        if data is None:
            json_bodies.append(body)
        last = line
    if not runs or not _read_json(json_bodies, list(runs.values()), mixed):
        return None
    for run in runs.values():
        run.size = len(run.data) + sum(map(len, run.data))  # each mapping and each of its values
    given = text.split("\n")  # the parser's text, line for line
    for first, run in runs.items():
        given[first] = " " * (run.col - 3) + "- {}"
    for i in blank:
        given[i] = ""
    return "\n".join(given), runs


def _read_json(bodies: list[str], runs: list[Run], mixed: bool) -> bool:
    """Read the bodies as one JSON text, into the None places of the runs' data in order (`mixed`: some
    hold entries read otherwise); False if a key is given twice in one (the parser then reads the
    file, and says where)."""
    if not bodies:
        return True
    text = "{" + "}\n{".join(bodies) + "}"
    if "  " in text or " ," in text or text.count(",") != text.count(", "):
        text = _COLON.sub(": ", _COMMA.sub(", ", text))  # spaced as json.dumps spaces
    # Every word and number quoted (C-speed replaces), then the numbers unquoted.
    text = text.replace(", ", '", "').replace(": ", '": "').replace("{", '{"').replace("}", '"}')
    entries = json.loads("[" + _QUOTED_NUMBER.sub(_unquoted, text.replace("\n", ",")) + "]")
    if sum(map(len, entries)) != text.count(":"):  # a body's colons are its pairs
        return False
    start = 0
    for run in runs:
        if not mixed:
            run.data = entries[start:start + len(run.data)]
            start += len(run.data)
            continue
        for i, data in enumerate(run.data):
            if data is None:
                run.data[i] = entries[start]
                start += 1
    return True


def _unquoted(number: re.Match) -> str:
    return number.group(1)


def _entry(body: str, scalar: Callable[[str], tuple[Any, bool]],
           seen: dict[str, tuple[Any, bool]]) -> dict | None:
    """The data of a line's mapping that JSON does not read; None if a key is not plain text or is given
    twice (the parser then reads the line, and words the error). `seen`: plain text -> scalar(text)."""
    if "'" in body or '"' in body:
        pairs = [(key, text) for key, _, text, _ in _compiled(_PAIRS).findall(body)]
    else:  # the line matched _LINE: a comma ends each pair, the first colon its key
        pairs = [pair.split(":", 1) for pair in body.split(",")]
    data: dict[str, Any] = {}
    for key, text in pairs:
        key = key.strip()
        known = seen.get(key)
        if known is None:
            known = seen[key] = scalar(key)
        key, is_text = known
        if not is_text or key in data:
            return None
        text = text.strip()
        if text[0] in "\"'":
            data[key] = text[1:-1]
        else:
            known = seen.get(text)
            if known is None:
                known = seen[text] = scalar(text)
            data[key] = known[0]
    return data


class Kids:
    """The marks of one entry's keys and values, {key: (line, key col, (line, value col))} as the
    reader's mark tree holds a mapping's, made from the line's text when first asked for."""

    __slots__ = ("line", "lines", "_table")

    def __init__(self, line: int, lines: tuple[str, ...]):
        self.line, self.lines, self._table = line, lines, None

    def table(self) -> dict[str, tuple]:
        if self._table is None:
            entry = _compiled(_LINE, re.MULTILINE).match(self.lines[self.line - 1])
            group = 2 if entry.group(2) is not None else 3
            line, col, table = self.line, entry.start(group) + 1, {}
            for key, space, text, tail in _compiled(_PAIRS).findall(entry.group(group)):
                value_col = col + len(key) + 1 + len(space)
                table[key] = (line, col, (line, value_col))
                col = value_col + len(text) + len(tail)
            self._table = table
        return self._table
