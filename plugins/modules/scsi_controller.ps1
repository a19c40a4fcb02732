#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils.HyperVBackup

# Carries out the SCSI controller additions planned by the action plugin (docs/windows-contract.md,
# scsi_controller): for each operation, in order and one VM at a time, adds controllers until the VM has
# `count`. Hyper-V adds one only while the VM is Off; an operation with `restart` shuts a Running VM down
# gracefully (Stop-VM without -Force or -TurnOff), adds, and starts it again. Per-VM failures are reported
# per VM.

$spec = @{
    options = @{
        operations = @{
            type = 'list'
            elements = 'dict'
            required = $true
            options = @{
                id = @{ type = 'str'; required = $true }
                name = @{ type = 'str'; required = $true }
                count = @{ type = 'int'; required = $true }
                restart = @{ type = 'bool'; default = $false }
            }
        }
        shutdown_timeout = @{ type = 'int'; default = 300 }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false
$module.Result.vms = [System.Collections.Generic.List[Object]]@()

$maxControllers = 4
$timeout = $module.Params.shutdown_timeout
if ($timeout -lt 1) {
    $module.FailJson("scsi_controller: shutdown_timeout $timeout must be at least 1 second")
}
$index = 0
foreach ($op in $module.Params.operations) {
    if ($op.count -lt 1 -or $op.count -gt $maxControllers) {
        $module.FailJson("scsi_controller: operations[$index].count $($op.count) is out of range; a VM has 1 to $maxControllers SCSI controllers")
    }
    $index++
}

$node = $env:COMPUTERNAME
Import-HyperVModule -Module $module -ModuleName scsi_controller

foreach ($op in $module.Params.operations) {
    $item = @{ id = $op.id; name = $op.name; status = 'ok'; restarted = $false }
    $module.Result.vms.Add($item)

    $vm = Get-OperationVM -Id $op.id -Item $item
    if ($null -eq $vm) {
        continue
    }
    $have = @(Get-VMScsiController -VM $vm).Count
    $item.before = @{ ScsiControllers = $have }
    $item.after = @{ ScsiControllers = $have }
    $need = $op.count - $have
    if ($need -le 0) {
        continue
    }

    $state = $vm.State.ToString()
    if ($state -ne 'Off' -and -not ($op.restart -and $state -eq 'Running')) {
        $item.status = 'failed'
        $item.error = "'$($vm.Name)' is $state; Hyper-V adds a SCSI controller only while the VM is Off"
        continue
    }
    $restart = $state -eq 'Running'
    if ($module.CheckMode) {
        $item.status = 'changed'
        $item.after = @{ ScsiControllers = $op.count }
        $module.Result.changed = $true
        continue
    }

    if ($restart) {
        # Graceful: the guest is asked to shut down through the Shutdown integration service.
        $job = Stop-VM -VM $vm -AsJob -Confirm:$false
        $finished = Wait-Job -Job $job -Timeout $timeout
        $jobError = $null
        if ($finished) {
            Receive-Job -Job $job -ErrorAction SilentlyContinue -ErrorVariable jobError | Out-Null
        }
        else {
            Stop-Job -Job $job
        }
        Remove-Job -Job $job -Force
        $vm = Get-VM -Id $vm.Id
        if ($vm.State.ToString() -ne 'Off') {
            $item.status = 'failed'
            if ($jobError) {
                $item.error = "'$($vm.Name)' did not shut down: $($jobError[0].Exception.Message); it is left $($vm.State)"
            }
            else {
                $item.error = "'$($vm.Name)' did not shut down within $timeout s; it was asked to shut down and is left $($vm.State)"
            }
            continue
        }
    }

    $module.Result.changed = $true
    try {
        for ($i = 0; $i -lt $need; $i++) {
            Add-VMScsiController -VM $vm -ErrorAction Stop
        }
        $item.status = 'changed'
    }
    catch {
        $item.status = 'failed'
        $item.error = "adding a SCSI controller to '$($vm.Name)' failed: $($_.Exception.Message)"
    }
    if ($restart) {
        try {
            Start-VM -VM $vm -ErrorAction Stop
            $item.restarted = $true
        }
        catch {
            $item.status = 'failed'
            $item.error = "'$($vm.Name)' was shut down but did not start again: $($_.Exception.Message)"
        }
    }
    $item.after = @{ ScsiControllers = @(Get-VMScsiController -VM (Get-VM -Id $vm.Id)).Count }
}

$module.ExitJson()
