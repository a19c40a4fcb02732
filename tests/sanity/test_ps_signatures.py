"""tools/ps_signatures: the pages are read right, the committed table is what they give, members.yml is sourced.

The table (signatures.json) is generated from Microsoft's cmdlet reference pages at pinned commits of the
MicrosoftDocs repositories (docs/powershell-checks.md). Where those repositories are present locally, the
committed file must be exactly what the generator produces from them; elsewhere (CI) that one test is
skipped and the checker runs on the committed file as it is.
"""
import json
import pathlib
import re

import pytest
import yaml

from ps_signatures import check, generate, pages

TABLE_DATA = json.loads(pathlib.Path(generate.SIGNATURES).read_text(encoding="utf-8"))
MEMBERS_DATA = yaml.safe_load(check.MEMBERS.read_text(encoding="utf-8"))

PAGE = """---
external help file: Thing.dll-Help.xml
Module Name: Mod
online version: https://example.invalid/set-thing
schema: 2.0.0
title: Set-Thing
---

# Set-Thing

## SYNOPSIS
Sets a thing.

## SYNTAX

### ByName (Default)
```
Set-Thing [-Name] <String[]> [[-Count] <Int32>] -Mode <String> [-Force]
 [-Tag <String>] [-WhatIf] [<CommonParameters>]
```

### ByObject
```
Set-Thing -InputObject <Thing[]> [[-Count] <Int32>] [-Force] [-Select] [<CommonParameters>]
```

## DESCRIPTION
Sets a thing.

## PARAMETERS

### -Name
The name.

```yaml
Type: String[]
Parameter Sets: ByName
Aliases: ThingName, TN

Required: True
Position: 0
Default value: None
Accept pipeline input: True (ByPropertyName)
Accept wildcard characters: False
```

### -Count
Twice, because its position differs per set.

```yaml
Type: Int32
Parameter Sets: ByName
Aliases:

Required: False
Position: 1
Default value: None
Accept pipeline input: False
Accept wildcard characters: False
```

```yaml
Type: Int32
Parameter Sets: ByObject
Aliases:

Required: False
Position: 0
Default value: None
Accept pipeline input: False
Accept wildcard characters: False
```

### -Mode
```yaml
Type: String
Parameter Sets: ByName
Aliases:
Accepted values: Fast, Slow

Required: True
Position: Named
Default value: None
Accept pipeline input: False
Accept wildcard characters: False
```

### -Force
```yaml
Type: SwitchParameter
Parameter Sets: (All)
Aliases:

Required: False
Position: Named
Default value: None
Accept pipeline input: False
Accept wildcard characters: False
```

### -Tag
```yaml
Type: String
Parameter Sets: ByName
Aliases:

Required: False
Position: Named
Default value: None
Accept pipeline input: False
Accept wildcard characters: False
```

### -InputObject
```yaml
Type: Thing[]
Parameter Sets: ByObject
Aliases:

Required: True
Position: Named
Default value: None
Accept pipeline input: True (ByValue)
Accept wildcard characters: False
```

### -Select
A mandatory switch, which platyPS writes in brackets in SYNTAX.

```yaml
Type: SwitchParameter
Parameter Sets: ByObject
Aliases:

Required: True
Position: Named
Default value: None
Accept pipeline input: False
Accept wildcard characters: False
```

### -WhatIf
```yaml
Type: SwitchParameter
Parameter Sets: (All)
Aliases: wi

Required: False
Position: Named
Default value: False
Accept pipeline input: False
Accept wildcard characters: False
```

### CommonParameters
This cmdlet supports the common parameters.

## INPUTS

### Thing[]

## OUTPUTS

### None
Default.

### Mod.Thing
With -PassThru.

## NOTES

## RELATED LINKS
"""


