"""hyperv.backup.host_facts through ansible, against the demo cluster in hvsim."""
import json

import pytest

from hvsim.cli import DEMO_VARS
from hvsim.testing import host_results, run_ansible

pytestmark = pytest.mark.integration


def by_host(out):
    return {host: result for host, result in host_results(out).items()}


def model_vms_by_node(model):
    nodes = {}
    for vm in model["vms"]:
        nodes.setdefault(vm["node"].upper(), set()).add(vm["name"])
    return nodes


def test_ad_hoc_run_reports_what_each_node_sees(demo_lab):
    demo_lab.clear_journal()
    rc, out = run_ansible(demo_lab, "hv", "-m", "hyperv.backup.host_facts")
    assert rc == 0, out
    results = by_host(out)
    model = demo_lab.read_model()
    expected = model_vms_by_node(model)
    assert set(results) == {n["name"] for n in model["nodes"]}
    for host, result in results.items():
        facts = result["ansible_facts"]["hyperv_backup"]
        assert facts["node"]["Name"].upper() == host.upper()
        assert {vm["Name"] for vm in facts["vms"]} == expected.get(host.upper(), set())
        assert facts["cluster"]["Name"] == model["cluster"]["name"]
        assert result["changed"] is False
    # One module run per host, whatever the number of VMs.
    assert sorted(demo_lab.round_trips().items()) == sorted(
        ((host, "host_facts"), 1) for host in results
    )


def test_gather_subset_limits_what_is_read(demo_lab):
    rc, out = run_ansible(demo_lab, "hv", "-m", "hyperv.backup.host_facts", "-a", "gather_subset=vms,!checkpoints")
    assert rc == 0, out
    for result in by_host(out).values():
        facts = result["ansible_facts"]["hyperv_backup"]
        assert facts["gather_subset"] == ["vms"]
        assert "cluster" not in facts and "vss_access_control" not in facts
        assert all(vm["Checkpoints"] == [] for vm in facts["vms"])


def test_unknown_subset_fails_on_the_controller(demo_lab):
    demo_lab.clear_journal()
    rc, out = run_ansible(demo_lab, "hv", "-m", "hyperv.backup.host_facts", "-a", "gather_subset=vms,vmz")
    assert rc != 0
    for result in by_host(out).values():
        assert result["failed"] is True
        assert "unknown value 'vmz'" in result["msg"]
    assert demo_lab.journal == []


@pytest.mark.parametrize(
    "path, message",
    [
        ("C:\\ClusterStorage\\Volume9\\Nope", "acl_paths item 'C:\\ClusterStorage\\Volume9\\Nope' does not exist on HV01"),
        ("C:\\x; Remove-Item C:\\ -Recurse", "acl_paths item 'C:\\x; Remove-Item C:\\ -Recurse' does not exist on HV01"),
        ("relative\\folder", "acl_paths item 'relative\\folder' is not an absolute path"),
    ],
)
def test_bad_acl_path_is_named_and_nothing_changes(demo_lab, path, message):
    before = open(demo_lab.model_path, "rb").read()
    args = json.dumps({"gather_subset": ["min"], "acl_paths": [path]})
    rc, out = run_ansible(demo_lab, "HV01", "-m", "hyperv.backup.host_facts", "-a", args)
    assert rc != 0
    assert message in by_host(out)["HV01"]["msg"]
    assert open(demo_lab.model_path, "rb").read() == before


def test_vm_account_resolves_only_where_the_vm_is_registered(demo_lab):
    model = demo_lab.read_model()
    folder = next(path for path, spec in model["folders"].items()
                  if any(ace["sid"].startswith("S-1-5-83-1-") for ace in spec["access"]))
    args = json.dumps({"gather_subset": ["min"], "acl_paths": [folder]})
    rc, out = run_ansible(demo_lab, "hv", "-m", "hyperv.backup.host_facts", "-a", args)
    assert rc == 0, out
    seen = {}
    for host, result in by_host(out).items():
        [acl] = result["ansible_facts"]["hyperv_backup"]["acls"]
        for ace in acl["Access"]:
            if ace["Sid"].startswith("S-1-5-83-1-"):
                seen[host] = ace["IdentityReference"]
    names = {host: ref for host, ref in seen.items() if ref.upper().startswith("NT VIRTUAL MACHINE\\")}
    sids = {host: ref for host, ref in seen.items() if ref.startswith("S-1-5-83-1-")}
    assert len(names) == 1, seen  # the node where that VM is registered
    assert len(sids) == len(seen) - 1


def test_demo_playbook_reports_the_planted_drift(demo_lab, tmp_path):
    report_file = tmp_path / "report.json"
    rc, out = run_ansible(demo_lab, "playbooks/demo.yml", "-e", f"hv_report_file={report_file}",
                          "-e", json.dumps(DEMO_VARS), json_output=False)
    assert rc == 0, out
    report = json.loads(report_file.read_text())
    model = demo_lab.read_model()
    by_check = {}
    for finding in report["findings"]:
        by_check.setdefault(finding["check"], set()).add(finding["target"])
    wrong_type = {vm["name"] for vm in model["vms"] if vm["checkpoint_type"] not in ("Production", "ProductionOnly")}
    assert by_check["checkpoint_type"] == wrong_type
    no_scsi = {vm["name"] for vm in model["vms"] if not vm.get("scsi_controllers")}
    assert by_check["scsi_controller"] == no_scsi
    owners = {csv["path"].upper(): csv["owner_node"].upper() for csv in model["cluster"]["shared_volumes"]}
    off_owner = {vm["name"] for vm in model["vms"]
                 for path, owner in owners.items()
                 if vm["path"].upper().startswith(path + "\\") and vm["node"].upper() != owner}
    assert by_check["csv_placement"] == off_owner
    lacking = {n["name"] for n in model["nodes"] if (n.get("vss_access_control") or {}).get("LAB\\svc-veeam") != 1}
    assert by_check["vss_access_control"] == lacking
    assert "vhd_set_acl" in by_check and "config_store_root_path" in by_check
    assert "Hyper-V backup readiness" in out
