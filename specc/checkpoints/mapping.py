"""Name mapping rules: how a checkpoint's variable names become a model's (`--map OLD=NEW`).

Shared by `specc diff`, `specc check` and `specc build --init-from`; no TensorFlow.

Two kinds of rule, each written `OLD=NEW` (split at the last `=`: variable names
never contain one, a regular expression may):

    old_scope/=new_scope/          a prefix ending in `/`: `old_scope/fc/kernel` -> `new_scope/fc/kernel`
    tower=encoder                  a prefix without `/`: the whole name `tower` or a scope `tower/...`,
                                   never `tower2/...`; `a/w=b/w` renames one variable
    re:^old/(.*)$=new/\\1          a regular expression (Python `re`), searched for in the name; its first
                                   match is replaced (`\\1`, `\\g<name>`), as sed's `s///` does

Rules are tried in the order given and the first one that matches a name wins;
later rules never see that name. A name no rule matches keeps its own name.
A rule that renames nothing (it matches no name, or only names an earlier rule
took) is reported as a warning naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from ..errors import MappingError

REGEX_PREFIX = "re:"


@dataclass(frozen=True)
class Rule:
    """One `--map` rule, as written (`text`) and parsed."""

    text: str
    old: str
    new: str
    regex: re.Pattern | None = None

    def match(self, name: str) -> bool:
        if self.regex is not None:
            return self.regex.search(name) is not None
        if self.old.endswith("/"):
            return name.startswith(self.old)
        return name == self.old or name.startswith(self.old + "/")

    def apply(self, name: str) -> str | None:
        """The new name, or None when the rule does not match."""
        if not self.match(name):
            return None
        if self.regex is not None:
            return self.regex.sub(self.new, name, count=1)
        return self.new + name[len(self.old):]

    def __str__(self) -> str:
        return self.text


def parse_rule(text: str) -> Rule:
    """Parse one rule, `OLD=NEW` or `re:PATTERN=REPLACEMENT`.

    Raises:
        MappingError: no `=`, an empty old side, a bad regular expression or replacement.
    """
    if isinstance(text, Rule):
        return text
    if "=" not in text:
        raise MappingError(f"--map {text!r}: write OLD=NEW, e.g. --map old_scope/=new_scope/ "
                           r"or --map 're:^old/(.*)$=new/\1'")
    old, new = text.rsplit("=", 1)
    if old.startswith(REGEX_PREFIX):
        pattern = old[len(REGEX_PREFIX):]
        if not pattern:
            raise MappingError(f"--map {text!r}: the regular expression is empty")
        try:
            regex = re.compile(pattern)
            regex.sub(new, "")  # checks the replacement's group references now, not at the first match
        except re.error as e:
            raise MappingError(f"--map {text!r}: {e}") from None
        return Rule(text, pattern, new, regex)
    if not old:
        raise MappingError(f"--map {text!r}: the old side is empty; to add a prefix to every name, "
                           r"write --map 're:^=new_prefix/'")
    return Rule(text, old, new)


def parse_rules(texts: Iterable[str | Rule] | None) -> tuple[Rule, ...]:
    """Parse `--map` rules in order (Rules pass through)."""
    return tuple(parse_rule(t) for t in texts or ())


@dataclass(frozen=True)
class Renaming:
    """What a list of rules does to a list of names.

    Attributes:
        renamed: (old name, new name, rule) for every name a rule matched, in input order.
        warnings: one message per rule that renamed nothing.
    """

    renamed: tuple[tuple[str, str, Rule], ...]
    warnings: tuple[str, ...]

    def new_name(self, old: str) -> str:
        for o, n, _ in self.renamed:
            if o == old:
                return n
        return old


def rename(rules: Sequence[Rule], names: Iterable[str], what: str = "variable") -> Renaming:
    """Apply `rules` to `names`, first match wins.

    Args:
        rules: parsed rules, in order.
        names: the names to rename (a checkpoint's, or an old spec's variables).
        what: how warnings call the names ("checkpoint variable").
    """
    names = list(names)
    renamed, used = [], {r.text: 0 for r in rules}
    for name in names:
        for rule in rules:
            new = rule.apply(name)
            if new is not None:
                renamed.append((name, new, rule))
                used[rule.text] += 1
                break
    warnings = []
    for i, rule in enumerate(rules):
        if used[rule.text]:
            continue
        taken = [n for n in names if rule.match(n)]
        if taken:
            earlier = next(r for r in rules[:i] if r.match(taken[0]))
            warnings.append(f"--map {rule.text}: renames nothing: every {what} it matches "
                            f"({_some(taken)}) is taken first by --map {earlier.text}")
        else:
            warnings.append(f"--map {rule.text}: matches no {what}")
    return Renaming(tuple(renamed), tuple(warnings))


def _some(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# -- suggestions ------------------------------------------------------------------------

def suggest(pairs: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The fewest `--map` rules (as text) that rename each old name of `pairs` to its new name.

    A pair that differs only before a common tail (`tower/fc1/kernel` -> `encoder/fc1/kernel`)
    gives a scope rule (`tower/=encoder/`), shared by every pair it covers; anything else
    gives a rule for the one name (`hidden1/kernel=hidden1/weights`). Longer prefixes come
    first, so that the first match is the most specific one.
    """
    rules: dict[str, str] = {}  # old side -> new side
    exact: dict[str, str] = {}
    for old, new in pairs:
        o, n = old.split("/"), new.split("/")
        tail = 0
        while tail < min(len(o), len(n)) - 1 and o[-1 - tail] == n[-1 - tail]:
            tail += 1
        head_o, head_n = "/".join(o[:len(o) - tail]), "/".join(n[:len(n) - tail])
        if tail and head_o and rules.get(head_o + "/", head_n + "/") == head_n + "/":
            rules[head_o + "/"] = head_n + "/"
        else:
            exact[old] = new
    out = [f"{o}={n}" for o, n in exact.items()]
    out += [f"{o}={n}" for o, n in sorted(rules.items(), key=lambda kv: -kv[0].count("/"))]
    return tuple(out)
