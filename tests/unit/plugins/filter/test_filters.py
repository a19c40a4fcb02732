import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hyperv.backup.plugins.filter.cluster_view import FilterModule as ClusterViewFilters
from ansible_collections.hyperv.backup.plugins.filter.readiness import FilterModule as ReadinessFilters
from ansible_collections.hyperv.backup.plugins.filter.vm_sid import FilterModule as SidFilters
from ansible_collections.hyperv.backup.plugins.filter.vss_writers import FilterModule as VssFilters
from tests.unit.factsdata import node, vm

cluster_view = ClusterViewFilters().filters()["cluster_view"]
readiness = ReadinessFilters().filters()["readiness"]
readiness_report = ReadinessFilters().filters()["readiness_report"]
vm_sid = SidFilters().filters()["vm_sid"]
vss_writers = VssFilters().filters()["vss_writers"]


def test_vm_sid_filter():
    assert vm_sid("D9E0EB0A-5B37-508E-9173-67E9ADE83ACF") == "S-1-5-83-1-3655396106-1351506743-3915871121-3476744365"


@pytest.mark.parametrize("bad, shown, kind", [("SQL01", "'SQL01'", "a string"), (42, "'42'", "an integer")])
def test_vm_sid_names_the_bad_value_and_type(bad, shown, kind):
    with pytest.raises(AnsibleFilterError, match=f"{shown} is not a VM ID.*\\({kind}\\)"):
        vm_sid(bad)


def test_cluster_view_filter_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="expected a list of hyperv_backup facts .*got a string: 'HV01'$"):
        cluster_view("HV01")
    with pytest.raises(AnsibleFilterError, match=r"item 1 is an integer \(3\), not the hyperv_backup facts"):
        cluster_view([node("HV01", []), 3])


def test_vss_writers_filter_rejects_non_text():
    with pytest.raises(AnsibleFilterError, match="got a list$"):
        vss_writers([])


def test_readiness_filter():
    view = cluster_view([node("HV01", [vm("A", CheckpointType="Standard")]), node("HV02", [])])
    report = readiness(view, now="2026-11-23T12:00:00Z")
    assert list(report) == ["findings", "checked", "summary", "lines"]
    assert [f["target"] for f in report["findings"]] == ["A"]
    assert report["checked"]["checkpoint_type"] == ["A"]
    assert report["summary"]["total"] == 1 and report["summary"]["passed"] == report["summary"]["checks"] - 1
    assert report["lines"][-1] == "1 findings: 1 errors, 0 warnings, 0 info"


def test_readiness_report_filter_renders_every_format():
    before = cluster_view([node("HV01", [vm("A", CheckpointType="Standard", volume=2)]), node("HV02", [])])
    after = cluster_view([node("HV01", []), node("HV02", [vm("A", CheckpointType="Standard", volume=2)])])
    document = readiness_report(after, before=before, now="2026-11-23T12:00:00Z", policy={"vss_accounts": ["LAB\\x"]})
    assert document["generated"] == "2026-11-23T12:00:00Z"
    assert document["policy"]["vss_accounts"] == ["LAB\\x"]
    assert document["placement"]["after"] is not None
    assert [f["check"] for f in document["findings"]] == ["checkpoint_type", "vss_access_control", "vss_access_control"]
    assert readiness_report(after, format="html", now="2026-11-23T12:00:00Z").startswith("<!DOCTYPE html>")
    assert readiness_report(after, format="markdown", now="2026-11-23T12:00:00Z").startswith("# Hyper-V backup readiness")
    assert '"title": "Hyper-V backup readiness"' in readiness_report(after, format="json", now="2026-11-23T12:00:00Z")
    junit = readiness_report(after, format="junit", now="2026-11-23T12:00:00Z", threshold="warning", title="T")
    assert junit.startswith('<?xml version="1.0" encoding="UTF-8"?>') and 'name="T"' in junit


@pytest.mark.parametrize("args, message", [
    ({"format": "pdf"}, "readiness_report: format='pdf' is not one of json, markdown, html, junit, document"),
    ({"threshold": "fatal"}, "readiness_report: threshold='fatal' is not one of error, warning, info"),
    ({"before": [1]}, "readiness_report: expected before to be the output of hyperv.backup.cluster_view .*got a list$"),
    ({"policy": {"vss_accounts": "LAB\\x"}}, "readiness_report: policy.vss_accounts: 'LAB.*x' is a string"),
    ({"generated": "today"}, "readiness_report: generated='today' is not an ISO 8601 time"),
    ({"now": "2026-11-23T12:00:00"}, "readiness_report: now=.* has no time zone"),
])
def test_readiness_report_bad_arguments(args, message):
    view = cluster_view([node("HV01", [])])
    with pytest.raises(AnsibleFilterError, match=message):
        readiness_report(view, **args)


@pytest.mark.parametrize(
    "args, message",
    [
        ({"policy": {"vss_acounts": []}}, "policy: unknown keys vss_acounts"),
        ({"policy": {"vss_accounts": "LAB\\svc"}}, "readiness: policy.vss_accounts: 'LAB.*svc' is a string"),
        ({"policy": {"checkpoint_types": ["Prod"]}}, "policy.checkpoint_types: unknown checkpoint type 'Prod'"),
        ({"policy": "strict"}, "policy: 'strict' is a string; give a mapping"),
        ({"now": "2026-11-23T12:00:00"}, "has no time zone"),
        ({"now": "yesterday"}, "now='yesterday' is not an ISO 8601 time"),
    ],
)
def test_readiness_bad_arguments(args, message):
    view = cluster_view([node("HV01", [])])
    with pytest.raises(AnsibleFilterError, match=message):
        readiness(view, **args)


def test_readiness_needs_a_view():
    with pytest.raises(AnsibleFilterError, match="expected the output of hyperv.backup.cluster_view .*got a list$"):
        readiness([{"vms": []}])


def test_no_filter_message_shows_a_python_class_name():
    """Whatever class carries a value (Ansible passes its own subclasses), messages use users' words."""
    class _InternalDict(dict):
        pass

    class _InternalStr(str):
        pass

    view = cluster_view([node("HV01", [])])
    messages = []
    for call in (lambda: readiness(_InternalDict()), lambda: readiness(view, policy=_InternalStr("x")),
                 lambda: readiness(view, policy={"vss_accounts": _InternalStr("LAB\\svc")}),
                 lambda: vss_writers(_InternalDict()), lambda: vm_sid(_InternalDict()),
                 lambda: cluster_view(_InternalStr("x")), lambda: cluster_view([_InternalStr("x")])):
        with pytest.raises(AnsibleFilterError) as err:
            call()
        messages.append(str(err.value))
    assert all("_Internal" not in m and "dict" not in m and "str)" not in m for m in messages), messages
