#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils.HyperVBackup

# Carries out the CSV placement moves planned by the action plugin (docs/windows-contract.md, csv_placement):
# VM roles to another node (a running VM is live- or quick-migrated, a VM that is Off or Saved changes owner)
# and Cluster Shared Volume ownership. Cluster-wide operations run on this one node with the cluster cmdlets,
# so nothing reaches a second machine from this session (the double hop).
#
# Each move has its own try/catch and its own seconds. Before it, the current owner is read: a move whose
# object is already on its target is `ok`; one whose object is no longer where the plan saw it is refused
# (the plan is stale: a re-run plans again). After it, the owner is read back: a move is `moved` only when
# the new owner is the target. One move is made in this process and waits for the cluster
# (-Wait <timeout>); several (a batch, `parallel`) start at once, each in its own PowerShell job that waits
# for its move, and the module waits for all of them.

$spec = @{
    options = @{
        moves = @{
            type = 'list'
            elements = 'dict'
            required = $true
            options = @{
                kind = @{ type = 'str'; required = $true; choices = @('vm', 'csv') }
                name = @{ type = 'str'; required = $true }
                id = @{ type = 'str' }
                from = @{ type = 'str'; required = $true }
                to = @{ type = 'str'; required = $true }
            }
        }
        cluster = @{ type = 'str'; required = $true }
        migration_type = @{ type = 'str'; default = 'live'; choices = @('live', 'quick') }
        timeout = @{ type = 'int'; default = 3600 }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

$node = $env:COMPUTERNAME.ToUpperInvariant()
$timeout = $module.Params.timeout
$migrationType = $module.Params.migration_type.ToLowerInvariant()
if ($timeout -lt 1) {
    $module.FailJson("csv_placement: timeout $timeout must be at least 1 second")
}
$index = 0
foreach ($move in $module.Params.moves) {
    if ($move.kind -eq 'vm' -and [String]::IsNullOrEmpty($move.id)) {
        $module.FailJson("csv_placement: moves[$index] moves the VM '$($move.name)' but has no id (the VM ID)")
    }
    $index++
}

# The cluster cmdlets answer only where the cluster service runs, and need the FailoverClusters module.
$clusService = Microsoft.PowerShell.Management\Get-Service -Name ClusSvc -ErrorAction SilentlyContinue
if ($null -eq $clusService) {
    $module.FailJson("csv_placement: $node is not a node of a failover cluster (it has no cluster service, ClusSvc)")
}
if ($clusService.Status.ToString() -ne 'Running') {
    $module.FailJson("csv_placement: the cluster service (ClusSvc) is $($clusService.Status) on $node; run csv_placement on a node of the cluster where it runs")
}
if (-not (Microsoft.PowerShell.Core\Get-Module -ListAvailable -Name FailoverClusters)) {
    $module.FailJson("csv_placement: $node has no FailoverClusters PowerShell module; install it: Install-WindowsFeature RSAT-Clustering-PowerShell")
}
try {
    Microsoft.PowerShell.Core\Import-Module -Name FailoverClusters -ErrorAction Stop
}
catch {
    $module.FailJson("csv_placement: importing the FailoverClusters PowerShell module on $node failed: $($_.Exception.Message)", $_)
}
# The plan was made for one cluster: CSV names such as 'Cluster Disk 1' exist in every cluster, so a node of
# another cluster must not carry it out.
try {
    $clusterName = [String](FailoverClusters\Get-Cluster -ErrorAction Stop).Name
}
catch {
    $module.FailJson("csv_placement: reading the failover cluster on $node failed: $($_.Exception.Message)", $_)
}
if ($clusterName -ne $module.Params.cluster) {
    $module.FailJson("csv_placement: $node is a node of cluster $clusterName, not of $($module.Params.cluster) whose placement was planned; run csv_placement on a node of $($module.Params.cluster)")
}
# Set only now: a failure before this point shows its msg alone (FailJson returns every Result field).
$module.Result.moves = [System.Collections.Generic.List[Object]]@()

function Read-Placement {
    <#
    .SYNOPSIS
    Where the object of a move is now: @{ Owner; State; Name (the cluster's name for it) } from
    Get-ClusterGroup -VMId (a VM role, found by its VM ID: names need not be unique) or
    Get-ClusterSharedVolume -Name. Throws when the cluster does not know it.
    #>
    param ([System.Collections.IDictionary]$Move)
    if ($Move.kind -eq 'csv') {
        $volume = FailoverClusters\Get-ClusterSharedVolume -Name $Move.name -ErrorAction Stop
        return @{ Owner = Get-NodeName -ClusterNode $volume.OwnerNode; State = $volume.State.ToString(); Name = $volume.Name }
    }
    $group = FailoverClusters\Get-ClusterGroup -VMId ([Guid]$Move.id) -ErrorAction Stop
    if ($null -eq $group) {
        throw "the cluster has no role for the VM with ID $($Move.id)"
    }
    @{ Owner = Get-NodeName -ClusterNode $group.OwnerNode; State = $group.State.ToString(); Name = $group.Name }
}

function Invoke-ClusterMove {
    <#
    .SYNOPSIS
    One move, waiting for the cluster up to $Timeout seconds: a CSV's ownership (Move-ClusterSharedVolume),
    a running VM role (Move-ClusterVirtualMachineRole -MigrationType Live or Quick) or a VM role that is
    Offline (Move-ClusterGroup: the cluster changes its owner, the VM stays Off or Saved). Returns
    @{ Error = the cluster's message or $null; Seconds }. Self-contained: it is also the script block of the
    PowerShell job that makes one move of a batch.
    #>
    param ([String]$Kind, [String]$Name, [String]$Node, [String]$Method, [int]$Timeout)
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $message = $null
    try {
        if ($Kind -eq 'csv') {
            $null = FailoverClusters\Move-ClusterSharedVolume -Name $Name -Node $Node -Wait $Timeout -ErrorAction Stop
        }
        elseif ($Method -eq 'ownership') {
            $null = FailoverClusters\Move-ClusterGroup -Name $Name -Node $Node -Wait $Timeout -ErrorAction Stop
        }
        else {
            $null = FailoverClusters\Move-ClusterVirtualMachineRole -Name $Name -Node $Node -MigrationType $Method -Wait $Timeout -ErrorAction Stop
        }
    }
    catch {
        $message = $_.Exception.Message
    }
    @{ Error = $message; Seconds = [Math]::Round($watch.Elapsed.TotalSeconds, 1) }
}

# --- before: where each object is now, and how the cluster moves it ----------------------------------

$started = [System.Collections.Generic.List[Object]]@()
foreach ($move in $module.Params.moves) {
    $item = [Ordered]@{
        kind = $move.kind
        name = $move.name
        id = $move.id
        from = $move.from
        to = $move.to.ToUpperInvariant()
        status = 'ok'
        method = $null
        seconds = $null
        owner = $null
    }
    $module.Result.moves.Add($item)
    $vmId = [Guid]::Empty
    if ($move.kind -eq 'vm' -and -not [Guid]::TryParse($move.id, [ref]$vmId)) {
        $item.status = 'failed'
        $item.error = "'$($move.id)' is not a VM ID (a GUID)"
        continue
    }
    try {
        $now = Read-Placement -Move $move
        $item.owner = $now.Owner
        if ($now.Owner -eq $item.to) {
            continue
        }
        if ($now.Owner -ne $move.from.ToUpperInvariant()) {
            throw "'$($move.name)' is on $($now.Owner), not on $($move.from.ToUpperInvariant()) as planned: it moved since the plan was made; run again to plan from where it is now"
        }
        if ($move.kind -eq 'csv') {
            $item.method = 'ownership'
        }
        elseif ($now.State -eq 'Online') {
            $item.method = $migrationType
        }
        elseif ($now.State -eq 'Offline') {
            # Off or Saved: no memory to copy, the cluster moves the role's ownership and keeps its state.
            $item.method = 'ownership'
        }
        else {
            throw "the role of '$($move.name)' is $($now.State) (the VM is starting, stopping or saving, or failed); it is moved once it is Running, Off or Saved: run again later"
        }
        if ($module.CheckMode) {
            $item.status = 'moved'
            $module.Result.changed = $true
            continue
        }
        $started.Add(@{ Item = $item; Name = $now.Name })
    }
    catch {
        $item.status = 'failed'
        $item.error = "reading where '$($move.name)' is failed: $($_.Exception.Message)"
        if ($null -ne $item.owner) {
            $item.error = [String]$_.Exception.Message
        }
    }
}

# --- the moves: one here, several as jobs started together -------------------------------------------

$outcomes = @{}
if ($started.Count -eq 1) {
    $one = $started[0]
    $outcomes[0] = Invoke-ClusterMove -Kind $one.Item.kind -Name $one.Name -Node $one.Item.to -Method $one.Item.method -Timeout $timeout
}
elseif ($started.Count -gt 1) {
    $jobs = @{}
    for ($index = 0; $index -lt $started.Count; $index++) {
        $one = $started[$index]
        try {
            $jobs[$index] = Microsoft.PowerShell.Core\Start-Job -ScriptBlock ${function:Invoke-ClusterMove} -ArgumentList @(
                $one.Item.kind, $one.Name, $one.Item.to, $one.Item.method, $timeout)
        }
        catch {
            $outcomes[$index] = @{ Error = "starting the move failed: $($_.Exception.Message)"; Seconds = 0 }
        }
    }
    if ($jobs.Count -gt 0) {
        # Each job waits for its own move up to $timeout; a minute more for the jobs to start and report.
        $null = Microsoft.PowerShell.Core\Wait-Job -Job @($jobs.Values) -Timeout ($timeout + 60)
    }
    foreach ($index in @($jobs.Keys)) {
        $job = $jobs[$index]
        try {
            $jobState = $job.JobStateInfo.State.ToString()
            if ($jobState -eq 'Completed') {
                $output = @(Microsoft.PowerShell.Core\Receive-Job -Job $job -ErrorAction Stop)
                $outcomes[$index] = @{ Error = $output[-1].Error; Seconds = $output[-1].Seconds }
            }
            else {
                Microsoft.PowerShell.Core\Stop-Job -Job $job
                $outcomes[$index] = @{ Error = "the move did not report within $timeout s (its job is $jobState); the cluster may still complete it"; Seconds = $timeout }
            }
        }
        catch {
            $outcomes[$index] = @{ Error = "reading the result of the move failed: $($_.Exception.Message)"; Seconds = $null }
        }
        finally {
            Microsoft.PowerShell.Core\Remove-Job -Job $job -Force
        }
    }
}

# --- after: read each owner back ---------------------------------------------------------------------

for ($index = 0; $index -lt $started.Count; $index++) {
    $item = $started[$index].Item
    $outcome = $outcomes[$index]
    $item.seconds = $outcome.Seconds
    $readBack = $null
    try {
        $item.owner = (Read-Placement -Move $item).Owner
    }
    catch {
        $item.owner = $null
        $readBack = $_.Exception.Message
    }
    if ($null -ne $item.owner -and $item.owner -eq $item.to) {
        $item.status = 'moved'
        $module.Result.changed = $true
    }
    elseif ($null -ne $outcome.Error) {
        $item.status = 'failed'
        $item.error = [String]$outcome.Error
    }
    elseif ($null -ne $readBack) {
        $item.status = 'failed'
        $item.error = "the cluster returned without an error, but reading where '$($item.name)' is then failed: $readBack; run again to see where it is"
    }
    else {
        $item.status = 'failed'
        $item.error = "the cluster returned without an error, but '$($item.name)' is on $($item.owner), not on $($item.to), after $($outcome.Seconds) s; it may still be moving: run again to see"
    }
}

$module.ExitJson()
