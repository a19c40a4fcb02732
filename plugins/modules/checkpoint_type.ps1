#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils.HyperVBackup

# Carries out the checkpoint settings planned by the action plugin (docs/windows-contract.md, checkpoint_type):
# for each operation, Set-VM with only the settings that still differ, then Get-VM again: a VM whose setting
# did not take fails. Each VM has its own try/catch; per-VM failures are reported per VM.

$spec = @{
    options = @{
        operations = @{
            type = 'list'
            elements = 'dict'
            required = $true
            options = @{
                id = @{ type = 'str'; required = $true }
                name = @{ type = 'str'; required = $true }
                checkpoint_type = @{ type = 'str'; choices = @('Disabled', 'Production', 'ProductionOnly', 'Standard') }
                automatic_checkpoints = @{ type = 'bool' }
            }
        }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

$node = $env:COMPUTERNAME.ToUpperInvariant()
Import-HyperVModule -Module $module -ModuleName checkpoint_type
# Set only now: a failure before this point shows its msg alone (FailJson returns every Result field).
$module.Result.vms = [System.Collections.Generic.List[Object]]@()

# Automatic checkpoints exist where Set-VM has the parameter (Windows build 16299, version 1709, and later):
# asked of the host, not derived from its build.
$build = [Environment]::OSVersion.Version.Build
$automaticSupported = Test-CommandParameter -Name Set-VM -ModuleName Hyper-V -Parameter AutomaticCheckpointsEnabled

$checkpointTypes = @('Disabled', 'Production', 'ProductionOnly', 'Standard')

# Production checkpoints need VM configuration version 6.2 or later.
$productionMinVersion = [Version]'6.2'

function Get-CheckpointSetting {
    param ($VM)
    $setting = @{ CheckpointType = $VM.CheckpointType.ToString(); AutomaticCheckpointsEnabled = $null }
    if ($automaticSupported) {
        $setting.AutomaticCheckpointsEnabled = [bool]$VM.AutomaticCheckpointsEnabled
    }
    $setting
}

function Get-NotTakenError {
    <#
    .SYNOPSIS
    The per-VM error when a setting read back after Set-VM differs from what it was given, or $null.
    #>
    param ($VM, [Hashtable]$Wanted, [Hashtable]$After)
    $problems = @(foreach ($key in @($Wanted.Keys | Sort-Object)) {
        if ([String]$After[$key] -ne [String]$Wanted[$key]) {
            "$key is $($After[$key]) (asked: $($Wanted[$key]))"
        }
    })
    if ($problems.Count -eq 0) {
        return $null
    }
    $message = "Set-VM returned without an error, but '$($VM.Name)' still has other settings: $($problems -join '; ')"
    $version = $null
    if ($Wanted.CheckpointType -in @('Production', 'ProductionOnly') -and
        [Version]::TryParse([String]$VM.Version, [ref]$version) -and $version -lt $productionMinVersion) {
        $message += ". Production checkpoints need VM configuration version 6.2 or later and '$($VM.Name)' has $($VM.Version): update it with Update-VMVersion while it is Off"
    }
    $message
}

foreach ($op in $module.Params.operations) {
    $item = @{ id = $op.id; name = $op.name; status = 'ok' }
    $module.Result.vms.Add($item)

    $vm = Get-OperationVM -Id $op.id -Item $item
    if ($null -eq $vm) {
        continue
    }
    $step = $null
    try {
        $item.before = Get-CheckpointSetting -VM $vm

        # What Set-VM is given, under the names Get-VM reads them back with.
        $wanted = @{}
        if ($null -ne $op.checkpoint_type -and $vm.CheckpointType.ToString() -ne $op.checkpoint_type) {
            # Ansible.Basic accepts a choice in any case (-eq ignores it); Get-VM shows the choice's own spelling.
            $wanted.CheckpointType = $checkpointTypes | Where-Object { $_ -eq $op.checkpoint_type } | Select-Object -First 1
        }
        if ($null -ne $op.automatic_checkpoints) {
            if (-not $automaticSupported) {
                $item.status = 'failed'
                $item.error = "automatic checkpoints are not available on $node (build $build): its Set-VM has no AutomaticCheckpointsEnabled parameter"
                $item.after = $item.before
                continue
            }
            if ([bool]$vm.AutomaticCheckpointsEnabled -ne [bool]$op.automatic_checkpoints) {
                $wanted.AutomaticCheckpointsEnabled = [bool]$op.automatic_checkpoints
            }
        }

        if ($wanted.Count -eq 0) {
            $item.after = $item.before
            continue
        }
        if ($module.CheckMode) {
            $after = $item.before.Clone()
            foreach ($key in $wanted.Keys) { $after[$key] = $wanted[$key] }
            $item.after = $after
            $item.status = 'changed'
            $module.Result.changed = $true
            continue
        }
        $item.after = $item.before
        # Splatted from a hashtable of typed values: nothing is pasted into a command.
        $setParams = $wanted.Clone()
        Hyper-V\Set-VM -VM $vm @setParams -ErrorAction Stop
        $item.status = 'changed'
        $module.Result.changed = $true

        $step = "reading '$($vm.Name)' back after Set-VM failed"
        $current = Hyper-V\Get-VM -Id $vm.Id -ErrorAction Stop
        $item.after = Get-CheckpointSetting -VM $current
        $notTaken = Get-NotTakenError -VM $current -Wanted $wanted -After $item.after
        if ($null -ne $notTaken) {
            $item.status = 'failed'
            $item.error = $notTaken
        }
    }
    catch {
        $item.status = 'failed'
        $item.error = $_.Exception.Message
        if ($null -ne $step) {
            $item.error = "${step}: $($_.Exception.Message)"
        }
    }
}

$module.ExitJson()
