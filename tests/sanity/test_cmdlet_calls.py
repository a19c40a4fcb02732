"""Every cmdlet call of the collection's PowerShell fits Microsoft's documented signatures.

No machine here runs PowerShell, so tools/ps_signatures/check.py reads the .ps1/.psm1 files with
tree-sitter and checks each call of a cmdlet against tools/ps_signatures/signatures.json (read from
Microsoft's cmdlet reference pages) and each property read of cmdlet output against members.yml:
docs/powershell-checks.md says what that proves and what it cannot. Below: the check over the real
collection, the checker's own tests (each kind of mistake is caught, its correct twin is not), and the
correspondence between hvsim's operations and the cmdlets of the .ps1 they implement.
"""
import copy
import importlib
import json
import pathlib

import pytest

from ps_signatures import check

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULES = ROOT / "plugins" / "modules"
TABLE = check.load_table()

# hvsim models the host's behaviour; the cmdlets of these modules are PowerShell's own plumbing (pipelines,
# jobs, loading modules, output), not the host's, so hvsim does not name them.
PLUMBING = {"microsoft.powershell.core", "microsoft.powershell.utility"}


def messages(source, **kwargs):
    return [f"{f.cmdlet}: {f.message}" for f in check.check_source(source, **kwargs)]


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


# --- the collection ---------------------------------------------------------------------------------------

def test_there_is_powershell_to_check():
    assert MODULES / "host_facts.ps1" in check.powershell_files()


@pytest.mark.parametrize("path", check.powershell_files(), ids=_ids(check.powershell_files()))
def test_cmdlet_calls_fit_the_documented_signatures(path):
    findings = check.check_file(path)
    assert findings == [], "\n" + "\n".join(str(f) for f in findings)


# --- the checker: what it catches -------------------------------------------------------------------------

