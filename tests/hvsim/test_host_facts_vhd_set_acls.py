"""host_facts' vhd_set_acls subset in hvsim: the ACLs of the folders that hold the VHD Sets of this node's VMs."""
import copy

import pytest
import yaml

from hvsim.ops import Context, ModuleFail
from hvsim.ops.host_facts import host_facts
from tests.hvsim.test_host_facts_op import SMALL

SHARED = "C:\\ClusterStorage\\Volume1\\Shared"


@pytest.fixture
def data():
    return yaml.safe_load(SMALL)


def gather(data, node, subsets, acl_paths=()):
    ctx = Context(node=node, data=data)
    result = host_facts(ctx, {"gather_subset": list(subsets), "acl_paths": list(acl_paths)})
    return result["ansible_facts"]["hyperv_backup"], ctx.warnings


def test_each_folder_once_as_the_disk_spells_it_and_only_for_this_nodes_vms(data):
    extra = copy.deepcopy(data["vms"][1])       # OLD01 on hv01 gets a second VHD Set in another folder
    extra["hard_disks"].append({"path": "C:\\ClusterStorage\\Volume1\\Another\\q.vhds", "shared": True})
    data["vms"][1] = extra
    data["folders"]["C:\\ClusterStorage\\Volume1\\Another"] = {"owner": "S-1-5-32-544", "access": []}
    facts, warnings = gather(data, "HV01", ["vms", "vhd_set_acls"])
    assert [a["Path"] for a in facts["acls"]] == ["C:\\ClusterStorage\\Volume1\\Another", SHARED]
    assert warnings == []
    # GC-N1's SID resolves on its own node; the ACL is the model's, in order
    assert facts["acls"][1]["Access"][0]["IdentityReference"] == "NT VIRTUAL MACHINE\\D9E0EB0A-5B37-508E-9173-67E9ADE83ACF"


def test_a_folder_asked_for_by_name_is_not_read_twice(data):
    facts, _ = gather(data, "HV01", ["vms", "vhd_set_acls"], [SHARED.lower() + "\\"])
    assert [a["Path"] for a in facts["acls"]] == [SHARED.lower() + "\\"]


def test_a_node_without_vhd_sets_reports_an_empty_list(data):
    for vm in data["vms"]:
        vm["hard_disks"] = [d for d in vm["hard_disks"] if not d["path"].lower().endswith(".vhds")]
    facts, _ = gather(data, "HV01", ["vms", "vhd_set_acls"])
    assert facts["acls"] == []
    facts, _ = gather(data, "HV01", ["vms"])
    assert "acls" not in facts


@pytest.mark.parametrize("change, warning", [
    (lambda d: d["folders"].pop(SHARED),
     f"host_facts: VHD Set folder '{SHARED}' does not exist on HV01; its ACL is left out of acls"),
    (lambda d: d["folders"][SHARED].update(denied=True),
     f"host_facts: VHD Set folder '{SHARED}' cannot be read on HV01: Access to the path '{SHARED}' is denied. The "
     "account Ansible connects with needs the right to read its permissions; its ACL is left out of acls"),
])
def test_a_folder_that_cannot_be_read_is_a_warning_not_a_failed_node(data, change, warning):
    change(data)
    facts, warnings = gather(data, "HV01", ["vms", "vhd_set_acls"])
    assert facts["acls"] == [] and len(facts["vms"]) == 2
    assert warnings == [warning]


def test_a_share_behind_the_double_hop_is_a_warning(data):
    data["vms"][0]["hard_disks"][2]["path"] = "\\\\sofs01\\vms\\GC\\data.vhds"
    data["folders"]["\\\\sofs01\\vms\\GC"] = {"owner": "S-1-5-32-544", "access": []}
    facts, warnings = gather(data, "HV01", ["vms", "vhd_set_acls"])
    assert facts["acls"] == []
    assert warnings[0].startswith("host_facts: VHD Set folder '\\\\sofs01\\vms\\GC' cannot be read from HV01: Access")
    assert "double hop" in warnings[0]


def test_vhd_set_acls_needs_vms(data):
    with pytest.raises(ModuleFail, match="host_facts: gather_subset 'vhd_set_acls' needs 'vms'"):
        gather(data, "HV01", ["vhd_set_acls"])
