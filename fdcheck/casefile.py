"""Reading case files: safely, within limits, one broken case never stopping
the others; and finding them in folders.

A file is read with a safe YAML loader whose float rule also accepts ``1e-6``
(YAML 1.1 would read it as a string). Each case is validated on its own
(:func:`fdcheck.schema.parse_case`): a broken case becomes a
:class:`~fdcheck.errors.CaseError` in the list, located by file, line, case
and key, and the others are still returned.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import yaml

from .case import Case
from .errors import CaseError
from .schema import CASE_KEYS, parse_case, suggest

SUFFIXES = (".yaml", ".yml")

MAX_ALIASES = 100         # anchors used again: a handful in a real file
MAX_NODES = 10_000_000    # values of a file once its aliases are expanded


class _Loader(yaml.SafeLoader):
    """SafeLoader whose floats include ``1e-6`` and ``1E+3`` (YAML 1.2 style),
    that refuses a key given twice in a mapping, and refuses a file that uses
    aliases more than :data:`MAX_ALIASES` times (an alias bomb expands to
    billions of nodes from a few hundred bytes)."""

    aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                event = self.peek_event()
                raise yaml.constructor.ConstructorError(
                    None, None, f"more than {MAX_ALIASES} aliases (*name): refused, as an alias "
                    "bomb would expand without end", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = getattr(key_node, "value", None)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice in one mapping (first on line "
                    f"{seen[key].start_mark.line + 1})", key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def _key_lines(node: Any, prefix: str = "", out: dict[str, int] | None = None) -> dict[str, int]:
    """The line of every key of a case's node, by its dotted path (``tolerance.atol``)."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = f"{prefix}{getattr(key, 'value', '')}"
            out.setdefault(path, key.start_mark.line + 1)
            _key_lines(value, path + ".", out)
    return out


def _expanded(node: Any, memo: dict[int, int]) -> int:
    """How many values ``node`` stands for once every alias in it is expanded:
    an alias bomb is a few aliases of aliases that stand for billions."""
    key = id(node)
    if key not in memo:
        memo[key] = 1  # a node reached again through itself counts once
        children = node.value if isinstance(node, yaml.SequenceNode) else \
            [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) \
            else ()
        memo[key] = 1 + sum(_expanded(child, memo) for child in children)
    return memo[key]