@pytest.mark.parametrize(
    "source, expected",
    [
        pytest.param("Hyper-V\\Set-VM -VM $vm -CheckpiontType Production",
                     "Hyper-V\\Set-VM: no parameter -CheckpiontType", id="misspelt parameter"),
        pytest.param("Hyper-V\\Set-VM -VM $vm -CheckpointT Production",
                     "Hyper-V\\Set-VM: no parameter -CheckpointT (an abbreviation of -CheckpointType: write it in full)",
                     id="abbreviated parameter"),
        pytest.param("$x = Hyper-V\\Get-VM -Id $id -Name 'x'",
                     "Hyper-V\\Get-VM: fits no parameter set with -Id, -Name: Name: no -Id; Id: no -Name; "
                     "ClusterObject: no -Id, -Name", id="parameters of different sets"),
        pytest.param("Hyper-V\\Set-VM -CheckpointType Production",
                     "Hyper-V\\Set-VM: fits no parameter set with -CheckpointType: Name: mandatory -Name missing; "
                     "VMObject: mandatory -VM missing", id="missing mandatory parameter"),
        pytest.param("Hyper-V\\Stop-VM -VM $vm -Force $true",
                     "Hyper-V\\Stop-VM: -Force is a switch and takes no value: '-Force $true' passes $true as a "
                     "positional argument; write -Force:$true", id="switch given a value"),
        pytest.param("Hyper-V\\Get-VM -Id",
                     "Hyper-V\\Get-VM: -Id needs a value", id="value parameter without a value"),
        pytest.param("Hyper-V\\Get-VMHostPartitionableGpu",
                     "Hyper-V\\Get-VMHostPartitionableGpu: not documented for Windows Server 2016, Windows Server "
                     "2019 (only Windows Server 2022, Windows Server 2025): guard the call with Get-Command or a "
                     "'# feature-checked: <why>' comment on the line before", id="cmdlet missing on 2016"),
        pytest.param("$vms = Get-VM", "Get-VM: not module-qualified: write Hyper-V\\Get-VM", id="unqualified call"),
        pytest.param("Get-ClusterSharedVolume | Out-Null",
                     "Get-ClusterSharedVolume: not module-qualified: write FailoverClusters\\Get-ClusterSharedVolume",
                     id="unqualified cluster cmdlet"),
        pytest.param("Wait-Job -Job $job -Timeout 5",
                     "Wait-Job: not module-qualified: write Microsoft.PowerShell.Core\\Wait-Job", id="unqualified job cmdlet"),
        pytest.param("FailoverClusters\\Get-VM",
                     "FailoverClusters\\Get-VM: wrong module qualifier FailoverClusters: Get-VM is in Hyper-V",
                     id="wrong qualifier"),
        pytest.param("Hyper-V\\Get-VMs", "Hyper-V\\Get-VMs: no cmdlet Get-VMs in module Hyper-V", id="no such cmdlet"),
        pytest.param("$p = @{ VM = $vm; CheckpiontType = 'Production' }\nHyper-V\\Set-VM @p",
                     "Hyper-V\\Set-VM: splatted key 'CheckpiontType' of @p is not a parameter", id="splatted parameter"),
        pytest.param("$p = @{}\n$p['VM'] = $vm\n$p.Bogus = 1\nHyper-V\\Set-VM @p",
                     "Hyper-V\\Set-VM: splatted key 'Bogus' of @p is not a parameter", id="splatted key added later"),
        pytest.param("$vm = Hyper-V\\Get-VM -Id $id\n$vm.CheckpointTyp",
                     "$vm.CheckpointTyp: Microsoft.HyperV.PowerShell.VirtualMachine (output of Hyper-V\\Get-VM) has no "
                     "member 'CheckpointTyp' (tools/ps_signatures/members.yml lists the confirmed ones)",
                     id="property not in the output type"),
        pytest.param("FailoverClusters\\Get-ClusterGroup | Where-Object { $_.GroupTyp -eq 1 }",
                     "$_.GroupTyp: Microsoft.FailoverClusters.PowerShell.ClusterGroup (output of "
                     "FailoverClusters\\Get-ClusterGroup) has no member 'GroupTyp' (tools/ps_signatures/members.yml "
                     "lists the confirmed ones)", id="property of $_ in a pipeline"),
        pytest.param("foreach ($csv in FailoverClusters\\Get-ClusterSharedVolume) {\n"
                     "    $info = @($csv.SharedVolumeInfo)\n    $info[0].FriendlyName\n}",
                     "$info[0].FriendlyName: Microsoft.FailoverClusters.PowerShell.ClusterSharedVolumeInfo[] (output of "
                     "FailoverClusters\\Get-ClusterSharedVolume.SharedVolumeInfo) has no member 'FriendlyName' "
                     "(tools/ps_signatures/members.yml lists the confirmed ones)", id="property through a member"),
        pytest.param("$switch = Hyper-V\\Get-VMSwitch -Name $p\n$switch.SwitchType",
                     "$switch.SwitchType: Microsoft.HyperV.PowerShell.VMSwitch (output of Hyper-V\\Get-VMSwitch) has no list "
                     "of confirmed members in tools/ps_signatures/members.yml", id="type without a member list"),
        pytest.param("Get-VMScsiControler -VM $vm",
                     "Get-VMScsiControler: unknown command: not a cmdlet of the signature table nor a function of "
                     "this file or the module_utils it requires", id="misspelt bare cmdlet"),
        pytest.param("Hyper-V\\Get-VM | % { $_.Name }",
                     "%: alias of Microsoft.PowerShell.Core\\ForEach-Object: write ForEach-Object", id="alias"),
        pytest.param("Hyper-V\\Get-VM 'a' 'b'",
                     "Hyper-V\\Get-VM: fits no parameter set with no named parameters: Name: takes 1 positional "
                     "argument, not 2; Id: takes 1 positional argument, not 2; ClusterObject: takes 1 positional "
                     "argument, not 2", id="too many positional arguments"),
        pytest.param("'x' | Hyper-V\\Add-VMScsiController -VM $vm",
                     "Hyper-V\\Add-VMScsiController: fits no parameter set with -VM: VMName: no -VM; VMObject: takes "
                     "no pipeline input", id="pipeline input nothing takes"),
        pytest.param("Hyper-V\\Get-VM -Name a -Name b", "Hyper-V\\Get-VM: -Name is given twice", id="parameter twice"),
        pytest.param("$p = [ordered]@{ VM = $vm; Bogus = 1 }\nHyper-V\\Set-VM @p",
                     "Hyper-V\\Set-VM: splatted key 'Bogus' of @p is not a parameter", id="splatted ordered table"),
        pytest.param("$p = @{}\n$p.Add('VM', $vm)\n$p.Add('Bogus', 1)\nHyper-V\\Set-VM @p",
                     "Hyper-V\\Set-VM: splatted key 'Bogus' of @p is not a parameter", id="splatted key added by Add"),
        pytest.param("$vm = Hyper-V\\Get-VM | Select-Object -First 1\n$vm.Nme.ToString()",
                     "$vm.Nme: Microsoft.HyperV.PowerShell.VirtualMachine (output of Hyper-V\\Get-VM) has no member "
                     "'Nme' (tools/ps_signatures/members.yml lists the confirmed ones)",
                     id="property through Select-Object -First"),
    ],
)
def test_the_checker_finds(source, expected):
    assert messages(source) == [expected]


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("Hyper-V\\Set-VM -VM $vm -CheckpointType Production -ErrorAction Stop", id="named parameters"),
        pytest.param("Hyper-V\\Stop-VM -VM $vm -AsJob -Confirm:$false -Force:$force", id="switches, with colon values"),
        pytest.param("Hyper-V\\Get-VM -VMName 'x' -EA 0 -ev err", id="parameter and common parameter aliases"),
        pytest.param("Hyper-V\\Get-VM 'x'", id="positional argument"),
        pytest.param("Hyper-V\\Get-VM | Hyper-V\\Stop-VM -Force", id="mandatory parameter from the pipe"),
        pytest.param("if (Microsoft.PowerShell.Core\\Get-Command -Name Hyper-V\\Get-VMHostPartitionableGpu "
                     "-ErrorAction SilentlyContinue) {\n    Hyper-V\\Get-VMHostPartitionableGpu\n}", id="Get-Command guard"),
        pytest.param("$gpu = Microsoft.PowerShell.Core\\Get-Command Get-VMHostPartitionableGpu -ErrorAction Ignore\n"
                     "if ($null -ne $gpu) { Hyper-V\\Get-VMHostPartitionableGpu }", id="guard through a variable"),
        pytest.param("# feature-checked: Windows Server 2022 and later only, asked for by the user\n"
                     "Hyper-V\\Get-VMHostPartitionableGpu", id="feature-checked comment"),
        pytest.param("$p = @{}\n$p.VM = $vm\n$p['CheckpointType'] = 'Production'\nHyper-V\\Set-VM @p -ErrorAction Stop",
                     id="splatted literal keys"),
        pytest.param("$p = $PSBoundParameters\nHyper-V\\Set-VM @p", id="splat of unknown keys"),
        pytest.param("Hyper-V\\Get-VM | Where-Object { $_.State -eq 'Running' } | Select-Object -First 1 | "
                     "ForEach-Object { $_.Name }", id="bare pipeline cmdlets and known properties"),
        pytest.param("function Get-Thing {\n    param ($A)\n    $A\n}\nGet-Thing -A 1", id="a function of the file"),
        pytest.param("& vssadmin.exe list writers 2>&1 | Out-String", id="native command"),
        pytest.param("$acl = Microsoft.PowerShell.Security\\Get-Acl -LiteralPath $p\n"
                     "$acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])",
                     id="method of a .NET output type"),
        pytest.param("$vm = Get-OperationVM -Id $id\n$vm.Anything", id="value of an unknown function"),
        pytest.param("$vm = Hyper-V\\Get-VM | Select-Object -Property Name\n$vm.Anything",
                     id="Select-Object -Property makes new objects"),
        pytest.param("try { Hyper-V\\Get-VM } catch { $_.Exception.Message }", id="$_ of a catch block"),
        pytest.param("$job = Hyper-V\\Stop-VM -VM $vm -AsJob\n$job.State", id="a job, not the cmdlet's output"),
    ],
)
def test_the_checker_accepts(source):
    assert messages(source, functions=["Get-OperationVM"]) == []


