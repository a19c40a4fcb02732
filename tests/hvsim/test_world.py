"""hvsim.world: VM SIDs, account resolution per node, nodes and VMs, Windows paths, vssadmin text."""
import re
import uuid

import pytest
import yaml

from hvsim import world

WORKED_GUID = "D9E0EB0A-5B37-508E-9173-67E9ADE83ACF"
WORKED_SID = "S-1-5-83-1-3655396106-1351506743-3915871121-3476744365"

MODEL = yaml.safe_load(r"""
credentials: {username: u, password: p}
cluster:
  name: HVCW
  parameters: {ConfigStoreRootPath: ''}
  shared_volumes:
    - {name: Cluster Disk 1, path: 'C:\ClusterStorage\Volume1', owner_node: HV01, state: Online}
    - {name: Cluster Disk 2, path: 'C:\ClusterStorage\Volume2', owner_node: HV02, state: Offline}
nodes:
  - {name: HV01, os_build: 20348}
  - {name: hv02, os_build: 20348}
vms:
  - {id: d9e0eb0a-5b37-508e-9173-67e9ade83acf, name: SQL01, node: HV01, state: Running}
  - {id: 3f2504e0-4f89-11d3-9a0c-0305e82c3301, name: WEB01, node: HV02, state: Off}
folders:
  'C:\ClusterStorage\Volume1\GuestCluster': {nodes: [HV02], owner: S-1-5-32-544, access: []}
  'C:\ClusterStorage\Volume2\Dark': {nodes: all, owner: S-1-5-32-544, access: []}
  'D:\Local\HV01only': {nodes: [hv01], owner: S-1-5-32-544, access: []}
  'E:\Everywhere': {nodes: all, owner: S-1-5-32-544, access: []}
accounts:
  'LAB\svc-veeam': S-1-5-21-1-2-3-1105
""")


# -- SIDs ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("form", [WORKED_GUID, WORKED_GUID.lower(), "{" + WORKED_GUID + "}", WORKED_GUID.replace("-", "")])
def test_vm_sid_worked_example(form):
    assert world.vm_sid(form) == WORKED_SID


def test_vm_sid_round_trips_through_the_guid():
    for n in range(50):
        vm_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"vm{n}"))
        sid = world.vm_sid(vm_id)
        assert re.fullmatch(r"S-1-5-83-1-\d+-\d+-\d+-\d+", sid)
        assert world.vm_id_of_sid(sid) == vm_id
    assert world.vm_id_of_sid(WORKED_SID) == WORKED_GUID.lower()


@pytest.mark.parametrize("sid", ["S-1-5-18", "S-1-5-83-0", "S-1-5-83-1-1-2-3", "S-1-5-83-1-1-2-3-99999999999", "nope"])
def test_other_sids_are_not_vm_accounts(sid):
    assert world.vm_id_of_sid(sid) is None


def test_vm_sid_names_a_bad_guid():
    with pytest.raises(ValueError, match="'not-a-guid' is not a VM ID"):
        world.vm_sid("not-a-guid")


# -- accounts as seen from a node ----------------------------------------------------------------------------
def test_vm_account_translates_only_where_the_vm_is_registered():
    sid = world.vm_sid("d9e0eb0a-5b37-508e-9173-67e9ade83acf")
    assert world.translate_sid(MODEL, "HV01", sid) == "NT VIRTUAL MACHINE\\" + WORKED_GUID
    assert world.translate_sid(MODEL, "hv01", sid.lower()) == "NT VIRTUAL MACHINE\\" + WORKED_GUID
    assert world.sid_to_name(MODEL, "HV02", sid) is None
    assert world.translate_sid(MODEL, "HV02", sid) == sid  # the SID string stays


def test_vm_account_name_resolves_only_where_the_vm_is_registered():
    name = "nt virtual machine\\" + WORKED_GUID.lower()
    assert world.name_to_sid(MODEL, "HV01", name) == WORKED_SID
    with pytest.raises(world.IdentityNotMapped) as err:
        world.name_to_sid(MODEL, "HV02", name)
    assert name in str(err.value) and "HV02" in str(err.value)
    # The other VM's account is known on HV02 only.
    web = "NT VIRTUAL MACHINE\\3F2504E0-4F89-11D3-9A0C-0305E82C3301"
    assert world.name_to_sid(MODEL, "HV02", web) == world.vm_sid("3f2504e0-4f89-11d3-9a0c-0305e82c3301")
    with pytest.raises(world.IdentityNotMapped):
        world.name_to_sid(MODEL, "HV01", web)