def test_a_page_is_read_into_sets_parameters_and_outputs():
    page = pages.parse_page(PAGE)
    assert page["name"] == "Set-Thing" and page["module"] == "Mod"
    assert page["default_set"] == "ByName"
    assert page["outputs"] == ["None", "Mod.Thing"]
    assert page["sets"] == {
        "ByName": {"Name": [True, 0, "ByPropertyName"], "Count": [False, 1, ""], "Mode": [True, None, ""],
                   "Force": [False, None, ""], "Tag": [False, None, ""], "WhatIf": [False, None, ""]},
        "ByObject": {"InputObject": [True, None, "ByValue"], "Count": [False, 0, ""], "Force": [False, None, ""],
                     "Select": [True, None, ""]},
    }
    assert page["parameters"]["Name"] == {"type": "String[]", "switch": False, "aliases": ["ThingName", "TN"]}
    assert page["parameters"]["Force"]["switch"] is True
    assert page["parameters"]["WhatIf"]["aliases"] == ["wi"]
    assert "-Select: SYNTAX ByObject says optional, PARAMETERS says mandatory" in page["notes"]


def test_windows_line_ends_and_a_byte_order_mark_read_the_same():
    assert pages.parse_page("\ufeff" + PAGE.replace("\n", "\r\n")) == pages.parse_page(PAGE)


def test_a_page_with_one_set_has_no_heading():
    page = pages.parse_page(PAGE.replace("### ByName (Default)\n", "").split("### ByObject")[0]
                            + "## PARAMETERS\n" + PAGE.split("## PARAMETERS", 1)[1])
    assert list(page["sets"]) == [pages.SINGLE_SET]
    assert page["default_set"] == pages.SINGLE_SET


def test_required_per_set_in_one_block():
    text = PAGE.replace("Parameter Sets: ByName\nAliases:\nAccepted values: Fast, Slow\n\nRequired: True",
                        "Parameter Sets: ByName, ByObject\nAliases:\nAccepted values: Fast, Slow\n\n"
                        "Required: True (ByName), False (ByObject)")
    text = text.replace("-InputObject <Thing[]> [[-Count]", "-InputObject <Thing[]> [-Mode <String>] [[-Count]")
    page = pages.parse_page(text)
    assert page["sets"]["ByName"]["Mode"][0] is True
    assert page["sets"]["ByObject"]["Mode"][0] is False


def test_the_platyps_2024_parameter_format():
    block = re.search(r"### -Name\n.*?```yaml\n.*?```\n", PAGE, re.S).group(0)
    new = ("### -Name\nThe name.\n\n```yaml\nType: System.String[]\nDefaultValue: None\nSupportsWildcards: false\n"
           "Aliases:\n- ThingName\nParameterSets:\n- Name: ByName\n  Position: 0\n  IsRequired: true\n"
           "  ValueFromPipeline: true\n  ValueFromPipelineByPropertyName: true\n  ValueFromRemainingArguments: true\n"
           "DontShow: false\nAcceptedValues: []\nHelpMessage: ''\n```\n")
    page = pages.parse_page(PAGE.replace(block, new))
    assert page["sets"]["ByName"]["Name"] == [True, 0, "ByPropertyName, ByValue"]
    assert page["parameters"]["Name"] == {"type": "System.String[]", "switch": False, "aliases": ["ThingName"],
                                          "remaining": True}


def test_provider_sets_keep_their_provider():
    text = PAGE.replace("### ByName (Default)", "### ByName (Default) - Registry provider")
    page = pages.parse_page(text)
    assert "ByName - Registry provider" in page["sets"]
    assert page["default_set"] == "ByName"
    assert page["sets"]["ByName - Registry provider"]["Name"] == [True, 0, "ByPropertyName"]


@pytest.mark.parametrize("aliases, expected", [("  - '%'\n  - foreach\n", ["%", "foreach"]),
                                               ("  - ?\n  - where\n", ["?", "where"]),
                                               ("  - gi\n", ["gi"])])
def test_cmdlet_aliases_of_the_front_matter(aliases, expected):
    text = PAGE.replace("title: Set-Thing\n", "aliases:\n" + aliases + "title: Set-Thing\n")
    assert pages.parse_page(text)["aliases"] == expected


@pytest.mark.parametrize(
    "text, error",
    [
        (PAGE.replace("title: Set-Thing", "title: Mod\nModule Guid: 1"), "not a cmdlet page"),
        (PAGE.replace("## SYNTAX", "## SYNTAXES"), "no SYNTAX section"),
        (PAGE.replace("### ByObject\n```", "### ByObject\n\n"), "code blocks"),
    ],
)
def test_pages_that_cannot_be_read_say_why(text, error):
    with pytest.raises(pages.PageError, match=error):
        pages.parse_page(text)


