"""Checks shared by options whose values are names or paths carried to a host as data."""
import re

from ansible_collections.hyperv.backup.plugins.plugin_utils._vm_plan import PlanError
from ansible_collections.hyperv.backup.plugins.plugin_utils._values import describe_type

# C0 and C1 control characters and DEL.
CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")


def check_text(value, option, what, hint=""):
    """Return ``value`` unchanged if it is a non-empty string without control characters or surrounding
    whitespace; else raise PlanError naming it (``what``: "an account name", "a path"; ``hint`` follows the
    empty-string message)."""
    if not isinstance(value, str):
        raise PlanError(f"{option}: {value!r} ({describe_type(value)}) is not {what}")
    if not value.strip():
        raise PlanError(f"{option}: an empty string is not {what}{hint}")
    bad = CONTROL_RE.search(value)
    if bad:
        raise PlanError(f"{option}: {value!r} contains the control character U+{ord(bad.group(0)):04X}, which {what} "
                        "cannot")
    if value != value.strip():
        raise PlanError(f"{option}: {value!r} has leading or trailing whitespace, which would become part of it")
    return value
