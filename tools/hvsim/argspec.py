"""The argument handling ``[Ansible.Basic.AnsibleModule]::Create($args, $spec)`` does on a real host.

A faithful subset of ``Ansible.Basic.cs`` (ansible-core ``lib/ansible/module_utils/csharp/Ansible.Basic.cs``,
2.19 and 2.21): the ``_ansible_*`` keys are consumed (check mode, diff, verbosity, module name, ...),
unknown options fail with the same wording, check mode on a module without ``supports_check_mode``
is skipped, and then, in Ansible.Basic's order: mutually_exclusive, required and defaults, type
conversion and choices, required_together / required_one_of / required_if / required_by, then sub-options
(``dict`` with ``options``, ``list`` with ``elements``). Type conversions mimic the .NET ones, including
how a value prints (``True`` for a JSON true, ``System.Collections.ArrayList`` for a list converted to str).
"""
import copy
import json
from dataclasses import dataclass, field

BOOLEANS_TRUE = ["y", "yes", "on", "1", "true", "t", "1.0"]
BOOLEANS_FALSE = ["n", "no", "off", "0", "false", "f", "0.0"]

# _ansible_<key> -> what it sets (None: accepted and ignored), as Ansible.Basic's passVars.
PASS_VARS = {
    "check_mode": "check_mode", "debug": "debug", "diff": "diff", "keep_remote_files": "keep_remote_files",
    "ignore_unknown_opts": "ignore_unknown_opts", "inject_invocation": "inject_invocation",
    "module_name": "module_name", "no_log": "no_log", "remote_tmp": "remote_tmp",
    "selinux_special_fs": None, "shell_executable": None, "socket": None, "syslog_facility": None,
    "target_log_info": "target_log_info", "tracebacks_for": None, "tmpdir": "tmpdir",
    "verbosity": "verbosity", "version": "version",
}
PASS_BOOLS = {"check_mode", "debug", "diff", "keep_remote_files", "ignore_unknown_opts", "inject_invocation",
              "no_log"}
PASS_INTS = {"verbosity"}

SPEC_KEYS = {
    "apply_defaults": False, "aliases": list, "choices": list, "default": None, "deprecated_aliases": list,
    "elements": None, "mutually_exclusive": list, "no_log": False, "options": dict, "removed_in_version": None,
    "removed_at_date": None, "removed_from_collection": None, "required": False, "required_by": dict,
    "required_if": list, "required_one_of": list, "required_together": list, "supports_check_mode": False,
    "type": "str",
}

NO_LOG_MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
DICT_TYPE = "System.Collections.Generic.Dictionary`2[System.String,System.Object]"
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1


class ArgSpecFail(Exception):
    """The arguments fail the spec: the module fails with this message before it runs."""

    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


class ArgSpecInvalid(ValueError):
    """The spec itself is wrong (an implementation error, 'internal error: ...' on a real host)."""


@dataclass
class Prepared:
    params: dict
    check_mode: bool = False
    diff: bool = False
    verbosity: int = 0
    debug: bool = False
    module_name: str = "undefined win module"
    inject_invocation: bool = True
    no_log_values: set = field(default_factory=set)
    skipped: dict = None          # the result to return instead of running (check mode not supported)

    def invocation(self):
        return {"module_args": mask(self.params, self.no_log_values)}


# -- .NET-like conversions ----------------------------------------------------------------------------------
def net_type(value):
    """The .NET type name a JSON value deserialises to on the host."""
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, int):
        return "System.Int32" if INT32_MIN <= value <= INT32_MAX else "System.Int64"
    if isinstance(value, float):
        return "System.Decimal"
    if isinstance(value, str):
        return "System.String"
    if isinstance(value, list):
        return "System.Collections.ArrayList"
    if isinstance(value, dict):
        return DICT_TYPE
    return "System.Object"


