#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils.HyperVBackup

# Carries out the checkpoint settings planned by the action plugin (docs/windows-contract.md, checkpoint_type):
# for each operation, Set-VM with only the settings that still differ. Per-VM failures are reported per VM.

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
$module.Result.vms = [System.Collections.Generic.List[Object]]@()

$node = $env:COMPUTERNAME
Import-HyperVModule -Module $module -ModuleName checkpoint_type

# Automatic checkpoints exist from Windows build 16299 (version 1709).
$build = [Environment]::OSVersion.Version.Build
$automaticSupported = $build -ge 16299

function Get-CheckpointSetting {
    param ($VM)
    $setting = @{ CheckpointType = $VM.CheckpointType.ToString(); AutomaticCheckpointsEnabled = $null }
    if ($automaticSupported) {
        $setting.AutomaticCheckpointsEnabled = [bool]$VM.AutomaticCheckpointsEnabled
    }
    $setting
}

foreach ($op in $module.Params.operations) {
    $item = @{ id = $op.id; name = $op.name; status = 'ok' }
    $module.Result.vms.Add($item)

    $vm = Get-OperationVM -Id $op.id -Item $item
    if ($null -eq $vm) {
        continue
    }
    $item.before = Get-CheckpointSetting -VM $vm

    $setParams = @{}
    if ($null -ne $op.checkpoint_type -and $vm.CheckpointType.ToString() -ne $op.checkpoint_type) {
        $setParams.CheckpointType = $op.checkpoint_type
    }
    if ($null -ne $op.automatic_checkpoints) {
        if (-not $automaticSupported) {
            $item.status = 'failed'
            $item.error = "automatic checkpoints need Windows build 16299 (version 1709) or later; $node runs build $build"
            $item.after = $item.before
            continue
        }
        if ([bool]$vm.AutomaticCheckpointsEnabled -ne [bool]$op.automatic_checkpoints) {
            $setParams.AutomaticCheckpointsEnabled = [bool]$op.automatic_checkpoints
        }
    }

    if ($setParams.Count -eq 0) {
        $item.after = $item.before
        continue
    }
    if ($module.CheckMode) {
        $after = $item.before.Clone()
        foreach ($key in $setParams.Keys) { $after[$key] = $setParams[$key] }
        $item.after = $after
        $item.status = 'changed'
        $module.Result.changed = $true
        continue
    }
    try {
        Set-VM -VM $vm @setParams -ErrorAction Stop
        $item.status = 'changed'
        $module.Result.changed = $true
    }
    catch {
        $item.status = 'failed'
        $item.error = $_.Exception.Message
    }
    $item.after = Get-CheckpointSetting -VM (Get-VM -Id $vm.Id)
}

$module.ExitJson()