def test_an_unguarded_branch_is_still_reported():
    source = ("$gpu = Microsoft.PowerShell.Core\\Get-Command Get-VMHostPartitionableGpu -ErrorAction Ignore\n"
              "if ($gpu) { Hyper-V\\Get-VMHostPartitionableGpu }\nelse { Hyper-V\\Get-VMHostPartitionableGpu }\n")
    findings = check.check_source(source)
    assert [f.line for f in findings] == [3]


def test_a_finding_names_file_line_and_cmdlet():
    finding = check.check_source("\n\nHyper-V\\Set-VM -VM $vm -Bogus 1\n", path="plugins/modules/x.ps1")[0]
    assert str(finding) == "plugins/modules/x.ps1:3: Hyper-V\\Set-VM: no parameter -Bogus"


def test_functions_of_required_module_utils_are_known(tmp_path):
    (tmp_path / "plugins" / "modules").mkdir(parents=True)
    (tmp_path / "plugins" / "module_utils").mkdir()
    (tmp_path / "plugins" / "module_utils" / "Util.psm1").write_text(
        "Function Get-OperationVM {\n    param ($Id)\n    Hyper-V\\Get-VM -Id $Id\n}\n", encoding="utf-8")
    module = tmp_path / "plugins" / "modules" / "thing.ps1"
    module.write_text("#AnsibleRequires -PowerShell ..module_utils.Util\n$vm = Get-OperationVM -Id $x\n"
                      "Get-OtherVM -Id $x\n", encoding="utf-8")
    findings = check.check_file(module, relative_to=tmp_path)
    assert [(f.path, f.line, f.cmdlet) for f in findings] == [("plugins/modules/thing.ps1", 3, "Get-OtherVM")]
    assert check.module_cmdlets(module) == {"Hyper-V\\Get-VM"}


