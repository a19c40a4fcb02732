"""The security identifier of a VM's virtual account, ``NT VIRTUAL MACHINE\\<VM GUID>``."""
import struct
import uuid

VIRTUAL_MACHINES_GROUP = "S-1-5-83-0"


class VmIdError(ValueError):
    """A VM id that is not a GUID; the message names it."""


def parse_vm_id(value):
    """``'{D9E0EB0A-5B37-...}'`` or ``'d9e0eb0a5b37...'`` -> ``uuid.UUID``; anything else raises VmIdError."""
    try:
        return uuid.UUID(str(value).strip())
    except (ValueError, AttributeError, TypeError):
        raise VmIdError(f"'{value}' is not a VM ID (a GUID such as d9e0eb0a-5b37-508e-9173-67e9ade83acf)") from None


def vm_sid(vm_id):
    """``S-1-5-83-1-a-b-c-d``: the GUID's bytes in ``Guid.ToByteArray()`` order as four little-endian uint32.

    Worked example from a Hyper-V-Worker event 18590: D9E0EB0A-5B37-508E-9173-67E9ADE83ACF ->
    S-1-5-83-1-3655396106-1351506743-3915871121-3476744365.
    """
    parts = struct.unpack("<4I", parse_vm_id(vm_id).bytes_le)
    return "S-1-5-83-1-" + "-".join(str(p) for p in parts)