@pytest.mark.parametrize("node", ["HV01", "HV02"])
@pytest.mark.parametrize("sid, name", [
    ("S-1-5-18", "NT AUTHORITY\\SYSTEM"),
    ("S-1-5-32-544", "BUILTIN\\Administrators"),
    ("S-1-1-0", "Everyone"),
    ("S-1-3-0", "CREATOR OWNER"),
    ("S-1-5-83-0", "NT VIRTUAL MACHINE\\Virtual Machines"),
    ("S-1-5-21-1-2-3-1105", "LAB\\svc-veeam"),
])
def test_well_known_sids_and_accounts_resolve_everywhere(node, sid, name):
    assert world.translate_sid(MODEL, node, sid) == name
    assert world.name_to_sid(MODEL, node, name.upper()) == sid
    assert world.name_to_sid(MODEL, node, name.lower()) == sid


def test_isolated_names_resolve_when_unambiguous():
    assert world.name_to_sid(MODEL, "HV01", "SYSTEM") == "S-1-5-18"
    assert world.name_to_sid(MODEL, "HV01", "svc-veeam") == "S-1-5-21-1-2-3-1105"


@pytest.mark.parametrize("name", ["LAB\\nobody", "nobody", "NT VIRTUAL MACHINE\\not-a-guid", "S-1-5-18"])
def test_unknown_names_raise_naming_the_name(name):
    with pytest.raises(world.IdentityNotMapped, match=re.escape(f"'{name}'")):
        world.name_to_sid(MODEL, "HV01", name)


def test_unknown_sid_stays_a_sid():
    assert world.translate_sid(MODEL, "HV01", "S-1-5-21-9-9-9-500") == "S-1-5-21-9-9-9-500"


# -- nodes and VMs -------------------------------------------------------------------------------------------
def test_node_lookup_is_case_insensitive_and_names_unknown_nodes():
    assert world.find_node(MODEL, "Hv02")["name"] == "hv02"
    with pytest.raises(world.WorldError, match=r"unknown node 'HV09' \(nodes: HV01, hv02\)"):
        world.find_node(MODEL, "HV09")


def test_vms_on_node_and_find_vm():
    assert [vm["name"] for vm in world.vms_on_node(MODEL, "hv01")] == ["SQL01"]
    assert [vm["name"] for vm in world.vms_on_node(MODEL, "HV02")] == ["WEB01"]
    assert world.find_vm(MODEL, vm_id="{" + WORKED_GUID + "}")["name"] == "SQL01"
    assert world.find_vm(MODEL, name="web01")["node"] == "HV02"
    assert world.find_vm(MODEL, name="web01", node="HV01") is None
    assert world.find_vm(MODEL, vm_id="nope") is None


def test_yaml_off_reads_as_off():
    assert world.vm_state(world.find_vm(MODEL, name="WEB01")) == "Off"


# -- paths ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, expected", [
    ("C:\\ClusterStorage\\Volume1", True),
    ("c:/ClusterStorage/Volume1", True),
    ("C:\\", True),
    ("\\\\fs01\\share", True),
    ("\\\\fs01\\share\\folder", True),
    ("C:", False),
    ("C:folder", False),
    ("\\folder", False),
    ("\\\\server", False),
    ("relative\\folder", False),
    ("", False),
    (None, False),
])
def test_is_absolute_windows_path(path, expected):
    assert world.is_absolute_windows_path(path) is expected


@pytest.mark.parametrize("path, expected", [
    ("c:/ClusterStorage//Volume1/", "c:\\ClusterStorage\\Volume1"),
    ("C:\\", "C:\\"),
    ("C:/", "C:\\"),
    ("\\\\fs01\\share\\", "\\\\fs01\\share"),
    ("//fs01/share/x", "\\\\fs01\\share\\x"),
])
def test_normalize_path(path, expected):
    assert world.normalize_path(path) == expected


def test_path_comparison():
    assert world.paths_equal("c:/clusterstorage/volume1/", "C:\\ClusterStorage\\Volume1")
    assert world.is_under("C:\\ClusterStorage\\Volume1\\SQL01", "c:\\clusterstorage\\volume1\\")
    assert not world.is_under("C:\\ClusterStorage\\Volume10", "C:\\ClusterStorage\\Volume1")
    assert world.shared_volume_of(MODEL, "C:\\ClusterStorage\\Volume1\\x")["name"] == "Cluster Disk 1"
    assert world.shared_volume_of(MODEL, "C:\\ClusterStorage\\Volume10\\x") is None


