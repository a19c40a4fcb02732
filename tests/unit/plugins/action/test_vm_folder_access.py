import copy
import re

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.hyperv.backup.plugins.action.vm_folder_access import ActionModule
from ansible_collections.hyperv.backup.plugins.plugin_utils import _folder_access as fa
from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view
from tests.unit.plugins.action.actionkit import make_action
from tests.unit.plugins.plugin_utils.test_folder_access import GC, N1, N2, SID1, SID2, acl, parent_aces, two_nodes

FACTS = "hyperv.backup.host_facts"
MODULE = "hyperv.backup.vm_folder_access"


def view():
    return cluster_view(list(two_nodes()))


def acl_read(module_args):
    assert module_args["gather_subset"] == []
    return {"ansible_facts": {"hyperv_backup": {"node": {"Name": "HV01"}, "gather_subset": [],
                                                "acls": [acl(path) for path in module_args["acl_paths"]]}}}


def host_applies(module_args):
    """The host: the intent applied to the ACL as it is (the planner's reference)."""
    folders = []
    for op in module_args["folders"]:
        after, done = fa.apply_intent(parent_aces(), op["grant"], op["revoke"])
        folders.append(dict(done, path=op["path"], status="changed", before=parent_aces(), after=after, attempts=1))
    return {"changed": True, "folders": folders}


def test_with_a_view_one_acl_read_and_one_apply_on_this_node():
    action, calls = make_action(ActionModule, {"cluster_view": view(), "discover": True},
                                {FACTS: acl_read, MODULE: host_applies})
    result = action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS, MODULE]
    assert calls[0][1] == {"gather_subset": [], "acl_paths": [GC]}
    assert calls[1][1] == {"folders": [{"path": GC, "grant": [dict(fa.GRANT, sid=SID1), dict(fa.GRANT, sid=SID2)],
                                        "revoke": []}], "lock_timeout": 60}
    assert result["changed"] is True and result["scope"] == "cluster"
    assert {v["name"]: v["status"] for v in result["vms"]} == {"GC-N1": "changed", "GC-N2": "changed"}
    assert result["counts"] == {"folders": 1, "vms": 2, "changed": 1, "ok": 0, "failed": 0}
    assert not result.get("failed")


def test_check_mode_reads_only_and_the_diff_shows_the_acl():
    action, calls = make_action(ActionModule, {"cluster_view": view(), "discover": True},
                                {FACTS: acl_read, MODULE: host_applies}, check_mode=True, diff=True)
    result = action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS]
    assert result["changed"] is True
    assert result["diff"]["before"].splitlines()[0] == GC
    assert f"(A;OI;FA;;;{SID1})" in result["diff"]["after"] and f"(A;OI;FA;;;{SID1})" not in result["diff"]["before"]


def test_a_view_whose_vms_use_no_vhd_set_reads_and_changes_nothing():
    first, second = copy.deepcopy(two_nodes())
    for facts in (first, second):
        for vm in facts["vms"]:
            vm["HardDisks"] = [d for d in vm["HardDisks"] if not d["Path"].lower().endswith(".vhds")]
    action, calls = make_action(ActionModule, {"cluster_view": cluster_view([first, second]), "discover": True},
                                {FACTS: acl_read, MODULE: host_applies})
    result = action.run(task_vars={})
    assert calls == []
    assert result["changed"] is False and result["folders"] == [] and not result.get("failed")
    assert result["warnings"] == ["no VM of the cluster uses a VHD Set (.vhds)"]


def test_nothing_to_change_sends_no_apply():
    granted, _ = fa.apply_intent(parent_aces(), [dict(fa.GRANT, sid=SID1), dict(fa.GRANT, sid=SID2)])

    def read(module_args):
        return {"ansible_facts": {"hyperv_backup": {"node": {"Name": "HV01"}, "acls": [acl(GC, granted)]}}}

    action, calls = make_action(ActionModule, {"cluster_view": view(), "path": GC}, {FACTS: read, MODULE: host_applies})
    result = action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS]
    assert result["changed"] is False and result["counts"]["ok"] == 1


@pytest.mark.parametrize("args, gather", [
    ({"path": GC}, {"gather_subset": ["cluster", "vms"], "acl_paths": [GC]}),
    ({"discover": True}, {"gather_subset": ["cluster", "vms", "vhd_set_acls"], "acl_paths": []}),
])
def test_ad_hoc_reads_the_nodes_vms_and_the_acls_in_one_call(args, gather):
    first, _ = two_nodes(acls=[acl(GC)])

    def read(module_args):
        return {"ansible_facts": {"hyperv_backup": copy.deepcopy(first)}, "warnings": ["a host warning"]}

    action, calls = make_action(ActionModule, args, {FACTS: read, MODULE: host_applies})
    result = action.run(task_vars={})
    assert calls[0] == (FACTS, gather)
    assert calls[1][1]["folders"][0]["grant"] == [dict(fa.GRANT, sid=SID1)]   # only the VM registered on HV01
    assert result["scope"] == "node" and result["node"] == "HV01" and "HV01" in result["note"]
    assert result["warnings"][0] == "a host warning"