def test_syntax_forms():
    params, leftover = pages.syntax_tokens(
        "Get-X [[-A] <String>] [-B] <Int32> [-C <Guid>] -D <String> [-E] -F [<CommonParameters>]", "Get-X")
    assert leftover == ""
    assert params == [("A", False, True, "String"), ("B", True, True, "Int32"), ("C", False, False, "Guid"),
                      ("D", True, False, "String"), ("E", False, False, None), ("F", True, False, None)]


def test_the_json_writer_is_one_value_per_line_and_round_trips():
    value = {"a": {"x": [1, 2], "y": "z" * 200}, "b": []}
    text = generate.dumps(value, width=40)
    assert json.loads(text) == value
    assert '  "x": [1, 2],' in text.splitlines()


# --- the committed table --------------------------------------------------------------------------------

def _mirrors():
    repos, commits = {}, {}
    for source in TABLE_DATA["sources"]:
        repo = generate.find_repo(source["repository"])
        if repo is None or not generate.has_commit(repo, source["commit"]):
            return None, None
        repos[source["repository"]], commits[source["repository"]] = repo, source["commit"]
    return repos, commits


def test_the_committed_table_is_what_the_pinned_pages_give():
    repos, commits = _mirrors()
    if repos is None:
        pytest.skip("the MicrosoftDocs repositories are not here at the pinned commits (as on CI): the committed "
                    "signatures.json is checked as it is; regenerate it with 'python -m ps_signatures.generate "
                    "--pinned' where they are (docs/powershell-checks.md)")
    text, _ = generate.render(commits, repos)
    assert text == pathlib.Path(generate.SIGNATURES).read_text(encoding="utf-8"), (
        "tools/ps_signatures/signatures.json is not what the generator makes: run python -m ps_signatures.generate --pinned")


def test_the_table_records_where_it_was_read():
    assert TABLE_DATA["hosts"] == ["Windows Server 2016", "Windows Server 2019", "Windows Server 2022",
                                   "Windows Server 2025"]
    repositories = {s["repository"]: s for s in TABLE_DATA["sources"]}
    assert set(repositories) == {"MicrosoftDocs/windows-powershell-docs", "MicrosoftDocs/PowerShell-Docs"}
    for source in repositories.values():
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    covered = {h for s in TABLE_DATA["sources"] for d in s["docsets"].values() for h in d["hosts"]}
    assert covered == set(TABLE_DATA["hosts"])


@pytest.mark.parametrize("key", [
    "Hyper-V\\Get-VM", "Hyper-V\\Set-VM", "Hyper-V\\Stop-VM", "Hyper-V\\Start-VM", "Hyper-V\\Add-VMScsiController",
    "Hyper-V\\Get-VMScsiController", "Hyper-V\\Get-VMHardDiskDrive", "Hyper-V\\Get-VMSnapshot",
    "Hyper-V\\Get-VMIntegrationService", "Hyper-V\\Enable-VMIntegrationService", "Hyper-V\\Update-VMVersion",
    "Hyper-V\\Get-VHD", "Hyper-V\\Get-VMHost",
    "FailoverClusters\\Get-Cluster", "FailoverClusters\\Get-ClusterNode", "FailoverClusters\\Get-ClusterGroup",
    "FailoverClusters\\Get-ClusterResource", "FailoverClusters\\Get-ClusterParameter",
    "FailoverClusters\\Set-ClusterParameter", "FailoverClusters\\Get-ClusterSharedVolume",
    "FailoverClusters\\Move-ClusterSharedVolume", "FailoverClusters\\Move-ClusterVirtualMachineRole",
    "FailoverClusters\\Get-ClusterOwnerNode", "Storage\\Get-Volume",
    "Microsoft.PowerShell.Security\\Get-Acl", "Microsoft.PowerShell.Security\\Set-Acl",
    "Microsoft.PowerShell.Management\\Get-Item", "Microsoft.PowerShell.Management\\Get-ItemProperty",
    "Microsoft.PowerShell.Management\\New-ItemProperty", "Microsoft.PowerShell.Management\\Set-ItemProperty",
    "Microsoft.PowerShell.Management\\Remove-ItemProperty", "Microsoft.PowerShell.Management\\New-Item",
    "Microsoft.PowerShell.Management\\Test-Path", "Microsoft.PowerShell.Management\\Get-Service",
    "Microsoft.PowerShell.Diagnostics\\Get-WinEvent", "Microsoft.PowerShell.Core\\Get-Command",
    "Microsoft.PowerShell.Core\\Wait-Job", "Microsoft.PowerShell.Core\\Where-Object",
    "Microsoft.PowerShell.Core\\ForEach-Object", "Microsoft.PowerShell.Utility\\Select-Object",
    "Microsoft.PowerShell.Utility\\Out-String", "CimCmdlets\\Get-CimInstance",
])
def test_the_table_has_the_cmdlets_the_collection_uses(key):
    assert key in TABLE_DATA["cmdlets"]


