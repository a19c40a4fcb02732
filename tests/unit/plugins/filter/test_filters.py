import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hyperv.backup.plugins.filter.cluster_view import FilterModule as ClusterViewFilters
from ansible_collections.hyperv.backup.plugins.filter.readiness import FilterModule as ReadinessFilters
from ansible_collections.hyperv.backup.plugins.filter.vm_sid import FilterModule as SidFilters
from ansible_collections.hyperv.backup.plugins.filter.vss_writers import FilterModule as VssFilters
from tests.unit.factsdata import node, vm

cluster_view = ClusterViewFilters().filters()["cluster_view"]
readiness = ReadinessFilters().filters()["readiness"]
vm_sid = SidFilters().filters()["vm_sid"]
vss_writers = VssFilters().filters()["vss_writers"]


def test_vm_sid_filter():
    assert vm_sid("D9E0EB0A-5B37-508E-9173-67E9ADE83ACF") == "S-1-5-83-1-3655396106-1351506743-3915871121-3476744365"


@pytest.mark.parametrize("bad, shown", [("SQL01", "'SQL01'"), (42, "'42'")])
def test_vm_sid_names_the_bad_value_and_type(bad, shown):
    with pytest.raises(AnsibleFilterError, match=f"{shown} is not a VM ID.*{type(bad).__name__}"):
        vm_sid(bad)


def test_cluster_view_filter_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="expected a list"):
        cluster_view("HV01")


def test_vss_writers_filter_rejects_non_text():
    with pytest.raises(AnsibleFilterError, match="got list"):
        vss_writers([])


def test_readiness_filter():
    view = cluster_view([node("HV01", [vm("A", CheckpointType="Standard")]), node("HV02", [])])
    report = readiness(view, now="2026-11-23T12:00:00Z")
    assert [f["target"] for f in report["findings"]] == ["A"]
    assert report["summary"]["total"] == 1
    assert report["lines"][-1] == "1 findings: 1 errors, 0 warnings, 0 info"


@pytest.mark.parametrize(
    "args, message",
    [
        ({"policy": {"vss_acounts": []}}, "unknown policy keys vss_acounts"),
        ({"now": "yesterday"}, "now='yesterday' is not an ISO 8601 time"),
    ],
)
def test_readiness_bad_arguments(args, message):
    view = cluster_view([node("HV01", [])])
    with pytest.raises(AnsibleFilterError, match=message):
        readiness(view, **args)


def test_readiness_needs_a_view():
    with pytest.raises(AnsibleFilterError, match="expected the output of hyperv.backup.cluster_view"):
        readiness([{"vms": []}])
