#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils.HyperVBackup

# Carries out the SCSI controller additions planned by the action plugin (docs/windows-contract.md,
# scsi_controller): for each operation, in order and one VM at a time, adds controllers until the VM has
# `count`. Hyper-V adds one only while the VM is Off; an operation with `restart` shuts a Running VM down
# gracefully (Stop-VM without -Force or -TurnOff), adds, and starts it again.
#
# Each VM has its own try/catch/finally: whatever fails after this run shut a VM down (Add-VMScsiController,
# a re-read), the VM is started again in `finally`, and the failure is that VM's result. A guest that has
# accepted the shut down request goes on shutting down even when the Stop-VM job is stopped, so after
# `shutdown_timeout` the VM is watched `shutdown_grace` more seconds: Off by then, it gets its controllers
# and is started again; still not Off, it is reported changed (a shut down was requested) with a warning.

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
        shutdown_grace = @{ type = 'int'; default = 300 }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

$maxControllers = 4
$timeout = $module.Params.shutdown_timeout
$grace = $module.Params.shutdown_grace
if ($timeout -lt 1) {
    $module.FailJson("scsi_controller: shutdown_timeout $timeout must be at least 1 second")
}
if ($grace -lt 0) {
    $module.FailJson("scsi_controller: shutdown_grace $grace must be 0 or more seconds")
}
$index = 0
foreach ($op in $module.Params.operations) {
    if ($op.count -lt 1 -or $op.count -gt $maxControllers) {
        $module.FailJson("scsi_controller: operations[$index].count $($op.count) is out of range; a VM has 1 to $maxControllers SCSI controllers")
    }
    $index++
}

Import-HyperVModule -Module $module -ModuleName scsi_controller
# Set only now: a failure before this point shows its msg alone (FailJson returns every Result field).
$module.Result.vms = [System.Collections.Generic.List[Object]]@()

function Read-CurrentState {
    <#
    .SYNOPSIS
    The VM's state as Get-VM -Id reads it now, or $null when that read fails.
    #>
    param ([Guid]$Id)
    try {
        (Hyper-V\Get-VM -Id $Id -ErrorAction Stop).State.ToString()
    }
    catch {
        $null
    }
}

function Wait-ForOff {
    <#
    .SYNOPSIS
    Watch the VM until it is Off or $Seconds have passed (one read when 0). Returns the state the last read
    saw, $null when it failed: a read that fails does not end the watch.
    #>
    param ([Guid]$Id, [int]$Seconds)
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    while ($true) {
        $state = Read-CurrentState -Id $Id
        $left = $Seconds - $watch.Elapsed.TotalSeconds
        if ($state -eq 'Off' -or $left -le 0) {
            return $state
        }
        Microsoft.PowerShell.Utility\Start-Sleep -Seconds ([Math]::Max(1, [Math]::Min(5, [Math]::Ceiling($left))))
    }
}