def _read_yaml(text: str) -> tuple[Any, list[int | None], list[dict[str, int]]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded(node, {}) > MAX_NODES:
            raise yaml.constructor.ConstructorError(
                None, None, f"its aliases expand to more than {MAX_NODES} values: refused, as "
                "an alias bomb", node.start_mark)
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    items: list[Any] = []
    if isinstance(node, yaml.MappingNode):
        items = [node]
        for key, value in node.value:
            if getattr(key, "value", None) == "cases" and isinstance(value, yaml.SequenceNode):
                items = value.value
    elif isinstance(node, yaml.SequenceNode):
        items = node.value
    return data, [item.start_mark.line + 1 for item in items], [_key_lines(i) for i in items]


def _yaml_hint(problem: str, text: str, line: int | None) -> str:
    """What to write instead, for the mistakes YAML reports obscurely."""
    source = text.splitlines()[line - 1] if line and line <= len(text.splitlines()) else ""
    if "\t" in problem or "'\\t'" in problem or "\t" in source:
        return "; YAML indents with spaces, not tabs: replace the tab with spaces"
    if "flow" in problem or "{" in source:
        return ("; inside {...} a comma ends a value: quote an expression that holds one "
                "(\"outer(a, b)\") or write the mapping in block style")
    return ""


def merge_defaults(defaults: Mapping[str, Any], case: Mapping[str, Any]) -> dict[str, Any]:
    """A case over its file's defaults: mappings (inputs, tolerance, expect...)
    are merged one level deep, so a case adds inputs or overrides some; a
    value inside them (an input, a generator) is replaced whole, never mixed.
    A function is always replaced whole."""
    out = dict(defaults)
    for k, v in case.items():
        base = out.get(k)
        if k != "function" and isinstance(base, Mapping) and isinstance(v, Mapping):
            out[k] = {**base, **v}
        else:
            out[k] = v
    return out


def raw_case(case: Case) -> dict[str, Any]:
    """The mapping ``case`` was read from, over its file's defaults (to write
    a variant of it out).

    Raises
    ------
    CaseError
        Where the case has no file, or the file no longer holds it.
    """
    if case.file is None:
        raise CaseError("the case was not read from a file", case=case.name)
    data, lines, _ = _document(read_case_file(case.file), case.file)
    defaults, raw, _ = _items(data, lines, case.file)
    for item in raw:
        if isinstance(item, Mapping) and str(item.get("name")) == case.name:
            return merge_defaults(defaults, item)
    raise CaseError("the file no longer holds the case", file=case.file, case=case.name)


def _line_of(key: str | None, lines: Mapping[str, int]) -> int | None:
    """The line of ``key`` (``expect.jacobian.W``), or of its nearest parent found."""
    while key:
        if key in lines:
            return lines[key]
        key = key.rpartition(".")[0]
    return None


Loaded = list["Case | CaseError"]


def _document(text: str, file: str | None) -> tuple[Any, list[int | None], list[dict[str, int]]]:
    """The parsed document, each case's line and its keys' lines.

    Raises
    ------
    CaseError
        For malformed YAML (with a hint where YAML's words are obscure) or an
        empty file.
    """
    try:
        data, lines, key_lines = _read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark else None
        raise CaseError(f"malformed YAML: {problem}{_yaml_hint(problem, text, line)}",
                        file=file, line=line) from None
    if data is None:
        raise CaseError("the file is empty; expected a case (a mapping with 'name') or a "
                        "'cases:' list", file=file)
    return data, lines, key_lines


def _items(data: Any, lines: list[int | None], file: str | None
           ) -> tuple[Mapping[str, Any], list[Any], list[int | None]]:
    """The file's defaults, its cases (raw) and their lines."""
    if isinstance(data, Mapping) and "cases" in data:
        extra = set(data) - {"cases", "defaults"}
        if extra:
            key = sorted(map(str, extra))[0]
            raise CaseError(f"unknown top-level key {key!r}{suggest(key, ['cases', 'defaults'])}; "
                            "expected 'cases' and optionally 'defaults'", file=file, key=key)
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, Mapping):
            raise CaseError("'defaults' must be a mapping of case keys", file=file, key="defaults")
        raw = data["cases"]
        if not isinstance(raw, list) or not raw:
            raise CaseError("'cases' must be a non-empty list of cases", file=file, key="cases")
        return defaults, raw, lines
    if isinstance(data, Mapping):
        return {}, [data], [1]
    if isinstance(data, list):
        return {}, data, lines
    raise CaseError(f"expected a case or a 'cases:' list, found {type(data).__name__}", file=file)


def _one(item: Any, defaults: Mapping[str, Any], file: str | None, line: int | None) -> Case:
    """One case over its file's defaults; anything unforeseen a CaseError."""
    try:
        if not isinstance(item, Mapping):
            raise CaseError(f"a case must be a mapping, not {type(item).__name__}")
        return parse_case(merge_defaults(defaults, item), file=file, line=line)
    except CaseError:
        raise
    except (RecursionError, MemoryError):
        raise CaseError("the case is nested too deeply, or too large, to read") from None
    except Exception as exc:  # a value of a shape the schema did not foresee
        raise CaseError(f"cannot read the case: {type(exc).__name__}: {exc}") from None


def load_text(text: str, file: str | None = None) -> Loaded:
    """Cases (or their errors) from the text of a case file; never raises."""
    try:
        return _load_text(text, file)
    except CaseError as exc:
        return [exc]
    except (RecursionError, MemoryError):
        return [CaseError("the file is nested too deeply, or too large, to read", file=file)]
    except Exception as exc:  # the last line of defence: one file never stops the run
        return [CaseError(f"cannot read the file: {type(exc).__name__}: {exc}", file=file)]


def _load_text(text: str, file: str | None) -> Loaded:
    data, lines, key_lines = _document(text, file)
    defaults, raw, lines = _items(data, lines, file)
    out: Loaded = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        line = lines[i] if i < len(lines) else None
        name = item.get("name") if isinstance(item, Mapping) else None
        try:
            case = _one(item, defaults, file, line)
            if case.name in seen:
                raise CaseError(f"duplicate name {case.name!r} in this file", key="name")
            seen.add(case.name)
            out.append(case)
        except CaseError as exc:
            keys = key_lines[i] if i < len(key_lines) else {}
            out.append(CaseError(exc.message, file=exc.file or file,
                                 case=exc.case or (str(name) if name is not None else f"#{i + 1}"),
                                 key=exc.key, line=_line_of(exc.key, keys) or exc.line or line,
                                 origin=exc.origin))
    return out


