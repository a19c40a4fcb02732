import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.hyperv.backup.plugins.filter.vm_account import FilterModule as AccountFilters
from ansible_collections.hyperv.backup.plugins.filter.vm_sid import FilterModule as SidFilters

vm_account = AccountFilters().filters()["vm_account"]
vm_sid = SidFilters().filters()["vm_sid"]


@pytest.mark.parametrize("vm_id", ["d9e0eb0a-5b37-508e-9173-67e9ade83acf", "{D9E0EB0A-5B37-508E-9173-67E9ADE83ACF}"])
def test_worked_example(vm_id):
    assert vm_account(vm_id) == "NT VIRTUAL MACHINE\\D9E0EB0A-5B37-508E-9173-67E9ADE83ACF"
    assert vm_sid(vm_id) == "S-1-5-83-1-3655396106-1351506743-3915871121-3476744365"


@given(st.uuids())
def test_account_carries_the_upper_case_guid_of_any_vm(guid):
    assert vm_account(str(guid)) == f"NT VIRTUAL MACHINE\\{str(guid).upper()}"


@pytest.mark.parametrize(
    "bad, kind",
    [("a0af7903-94b4-4a2c-b3b3-16050d5f80f", "a string"), ("SQL01", "a string"), (42, "an integer"), (None, "null"),
     (["d9e0eb0a-5b37-508e-9173-67e9ade83acf"], "a list")],
)
def test_bad_input_names_the_value_its_type_and_the_shape_of_a_vm_id(bad, kind):
    with pytest.raises(AnsibleFilterError, match=r"vm_account: '.*' is not a VM ID: a VM ID is a GUID .*8-4-4-4-12") as err:
        vm_account(bad)
    assert str(err.value).endswith(f"({kind})")
    assert str(bad) in str(err.value)
