#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# Sets and removes the REG_DWORD values under HKLM\SYSTEM\CurrentControlSet\Services\VSS\VssAccessControl
# that the action plugin planned (docs/windows-contract.md, vss_access_control): one value per account, named
# after it, 0 deny, 1 writer, 2 requester, 3 both. The key is per host.
#
# Through .NET (Microsoft.Win32.RegistryKey), never through registry provider paths, so that value names
# with '[', '*' or '\' are taken literally. Account names in `resolve` are translated to SIDs first
# (NTAccount.Translate), each in its own try/catch: one that does not resolve fails, and its value is not
# written. Each operation has its own try/catch and is read back: a value that does not read back as
# written fails that account; the others go on. In check mode nothing is written and `values` is what the
# key would hold.

$spec = @{
    options = @{
        operations = @{
            type = 'list'
            elements = 'dict'
            default = @()
            options = @{
                action = @{ type = 'str'; required = $true; choices = @('set', 'remove') }
                name = @{ type = 'str'; required = $true }
                value = @{ type = 'int' }
            }
        }
        resolve = @{ type = 'list'; elements = 'str'; default = @() }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

$node = $env:COMPUTERNAME.ToUpperInvariant()
$keyPath = 'SYSTEM\CurrentControlSet\Services\VSS\VssAccessControl'
$dword = [Microsoft.Win32.RegistryValueKind]::DWord

# --- arguments: all checked before anything changes ------------------------------------------------------

$index = 0
foreach ($op in $module.Params.operations) {
    if ([String]::IsNullOrEmpty($op.name)) {
        $module.FailJson("vss_access_control: operations[$index].name is empty; a VssAccessControl value is named after an account")
    }
    if ($op.action -eq 'set' -and ($null -eq $op.value -or $op.value -lt 0 -or $op.value -gt 3)) {
        $module.FailJson("vss_access_control: operations[$index].value $($op.value) is not a VssAccessControl value (0 deny, 1 writer, 2 requester, 3 both)")
    }
    $index++
}
$index = 0
foreach ($name in $module.Params.resolve) {
    if ([String]::IsNullOrEmpty($name)) {
        $module.FailJson("vss_access_control: resolve[$index] is empty")
    }
    $index++
}

# --- functions ---------------------------------------------------------------------------------------

function Find-ValueName {
    <#
    .SYNOPSIS
    The name under which the key holds $Name (value names compare without regard to case), or $null.
    #>
    param ($Key, [String]$Name)
    if ($null -eq $Key) {
        return $null
    }
    foreach ($existing in $Key.GetValueNames()) {
        if ([String]::Equals($existing, $Name, [StringComparison]::OrdinalIgnoreCase)) {
            return $existing
        }
    }
    $null
}

function Read-Value {
    <#
    .SYNOPSIS
    @{ Exists; Data; Kind } of the value $Name of $Key.
    #>
    param ($Key, [String]$Name)
    $existing = Find-ValueName -Key $Key -Name $Name
    if ($null -eq $existing) {
        return @{ Exists = $false; Data = $null; Kind = $null }
    }
    @{ Exists = $true; Data = $Key.GetValue($existing); Kind = $Key.GetValueKind($existing); Name = $existing }
}

function Read-Key {
    <#
    .SYNOPSIS
    The key's values, name -> data.
    #>
    param ($Key)
    $values = [Ordered]@{}
    if ($null -ne $Key) {
        foreach ($valueName in $Key.GetValueNames()) {
            if ($valueName -ne '') {
                $values[$valueName] = $Key.GetValue($valueName)
            }
        }
    }
    $values
}

# --- the key -----------------------------------------------------------------------------------------

$operations = @($module.Params.operations)
$hasSet = @($operations | Where-Object { $_.action -eq 'set' }).Count -gt 0
try {
    # Writable only when something is written; created only when there is a value to set.
    $writable = (-not $module.CheckMode) -and $operations.Count -gt 0
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($keyPath, $writable)
    if ($null -eq $key -and $hasSet -and -not $module.CheckMode) {
        $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($keyPath)
        $module.Result.changed = $true
    }
}
catch {
    $module.FailJson("vss_access_control: opening HKLM\$keyPath on $node failed: $($_.Exception.GetBaseException().Message)", $_)
}

# Set only now: a failure before this point shows its msg alone (FailJson returns every Result field).
$module.Result.accounts = [System.Collections.Generic.List[Object]]@()
# Value name (any case, as value names compare) -> its item.
$items = [System.Collections.Generic.Dictionary[String, Object]]::new([StringComparer]::OrdinalIgnoreCase)

function Get-AccountItem {
    <#
    .SYNOPSIS
    The result item of the account $Name, created (with the value's data now) the first time it is met.
    #>
    param ([String]$Name)
    if (-not $items.ContainsKey($Name)) {
        $current = Read-Value -Key $key -Name $Name
        $entry = [Ordered]@{ name = $Name; status = 'ok'; before = $current.Data; after = $current.Data }
        $items[$Name] = $entry
        $module.Result.accounts.Add($entry)
    }
    $items[$Name]
}

foreach ($name in $module.Params.resolve) {
    $item = Get-AccountItem -Name $name
    try {
        $item.sid = [System.Security.Principal.NTAccount]::new($name).Translate([System.Security.Principal.SecurityIdentifier]).Value
    }
    catch {
        $item.status = 'failed'
        $item.error = "'$name' does not resolve to a SID on ${node}: $($_.Exception.GetBaseException().Message)"
    }
}

foreach ($op in $operations) {
    $name = $op.name
    $item = Get-AccountItem -Name $name
    if ($item.status -eq 'failed') {
        continue  # an account that does not resolve is not written
    }
    $step = "reading '$name'"
    try {
        $current = Read-Value -Key $key -Name $name
        if ($op.action -eq 'set') {
            if ($current.Exists -and $current.Kind -eq $dword -and $current.Data -eq $op.value) {
                continue
            }
            if ($module.CheckMode) {
                $item.status = 'changed'
                $item.after = $op.value
                continue
            }
            # An existing value keeps its spelling.
            $target = $name
            if ($current.Exists) {
                $target = $current.Name
            }
            $step = "writing '$name'"
            $key.SetValue($target, [int]$op.value, $dword)
            $module.Result.changed = $true
            $item.status = 'changed'
            $step = "reading '$name' back"
            $written = Read-Value -Key $key -Name $name
            $item.after = $written.Data
            if (-not ($written.Exists -and $written.Kind -eq $dword -and $written.Data -eq $op.value)) {
                $item.status = 'failed'
                $item.error = "'$name' reads back as '$($written.Data)' ($($written.Kind)) after SetValue, not the REG_DWORD $($op.value)"
            }
        }
        else {
            if (-not $current.Exists) {
                continue
            }
            if ($module.CheckMode) {
                $item.status = 'changed'
                $item.after = $null
                continue
            }
            $step = "removing '$name'"
            $key.DeleteValue($current.Name, $false)
            $module.Result.changed = $true
            $item.status = 'changed'
            $item.after = $null
            $step = "reading '$name' back"
            if ((Read-Value -Key $key -Name $name).Exists) {
                $item.status = 'failed'
                $item.error = "'$name' is still there after DeleteValue"
            }
        }
    }
    catch {
        $item.status = 'failed'
        $item.error = "${step} failed: $($_.Exception.GetBaseException().Message)"
    }
}

$values = Read-Key -Key $key
if ($module.CheckMode) {
    # What the key would hold.
    foreach ($entry in $module.Result.accounts) {
        if ($entry.status -ne 'changed') {
            continue
        }
        $existing = $null
        foreach ($valueName in @($values.Keys)) {
            if ([String]::Equals($valueName, $entry.name, [StringComparison]::OrdinalIgnoreCase)) {
                $existing = $valueName
            }
        }
        if ($null -eq $entry.after) {
            if ($null -ne $existing) {
                $values.Remove($existing)
            }
        }
        elseif ($null -ne $existing) {
            $values[$existing] = $entry.after
        }
        else {
            $values[$entry.name] = $entry.after
        }
    }
}
$module.Result.values = $values
if ($null -ne $key) {
    $key.Dispose()
}
$module.ExitJson()
