#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils.HyperVBackup

# Reads what one node sees, in one round trip, and changes nothing (docs/windows-contract.md, host_facts).
# The action plugin expands the user's gather_subset forms (all, min, !name) into the explicit list this
# module takes. Each Hyper-V cmdlet is called once for all VMs of the node and its output is grouped by
# VMId, so the cost does not grow with one call per VM.
#
# One troubled VM never fails the node (every apply task gathers first): when a call for all VMs fails,
# the same cmdlet is called once per VM, each guarded. A VM that is no longer on the node (moved away
# while it was read) is left out with a warning; a VM read in part (a critical state, a property that
# throws) is reported with null for what could not be read, with a warning.

$subsets = @('cluster', 'vms', 'checkpoints', 'vss_access_control', 'vss_writers', 'vhd_set_acls', 'events')

$spec = @{
    options = @{
        gather_subset = @{ type = 'list'; elements = 'str'; choices = $subsets; default = $subsets }
        acl_paths = @{ type = 'list'; elements = 'str'; default = @() }
        events_days = @{ type = 'int'; default = 7 }
        events_max = @{ type = 'int'; default = 200 }
        event_queries = @{
            type = 'list'
            elements = 'dict'
            default = @()
            options = @{
                log_name = @{ type = 'str'; required = $true }
                provider_name = @{ type = 'str' }
                ids = @{ type = 'list'; elements = 'int'; required = $true }
                names_vm = @{ type = 'bool'; default = $false }
            }
        }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

$node = $env:COMPUTERNAME.ToUpperInvariant()
$invariant = [System.Globalization.CultureInfo]::InvariantCulture

# The VSS (Backup) integration service is found by the integration component GUID that ends its Id
# ("Microsoft:<VMId>\5CED1297-4598-4915-A5FC-AD21BB4D02A4"); its Name is localized.
$vssIntegrationComponentId = '5CED1297-4598-4915-A5FC-AD21BB4D02A4'

$doubleHop = 'A UNC path is read with the credentials of the WinRM session, which do not reach a second machine without delegation (the double hop): use CredSSP or Kerberos delegation (ansible_winrm_transport: credssp, or become with become_method: runas), or read the folder on the server that serves the share'

$vssAccessControlKey = 'HKLM:\SYSTEM\CurrentControlSet\Services\VSS\VssAccessControl'

# An absolute path: a drive letter, a colon and a separator, or a UNC path \\server\share.
$absolutePathPattern = '^(?:[A-Za-z]:[\\/]|[\\/]{2}[^\\/?.][^\\/]*[\\/][^\\/]+)'

# --- arguments ---------------------------------------------------------------------------------------

$asked = @($module.Params.gather_subset | ForEach-Object { $_.ToLowerInvariant() })
# In the order of the contract, whatever the order asked.
$gatherSubset = @($subsets | Where-Object { $asked -contains $_ })
if (($gatherSubset -contains 'checkpoints') -and -not ($gatherSubset -contains 'vms')) {
    $module.FailJson("host_facts: gather_subset 'checkpoints' needs 'vms'")
}
if (($gatherSubset -contains 'vhd_set_acls') -and -not ($gatherSubset -contains 'vms')) {
    $module.FailJson("host_facts: gather_subset 'vhd_set_acls' needs 'vms'")
}

Import-HyperVModule -Module $module -ModuleName host_facts

# --- functions ---------------------------------------------------------------------------------------

function ConvertTo-IsoUtc {
    param ($Time)
    if ($null -eq $Time) {
        return $null
    }
    $Time.ToUniversalTime().ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'", $invariant)
}

function Group-ByVMId {
    <#
    .SYNOPSIS
    Objects of a Hyper-V cmdlet for many VMs, as a hashtable of VMId (lower-case string) to a list.
    #>
    param ([Object[]]$InputObject)
    $groups = @{}
    foreach ($item in $InputObject) {
        $key = $item.VMId.ToString().ToLowerInvariant()
        if (-not $groups.ContainsKey($key)) {
            $groups[$key] = [System.Collections.Generic.List[Object]]@()
        }
        $groups[$key].Add($item)
    }
    $groups
}

function Get-Group {
    <#
    .SYNOPSIS
    The list of one VM in a Group-ByVMId hashtable (empty when it has none). The comma returns the list
    itself rather than its items.
    #>
    param ([Hashtable]$Groups, [String]$Key)
    if ($Groups.ContainsKey($Key)) {
        return , $Groups[$Key]
    }
    , [System.Collections.Generic.List[Object]]@()
}

function ConvertTo-Sid {
    <#
    .SYNOPSIS
    The SecurityIdentifier of an IdentityReference (an NTAccount or already a SecurityIdentifier).
    #>
    param ([System.Security.Principal.IdentityReference]$Identity)
    if ($Identity -is [System.Security.Principal.SecurityIdentifier]) {
        return $Identity
    }
    $Identity.Translate([System.Security.Principal.SecurityIdentifier])
}

function Get-UncRoot {
    <#
    .SYNOPSIS
    \\server\share of a UNC path, or $null for a local path.
    #>
    param ([String]$Path)
    if ($Path -match '^[\\/]{2}([^\\/]+)[\\/]([^\\/]+)') {
        return "\\$($Matches[1])\$($Matches[2])"
    }
    $null
}

function Get-PathKey {
    <#
    .SYNOPSIS
    A path as a hashtable key that finds it however it is written: backslashes, no trailing separator (the
    hashtable itself ignores case, as Windows does).
    #>
    param ([String]$Path)
    $Path -replace '/', '\' -replace '\\+$', ''
}

function Get-AclPathError {
    <#
    .SYNOPSIS
    The contract's message for a folder ($What: an acl_paths item, a VHD Set folder) that Get-Item or Get-Acl
    could not read: it does not exist, access is denied, or (a UNC path) the share cannot be reached from this
    session: the double hop.
    #>
    param ([String]$Path, [System.Management.Automation.ErrorRecord]$ErrorRecord, [String]$What = 'acl_paths item')
    $exception = $ErrorRecord.Exception
    $message = $exception.Message
    $missing = ($exception -is [System.Management.Automation.ItemNotFoundException]) -or
        ($exception -is [System.IO.FileNotFoundException]) -or ($exception -is [System.IO.DirectoryNotFoundException])
    $denied = ($exception -is [System.UnauthorizedAccessException]) -or
        ($ErrorRecord.CategoryInfo.Category -eq [System.Management.Automation.ErrorCategory]::PermissionDenied)
    $root = Get-UncRoot -Path $Path
    if ($null -ne $root) {
        $rootReadable = $false
        if ($missing) {
            try {
                $null = Microsoft.PowerShell.Management\Get-Item -LiteralPath $root -Force -ErrorAction Stop
                $rootReadable = $true
            }
            catch {
                $message = $_.Exception.Message
            }
        }
        if (-not $rootReadable) {
            return "host_facts: $What '$Path' cannot be read from ${node}: $message $doubleHop"
        }
    }
    if ($missing) {
        return "host_facts: $What '$Path' does not exist on $node"
    }
    if ($denied) {
        return "host_facts: $What '$Path' cannot be read on ${node}: $message The account Ansible connects with needs the right to read its permissions"
    }
    "host_facts: reading the ACL of $What '$Path' on $node failed: $message"
}

function Read-FolderAcl {
    <#
    .SYNOPSIS
    The ACL of one folder as the facts report it (Get-Acl): Path as asked, the owner, and the explicit and
    inherited rules in the order of the ACL, each with its SID and, where it resolves here, its account name.
    Throws what Get-Acl throws.
    #>
    param ([String]$Path)
    $acl = Microsoft.PowerShell.Security\Get-Acl -LiteralPath $Path -ErrorAction Stop
    $ownerSid = $acl.GetOwner([System.Security.Principal.SecurityIdentifier])
    $access = [System.Collections.Generic.List[Object]]@()
    # Explicit and inherited rules, in the order of the ACL, as (Get-Acl).Access lists them.
    foreach ($rule in $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
        $sid = ConvertTo-Sid -Identity $rule.IdentityReference
        $access.Add([Ordered]@{
            IdentityReference = Resolve-AccountName -Sid $sid
            Sid = $sid.Value
            FileSystemRights = $rule.FileSystemRights.ToString()
            AccessControlType = $rule.AccessControlType.ToString()
            InheritanceFlags = $rule.InheritanceFlags.ToString()
            PropagationFlags = $rule.PropagationFlags.ToString()
            IsInherited = [bool]$rule.IsInherited
        })
    }
    $ownerName = $null
    $ownerSidValue = $null
    if ($null -ne $ownerSid) {
        $ownerName = Resolve-AccountName -Sid $ownerSid
        $ownerSidValue = $ownerSid.Value
    }
    [Ordered]@{
        Path = $Path
        Owner = $ownerName
        OwnerSid = $ownerSidValue
        Access = $access
    }
}

function Invoke-ForVMs {
    <#
    .SYNOPSIS
    Run $Read (a script block taking an array of VMs) once for all $VMs and, if that call fails, once per
    VM, each guarded. Returns @{ Output = what the calls returned; Failed = @{ VMId (lower case) = message } }.
    #>
    param ([Object[]]$VMs, [String]$Cmdlet, [ScriptBlock]$Read)
    $failed = @{}
    try {
        $output = @(& $Read $VMs)
    }
    catch {
        $output = [System.Collections.Generic.List[Object]]@()
        foreach ($one in $VMs) {
            try {
                foreach ($object in @(& $Read @($one))) {
                    $output.Add($object)
                }
            }
            catch {
                $failed[$one.Id.ToString().ToLowerInvariant()] = "${Cmdlet}: $($_.Exception.Message)"
            }
        }
    }
    @{ Output = @($output); Failed = $failed }
}

function ConvertTo-NullableInt {
    <#
    .SYNOPSIS
    An integer property of a cluster object as an integer, or $null where the object does not have it.
    #>
    param ($Value)
    if ($null -eq $Value) {
        return $null
    }
    [int]$Value
}

function Read-OwnerList {
    <#
    .SYNOPSIS
    Get-ClusterOwnerNode for each of $Objects (VM groups: their preferred owners in order; VM resources:
    their possible owners): one call for all of them piped in and, when that fails or does not return one
    list per object, one call per object, each guarded. Returns @{ Lists = node names (upper case) per
    object, in the order of $Objects ($null where the read failed); Failed = @{ index = message } }.
    #>
    param ([Object[]]$Objects)
    $lists = New-Object -TypeName 'System.Object[]' -ArgumentList $Objects.Count
    $failed = @{}
    $batch = $null
    try {
        $batch = @($Objects | FailoverClusters\Get-ClusterOwnerNode -ErrorAction Stop)
    }
    catch {
        $batch = $null
    }
    if ($null -ne $batch -and $batch.Count -eq $Objects.Count) {
        $index = 0
        foreach ($ownerList in $batch) {
            $lists[$index] = @(foreach ($owner in $ownerList.OwnerNodes) { Get-NodeName -ClusterNode $owner })
            $index++
        }
    }
    else {
        for ($index = 0; $index -lt $Objects.Count; $index++) {
            try {
                $ownerList = FailoverClusters\Get-ClusterOwnerNode -InputObject $Objects[$index] -ErrorAction Stop
                $lists[$index] = @(foreach ($owner in $ownerList.OwnerNodes) { Get-NodeName -ClusterNode $owner })
            }
            catch {
                $failed[$index] = "Get-ClusterOwnerNode: $($_.Exception.Message)"
            }
        }
    }
    @{ Lists = $lists; Failed = $failed }
}

function Test-SizedDisk {
    <#
    .SYNOPSIS
    Whether host_facts reads a hard disk's size with Get-VHD: a disk with a path that is not shared (not a VHD
    Set, no persistent reservations).
    #>
    param ($Disk)
    $path = [String]$Disk.Path
    ($path -ne '') -and -not [bool]$Disk.SupportPersistentReservations -and
        -not $path.EndsWith('.vhds', [StringComparison]::OrdinalIgnoreCase)
}

function Read-Property {
    <#
    .SYNOPSIS
    The value $Read gives, or $null when it throws; the failure is added to $Problems as "<Name> (<message>)".
    For scalar values: a list would be unrolled.
    #>
    param ([String]$Name, [ScriptBlock]$Read, [System.Collections.Generic.List[String]]$Problems)
    try {
        & $Read
    }
    catch {
        $Problems.Add("$Name ($($_.Exception.Message))")
        $null
    }
}

# --- acl_paths: each must exist and be readable, before anything is read -----------------------------

$aclPaths = @($module.Params.acl_paths)
foreach ($aclPath in $aclPaths) {
    if ($aclPath -notmatch $absolutePathPattern) {
        $module.FailJson("host_facts: acl_paths item '$aclPath' is not an absolute path")
    }
    # Get-Item, not Test-Path: Test-Path says $false for a folder that exists but may not be read.
    try {
        $null = Microsoft.PowerShell.Management\Get-Item -LiteralPath $aclPath -Force -ErrorAction Stop
    }
    catch {
        $module.FailJson((Get-AclPathError -Path $aclPath -ErrorRecord $_), $_)
    }
}

# --- the node ----------------------------------------------------------------------------------------

$osVersion = [Environment]::OSVersion.Version
try {
    $dnsHostName = [System.Net.Dns]::GetHostEntry('').HostName
}
catch {
    $dnsHostName = $env:COMPUTERNAME.ToLowerInvariant()
}
# Automatic checkpoints exist where Set-VM has the parameter (Windows build 16299, version 1709, and later):
# asked of the host, not derived from its build.
$automaticCheckpointsSupported = Test-CommandParameter -Name Set-VM -ModuleName Hyper-V -Parameter AutomaticCheckpointsEnabled
# The node's physical memory, which CSV placement keeps a headroom of; null (with a warning) when unread.
$memoryCapacity = $null
try {
    $memoryCapacity = [int64](Hyper-V\Get-VMHost -ErrorAction Stop).MemoryCapacity
}
catch {
    $module.Warn("host_facts: reading the memory capacity of $node failed, so MemoryCapacity is null: Get-VMHost: $($_.Exception.Message)")
}

$facts = [Ordered]@{
    schema = 1
    gather_subset = $gatherSubset
    node = [Ordered]@{
        Name = $node
        DnsHostName = $dnsHostName
        OsVersion = '{0}.{1}.{2}' -f $osVersion.Major, $osVersion.Minor, $osVersion.Build
        OsBuild = $osVersion.Build
        AutomaticCheckpointsSupported = $automaticCheckpointsSupported
        MemoryCapacity = $memoryCapacity
    }
}

# --- the cluster -------------------------------------------------------------------------------------

# The cluster cmdlets answer only where the cluster service runs. No service: the node is not in a failover
# cluster (cluster = $null). A stopped service: cluster = $null with a warning. A running service without
# the FailoverClusters PowerShell module (the RSAT-Clustering-PowerShell feature): asking for the cluster
# fails naming it; asking only for the VMs warns (their AntiAffinityClassNames cannot be read).
$readsCluster = ($gatherSubset -contains 'cluster') -or ($gatherSubset -contains 'vms')
$clustered = $false
# VMId -> its group's AntiAffinityClassNames; the VM roles of the cluster.
$antiAffinityByVMId = @{}
$vmRoles = [System.Collections.Generic.List[Object]]@()
$clusService = Microsoft.PowerShell.Management\Get-Service -Name ClusSvc -ErrorAction SilentlyContinue
if ($readsCluster -and $null -ne $clusService) {
    $serviceState = $clusService.Status.ToString()
    if ($serviceState -ne 'Running') {
        $module.Warn("host_facts: the cluster service (ClusSvc) is $serviceState on $node, so the failover cluster is not read there: cluster is null and every VM's AntiAffinityClassNames is []; start the cluster service (Start-ClusterNode) to read it")
    }
    elseif (-not (Microsoft.PowerShell.Core\Get-Module -ListAvailable -Name FailoverClusters)) {
        $noModule = "$node runs the cluster service (ClusSvc) but has no FailoverClusters PowerShell module, so its failover cluster cannot be read; install it: Install-WindowsFeature RSAT-Clustering-PowerShell"
        if ($gatherSubset -contains 'cluster') {
            $module.FailJson("host_facts: $noModule")
        }
        $module.Warn("host_facts: $noModule (every VM's AntiAffinityClassNames is [])")
    }
    else {
        $clustered = $true
    }
}

if ($clustered) {
    try {
        Microsoft.PowerShell.Core\Import-Module -Name FailoverClusters -ErrorAction Stop
        $vmGroups = @(FailoverClusters\Get-ClusterGroup -ErrorAction Stop | Where-Object {
            $_.GroupType.ToString() -eq 'VirtualMachine'
        })
        $resources = @(FailoverClusters\Get-ClusterResource -ErrorAction Stop)
        $vmResources = @($resources | Where-Object { $_.ResourceType.Name -eq 'Virtual Machine' })
        $roleByName = @{}
        foreach ($group in $vmGroups) {
            # foreach, not a pipeline: a $null collection gives no item rather than one $null.
            $classNames = @(foreach ($className in $group.AntiAffinityClassNames) { [String]$className })
            $role = [Ordered]@{
                Name = $group.Name
                VMId = $null
                OwnerNode = Get-NodeName -ClusterNode $group.OwnerNode
                State = $group.State.ToString()
                AntiAffinityClassNames = $classNames
                PossibleOwners = $null
                PreferredOwners = $null
                AutoFailbackType = ConvertTo-NullableInt -Value $group.AutoFailbackType
            }
            $roleByName[$group.Name] = $role
            $vmRoles.Add($role)
        }
        if ($vmGroups.Count -gt 0) {
            # One pipeline for every VM resource of the cluster, not one call per group.
            $vmIdParameters = @($vmResources | FailoverClusters\Get-ClusterParameter -Name VmID -ErrorAction SilentlyContinue)
            foreach ($parameter in $vmIdParameters) {
                $groupName = $parameter.ClusterObject.OwnerGroup.Name
                if ($null -ne $parameter.Value -and $roleByName.ContainsKey($groupName)) {
                    $role = $roleByName[$groupName]
                    $role.VMId = ([String]$parameter.Value).Trim('{}').ToLowerInvariant()
                    $antiAffinityByVMId[$role.VMId] = $role.AntiAffinityClassNames
                }
            }
        }

        if ($gatherSubset -contains 'cluster') {
            $cluster = FailoverClusters\Get-Cluster -ErrorAction Stop

            $nodes = [System.Collections.Generic.List[Object]]@()
            foreach ($clusterNode in FailoverClusters\Get-ClusterNode -ErrorAction Stop) {
                $drainStatus = $null
                if ($null -ne $clusterNode.DrainStatus) {
                    $drainStatus = $clusterNode.DrainStatus.ToString()
                }
                $nodes.Add([Ordered]@{
                    Name = Get-NodeName -ClusterNode $clusterNode
                    State = $clusterNode.State.ToString()
                    Id = [String]$clusterNode.Id
                    DrainStatus = $drainStatus
                })
            }

            # ConfigStoreRootPath is a parameter of the resource 'Virtual Machine Cluster WMI', not of the
            # cluster: '' when unset, $null when the resource does not exist. Found by its resource type: an
            # administrator may rename the resource.
            $configStoreRootPath = $null
            $wmiResource = $resources | Where-Object { $_.ResourceType.Name -eq 'Virtual Machine Cluster WMI' } | Select-Object -First 1
            if ($null -ne $wmiResource) {
                $configStoreRootPath = ''
                $parameter = FailoverClusters\Get-ClusterParameter -InputObject $wmiResource -Name ConfigStoreRootPath -ErrorAction SilentlyContinue
                if ($null -ne $parameter -and $null -ne $parameter.Value) {
                    $configStoreRootPath = [String]$parameter.Value
                }
            }

            $sharedVolumes = [System.Collections.Generic.List[Object]]@()
            foreach ($volume in FailoverClusters\Get-ClusterSharedVolume -ErrorAction Stop) {
                $volumePath = $null
                $info = @($volume.SharedVolumeInfo)
                if ($info.Count -gt 0) {
                    $volumePath = $info[0].FriendlyVolumeName
                }
                $sharedVolumes.Add([Ordered]@{
                    Name = $volume.Name
                    OwnerNode = Get-NodeName -ClusterNode $volume.OwnerNode
                    State = $volume.State.ToString()
                    Path = $volumePath
                })
            }

            # Placement: preferred owners of each VM group, possible owners of each VM resource (one pipeline
            # each for all of them); a role whose list cannot be read has null for it, with a warning.
            $roleProblems = [Ordered]@{}
            $ownerReads = @(
                @{ Key = 'PreferredOwners'; Objects = $vmGroups; OfGroup = $false },
                @{ Key = 'PossibleOwners'; Objects = $vmResources; OfGroup = $true }
            )
            foreach ($ownerRead in $ownerReads) {
                if ($ownerRead.Objects.Count -eq 0) {
                    continue
                }
                $read = Read-OwnerList -Objects $ownerRead.Objects
                for ($index = 0; $index -lt $ownerRead.Objects.Count; $index++) {
                    $object = $ownerRead.Objects[$index]
                    $groupName = if ($ownerRead.OfGroup) { $object.OwnerGroup.Name } else { $object.Name }
                    if (-not $roleByName.ContainsKey($groupName)) {
                        continue
                    }
                    $role = $roleByName[$groupName]
                    if ($read.Failed.ContainsKey($index)) {
                        if (-not $roleProblems.Contains($role.Name)) {
                            $roleProblems[$role.Name] = [System.Collections.Generic.List[String]]@()
                        }
                        $roleProblems[$role.Name].Add("$($ownerRead.Key) ($($read.Failed[$index]))")
                    }
                    else {
                        $role[$ownerRead.Key] = $read.Lists[$index]
                    }
                }
            }
            foreach ($roleName in $roleProblems.Keys) {
                $module.Warn("host_facts: VM role '$roleName' is reported in part, with null for what could not be read: $($roleProblems[$roleName] -join '; ')")
            }

            $facts['cluster'] = [Ordered]@{
                Name = $cluster.Name
                Nodes = $nodes
                Parameters = [Ordered]@{ ConfigStoreRootPath = $configStoreRootPath }
                SharedVolumes = $sharedVolumes
                VMRoles = $vmRoles
                # What may undo a placement: the CSV balancer, VM load balancing, and whether anti-affinity is
                # enforced (cluster common properties; null where the cluster does not have them).
                CsvBalancer = ConvertTo-NullableInt -Value $cluster.CsvBalancer
                AutoBalancerMode = ConvertTo-NullableInt -Value $cluster.AutoBalancerMode
                AutoBalancerLevel = ConvertTo-NullableInt -Value $cluster.AutoBalancerLevel
                ClusterEnforcedAntiAffinity = ConvertTo-NullableInt -Value $cluster.ClusterEnforcedAntiAffinity
            }
        }
    }
    catch {
        if ($gatherSubset -contains 'cluster') {
            $module.FailJson("host_facts: reading the failover cluster on $node failed: $($_.Exception.Message)", $_)
        }
        # Read only for the VMs' anti-affinity class names: the VMs are still reported, without them.
        $antiAffinityByVMId = @{}
        $module.Warn("host_facts: reading the failover cluster on $node failed, so AntiAffinityClassNames is [] for every VM: $($_.Exception.Message)")
    }
}
elseif ($gatherSubset -contains 'cluster') {
    $facts['cluster'] = $null
}

# --- the VMs -----------------------------------------------------------------------------------------

if ($gatherSubset -contains 'vms') {
    $withCheckpoints = $gatherSubset -contains 'checkpoints'
    try {
        $vmList = @(Hyper-V\Get-VM -ErrorAction Stop)
    }
    catch {
        $module.FailJson("host_facts: reading the VMs on $node failed: $($_.Exception.Message)", $_)
    }

    # Each cmdlet once for all VMs (-VM takes an array), then grouped by VMId; per VM when that fails.
    # Failed: fact key -> @{ VMId = message } of the VMs whose read failed.
    $failed = @{}
    $controllersByVM = @{}
    $disksByVM = @{}
    $integrationByVM = @{}
    $checkpointsByVM = @{}
    if ($vmList.Count -gt 0) {
        $read = Invoke-ForVMs -VMs $vmList -Cmdlet Get-VMScsiController -Read {
            param ($VMs) Hyper-V\Get-VMScsiController -VM $VMs -ErrorAction Stop
        }
        $controllersByVM = Group-ByVMId -InputObject $read.Output
        $failed.ScsiControllers = $read.Failed
        $read = Invoke-ForVMs -VMs $vmList -Cmdlet Get-VMHardDiskDrive -Read {
            param ($VMs) Hyper-V\Get-VMHardDiskDrive -VM $VMs -ErrorAction Stop
        }
        $disksByVM = Group-ByVMId -InputObject $read.Output
        $failed.HardDisks = $read.Failed
        $read = Invoke-ForVMs -VMs $vmList -Cmdlet Get-VMIntegrationService -Read {
            param ($VMs) Hyper-V\Get-VMIntegrationService -VM $VMs -ErrorAction Stop
        }
        $integrationByVM = Group-ByVMId -InputObject @($read.Output | Where-Object {
            $_.Id -like "*\$vssIntegrationComponentId"
        })
        $failed.BackupIntegration = $read.Failed
        if ($withCheckpoints) {
            $read = Invoke-ForVMs -VMs $vmList -Cmdlet Get-VMSnapshot -Read {
                param ($VMs) Hyper-V\Get-VMSnapshot -VM $VMs -ErrorAction Stop
            }
            $checkpointsByVM = Group-ByVMId -InputObject $read.Output
            $failed.Checkpoints = $read.Failed
        }
    }

    # FileSize of each disk: Get-VHD once for every path, one call per path when that fails. Not for a shared
    # disk (a VHD Set, or a VHDX with persistent reservations): Get-VHD reads a VHD in use on shared storage
    # only from the host using it, and a shared disk is used by the VMs of several hosts; its FileSize is null.
    $fileSizes = @{}
    $sizeFailed = @{}
    $sizedPaths = New-Object -TypeName 'System.Collections.Generic.HashSet[String]' -ArgumentList ([StringComparer]::OrdinalIgnoreCase)
    foreach ($vmDisks in $disksByVM.Values) {
        foreach ($disk in $vmDisks) {
            if (Test-SizedDisk -Disk $disk) {
                $null = $sizedPaths.Add([String]$disk.Path)
            }
        }
    }
    if ($sizedPaths.Count -gt 0) {
        $pathList = @($sizedPaths)
        try {
            foreach ($vhd in @(Hyper-V\Get-VHD -Path $pathList -ErrorAction Stop)) {
                $fileSizes[([String]$vhd.Path).ToUpperInvariant()] = [int64]$vhd.FileSize
            }
        }
        catch {
            foreach ($path in $pathList) {
                try {
                    foreach ($vhd in @(Hyper-V\Get-VHD -Path $path -ErrorAction Stop)) {
                        $fileSizes[([String]$vhd.Path).ToUpperInvariant()] = [int64]$vhd.FileSize
                    }
                }
                catch {
                    $sizeFailed[$path.ToUpperInvariant()] = "Get-VHD: $($_.Exception.Message)"
                }
            }
        }
    }

    $vms = [System.Collections.Generic.List[Object]]@()
    foreach ($vm in $vmList) {
        $vmId = $null
        $vmName = $null
        try {
            $vmId = $vm.Id.ToString().ToLowerInvariant()
            # Each property of Get-VM's object read on its own: one that throws is null, the rest is reported.
            $problems = [System.Collections.Generic.List[String]]@()
            $vmName = Read-Property -Name Name -Problems $problems -Read { [String]$vm.Name }
            # What could not be read for this VM: fact key -> message.
            $unread = [Ordered]@{}
            foreach ($key in @($failed.Keys | Sort-Object)) {
                if ($failed[$key].ContainsKey($vmId)) {
                    $unread[$key] = $failed[$key][$vmId]
                }
            }
            if ($unread.Count -gt 0) {
                # Still on this node? A VM migrated away between two reads is reported by its new node.
                try {
                    $null = Hyper-V\Get-VM -Id $vm.Id -ErrorAction Stop
                }
                catch {
                    $module.Warn("host_facts: VM '$vmName' ($vmId) was listed on $node but is no longer there (moved to another node or removed while it was read), so it is left out: $($_.Exception.Message)")
                    continue
                }
            }
            $properties = [Ordered]@{ Name = $vmName }
            $properties.State = Read-Property -Name State -Problems $problems -Read { $vm.State.ToString() }
            $properties.Generation = Read-Property -Name Generation -Problems $problems -Read { [int]$vm.Generation }
            $properties.Version = Read-Property -Name Version -Problems $problems -Read { [String]$vm.Version }
            $properties.ProcessorCount = Read-Property -Name ProcessorCount -Problems $problems -Read {
                [int]$vm.ProcessorCount
            }
            $properties.MemoryStartup = Read-Property -Name MemoryStartup -Problems $problems -Read {
                [int64]$vm.MemoryStartup
            }
            $properties.MemoryAssigned = Read-Property -Name MemoryAssigned -Problems $problems -Read {
                [int64]$vm.MemoryAssigned
            }
            $properties.DynamicMemoryEnabled = Read-Property -Name DynamicMemoryEnabled -Problems $problems -Read {
                [bool]$vm.DynamicMemoryEnabled
            }
            $properties.CheckpointType = Read-Property -Name CheckpointType -Problems $problems -Read {
                $vm.CheckpointType.ToString()
            }
            $properties.AutomaticCheckpointsEnabled = $null
            if ($automaticCheckpointsSupported) {
                $properties.AutomaticCheckpointsEnabled = Read-Property -Name AutomaticCheckpointsEnabled -Problems $problems -Read {
                    [bool]$vm.AutomaticCheckpointsEnabled
                }
            }
            $properties.Path = Read-Property -Name Path -Problems $problems -Read { $vm.Path }
            $properties.IsClustered = Read-Property -Name IsClustered -Problems $problems -Read { [bool]$vm.IsClustered }

            $hardDisks = $null
            if (-not $unread.Contains('HardDisks')) {
                $hardDisks = [System.Collections.Generic.List[Object]]@()
                foreach ($disk in (Get-Group -Groups $disksByVM -Key $vmId)) {
                    $diskPath = $disk.Path
                    $fileSize = $null
                    if (Test-SizedDisk -Disk $disk) {
                        $sizeKey = ([String]$diskPath).ToUpperInvariant()
                        if ($fileSizes.ContainsKey($sizeKey)) {
                            $fileSize = $fileSizes[$sizeKey]
                        }
                        elseif ($sizeFailed.ContainsKey($sizeKey)) {
                            $problems.Add("FileSize of $diskPath ($($sizeFailed[$sizeKey]))")
                        }
                        else {
                            $problems.Add("FileSize of $diskPath (Get-VHD returned no object for $diskPath)")
                        }
                    }
                    $hardDisks.Add([Ordered]@{
                        Path = $diskPath
                        ControllerType = $disk.ControllerType.ToString()
                        ControllerNumber = [int]$disk.ControllerNumber
                        ControllerLocation = [int]$disk.ControllerLocation
                        SupportPersistentReservations = [bool]$disk.SupportPersistentReservations
                        IsVhdSet = ($null -ne $diskPath) -and $diskPath.EndsWith('.vhds', [StringComparison]::OrdinalIgnoreCase)
                        FileSize = $fileSize
                    })
                }
            }

            # DiskCount: the hard disks attached to the controller (DVD drives are not counted); null when the
            # disks could not be read.
            $scsiControllers = $null
            if (-not $unread.Contains('ScsiControllers')) {
                $scsiControllers = [System.Collections.Generic.List[Object]]@()
                foreach ($controller in (Get-Group -Groups $controllersByVM -Key $vmId)) {
                    $number = [int]$controller.ControllerNumber
                    $diskCount = $null
                    if ($null -ne $hardDisks) {
                        $diskCount = @($hardDisks | Where-Object {
                            $_.ControllerType -eq 'SCSI' -and $_.ControllerNumber -eq $number
                        }).Count
                    }
                    $scsiControllers.Add([Ordered]@{ ControllerNumber = $number; DiskCount = $diskCount })
                }
            }

            $backupIntegration = $null
            $integration = Get-Group -Groups $integrationByVM -Key $vmId
            if ($integration.Count -gt 0) {
                $backupIntegration = [Ordered]@{
                    Enabled = [bool]$integration[0].Enabled
                    PrimaryStatusDescription = $integration[0].PrimaryStatusDescription
                }
            }

            $checkpoints = [System.Collections.Generic.List[Object]]@()
            if ($unread.Contains('Checkpoints')) {
                $checkpoints = $null
            }
            else {
                foreach ($checkpoint in (Get-Group -Groups $checkpointsByVM -Key $vmId)) {
                    # ParentSnapshotId exists on every Hyper-V version (ParentCheckpointId is its later alias).
                    $parentId = $null
                    if ($null -ne $checkpoint.ParentSnapshotId) {
                        $parentId = $checkpoint.ParentSnapshotId.ToString().ToLowerInvariant()
                    }
                    $checkpoints.Add([Ordered]@{
                        Id = $checkpoint.Id.ToString().ToLowerInvariant()
                        Name = $checkpoint.Name
                        SnapshotType = $checkpoint.SnapshotType.ToString()
                        CreationTime = ConvertTo-IsoUtc -Time $checkpoint.CreationTime
                        ParentCheckpointId = $parentId
                    })
                }
            }

            $antiAffinity = @()
            if ($properties.IsClustered -and $antiAffinityByVMId.ContainsKey($vmId)) {
                $antiAffinity = $antiAffinityByVMId[$vmId]
            }
            $record = [Ordered]@{ Id = $vmId }
            foreach ($key in $properties.Keys) {
                $record[$key] = $properties[$key]
            }
            $record.AntiAffinityClassNames = $antiAffinity
            $record.ScsiControllers = $scsiControllers
            $record.HardDisks = $hardDisks
            $record.BackupIntegration = $backupIntegration
            $record.Checkpoints = $checkpoints
            foreach ($key in $unread.Keys) {
                $record[$key] = $null
                $problems.Add("$key ($($unread[$key]))")
            }
            if ($problems.Count -gt 0) {
                $module.Warn("host_facts: VM '$vmName' ($vmId) on $node is reported in part, with null for what could not be read: $($problems -join '; ')")
            }
            $vms.Add($record)
        }
        catch {
            $module.Warn("host_facts: VM '$vmName' ($vmId) on $node could not be read, so it is left out: $($_.Exception.Message)")
        }
    }
    $facts['vms'] = $vms
}

# --- VSS ---------------------------------------------------------------------------------------------

if ($gatherSubset -contains 'vss_access_control') {
    # Account name -> DWORD; a missing key means no account is listed.
    $accessControl = [Ordered]@{}
    $key = Microsoft.PowerShell.Management\Get-Item -LiteralPath $vssAccessControlKey -ErrorAction SilentlyContinue
    if ($null -ne $key) {
        foreach ($valueName in $key.GetValueNames()) {
            if ($valueName -ne '') {
                $accessControl[$valueName] = $key.GetValue($valueName)
            }
        }
    }
    $facts['vss_access_control'] = $accessControl
}

if ($gatherSubset -contains 'vss_writers') {
    # Windows PowerShell turns a native command's stderr into error records; with 'Stop' those would end
    # the module, so they are collected as text instead and the exit code decides.
    $writersText = & {
        $ErrorActionPreference = 'Continue'
        try {
            $output = & vssadmin.exe list writers 2>&1 | ForEach-Object { [String]$_ } | Out-String
            [PSCustomObject]@{ Text = $output; ExitCode = $LASTEXITCODE; Error = $null }
        }
        catch {
            [PSCustomObject]@{ Text = ''; ExitCode = $null; Error = $_.Exception.Message }
        }
    }
    if ($null -ne $writersText.Error) {
        $facts['vss_writers_text'] = $writersText.Error
        $module.Warn("host_facts: vssadmin list writers failed on ${node}: $($writersText.Error)")
    }
    else {
        $facts['vss_writers_text'] = $writersText.Text
        if ($writersText.ExitCode -ne 0) {
            $module.Warn("host_facts: vssadmin list writers failed on $node (exit code $($writersText.ExitCode)); vss_writers_text holds its output")
        }
    }
}

# --- events ------------------------------------------------------------------------------------------
#
# The backup-related events of the last events_days days. The controller decides which (event_queries:
# plugins/plugin_utils/_events.py names each log and event ID and why); this reads each log with ONE
# Get-WinEvent -FilterHashtable call (LogName, ProviderName, Id, StartTime), asking for one event more than
# events_max to tell a log that had more: the newest events_max are kept and the log is 'truncated'.
#
# Get-WinEvent writes non-terminating errors: 'NoMatchingEventsFound' when nothing matches (a normal, empty
# answer, not an error), 'NoMatchingLogsFound' when the log does not exist on this host (reported 'missing'),
# and, for a record it cannot read or format, an error while it goes on with the others (the log is
# 'partial'). Under $ErrorActionPreference = 'Stop' the first of these would end the call and lose the rest,
# so they are collected (-ErrorAction SilentlyContinue -ErrorVariable) and told apart by their
# FullyQualifiedErrorId (Get-WinEvent, https://learn.microsoft.com/powershell/module/microsoft.powershell.diagnostics/get-winevent;
# PowerShell's GetEventCommand writes them so). Anything else that stops the call fails that log only
# ('failed', with a warning): the other logs are still read.
#
# The VM an event names: Hyper-V's VMMS and Worker events carry the VM name and ID ("'SQL01' cannot be hot
# backed up ... (Virtual machine ID D9E0EB0A-...)"). Messages are localized and names need not be unique (a
# name may even look like a GUID), so the ID is reported, from the first of: the event data field named
# VmId; a property of type Guid; the last GUID of the message (Hyper-V's messages end with the VM ID, after
# the name).

$eventMessageLimit = 2000
$guidPattern = '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}'

function Get-EventVMId {
    <#
    .SYNOPSIS
    The lower-case ID of the VM an event names ($Xml: the event's XML; $Values: its property values), or
    $null when it names none.
    #>
    param ([String]$Xml, [Object[]]$Values, [String]$Message)
    $guid = [Guid]::Empty
    try {
        $document = [xml]$Xml
        foreach ($data in @($document.GetElementsByTagName('Data'))) {
            if ($data.GetAttribute('Name') -eq 'VmId' -and [Guid]::TryParse($data.InnerText, [ref]$guid)) {
                return $guid.ToString()
            }
        }
    }
    catch {
        # An event whose XML cannot be read: its properties and message still may name the VM.
        $null = $_
    }
    foreach ($value in $Values) {
        if ($value -is [Guid]) {
            return $value.ToString()
        }
    }
    $found = [regex]::Matches($Message, $guidPattern)
    if ($found.Count -gt 0) {
        return $found[$found.Count - 1].Value.ToLowerInvariant()
    }
    $null
}

if ($gatherSubset -contains 'events') {
    $eventsDays = $module.Params.events_days
    $eventsMax = $module.Params.events_max
    if ($eventsDays -lt 1 -or $eventsMax -lt 1) {
        $module.FailJson("host_facts: events_days ($eventsDays) and events_max ($eventsMax) must be at least 1")
    }
    $until = [DateTime]::UtcNow
    $since = $until.AddDays(-$eventsDays)
    $events = [System.Collections.Generic.List[Object]]@()
    $logs = [System.Collections.Generic.List[Object]]@()
    foreach ($query in @($module.Params.event_queries)) {
        $log = [Ordered]@{
            log = $query.log_name
            provider = $query.provider_name
            ids = @($query.ids)
            status = 'read'
            count = 0
            truncated = $false
            error = $null
        }
        $logs.Add($log)
        $filter = @{ LogName = $query.log_name; Id = [int[]]@($query.ids); StartTime = $since }
        if ($query.provider_name) {
            $filter.ProviderName = $query.provider_name
        }
        try {
            $records = @(Microsoft.PowerShell.Diagnostics\Get-WinEvent -FilterHashtable $filter -MaxEvents ($eventsMax + 1) -ErrorAction SilentlyContinue -ErrorVariable readErrors)
        }
        catch {
            $log.status = 'failed'
            $log.error = $_.Exception.Message
            $module.Warn("host_facts: reading the event log '$($query.log_name)' on $node failed, so its events are not reported: $($log.error)")
            continue
        }
        $problems = [System.Collections.Generic.List[String]]@()
        foreach ($readError in @($readErrors)) {
            $errorId = [String]$readError.FullyQualifiedErrorId
            if ($errorId -like 'NoMatchingEventsFound*') {
                continue
            }
            if ($errorId -like 'NoMatchingLogsFound*') {
                $log.status = 'missing'
                continue
            }
            $problems.Add($readError.Exception.Message)
        }
        # Newest first (Get-WinEvent's order without -Oldest): the first events_max are the newest.
        $kept = $records.Count
        if ($kept -gt $eventsMax) {
            $log.truncated = $true
            $kept = $eventsMax
        }
        for ($index = 0; $index -lt $kept; $index++) {
            $eventRecord = $records[$index]
            try {
                $message = ([String]$eventRecord.Message).Trim()
                if ($message.Length -gt $eventMessageLimit) {
                    $message = $message.Substring(0, $eventMessageLimit) + '...'
                }
                $vmId = $null
                if ($query.names_vm) {
                    $values = @(foreach ($property in $eventRecord.Properties) { $property.Value })
                    $vmId = Get-EventVMId -Xml $eventRecord.ToXml() -Values $values -Message $message
                }
                $level = $null
                if ($null -ne $eventRecord.Level) {
                    $level = [int]$eventRecord.Level
                }
                $events.Add([Ordered]@{
                    LogName = $eventRecord.LogName
                    ProviderName = $eventRecord.ProviderName
                    Id = [int]$eventRecord.Id
                    Level = $level
                    TimeCreated = ConvertTo-IsoUtc -Time $eventRecord.TimeCreated
                    Message = $message
                    VMId = $vmId
                })
                # Index syntax: on a dictionary, .count could mean its Count property.
                $log['count'] = $log['count'] + 1
            }
            catch {
                $problems.Add($_.Exception.Message)
            }
        }
        if ($problems.Count -gt 0) {
            $log.status = if ($log['count'] -gt 0) { 'partial' } else { 'failed' }
            $log.error = $problems[0]
            $module.Warn("host_facts: $($problems.Count) error(s) reading the event log '$($query.log_name)' on ${node}; an event that could not be read is left out: $($problems[0])")
        }
    }
    $facts['events'] = $events
    $facts['event_logs'] = [Ordered]@{
        days = $eventsDays
        since = ConvertTo-IsoUtc -Time $since
        until = ConvertTo-IsoUtc -Time $until
        max_per_log = $eventsMax
        logs = $logs
    }
}

# --- ACLs --------------------------------------------------------------------------------------------

$acls = [System.Collections.Generic.List[Object]]@()
# Paths already read (a PowerShell hashtable compares keys without regard to case, as Windows compares paths).
$aclRead = @{}
foreach ($aclPath in $aclPaths) {
    try {
        $acls.Add((Read-FolderAcl -Path $aclPath))
    }
    catch {
        $module.FailJson((Get-AclPathError -Path $aclPath -ErrorRecord $_), $_)
    }
    $aclRead[(Get-PathKey -Path $aclPath)] = $true
}

# vhd_set_acls: the folders that hold a VHD Set (.vhds) file of a VM of this node, each once, sorted. A
# folder that cannot be read is a warning, not a failed node: it was not asked for by name.
if ($gatherSubset -contains 'vhd_set_acls') {
    $vhdSetFolders = @{}
    foreach ($record in $facts['vms']) {
        foreach ($disk in @($record.HardDisks)) {
            if ($null -eq $disk -or -not $disk.IsVhdSet) {
                continue
            }
            try {
                $folder = [System.IO.Path]::GetDirectoryName($disk.Path)
            }
            catch {
                $module.Warn("host_facts: the folder of VHD Set '$($disk.Path)' of VM '$($record.Name)' cannot be found from its path, so its ACL is left out of acls: $($_.Exception.GetBaseException().Message)")
                continue
            }
            if ($folder -and -not $vhdSetFolders.ContainsKey($folder)) {
                $vhdSetFolders[$folder] = $true
            }
        }
    }
    foreach ($folder in @($vhdSetFolders.Keys | Sort-Object)) {
        if ($aclRead.ContainsKey((Get-PathKey -Path $folder))) {
            continue
        }
        $aclRead[(Get-PathKey -Path $folder)] = $true
        try {
            $null = Microsoft.PowerShell.Management\Get-Item -LiteralPath $folder -Force -ErrorAction Stop
            $acls.Add((Read-FolderAcl -Path $folder))
        }
        catch {
            $module.Warn("$(Get-AclPathError -Path $folder -ErrorRecord $_ -What 'VHD Set folder'); its ACL is left out of acls")
        }
    }
}

if ($aclPaths.Count -gt 0 -or ($gatherSubset -contains 'vhd_set_acls')) {
    $facts['acls'] = $acls
}

$module.Result.ansible_facts = @{ hyperv_backup = $facts }
$module.ExitJson()