def test_the_table_says_what_the_pages_say():
    cmdlets = TABLE_DATA["cmdlets"]
    set_vm = cmdlets["Hyper-V\\Set-VM"][0]
    assert set_vm["sets"]["VMObject"]["VM"] == [True, 0, "ByValue"]
    assert {"CheckpointType", "AutomaticCheckpointsEnabled"} <= set(set_vm["sets"]["VMObject"])
    assert cmdlets["Hyper-V\\Stop-VM"][0]["parameters"]["TurnOff"]["switch"] is True
    assert cmdlets["Hyper-V\\Get-VM"][0]["outputs"] == ["Microsoft.HyperV.PowerShell.VirtualMachine"]
    assert "?" in cmdlets["Microsoft.PowerShell.Core\\Where-Object"][0]["aliases"]
    assert "FilterHashtable" in cmdlets["Microsoft.PowerShell.Diagnostics\\Get-WinEvent"][0]["parameters"]
    # Spelt Get-VmNetworkAdapterIsolation in the 2016 and 2019 docsets: one cmdlet, not two.
    isolation = [k for k in cmdlets if k.lower() == "hyper-v\\get-vmnetworkadapterisolation"]
    assert len(isolation) == 1
    assert sorted(d for v in cmdlets[isolation[0]] for d in v["docsets"]) == [
        "winserver2016-ps", "winserver2019-ps", "winserver2022-ps", "winserver2025-ps"]
    gpu = cmdlets["Hyper-V\\Get-VMHostPartitionableGpu"]
    assert sorted(d for v in gpu for d in v["docsets"]) == ["winserver2022-ps", "winserver2025-ps"]


# --- members.yml ------------------------------------------------------------------------------------------

def test_every_member_names_a_source_that_is_a_link():
    sources = MEMBERS_DATA["sources"]
    for key, url in sources.items():
        assert re.match(r"^https://\S+$", url), f"source {key} is not an https link: {url!r}"
    for type_name, info in MEMBERS_DATA["types"].items():
        assert set(info) == {"members"}, f"{type_name}: only 'members' is expected, not {sorted(set(info) - {'members'})}"
        for member, entry in info["members"].items():
            assert set(entry) <= {"source", "type"}, f"{type_name}.{member}: unexpected keys {sorted(entry)}"
            assert entry.get("source") in sources, f"{type_name}.{member} has no source, or an unknown one"


def test_every_listed_type_is_returned_by_a_cmdlet_or_reached_through_a_member():
    outputs = {o.lower() for variants in TABLE_DATA["cmdlets"].values() for v in variants for o in v["outputs"]}
    reached = {e["type"].lower().removesuffix("[]") for info in MEMBERS_DATA["types"].values()
               for e in info["members"].values() if e.get("type")}
    for type_name in MEMBERS_DATA["types"]:
        assert type_name.lower() in outputs | reached, f"{type_name} is no cmdlet's output and no member's type"
    for type_name in reached:
        assert type_name in {t.lower() for t in MEMBERS_DATA["types"]}, f"member type {type_name} has no list"
