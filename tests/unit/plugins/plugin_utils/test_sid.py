import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.hyperv.backup.plugins.plugin_utils._sid import (
    VmIdError, VmSidError, is_vm_sid, parse_vm_id, vm_account, vm_id, vm_id_from_sid, vm_sid)

WORKED_SID = "S-1-5-83-1-3655396106-1351506743-3915871121-3476744365"


@pytest.mark.parametrize(
    "vm_id_text",
    [
        "D9E0EB0A-5B37-508E-9173-67E9ADE83ACF",
        "d9e0eb0a-5b37-508e-9173-67e9ade83acf",
        "{d9e0eb0a-5b37-508e-9173-67e9ade83acf}",
        " {D9E0EB0A-5B37-508E-9173-67E9ADE83ACF}\n",
    ],
)
def test_worked_example_from_event_18590(vm_id_text):
    assert vm_sid(vm_id_text) == WORKED_SID
    assert vm_account(vm_id_text) == "NT VIRTUAL MACHINE\\D9E0EB0A-5B37-508E-9173-67E9ADE83ACF"
    assert vm_id(vm_id_text) == "d9e0eb0a-5b37-508e-9173-67e9ade83acf"


def test_worked_example_back_to_the_vm_id():
    assert vm_id_from_sid(WORKED_SID) == "d9e0eb0a-5b37-508e-9173-67e9ade83acf"
    assert vm_id_from_sid(WORKED_SID.lower()) == "d9e0eb0a-5b37-508e-9173-67e9ade83acf"


@given(st.uuids())
def test_every_guid_round_trips_through_its_sid(guid):
    sid = vm_sid(str(guid))
    assert is_vm_sid(sid)
    assert vm_id_from_sid(sid) == str(guid)
    assert vm_sid(str(guid).upper()) == sid
    assert vm_account("{" + str(guid) + "}") == "NT VIRTUAL MACHINE\\" + str(guid).upper()


@given(st.lists(st.integers(min_value=0, max_value=2**32 - 1), min_size=4, max_size=4))
def test_every_vm_sid_round_trips_through_its_guid(parts):
    sid = "S-1-5-83-1-" + "-".join(str(p) for p in parts)
    assert vm_sid(vm_id_from_sid(sid)) == sid


@pytest.mark.parametrize(
    "bad",
    [
        "a0af7903-94b4-4a2c-b3b3-16050d5f80f",     # the field script's 35-character ID: a digit missing
        "a0af7903-94b4-4a2c-b3b3-16050d5f80f2a",   # a digit too many
        "a0af790-394b4-4a2c-b3b3-16050d5f80f2",    # a dash out of place (uuid.UUID would accept it)
        "a0af790394b44a2cb3b316050d5f80f2",        # 32 bare digits
        "urn:uuid:a0af7903-94b4-4a2c-b3b3-16050d5f80f2",
        "{a0af7903-94b4-4a2c-b3b3-16050d5f80f2",   # unbalanced braces
        "a0af7903-94b4-4a2c-b3b3-16050d5f80f2}",
        "g0af7903-94b4-4a2c-b3b3-16050d5f80f2",    # not hex
        "SQL01", "", None, 42, "a0af7903;rm",
    ],
)
def test_malformed_id_is_named_and_the_shape_explained(bad):
    with pytest.raises(VmIdError, match="is not a VM ID: a VM ID is a GUID of 32 hexadecimal digits in groups of 8-4-4-4-12") as err:
        parse_vm_id(bad)
    assert f"'{bad}'" in str(err.value)


def test_a_short_id_says_how_long_it_is():
    with pytest.raises(VmIdError, match="this one has 35 characters in groups of 8-4-4-4-11"):
        vm_sid("a0af7903-94b4-4a2c-b3b3-16050d5f80f")


@pytest.mark.parametrize(
    "sid",
    [
        "S-1-5-83-0",                                  # the Virtual Machines group
        "S-1-5-83-1-1-2-3",                            # three sub-authorities
        "S-1-5-83-1-1-2-3-4-5",                        # five
        "S-1-5-83-1-4294967296-1-2-3",                 # above 32 bits
        "S-1-5-83-1-01-2-3-4",                         # leading zero
        "S-1-5-83-1--1-2-3",
        "S-1-5-18", "S-1-5-21-1-2-3-500", "NT VIRTUAL MACHINE\\D9E0EB0A-5B37-508E-9173-67E9ADE83ACF", "", None, 7,
    ],
)
def test_only_vm_account_sids_are_vm_sids(sid):
    assert not is_vm_sid(sid)
    with pytest.raises(VmSidError, match="is not the SID of a VM's account"):
        vm_id_from_sid(sid)


def test_uuid_module_agrees_on_byte_order():
    guid = uuid.UUID("a0af7903-94b4-4a2c-b3b3-16050d5f80f2")
    parts = [int(p) for p in vm_sid(str(guid)).split("-")[5:]]
    assert uuid.UUID(bytes_le=b"".join(p.to_bytes(4, "little") for p in parts)) == guid