function Request-GuestShutdown {
    <#
    .SYNOPSIS
    Stop-VM without -Force / -TurnOff as a job: the guest is asked to shut down through its Shutdown
    integration service. Waits $Timeout seconds for the job; a job that fails (a locked guest refuses at
    once, Hyper-V return code 32781) is read once more, a job still running is stopped (that stops the
    waiting, not the guest) and the VM is watched $Grace more seconds.
    Returns @{ State = 'Off' when it is Off in time, else the last state read ($null: unreadable);
    Error = the job's error message or $null }.
    #>
    param ($VM, [int]$Timeout, [int]$Grace)
    try {
        $job = Hyper-V\Stop-VM -VM $VM -AsJob -Confirm:$false -ErrorAction Stop
    }
    catch {
        return @{ State = (Wait-ForOff -Id $VM.Id -Seconds 0); Error = $_.Exception.Message }
    }
    $jobError = $null
    $message = $null
    try {
        $finished = Microsoft.PowerShell.Core\Wait-Job -Job $job -Timeout $Timeout
        if ($finished) {
            Microsoft.PowerShell.Core\Receive-Job -Job $job -ErrorAction SilentlyContinue -ErrorVariable jobError | Out-Null
            if ($jobError) {
                $message = $jobError[0].Exception.Message
            }
            elseif ($job.State.ToString() -eq 'Failed') {
                $message = @($job.ChildJobs)[0].JobStateInfo.Reason.Message
            }
        }
        else {
            Microsoft.PowerShell.Core\Stop-Job -Job $job
        }
    }
    finally {
        Microsoft.PowerShell.Core\Remove-Job -Job $job -Force
    }
    if ($null -ne $message) {
        return @{ State = (Wait-ForOff -Id $VM.Id -Seconds 0); Error = $message }
    }
    if ($finished) {
        # Stop-VM returns once the VM is Off.
        return @{ State = 'Off'; Error = $null }
    }
    @{ State = (Wait-ForOff -Id $VM.Id -Seconds $Grace); Error = $null }
}

function Read-ControllerCount {
    <#
    .SYNOPSIS
    Read the VM's SCSI controllers back into the item's 'after'; a VM reported changed with fewer than
    $Count fails (the change did not take). A read that fails leaves 'after' as what this run did.
    #>
    param ([Guid]$Id, [System.Collections.IDictionary]$Item, [int]$Count)
    try {
        $current = Hyper-V\Get-VM -Id $Id -ErrorAction Stop
        $have = @(Hyper-V\Get-VMScsiController -VM $current -ErrorAction Stop).Count
    }
    catch {
        $module.Warn("scsi_controller: reading the SCSI controllers of '$($Item.name)' back failed, so 'after' says what this run did: $($_.Exception.Message)")
        return
    }
    $Item.after = @{ ScsiControllers = $have }
    if ($Item.status -eq 'changed' -and $Item.shutdown -ne 'unfinished' -and $have -lt $Count) {
        $Item.status = 'failed'
        $Item.error = "Add-VMScsiController returned without an error, but '$($Item.name)' has $have SCSI controller(s) where $Count were asked"
    }
}

foreach ($op in $module.Params.operations) {
    $item = @{ id = $op.id; name = $op.name; status = 'ok'; restarted = $false; shutdown = 'none' }
    $module.Result.vms.Add($item)

    $vm = Get-OperationVM -Id $op.id -Item $item
    if ($null -eq $vm) {
        continue
    }
    $name = $vm.Name
    $shutDownHere = $false
    $touched = $false
    $step = "reading the SCSI controllers of '$name' failed"
    try {
        $have = @(Hyper-V\Get-VMScsiController -VM $vm -ErrorAction Stop).Count
        $item.before = @{ ScsiControllers = $have }
        $item.after = @{ ScsiControllers = $have }
        $need = $op.count - $have
        if ($need -le 0) {
            continue
        }
        $state = $vm.State.ToString()
        if ($state -ne 'Off' -and -not ($op.restart -and $state -eq 'Running')) {
            $item.status = 'failed'
            $item.error = "'$name' is $state; Hyper-V adds a SCSI controller only while the VM is Off"
            continue
        }
        if ($module.CheckMode) {
            $item.status = 'changed'
            $item.after = @{ ScsiControllers = $op.count }
            $module.Result.changed = $true
            continue
        }

        if ($state -eq 'Running') {
            $step = "shutting '$name' down failed"
            $stopped = Request-GuestShutdown -VM $vm -Timeout $timeout -Grace $grace
            $now = $stopped.State
            $shown = if ($null -ne $now) { $now } else { 'in a state that could not be read' }
            if ($now -ne 'Off' -and $null -ne $stopped.Error -and ($now -eq 'Running' -or $null -eq $now)) {
                # Refused at once (a locked guest): nothing happened to the VM.
                $item.status = 'failed'
                $item.shutdown = 'refused'
                $item.error = "'$name' did not shut down: $($stopped.Error); it is left $shown"
                continue
            }
            $module.Result.changed = $true
            $touched = $true
            if ($now -ne 'Off') {
                $reason = "'$name' was asked to shut down and is still $shown after $timeout s and $grace s of grace, so it has no new SCSI controller; if it shuts down later it stays Off: start it again (Start-VM) and run this task again"
                $item.status = 'changed'
                $item.shutdown = 'unfinished'
                $item.state = $now
                $item.reason = $reason
                $module.Warn("scsi_controller: $reason")
                continue
            }
            $shutDownHere = $true
            $item.shutdown = 'completed'
        }
        $step = "adding a SCSI controller to '$name' failed"
        $touched = $true
        for ($added = 1; $added -le $need; $added++) {
            Hyper-V\Add-VMScsiController -VM $vm -ErrorAction Stop
            $module.Result.changed = $true
            $item.after = @{ ScsiControllers = $have + $added }
        }
        $item.status = 'changed'
    }
    catch {
        $item.status = 'failed'
        $item.error = "${step}: $($_.Exception.Message)"
    }
    finally {
        if ($shutDownHere) {
            try {
                Hyper-V\Start-VM -VM $vm -ErrorAction Stop
                $item.restarted = $true
            }
            catch {
                $notStarted = "'$name' was shut down but did not start again: $($_.Exception.Message); it is left Off"
                if ($item.status -eq 'failed' -and $item.error) {
                    # Keep what failed first (adding the controller), then say the VM is left Off.
                    $notStarted = "$($item.error); then $notStarted"
                }
                $item.status = 'failed'
                $item.error = $notStarted
            }
        }
        if ($touched) {
            Read-ControllerCount -Id $vm.Id -Item $item -Count $op.count
        }
    }
}

$module.ExitJson()