# --- the checker over a table with a newer release: parameters that exist only there -----------------------

def _table_with_a_newer_release():
    """A table of two hosts where Mod\\Set-Thing gained -NewSwitch and Mod\\Get-NewThing arrived in the
    newer one (Get-Command copied from the real table)."""
    real = json.loads(check.SIGNATURES.read_text(encoding="utf-8"))
    get_command = copy.deepcopy(real["cmdlets"]["Microsoft.PowerShell.Core\\Get-Command"])
    get_command[0]["docsets"] = ["old", "new"]

    def variant(docsets, extra=()):
        parameters = {"Name": {"type": "String", "switch": False, "aliases": []}}
        members = {"Name": [True, 0, "ByValue"]}
        for name in extra:
            parameters[name] = {"type": "SwitchParameter", "switch": True, "aliases": []}
            members[name] = [False, None, ""]
        return {"docsets": docsets, "aliases": [], "outputs": [], "default_set": "__AllParameterSets",
                "parameters": parameters, "sets": {"__AllParameterSets": members}}

    data = {
        "hosts": ["Old Server", "New Server"],
        "sources": [{"repository": "x/y", "commit": "0" * 40, "modules": ["Mod", "Microsoft.PowerShell.Core"],
                     "docsets": {"old": {"path": "o", "hosts": ["Old Server"]},
                                 "new": {"path": "n", "hosts": ["New Server"]}}}],
        "cmdlets": {
            "Microsoft.PowerShell.Core\\Get-Command": get_command,
            "Mod\\Set-Thing": [variant(["old"]), variant(["new"], extra=["NewSwitch"])],
            "Mod\\Get-NewThing": [variant(["new"])],
        },
    }
    return check.Table(data)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("Mod\\Set-Thing -Name a -NewSwitch", ["Mod\\Set-Thing: on Old Server: no parameter -NewSwitch"]),
        ("if ((Microsoft.PowerShell.Core\\Get-Command Mod\\Set-Thing).Parameters.ContainsKey('NewSwitch')) {\n"
         "    Mod\\Set-Thing -Name a -NewSwitch\n}", []),
        ("if ((Microsoft.PowerShell.Core\\Get-Command Mod\\Set-Thing).Parameters.ContainsKey('Other')) {\n"
         "    Mod\\Set-Thing -Name a -NewSwitch\n}", ["Mod\\Set-Thing: on Old Server: no parameter -NewSwitch"]),
        ("if (Microsoft.PowerShell.Core\\Get-Command Mod\\Set-Thing) {\n    Mod\\Set-Thing -Name a -NewSwitch\n}",
         ["Mod\\Set-Thing: on Old Server: no parameter -NewSwitch"]),
        ("Mod\\Set-Thing -Name a", []),
        ("Mod\\Get-NewThing -Name a", ["Mod\\Get-NewThing: not documented for Old Server (only New Server): guard the "
                                       "call with Get-Command or a '# feature-checked: <why>' comment on the line before"]),
        ("# feature-checked: the role asks for it on new hosts only\nMod\\Get-NewThing -Name a -Bogus",
         ["Mod\\Get-NewThing: no parameter -Bogus"]),
    ],
)
def test_parameters_and_cmdlets_of_a_newer_release(source, expected):
    assert messages(source, table=_table_with_a_newer_release()) == expected


