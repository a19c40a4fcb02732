import uuid

import pytest

from ansible_collections.hyperv.backup.plugins.plugin_utils._sid import VmIdError, parse_vm_id, vm_sid


@pytest.mark.parametrize(
    "vm_id",
    [
        "D9E0EB0A-5B37-508E-9173-67E9ADE83ACF",
        "d9e0eb0a-5b37-508e-9173-67e9ade83acf",
        "{d9e0eb0a-5b37-508e-9173-67e9ade83acf}",
    ],
)
def test_worked_example_from_event_18590(vm_id):
    assert vm_sid(vm_id) == "S-1-5-83-1-3655396106-1351506743-3915871121-3476744365"


def test_sid_round_trips_to_the_guid():
    vm_id = uuid.UUID("a0af7903-94b4-4a2c-b3b3-16050d5f80f2")
    parts = [int(p) for p in vm_sid(str(vm_id)).split("-")[5:]]
    raw = b"".join(p.to_bytes(4, "little") for p in parts)
    assert uuid.UUID(bytes_le=raw) == vm_id


@pytest.mark.parametrize("bad", ["a0af7903-94b4-4a2c-b3b3-16050d5f80f", "SQL01", "", None, "a0af7903;rm"])
def test_malformed_id_is_named(bad):
    with pytest.raises(VmIdError, match="is not a VM ID"):
        parse_vm_id(bad)
