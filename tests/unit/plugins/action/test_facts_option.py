"""The ``facts`` option of every action plugin that reads the node: given the facts the play gathered, no
host_facts round trip; facts without a subset the module needs, or of another host, fail before anything is
sent; what the host read again wins over stale facts, and the result says so."""
import copy

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.hyperv.backup.plugins.action import backup_integration, checkpoint_type, cluster_config_store
from ansible_collections.hyperv.backup.plugins.action import scsi_controller, vm_folder_access, vss_access_control
from ansible_collections.hyperv.backup.plugins.plugin_utils import _folder_access as fa
from ansible_collections.hyperv.backup.plugins.plugin_utils._cluster_view import cluster_view
from tests.unit.factsdata import node, vm
from tests.unit.plugins.action.actionkit import make_action
from tests.unit.plugins.plugin_utils.test_folder_access import GC, SID1, SID2, acl, parent_aces, two_nodes

FACTS = "hyperv.backup.host_facts"
STORE = "C:\\ClusterStorage\\Volume1\\Hyper-V\\ConfigStore"
HOSTS = {"inventory_hostname": "HV01", "ansible_host": "127.0.0.1", "groups": {"all": ["HV01", "HV02"]}}


def no_read(module_args):
    raise AssertionError(f"host_facts was called: {module_args}")


def facts_of(name="HV01", vms=None, subsets=("cluster", "vms", "vss_access_control"), **overrides):
    facts = node(name, vms if vms is not None else [vm("SQL01", CheckpointType="Standard"), vm("WEB01")], **overrides)
    facts["gather_subset"] = list(subsets)
    return facts


def vm_apply(keys):
    """A host that applies every operation and reads the VM back; ``before`` is what the facts said."""
    def apply(module_args):
        return {"changed": True, "vms": [{"id": op["id"], "name": op["name"], "status": "changed",
                                          "after": {key: op[arg] for key, arg in keys.items() if arg in op}}
                                         for op in module_args["operations"]]}
    return apply


# --- the per-VM modules -----------------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["facts", "ansible_facts", "registered"])
def test_checkpoint_type_plans_from_the_facts_given_without_reading_the_node(form):
    facts = facts_of()
    given = {"facts": facts, "ansible_facts": {"hyperv_backup": facts},
             "registered": {"changed": False, "ansible_facts": {"hyperv_backup": facts}}}[form]
    apply = vm_apply({"CheckpointType": "checkpoint_type"})
    action, calls = make_action(checkpoint_type.ActionModule, {"checkpoint_type": "Production", "facts": given},
                                {FACTS: no_read, "hyperv.backup.checkpoint_type": apply})
    result = action.run(task_vars=HOSTS)
    assert [name for name, _ in calls] == ["hyperv.backup.checkpoint_type"]
    assert [op["name"] for op in calls[0][1]["operations"]] == ["SQL01"]
    assert result["changed"] is True and "facts" not in result


@pytest.mark.parametrize("plugin, module, args", [
    (checkpoint_type, "hyperv.backup.checkpoint_type", {"checkpoint_type": "Production"}),
    (scsi_controller, "hyperv.backup.scsi_controller", {}),
    (backup_integration, "hyperv.backup.backup_integration", {}),
])
def test_nothing_to_change_with_the_facts_given_is_no_round_trip_at_all(plugin, module, args):
    facts = facts_of(vms=[vm("WEB01")])
    action, calls = make_action(plugin.ActionModule, dict(args, facts=facts), {FACTS: no_read, module: no_read})
    result = action.run(task_vars=HOSTS)
    assert calls == [] and result["changed"] is False
    assert result["counts"]["ok"] == 1


def test_check_mode_with_the_facts_given_is_no_round_trip_and_predicts_the_change():
    facts = facts_of(vms=[vm("OLD01", ScsiControllers=[], State="Off")])
    action, calls = make_action(scsi_controller.ActionModule, {"facts": facts},
                                {FACTS: no_read, "hyperv.backup.scsi_controller": no_read}, check_mode=True, diff=True)
    result = action.run(task_vars=HOSTS)
    assert calls == [] and result["changed"] is True
    assert result["diff"] == {"before": {"OLD01": {"ScsiControllers": 0}}, "after": {"OLD01": {"ScsiControllers": 1}}}


@pytest.mark.parametrize("plugin, args, subsets, missing", [
    (checkpoint_type, {"checkpoint_type": "Production"}, ["vms"], "cluster"),
    (scsi_controller, {}, ["cluster"], "vms"),
    (backup_integration, {}, [], "cluster, vms"),
    (vss_access_control, {"accounts": ["LAB\\svc-veeam"]}, ["cluster", "vms"], "vss_access_control"),
    (cluster_config_store, {"path": STORE}, ["vms"], "cluster"),
    (vm_folder_access, {"discover": True}, ["cluster", "vms"], "vhd_set_acls"),
])
def test_facts_without_a_subset_the_module_needs_fail_naming_it_before_any_round_trip(plugin, args, subsets, missing):
    action, calls = make_action(plugin.ActionModule, dict(args, facts=facts_of(subsets=subsets)), {})
    with pytest.raises(AnsibleActionFail) as err:
        action.run(task_vars=HOSTS)
    assert f"facts: the facts were gathered without {missing} (" in str(err.value)
    assert f"gather them with hyperv.backup.host_facts gather_subset including {missing} (or all" in str(err.value)
    assert calls == []


