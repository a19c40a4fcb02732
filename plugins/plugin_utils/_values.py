"""Users' values in users' words, for error messages.

Ansible hands plugins its own subclasses of the built-in types (``_AnsibleLazyTemplateDict``,
``_AnsibleTaggedStr``, ...), so ``type(value).__name__`` in a message shows an internal class name. These
helpers name the kind of value as a playbook author knows it (YAML / Jinja words: a string, a list, a
mapping, ...), whatever class carries it.
"""
from collections.abc import Mapping, Sequence, Set


def describe_type(value):
    """``'a string'``, ``'a list'``, ``'a mapping'``, ``'an integer'``, ``'a number'``, ``'a boolean'``,
    ``'null'``, ... for any value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (Sequence, Set)):
        return "a list"
    return "an object that is not a string, number, list or mapping"


def shown(value, limit=200):
    """A value as it would be written in YAML/JSON (strings quoted), shortened to ``limit`` characters."""
    if isinstance(value, str):
        text = repr(str(value))
    elif isinstance(value, bool) or value is None:
        text = {True: "true", False: "false", None: "null"}[value]
    elif isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, Mapping):
        text = "{" + ", ".join(f"{shown(k, limit)}: {shown(v, limit)}" for k, v in value.items()) + "}"
    elif isinstance(value, (Sequence, Set)) and not isinstance(value, (bytes, bytearray)):
        text = "[" + ", ".join(shown(item, limit) for item in value) + "]"
    else:
        text = describe_type(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
