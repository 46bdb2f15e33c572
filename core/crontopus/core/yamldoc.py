"""Strict YAML in and canonical YAML out, for job manifests.

Reading uses PyYAML's safe loader (the libyaml one when present) and adds what it lacks for a
configuration format people edit by hand: a key written twice in one mapping is a problem instead
of silently keeping the last, and a file must hold exactly one document.
"""

from __future__ import annotations

from typing import Any

import yaml

from crontopus.core.limits import MAX_MANIFEST_BYTES
from crontopus.core.problems import Checker

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_NEVER_WRAP = 1 << 30  # long commands stay on one line, so diffs stay readable
_MERGE_TAG = "tag:yaml.org,2002:merge"
_QUOTE_HINT = 'quote values that start with "*", "@", "&", "!" or "`", e.g. schedule: "*/5 * * * *"'


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader, noting keys that appear twice in one mapping."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[object, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node)
            if key in seen:
                self.duplicates.append((key, key_node.start_mark.line + 1))
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


class DoubleQuoted(str):
    """A string always written in double quotes (schedules, so "*" never reads as an alias)."""

    __slots__ = ()


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """The safe dumper, writing DoubleQuoted strings in double quotes."""


def _represent_double_quoted(dumper: yaml.SafeDumper, data: DoubleQuoted) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style='"')


_Dumper.add_representer(DoubleQuoted, _represent_double_quoted)


def load_document(text: str | bytes, checker: Checker) -> object | None:
    """Return the single YAML document in `text`; record problems and return None otherwise."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_MANIFEST_BYTES:
        checker.add(
            "",
            f"the file is {size} bytes, more than the {MAX_MANIFEST_BYTES} a manifest may have: "
            "move long scripts into a file the command runs",
        )
        return None
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            checker.add("", f"byte {error.start} is not UTF-8: save the file as UTF-8 text")
            return None
    if not text.strip():
        checker.add("", "the file is empty: write a Job manifest (see docs/job-manifest-spec.md)")
        return None
    loader = _Loader(text)
    try:
        documents: list[object] = []
        while loader.check_data():
            if documents:
                line = loader.peek_event().start_mark.line + 1
                checker.add(
                    "",
                    f"line {line}: a second YAML document starts here: keep one job per file",
                )
                return None
            documents.append(loader.get_data())
    except yaml.MarkedYAMLError as error:
        checker.add("", _syntax_message(error))
        return None
    except yaml.YAMLError as error:
        checker.add("", f"YAML syntax error: {error}")
        return None
    except RecursionError:
        checker.add("", "the YAML is nested too deeply to be a manifest")
        return None
    finally:
        loader.dispose()
    for key, line in loader.duplicates:
        checker.add(
            "",
            f'line {line}: "{key}" appears twice in the same mapping: keep only one '
            "(YAML would silently use the last)",
        )
    if not documents or documents[0] is None:
        checker.add("", "the file holds no YAML document: write a Job manifest")
        return None
    return documents[0]


def _syntax_message(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    what = error.problem or "invalid YAML"
    if error.context:
        what = f"{what} ({error.context})"
    hint = ""
    if "alias" in (error.context or "") or "cannot start any token" in what:
        hint = f": {_QUOTE_HINT}"
    return f"{where}YAML syntax error: {what}{hint}"


def dump_document(data: dict[str, Any]) -> str:
    """Write `data` as block-style YAML, keeping the key order given."""
    text: str = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=_NEVER_WRAP,
    )
    return text