@pytest.mark.parametrize("given, message", [
    ({"skipped": True, "changed": False}, "the hyperv.backup.host_facts task was skipped on this host"),
    ({"failed": True, "msg": "host_facts: reading the VMs on HV01 failed: boom"},
     "failed on this host (host_facts: reading the VMs on HV01 failed: boom)"),
    ({"vms": []}, "expected the hyperv_backup facts of this node"),
    ({"node": {"Name": "HV01"}, "vms": []}, "the facts have no gather_subset list"),
])
def test_what_is_not_facts_is_refused_naming_it(given, message):
    action, calls = make_action(checkpoint_type.ActionModule, {"checkpoint_type": "Production", "facts": given}, {})
    with pytest.raises(AnsibleActionFail, match=message.replace("(", r"\(").replace(")", r"\)")):
        action.run(task_vars=HOSTS)
    assert calls == []


def test_the_facts_of_another_host_of_the_inventory_are_refused():
    action, calls = make_action(backup_integration.ActionModule, {"facts": facts_of("HV02")}, {})
    with pytest.raises(AnsibleActionFail, match=r"these are the facts of HV02 \(inventory host HV02\), but the task "
                                                r"runs on HV01"):
        action.run(task_vars=HOSTS)
    assert calls == []


@pytest.mark.parametrize("host_vars", [
    {"inventory_hostname": "hv01.lab.example", "groups": {"all": ["hv01.lab.example", "hv02.lab.example"]}},
    {"inventory_hostname": "node-a", "ansible_host": "10.0.0.5", "groups": {"all": ["node-a", "node-b"]}},
    {"inventory_hostname": "HV02", "ansible_delegated_vars": {"HV01": {"ansible_host": "127.0.0.1", "inventory_hostname": "HV02"}},
     "groups": {"all": ["HV01", "HV02"]}},
])
def test_the_facts_of_this_host_by_its_fqdn_an_alias_or_the_delegate_pass(host_vars):
    facts = facts_of("HV01", vms=[vm("WEB01")])
    action, calls = make_action(backup_integration.ActionModule, {"facts": facts}, {})
    assert action.run(task_vars=host_vars)["changed"] is False
    assert calls == []


def test_stale_facts_the_hosts_read_wins_nothing_is_changed_and_a_warning_says_so():
    """The facts say SQL01 is Standard; someone set it to Production since: the host reads it again, finds
    nothing to do and reports ok with what it read."""
    def host(module_args):
        return {"changed": False, "vms": [{"id": op["id"], "name": op["name"], "status": "ok",
                                           "before": {"CheckpointType": "Production", "AutomaticCheckpointsEnabled": False},
                                           "after": {"CheckpointType": "Production", "AutomaticCheckpointsEnabled": False}}
                                          for op in module_args["operations"]]}
    action, calls = make_action(checkpoint_type.ActionModule, {"checkpoint_type": "Production", "facts": facts_of()},
                                {"hyperv.backup.checkpoint_type": host}, diff=True)
    result = action.run(task_vars=HOSTS)
    assert [name for name, _ in calls] == ["hyperv.backup.checkpoint_type"]
    sql = next(e for e in result["vms"] if e["name"] == "SQL01")
    assert sql["status"] == "ok" and sql["before"] == sql["after"] == {"CheckpointType": "Production"}
    assert result["changed"] is False and result["diff"] == {"before": {}, "after": {}}
    assert result["warnings"] == ["checkpoint_type: the facts given were older than the host: SQL01 had "
                                  "CheckpointType Production, not Standard, when the host read it again before "
                                  "changing it; it acted on what it read"]


# --- vss_access_control and cluster_config_store ----------------------------------------------------------

def test_vss_access_control_with_the_facts_given_writes_without_reading_and_converged_is_no_round_trip():
    def host(module_args):
        return {"changed": True, "accounts": [{"name": op["name"], "status": "changed", "before": 0, "after": op["value"]}
                                              for op in module_args["operations"]]}
    facts = facts_of(vss_access_control={"LAB\\svc-veeam": 0})
    action, calls = make_action(vss_access_control.ActionModule, {"accounts": ["LAB\\svc-veeam"], "facts": facts},
                                {FACTS: no_read, "hyperv.backup.vss_access_control": host})
    result = action.run(task_vars=HOSTS)
    assert [name for name, _ in calls] == ["hyperv.backup.vss_access_control"]
    assert result["changed"] is True and result["accounts"][0]["was_denied"] is True
    facts = facts_of(vss_access_control={"LAB\\svc-veeam": 1})
    action, calls = make_action(vss_access_control.ActionModule, {"accounts": ["LAB\\svc-veeam"], "facts": facts}, {})
    assert action.run(task_vars=HOSTS)["changed"] is False and calls == []