MAX_FILE_BYTES = 64 * 2 ** 20   # a case file of more is refused unread


def read_case_file(path: str | Path) -> str:
    """The text of a case file: a regular file (never a FIFO or a device, which
    could block or never end) of at most :data:`MAX_FILE_BYTES`.

    Raises
    ------
    CaseError
        Naming the path, for anything else or a file that cannot be read.
    """
    p = Path(path)
    try:
        if not p.is_file():
            what = "no such file" if not p.exists() else \
                "not a regular file (a FIFO, a device or a socket cannot be a case file)"
            raise CaseError(what, file=str(path))
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CaseError(f"the file has {size} bytes; a case file has at most "
                            f"{MAX_FILE_BYTES}", file=str(path))
        with open(p, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:  # it grew while being read
            raise CaseError(f"the file has more than {MAX_FILE_BYTES} bytes", file=str(path))
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(f"cannot read the file: {exc}", file=str(path)) from None


def load_file(path: str | Path) -> Loaded:
    """Cases (or their errors) from one file; never raises for bad content."""
    try:
        text = read_case_file(path)
    except CaseError as exc:
        return [exc]
    return load_text(text, str(path))


# -- finding case files in folders ----------------------------------------------------

# Where the text cannot even be parsed: the same keys, read as text.
_TEXT_KEYS = re.compile(r"^(- +| +)?(cases|defaults|function|inputs|expect)\s*:", re.M)


def _is_case(item: Any) -> bool:
    """A name beside a function or an expectation; or beside inputs, where
    every key is a case key (an action.yml has inputs too, beside runs)."""
    if not isinstance(item, Mapping) or "name" not in item:
        return False
    return "function" in item or "expect" in item or \
        ("inputs" in item and set(map(str, item)) <= set(CASE_KEYS))


def is_case_document(data: Any) -> bool:
    """Whether a parsed YAML document is meant as case file: ``cases:`` (with
    ``defaults:`` or nothing else beside it), one case (a name beside a
    function, inputs or expect), or a list of them."""
    if isinstance(data, Mapping):
        if "cases" in data and set(map(str, data)) <= {"cases", "defaults"}:
            return True
        return _is_case(data) or (set(map(str, data)) <= set(CASE_KEYS) and "function" in data)
    if isinstance(data, list):
        return any(_is_case(item) for item in data)
    return False


def looks_like_cases(path: Path) -> bool:
    """Whether a YAML file found in a folder is a case file, decided from its
    parsed document (with the loader's limits), whatever the order of its
    keys; a file YAML cannot parse is taken for one where its text has case
    keys, so that its error is shown rather than hidden."""
    try:
        text = read_case_file(path)
    except CaseError:
        return True  # let loading say what is wrong with it
    try:
        data = _read_yaml(text)[0]
    except Exception:  # malformed, or past a limit: loading will say which
        return bool(_TEXT_KEYS.search(text))
    return is_case_document(data)


def discover(paths: Sequence[str | Path], skipped: list[Any] | None = None
             ) -> Iterator[Path | CaseError]:
    """Case files under ``paths``, sorted: a file named is always loaded; in
    folders (searched recursively, hidden ones passed over), only the
    ``*.yaml`` / ``*.yml`` files that are case files; the others are
    appended to ``skipped``."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            try:
                found = sorted(p.rglob("*"))
            except OSError as exc:  # a folder that cannot be read: named, the others run
                yield CaseError(f"cannot read the folder: {exc.strerror or exc}", file=str(raw))
                continue
            for f in found:
                if f.suffix not in SUFFIXES or f.is_dir() \
                        or any(part.startswith(".") for part in f.relative_to(p).parts):
                    continue
                if f.is_file() and looks_like_cases(f):
                    yield f
                elif skipped is not None:
                    skipped.append(f)
        elif p.exists() or p.is_symlink():
            yield p  # loading says what is wrong with it (a FIFO, a device)
        else:
            yield CaseError("no such file or folder", file=str(raw))
