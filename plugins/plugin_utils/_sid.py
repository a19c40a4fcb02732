"""The security identifier of a VM's virtual account, ``NT VIRTUAL MACHINE\\<VM GUID>``, and back.

Hyper-V runs each VM's worker process as a virtual account named after the VM ID. Its SID is
``S-1-5-83-1-a-b-c-d``: the VM ID's 16 bytes in .NET ``Guid.ToByteArray()`` order (the first three fields
byte-reversed, Python's ``uuid.UUID.bytes_le``) read as four little-endian unsigned 32-bit integers.
``S-1-5-83-0`` is the group ``NT VIRTUAL MACHINE\\Virtual Machines``. The account name resolves only on the
node where the VM is registered; the SID is valid on every node (KB 4230569 grants it with icacls).
"""
import re
import struct
import uuid

VIRTUAL_MACHINES_GROUP = "S-1-5-83-0"
VM_ACCOUNT_DOMAIN = "NT VIRTUAL MACHINE"
VM_SID_PREFIX = "S-1-5-83-1-"

# A VM ID as Get-VM prints it (8-4-4-4-12 hex digits), in any case, optionally in matching braces.
_VM_ID_RE = re.compile(r"^(\{)?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?(1)\})$")
# S-1-5-83-1 followed by exactly four sub-authorities (decimal, no sign, no leading zeros but 0 itself).
_VM_SID_RE = re.compile(r"^S-1-5-83-1-(0|[1-9][0-9]{0,9})-(0|[1-9][0-9]{0,9})-(0|[1-9][0-9]{0,9})-(0|[1-9][0-9]{0,9})$",
                        re.IGNORECASE)
_HEX_AND_DASHES_RE = re.compile(r"^\{?[0-9a-fA-F-]+\}?$")
_UINT32_MAX = 0xFFFFFFFF
_EXAMPLE = "d9e0eb0a-5b37-508e-9173-67e9ade83acf"


class VmIdError(ValueError):
    """A VM id that is not a GUID; the message names it and says what a VM ID looks like."""


class VmSidError(ValueError):
    """A SID that is not the SID of a VM's virtual account; the message names it."""


def parse_vm_id(value):
    """``'{D9E0EB0A-5B37-...}'`` or ``'d9e0eb0a-5b37-...'`` -> ``uuid.UUID``; anything else raises VmIdError.

    Strict on purpose: a GUID whose groups are not 8-4-4-4-12 hex digits (a digit missing, as in a hand-copied
    35-character ID, or a dash out of place), 32 bare digits, ``urn:uuid:`` or unbalanced braces are
    rejected, not guessed at. Surrounding whitespace is ignored.
    """
    text = value.strip() if isinstance(value, str) else None
    match = _VM_ID_RE.match(text) if text is not None else None
    if not match:
        detail = ""
        if text and _HEX_AND_DASHES_RE.match(text):
            groups = "-".join(str(len(group)) for group in text.strip("{}").split("-"))
            detail = f"; this one has {len(text.strip('{}'))} characters in groups of {groups}"
        raise VmIdError(
            f"'{value}' is not a VM ID: a VM ID is a GUID of 32 hexadecimal digits in groups of 8-4-4-4-12 "
            f"(36 characters, braces optional), such as {_EXAMPLE}{detail}"
        )
    return uuid.UUID(match.group(2))


def vm_id(value):
    """A VM ID in the form host_facts reports it: lower case, no braces."""
    return str(parse_vm_id(value))


def vm_sid(vm_id_value):
    """``S-1-5-83-1-a-b-c-d``: the GUID's bytes in ``Guid.ToByteArray()`` order as four little-endian uint32.

    Worked example from a Hyper-V-Worker event 18590: D9E0EB0A-5B37-508E-9173-67E9ADE83ACF ->
    S-1-5-83-1-3655396106-1351506743-3915871121-3476744365.
    """
    parts = struct.unpack("<4I", parse_vm_id(vm_id_value).bytes_le)
    return VM_SID_PREFIX + "-".join(str(p) for p in parts)


def vm_account(vm_id_value):
    """``NT VIRTUAL MACHINE\\<VM ID>`` with the GUID in upper case, as Windows prints the account."""
    return f"{VM_ACCOUNT_DOMAIN}\\{str(parse_vm_id(vm_id_value)).upper()}"


def is_vm_sid(sid):
    """True for ``S-1-5-83-1-a-b-c-d`` with four 32-bit sub-authorities (a VM's account), false for anything
    else, the ``S-1-5-83-0`` group included."""
    match = _VM_SID_RE.match(sid) if isinstance(sid, str) else None
    return bool(match) and all(int(part) <= _UINT32_MAX for part in match.groups())


def vm_id_from_sid(sid):
    """The inverse of :func:`vm_sid`: ``S-1-5-83-1-a-b-c-d`` -> the VM ID, lower case (as host_facts reports it).

    Raises :class:`VmSidError` for anything that is not a VM account's SID.
    """
    if not is_vm_sid(sid):
        raise VmSidError(
            f"'{sid}' is not the SID of a VM's account: that is S-1-5-83-1- followed by four numbers from 0 to "
            f"{_UINT32_MAX}, such as {vm_sid(_EXAMPLE)}"
        )
    parts = [int(part) for part in _VM_SID_RE.match(sid).groups()]
    return str(uuid.UUID(bytes_le=struct.pack("<4I", *parts)))