def test_cluster_config_store_with_the_facts_of_any_node_of_the_cluster():
    facts = facts_of("HV02", subsets=["cluster"])
    facts["cluster"]["Parameters"]["ConfigStoreRootPath"] = ""

    def host(module_args):
        return {"changed": True, "status": "changed", "before": {"ConfigStoreRootPath": ""},
                "after": {"ConfigStoreRootPath": module_args["path"]}, "folder_created": True}
    action, calls = make_action(cluster_config_store.ActionModule, {"path": STORE, "facts": facts},
                                {FACTS: no_read, "hyperv.backup.cluster_config_store": host})
    result = action.run(task_vars=HOSTS)  # runs on HV01 with HV02's facts: the value is cluster-wide
    assert [name for name, _ in calls] == ["hyperv.backup.cluster_config_store"]
    assert result["status"] == "changed"
    facts["cluster"]["Parameters"]["ConfigStoreRootPath"] = STORE
    action, calls = make_action(cluster_config_store.ActionModule, {"path": STORE, "facts": facts}, {})
    assert action.run(task_vars=HOSTS)["status"] == "ok" and calls == []


# --- vm_folder_access -------------------------------------------------------------------------------------

def granted_acl():
    access, _ = fa.apply_intent(parent_aces(), [dict(fa.GRANT, sid=SID1), dict(fa.GRANT, sid=SID2)])
    return access


def test_a_view_that_holds_the_acls_needs_no_read_and_converged_no_round_trip_at_all():
    first, second = two_nodes(acls=[acl(GC, granted_acl())])
    action, calls = make_action(vm_folder_access.ActionModule,
                                {"cluster_view": cluster_view([first, second]), "discover": True}, {})
    result = action.run(task_vars=HOSTS)
    assert calls == [] and result["changed"] is False and result["counts"]["ok"] == 1


def test_a_view_that_holds_the_acls_applies_in_one_round_trip():
    first, second = two_nodes()
    second["acls"] = [acl(GC)]

    def host(module_args):
        after, done = fa.apply_intent(parent_aces(), module_args["folders"][0]["grant"])
        return {"changed": True, "folders": [dict(done, path=GC, status="changed", before=parent_aces(), after=after)]}
    action, calls = make_action(vm_folder_access.ActionModule,
                                {"cluster_view": cluster_view([first, second]), "discover": True},
                                {FACTS: no_read, "hyperv.backup.vm_folder_access": host})
    result = action.run(task_vars=HOSTS)
    assert [name for name, _ in calls] == ["hyperv.backup.vm_folder_access"]
    assert {v["name"]: v["status"] for v in result["vms"]} == {"GC-N1": "changed", "GC-N2": "changed"}


def test_a_view_without_some_acl_reads_only_that_folder():
    other = "C:\\ClusterStorage\\Volume2\\Other"
    first, second = two_nodes(acls=[acl(GC, granted_acl())])

    def read(module_args):
        assert module_args == {"gather_subset": [], "acl_paths": [other]}
        return {"ansible_facts": {"hyperv_backup": {"node": {"Name": "HV01"}, "gather_subset": [],
                                                    "acls": [acl(other, granted_acl())]}}}
    action, calls = make_action(vm_folder_access.ActionModule,
                                {"cluster_view": cluster_view([first, second]), "path": other,
                                 "vm_ids": [first["vms"][0]["Id"]]}, {FACTS: read})
    result = action.run(task_vars=HOSTS)
    assert [name for name, _ in calls] == [FACTS] and result["changed"] is False


def test_node_facts_with_vhd_set_acls_plan_without_reading():
    first, _ = two_nodes(acls=[acl(GC, granted_acl())])
    first["gather_subset"] = ["cluster", "vms", "vhd_set_acls"]
    action, calls = make_action(vm_folder_access.ActionModule, {"facts": copy.deepcopy(first), "discover": True}, {})
    result = action.run(task_vars=HOSTS)
    assert calls == [] and result["scope"] == "node" and result["counts"]["ok"] == 1


@pytest.mark.parametrize("args, message", [
    ({"path": GC + "\\Other"}, r"facts: they hold no ACL of 'C:\\ClusterStorage\\Volume2\\GuestCluster\\Other'; "
                              r"gather it with hyperv.backup.host_facts acl_paths"),
    ({"discover": True, "cluster_view": "view"}, "give cluster_view or facts, not both"),
])
def test_vm_folder_access_facts_that_cannot_serve_are_refused(args, message):
    first, second = two_nodes(acls=[acl(GC)])
    if args.get("cluster_view") == "view":
        args = dict(args, cluster_view=cluster_view([first, second]))
    action, calls = make_action(vm_folder_access.ActionModule, dict(args, facts=first), {})
    with pytest.raises(AnsibleActionFail, match=message):
        action.run(task_vars=HOSTS)
    assert calls == []