def to_net_string(value):
    """``value.ToString()``."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return net_type(value)


def parse_str(value):
    return to_net_string(value)


def parse_bool(value):
    if isinstance(value, bool):
        return value
    text = to_net_string(value).lower().strip()
    if text in BOOLEANS_TRUE:
        return True
    if text in BOOLEANS_FALSE:
        return False
    raise ValueError(f"The value '{text}' is not a valid boolean. Valid booleans include: "
                     f"{', '.join(BOOLEANS_TRUE + BOOLEANS_FALSE)}")


def parse_int(value):
    if isinstance(value, int) and not isinstance(value, bool) and INT32_MIN <= value <= INT32_MAX:
        return value
    text = to_net_string(value).strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isdigit() or not digits.isascii():
        raise ValueError("Input string was not in a correct format.")
    number = int(text)
    if not INT32_MIN <= number <= INT32_MAX:
        raise ValueError("Value was either too large or too small for an Int32.")
    return number


def parse_float(value):
    if isinstance(value, float):
        return value
    try:
        return float(to_net_string(value))
    except ValueError:
        raise ValueError("Input string was not in a correct format.") from None


def parse_list(value):
    if value is None:
        return None
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    raise ValueError(f"{net_type(value)} cannot be converted to a list")


def parse_dict(value):
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}"):
            try:
                parsed = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"Invalid JSON primitive: {exc}") from None
            if not isinstance(parsed, dict):
                raise ValueError(f"{net_type(parsed)} cannot be converted to a dict")
            return parsed
        if "=" in value:
            return _parse_key_value(value)
        raise ValueError("string cannot be converted to a dict, must either be a JSON string or in the key=value form")
    raise ValueError(f"{net_type(value)} cannot be converted to a dict")


def _parse_key_value(text):
    fields, buffer, in_quote, in_escape = [], [], None, False
    for char in text:
        if in_escape:
            buffer.append(char)
            in_escape = False
        elif char == "\\":
            in_escape = True
        elif in_quote is None and char in "'\"":
            in_quote = char
        elif in_quote is not None and char == in_quote:
            in_quote = None
        elif in_quote is None and char in ", ":
            if buffer:
                fields.append("".join(buffer))
            buffer = []
        else:
            buffer.append(char)
    if buffer:
        fields.append("".join(buffer))
    result = {}
    for item in dict.fromkeys(fields):
        key, sep, val = item.partition("=")
        if key in result:
            raise ValueError(f"An item with the same key has already been added. Key: {key}")
        result[key] = val if sep else None
    return result


# Path.GetInvalidPathChars() on .NET Framework: '"', '<', '>', '|' and the control characters 0-31.
_INVALID_PATH_CHARS = set('"<>|') | {chr(i) for i in range(32)}


def parse_path(value):
    text = to_net_string(value)
    if text.startswith("\\\\?\\"):
        return text
    if any(char in _INVALID_PATH_CHARS for char in text):
        raise ValueError("string value contains invalid path characters, cannot convert to path")
    return text


def parse_raw(value):
    return value


def parse_json(value):
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    raise ValueError(f"{net_type(value)} cannot be converted to json")


TYPES = {"bool": parse_bool, "dict": parse_dict, "float": parse_float, "int": parse_int, "json": parse_json,
         "list": parse_list, "path": parse_path, "raw": parse_raw, "str": parse_str}


# -- the spec -------------------------------------------------------------------------------------------------
def normalise_spec(spec, context="argument spec"):
    """A deep copy of ``spec`` with every metadata key set to its default; ArgSpecInvalid when malformed."""
    if not isinstance(spec, dict):
        raise ArgSpecInvalid(f"{context} must be a dict, got {type(spec).__name__}")
    result = {}
    for key, value in spec.items():
        if key not in SPEC_KEYS:
            raise ArgSpecInvalid(f"argument spec entry contains an invalid key '{key}', valid keys: "
                                 f"{', '.join(SPEC_KEYS)} - found in {context}")
        result[key] = copy.deepcopy(value)
    for key, default in SPEC_KEYS.items():
        if key not in result or result[key] is None and default is not None:
            result[key] = default() if callable(default) else default
    if result["type"] not in TYPES:
        raise ArgSpecInvalid(f"{context}: type '{result['type']}' is not a type hvsim supports ({', '.join(TYPES)})")
    if result["elements"] is not None and result["elements"] not in TYPES:
        raise ArgSpecInvalid(f"{context}: elements '{result['elements']}' is not a type hvsim supports")
    options = {}
    for name, option in result["options"].items():
        if not isinstance(option, dict):
            raise ArgSpecInvalid(f"{context}: option '{name}' must be a dict, got {type(option).__name__}")
        option = normalise_spec(option, f"{context} -> {name}")
        if option["required"] and option["default"] is not None:
            raise ArgSpecInvalid(f"required and default are mutually exclusive for {name}")
        options[name] = option
    result["options"] = options
    return result


def mask(value, secrets):
    if not secrets:
        return copy.deepcopy(value)
    if isinstance(value, dict):
        return {k: mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            if value == secret:
                return NO_LOG_MASK
    return value


class _Checker:
    def __init__(self):
        self.context = []
        self.no_log_values = set()
        self.state = {"check_mode": False, "debug": False, "diff": False, "verbosity": 0,
                      "module_name": "undefined win module", "ignore_unknown_opts": False,
                      "inject_invocation": None, "no_log": False}

    def fail(self, msg):
        if self.context:
            msg += " found in " + " -> ".join(self.context)
        raise ArgSpecFail(msg)

    def aliases(self, spec, params):
        found = {}
        for name, option in spec["options"].items():
            for alias in option["aliases"]:
                found[alias] = name
                if alias in params:
                    params[name] = params[alias]
        return found

    def set_no_log(self, spec, params):
        for name, option in spec["options"].items():
            if option["no_log"] and params.get(name) not in (None, ""):
                self.no_log_values.add(to_net_string(params[name]))

    def check(self, spec, params, legal, root):
        self.unsupported(params, legal)
        if root and self.state["check_mode"] and not spec["supports_check_mode"]:
            return "skip"
        options = spec["options"]
        for group in spec["mutually_exclusive"]:
            if sum(1 for key in group if key in params) > 1:
                self.fail(f"parameters are mutually exclusive: {', '.join(group)}")
        missing = []
        for name, option in options.items():
            if option["default"] is not None and name not in params:
                params[name] = copy.deepcopy(option["default"])
            if option["required"] and name not in params:
                missing.append(name)
        if missing:
            self.fail(f"missing required arguments: {', '.join(missing)}")
        for name, option in options.items():
            value = params.get(name)
            if value is None:
                continue
            kind = option["type"]
            try:
                value = TYPES[kind](value)
            except ValueError as exc:
                self.fail(f"argument for {name} is of type {net_type(params[name])} and we were unable to "
                          f"convert to {kind}: {exc}")
            params[name] = value
            choices = [to_net_string(c) for c in option["choices"]]
            if choices:
                values = [to_net_string(v) for v in value] if kind == "list" else [to_net_string(value)]
                lowered = {c.lower() for c in choices}
                bad = [v for v in dict.fromkeys(values) if v.lower() not in lowered]
                if bad:
                    phrase = "one or more of" if kind == "list" else "one of"
                    self.fail(f"value of {name} must be {phrase}: {', '.join(choices)}. "
                              f"Got no match for: {', '.join(bad)}")
        for group in spec["required_together"]:
            present = [key in params for key in group]
            if any(present) and not all(present):
                self.fail(f"parameters are required together: {', '.join(group)}")
        for group in spec["required_one_of"]:
            if not any(key in params for key in group):
                self.fail(f"one of the following is required: {', '.join(group)}")
        for rule in spec["required_if"]:
            key, val, requirements = rule[0], rule[1], rule[2]
            any_one = len(rule) > 3 and bool(rule[3])
            if params.get(key) is None or to_net_string(params[key]) != to_net_string(val):
                continue
            absent = [r for r in requirements if r not in params]
            if len(absent) >= (len(requirements) if any_one else 1):
                self.fail(f"{key} is {to_net_string(val)} but {'any' if any_one else 'all'} of the following "
                          f"are missing: {', '.join(absent)}")
        for key, required in spec["required_by"].items():
            if key not in params:
                continue
            absent = [r for r in parse_list(required) if r not in params]
            if absent:
                self.fail(f"missing parameter(s) required by '{key}': {', '.join(absent)}")
        for name, option in options.items():
            if name not in params:
                params[name] = None
            self.sub_options(params, name, option)
        return None

    def unsupported(self, params, legal):
        unsupported, renamed = [], []
        legal_lower = {key.lower(): key for key in legal}
        for key in list(params):
            if key not in legal:
                if key.lower() in legal_lower:
                    renamed.append(key)
                elif key.startswith("_ansible_") and not self.context:
                    # A newer controller may send a pass var this Ansible.Basic does not list; the one it
                    # ships with the payload knows it, so accept it.
                    params.pop(key)
                else:
                    unsupported.append(key)
            elif key.startswith("_ansible_"):
                value = params.pop(key)
                target = PASS_VARS[key[len("_ansible_"):]]
                if target is None or (target == "no_log" and self.state["no_log"]):
                    continue
                if target in PASS_BOOLS:
                    value = parse_bool(value) if value is not None else False
                elif target in PASS_INTS:
                    value = parse_int(value) if value is not None else 0
                self.state[target] = value
        if unsupported and not self.state["ignore_unknown_opts"]:
            supported = sorted(key for key in legal if not key.startswith("_ansible_"))
            msg = f"Unsupported parameters for ({self.state['module_name']}) module: {', '.join(sorted(unsupported))}"
            if self.context:
                msg += " found in " + " -> ".join(self.context)
            raise ArgSpecFail(f"{msg}. Supported parameters include: {', '.join(supported)}")
        for key in renamed:
            params[legal_lower[key.lower()]] = params.pop(key)

    def sub_options(self, params, name, option):
        value = params[name]
        kind, elements = option["type"], option["elements"]
        if not (kind == "dict" or (kind == "list" and elements is not None)):
            return
        if kind == "list":
            if value is None:
                return
            converted = []
            for element in value:
                if elements == "dict":
                    converted.append(self.sub_spec(option, element, name))
                else:
                    try:
                        converted.append(TYPES[elements](element))
                    except ValueError as exc:
                        self.fail(f"argument for list entry {name} is of type {net_type(element)} and we were "
                                  f"unable to convert to {elements}: {exc}")
            params[name] = converted
        else:
            params[name] = self.sub_spec(option, value, name)

    def sub_spec(self, spec, value, context):
        if spec["apply_defaults"] and spec["options"] and value is None:
            value = {}
        elif not spec["options"] or value is None:
            return value
        self.context.append(context)
        try:
            try:
                new_value = parse_dict(value)
            except ValueError as exc:
                self.fail(f"argument for {context} is of type {net_type(value)} and we were unable to convert "
                          f"to dict: {exc}")
            aliases = self.aliases(spec, new_value)
            self.set_no_log(spec, new_value)
            legal = list(spec["options"]) + list(aliases)
            self.check(spec, new_value, legal, root=False)
        finally:
            self.context.pop()
        return new_value


def prepare(spec, complex_args):
    """Validate ``complex_args`` (user arguments + ``_ansible_*`` keys) against ``spec`` as Ansible.Basic does.

    Returns a :class:`Prepared`; raises :class:`ArgSpecFail` (the module fails with ``msg``) or
    :class:`ArgSpecInvalid` (the spec is malformed).
    """
    spec = normalise_spec(spec)
    params = copy.deepcopy(dict(complex_args or {}))
    checker = _Checker()
    # The module name is needed for messages before the pass vars are processed in order.
    if "_ansible_module_name" in params:
        checker.state["module_name"] = params["_ansible_module_name"]
    aliases = checker.aliases(spec, params)
    checker.set_no_log(spec, params)
    legal = ["_ansible_" + key for key in PASS_VARS] + list(spec["options"]) + list(aliases)
    outcome = checker.check(spec, params, legal, root=True)
    state = checker.state
    inject = state["inject_invocation"]
    prepared = Prepared(params=params, check_mode=state["check_mode"], diff=state["diff"],
                        verbosity=state["verbosity"], debug=state["debug"], module_name=state["module_name"],
                        inject_invocation=True if inject is None else bool(inject),
                        no_log_values=checker.no_log_values)
    if outcome == "skip":
        prepared.skipped = {"changed": False, "skipped": True,
                            "msg": f"remote module ({state['module_name']}) does not support check mode"}
    return prepared