def test_folder_visibility():
    # On a CSV: every node sees it, whatever `nodes` says, in any spelling.
    for node in ("HV01", "HV02"):
        found = world.find_folder(MODEL, node, "c:/clusterstorage/volume1/guestcluster/")
        assert found[0] == "C:\\ClusterStorage\\Volume1\\GuestCluster"
    # An offline CSV shows nothing.
    assert world.find_folder(MODEL, "HV02", "C:\\ClusterStorage\\Volume2\\Dark") is None
    # Elsewhere: only the listed nodes.
    assert world.folder_visible(MODEL, "HV01", "D:\\Local\\HV01only")
    assert not world.folder_visible(MODEL, "HV02", "D:\\Local\\HV01only")
    assert world.folder_visible(MODEL, "HV02", "e:\\everywhere")
    assert not world.folder_visible(MODEL, "HV01", "C:\\ClusterStorage\\Volume1\\Nope")
    with pytest.raises(world.WorldError):
        world.find_folder(MODEL, "HV07", "E:\\Everywhere")


# -- vssadmin ------------------------------------------------------------------------------------------------
def test_render_vssadmin_exact_text():
    text = world.render_vssadmin([
        {"name": "Microsoft Hyper-V VSS Writer", "id": "{66841cd4-6ded-4f4b-8f17-fd23f8ddc3de}",
         "instance_id": "{1F8E4C3A-2B0D-4C55-9A61-2F0A8E1D7B01}", "state": 5, "last_error": "Retryable error"},
        {"name": "System Writer", "id": "e8132975-6f93-4464-a53e-1050253ae220",
         "instance_id": "{6b3c1d2e-8f4a-4e21-b7c9-0d5e6f7a8b02}", "state": 1, "last_error": "No error"},
    ])
    assert text == (
        "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\n"
        "(C) Copyright 2001-2013 Microsoft Corp.\n"
        "\n"
        "Waiting for responses.\n"
        "These may be delayed if a shadow copy is being prepared.\n"
        "\n"
        "Writer name: 'Microsoft Hyper-V VSS Writer'\n"
        "   Writer Id: {66841cd4-6ded-4f4b-8f17-fd23f8ddc3de}\n"
        "   Writer Instance Id: {1f8e4c3a-2b0d-4c55-9a61-2f0a8e1d7b01}\n"
        "   State: [5] Waiting for completion\n"
        "   Last error: Retryable error\n"
        "\n"
        "Writer name: 'System Writer'\n"
        "   Writer Id: {e8132975-6f93-4464-a53e-1050253ae220}\n"
        "   Writer Instance Id: {6b3c1d2e-8f4a-4e21-b7c9-0d5e6f7a8b02}\n"
        "   State: [1] Stable\n"
        "   Last error: No error\n"
        "\n"
    )


@pytest.mark.parametrize("state, label", [
    (0, "Unknown"), (1, "Stable"), (2, "Waiting for freeze"), (3, "Waiting for thaw"),
    (4, "Waiting for post snapshot"), (5, "Waiting for completion"),
    *((n, "Failed") for n in range(6, 16)),
])
def test_vss_state_labels(state, label):
    text = world.render_vssadmin([{"name": "W", "id": str(uuid.UUID(int=1)), "instance_id": str(uuid.UUID(int=2)),
                                   "state": state, "last_error": "No error"}])
    assert f"   State: [{state}] {label}\n" in text


def test_render_vssadmin_reads_back_with_the_controller_parser():
    from ansible_collections.hyperv.backup.plugins.plugin_utils._vss import parse_vss_writers

    writers = [{"name": f"Writer {n}", "id": str(uuid.UUID(int=n)), "instance_id": str(uuid.UUID(int=100 + n)),
                "state": n, "last_error": "Non-retryable error" if n > 5 else "No error"} for n in range(16)]
    parsed = parse_vss_writers(world.render_vssadmin(writers))
    assert [(w["Name"], w["State"], w["LastError"]) for w in parsed] == \
        [(w["name"], w["state"], w["last_error"]) for w in writers]
    assert [w["Id"] for w in parsed] == ["{" + w["id"] + "}" for w in writers]