# --- hvsim's operations and the .ps1 they implement ---------------------------------------------------------

def _operation_modules():
    from hvsim import ops
    ops.load_all()
    return {name: importlib.import_module(op.func.__module__) for name, op in sorted(ops.OPERATIONS.items())}


def test_every_hvsim_operation_names_the_cmdlets_it_models():
    for name, module in _operation_modules().items():
        assert isinstance(getattr(module, "CMDLETS", None), tuple), f"{module.__name__} has no CMDLETS tuple"
        unknown = [c for c in module.CMDLETS if TABLE.get(c) is None]
        assert unknown == [], f"{module.__name__}.CMDLETS names cmdlets the signature table lacks: {unknown}"


@pytest.mark.parametrize("name", sorted(_operation_modules()))
def test_hvsim_and_the_ps1_use_the_same_cmdlets(name):
    module = _operation_modules()[name]
    used = {c for c in check.module_cmdlets(MODULES / f"{name}.ps1") if c.split("\\")[0].lower() not in PLUMBING}
    named = {TABLE.get(c).key for c in module.CMDLETS}
    assert sorted(used - named) == [], f"plugins/modules/{name}.ps1 calls cmdlets {module.__name__}.CMDLETS does not name"
    assert sorted(named - used) == [], f"{module.__name__}.CMDLETS names cmdlets plugins/modules/{name}.ps1 does not call"


def test_cmdlets_used_include_those_of_module_utils_functions_called_through_each_other(tmp_path):
    (tmp_path / "plugins" / "modules").mkdir(parents=True)
    (tmp_path / "plugins" / "module_utils").mkdir()
    (tmp_path / "plugins" / "module_utils" / "Util.psm1").write_text(
        "Function Get-A {\n    Get-B\n}\nFunction Get-B {\n    FailoverClusters\\Get-ClusterNode\n}\n"
        "Function Get-C {\n    Hyper-V\\Get-VHD -Path x\n}\n", encoding="utf-8")
    module = tmp_path / "plugins" / "modules" / "thing.ps1"
    module.write_text("#AnsibleRequires -PowerShell ..module_utils.Util\n"
                      "function Get-Local {\n    Hyper-V\\Get-VM\n}\nGet-A\n", encoding="utf-8")
    assert check.module_cmdlets(module) == {"FailoverClusters\\Get-ClusterNode", "Hyper-V\\Get-VM"}
