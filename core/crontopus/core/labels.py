"""Label keys and values, on jobs (metadata.labels) and in endpoint selectors (spec.targets).

The rules are Kubernetes' label rules: a key is an optional DNS-subdomain prefix and "/" before a
name of up to 63 characters; a value is empty or a name-like string of up to 63 characters.
"""

from __future__ import annotations

import re
from typing import Final

from crontopus.core.limits import (
    MAX_LABEL_NAME_LENGTH,
    MAX_LABEL_PREFIX_LENGTH,
    MAX_LABEL_VALUE_LENGTH,
)

_LABEL_NAME: Final = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN: Final = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_SHAPE: Final = "letters, digits, '-', '_' and '.', starting and ending with a letter or digit"


def label_key_problem(key: str) -> str | None:
    """Return why `key` is not a valid label key, or None when it is."""
    prefix, slash, name = key.rpartition("/")
    if slash and not _DNS_SUBDOMAIN.fullmatch(prefix):
        return (
            f'label key "{key}": the prefix before "/" must be a lowercase DNS name such as '
            '"example.com"'
        )
    if slash and len(prefix) > MAX_LABEL_PREFIX_LENGTH:
        return f'label key "{key}": the prefix is longer than {MAX_LABEL_PREFIX_LENGTH} characters'
    if not name:
        return 'a label key is empty: name it, e.g. "team"'
    if len(name) > MAX_LABEL_NAME_LENGTH:
        return f'label key "{key}" is longer than {MAX_LABEL_NAME_LENGTH} characters: shorten it'
    if not _LABEL_NAME.fullmatch(name):
        return f'label key "{key}" may only hold {_SHAPE}'
    return None


def label_value_problem(value: str) -> str | None:
    """Return why `value` is not a valid label value, or None when it is."""
    if value == "":
        return None
    if len(value) > MAX_LABEL_VALUE_LENGTH:
        return f'label value "{value[:20]}…" is longer than {MAX_LABEL_VALUE_LENGTH} characters'
    if not _LABEL_NAME.fullmatch(value):
        return f'label value "{value}" may only hold {_SHAPE}'
    return None