@pytest.mark.parametrize("args, message", [
    ({"path": GC, "vm_ids": [N1["Id"], "a0af7903-94b4-4a2c-b3b3-16050d5f80f"]},
     r"vm_folder_access: vm_ids\[1\]: 'a0af7903-94b4-4a2c-b3b3-16050d5f80f' is not a VM ID: .* groups of 8-4-4-4-12"),
    ({"vm_ids": [N1["Id"]]}, "vm_ids: needs path"),
    ({}, r"give path \(with or without vm_ids\) or discover: true"),
    ({"path": GC, "discover": True}, "not both"),
    ({"path": "C:\\ClusterStorage\\Volume2\\..\\x"}, "has a '..' segment"),
    ({"path": "relative\\x"}, "is not an absolute path"),
    ({"path": "C:\\ClusterStorage\\Volume2\\a\tb"}, "control character U\\+0009"),
    ({"path": GC, "lock_timeout": -1}, "lock_timeout: -1 is not a number of seconds"),
    ({"discover": True, "purge_stale": True}, "purge_stale: needs the view of the whole cluster"),
    ({"discover": "often"}, "often"),
    ({"path": GC, "vm_ids": "d3599536-222a-4d6e-bb10-a6019c3f2b9b", "lock_timeout": "soon"}, "soon"),
    ({"path": GC, "colour": "blue"}, r"Unsupported parameters for \(hyperv.backup.vm_folder_access\) module: colour"),
    ({"cluster_view": {"vms": []}, "discover": True}, "cluster_view: expected the output of the hyperv.backup.cluster_view filter"),
])
def test_bad_arguments_fail_before_any_round_trip(args, message):
    action, calls = make_action(ActionModule, args, {FACTS: acl_read, MODULE: host_applies})
    with pytest.raises(AnsibleActionFail, match=message):
        action.run(task_vars={})
    assert calls == []


def test_a_path_the_host_cannot_read_fails_with_the_hosts_message():
    def missing(module_args):
        return {"failed": True, "msg": f"host_facts: acl_paths item '{GC}' does not exist on HV01"}

    action, calls = make_action(ActionModule, {"cluster_view": view(), "path": GC}, {FACTS: missing, MODULE: host_applies})
    result = action.run(task_vars={})
    assert result["failed"] is True and [name for name, _ in calls] == [FACTS]
    assert result["msg"] == f"vm_folder_access: reading the host failed: host_facts: acl_paths item '{GC}' does not exist on HV01"


def test_a_path_not_on_a_csv_or_share_fails_after_the_read_naming_the_known_places():
    first, _ = two_nodes(acls=[acl("D:\\VMs\\GC")])
    action, calls = make_action(ActionModule, {"path": "D:\\VMs\\GC"},
                                {FACTS: lambda a: {"ansible_facts": {"hyperv_backup": first}}, MODULE: host_applies})
    with pytest.raises(AnsibleActionFail, match=re.escape(
            "path: 'D:\\VMs\\GC' is not on a Cluster Shared Volume or a share that the VMs use (known: "
            "C:\\ClusterStorage\\Volume1 (Cluster Shared Volume 'Cluster Disk 1')")):
        action.run(task_vars={})
    assert [name for name, _ in calls] == [FACTS]


def test_a_folder_failed_on_the_host_fails_the_task_naming_it_and_keeps_the_others():
    other = "C:\\ClusterStorage\\Volume1\\Other"
    the_view = copy.deepcopy(cluster_view(list(two_nodes())))   # the view shares the test data's disk lists
    for vm in the_view["vms"]:
        if vm["Name"] == "GC-N1":
            vm["HardDisks"].append({"Path": other + "\\x.vhds", "IsVhdSet": True})

    def applies(module_args):
        result = host_applies(module_args)
        result["folders"][0].update(status="failed", after=parent_aces(), granted=[],
                                    error=f"writing the ACL of '{other}' failed: Attempted to perform an unauthorized operation.")
        return result

    action, calls = make_action(ActionModule, {"cluster_view": the_view, "discover": True},
                                {FACTS: acl_read, MODULE: applies})
    result = action.run(task_vars={})
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"].startswith(f"vm_folder_access: 1 of 2 folder(s) failed, the others were applied: {other}: writing")
    assert {f["path"]: f["status"] for f in result["folders"]} == {GC: "changed", other: "failed"}


def test_the_module_failing_as_a_whole_is_the_tasks_message():
    action, _ = make_action(ActionModule, {"cluster_view": view(), "discover": True},
                            {FACTS: acl_read, MODULE: {"failed": True, "msg": "vm_folder_access: lock_timeout 99999 is out of range"}})
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["msg"] == "vm_folder_access: applying on the host failed: vm_folder_access: lock_timeout 99999 is out of range"
    assert all(f["status"] == "failed" for f in result["folders"])


def test_vm_ids_of_another_node_are_left_to_it_ad_hoc():
    first, _ = two_nodes(acls=[acl(GC)])
    action, calls = make_action(ActionModule, {"path": GC, "vm_ids": [N1["Id"], N2["Id"]]},
                                {FACTS: lambda a: {"ansible_facts": {"hyperv_backup": first}}, MODULE: host_applies})
    result = action.run(task_vars={})
    assert result["elsewhere"] == [{"id": N2["Id"], "name": "GC-N2", "node": "HV02"}]
    assert calls[1][1]["folders"][0]["grant"] == [dict(fa.GRANT, sid=SID1)]
