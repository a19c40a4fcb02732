#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils.HyperVBackup

# Reads what one node sees, in one round trip, and changes nothing (docs/windows-contract.md, host_facts).
# The action plugin expands the user's gather_subset forms (all, min, !name) into the explicit list this
# module takes. Each Hyper-V cmdlet is called once for all VMs of the node and its output is grouped by
# VMId, so the cost does not grow with one call per VM.

$subsets = @('cluster', 'vms', 'checkpoints', 'vss_access_control', 'vss_writers')

$spec = @{
    options = @{
        gather_subset = @{ type = 'list'; elements = 'str'; choices = $subsets; default = $subsets }
        acl_paths = @{ type = 'list'; elements = 'str'; default = @() }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

$node = $env:COMPUTERNAME.ToUpperInvariant()
$invariant = [System.Globalization.CultureInfo]::InvariantCulture

# Automatic checkpoints exist from Windows build 16299 (version 1709).
$automaticCheckpointsMinBuild = 16299

# The VSS (Backup) integration service is found by the integration component GUID that ends its Id
# ("Microsoft:<VMId>\5CED1297-4598-4915-A5FC-AD21BB4D02A4"); its Name is localized.
$vssIntegrationComponentId = '5CED1297-4598-4915-A5FC-AD21BB4D02A4'

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

Import-HyperVModule -Module $module -ModuleName host_facts

$aclPaths = @($module.Params.acl_paths)
foreach ($aclPath in $aclPaths) {
    if ($aclPath -notmatch $absolutePathPattern) {
        $module.FailJson("host_facts: acl_paths item '$aclPath' is not an absolute path")
    }
    if (-not (Test-Path -LiteralPath $aclPath)) {
        $module.FailJson("host_facts: acl_paths item '$aclPath' does not exist on $node")
    }
}

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

function Resolve-AccountName {
    <#
    .SYNOPSIS
    The account name of a SID as this node resolves it, or the SID string where it does not resolve
    (NT VIRTUAL MACHINE\<VM GUID> resolves only on the node where that VM is registered).
    #>
    param ([System.Security.Principal.SecurityIdentifier]$Sid)
    try {
        $Sid.Translate([System.Security.Principal.NTAccount]).Value
    }
    catch {
        $Sid.Value
    }
}

function Get-NodeName {
    <#
    .SYNOPSIS
    A cluster node's name in upper case, as node names are reported ($null for no node).
    #>
    param ($ClusterNode)
    if ($null -eq $ClusterNode) {
        return $null
    }
    ([String]$ClusterNode.Name).ToUpperInvariant()
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

# --- the node ----------------------------------------------------------------------------------------

$osVersion = [Environment]::OSVersion.Version
try {
    $dnsHostName = [System.Net.Dns]::GetHostEntry('').HostName
}
catch {
    $dnsHostName = $env:COMPUTERNAME.ToLowerInvariant()
}
$automaticCheckpointsSupported = $osVersion.Build -ge $automaticCheckpointsMinBuild

$facts = [Ordered]@{
    schema = 1
    gather_subset = $gatherSubset
    node = [Ordered]@{
        Name = $node
        DnsHostName = $dnsHostName
        OsVersion = '{0}.{1}.{2}' -f $osVersion.Major, $osVersion.Minor, $osVersion.Build
        OsBuild = $osVersion.Build
        AutomaticCheckpointsSupported = $automaticCheckpointsSupported
    }
}

# --- the cluster -------------------------------------------------------------------------------------

# The cluster cmdlets answer only where the cluster service runs; a node that is not in a failover
# cluster (or has no FailoverClusters module) has cluster = $null.
$clusService = Get-Service -Name ClusSvc -ErrorAction SilentlyContinue
$clustered = ($null -ne $clusService) -and ($clusService.Status -eq 'Running') -and
    ($null -ne (Get-Module -ListAvailable -Name FailoverClusters))

# VMId (lower-case string) -> the AntiAffinityClassNames of the VM's cluster group. A VM role is a cluster
# group of GroupType VirtualMachine whose name the administrator may change, so a group is matched to its
# VM not by name but by the VmID private parameter of the group's 'Virtual Machine' resource.
$antiAffinityByVMId = @{}
$vmRoles = [System.Collections.Generic.List[Object]]@()

if ($clustered -and (($gatherSubset -contains 'cluster') -or ($gatherSubset -contains 'vms'))) {
    try {
        Import-Module -Name FailoverClusters -ErrorAction Stop
        $vmGroups = @(Get-ClusterGroup -ErrorAction Stop | Where-Object {
            $_.GroupType.ToString() -eq 'VirtualMachine'
        })
        $resources = @(Get-ClusterResource -ErrorAction Stop)
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
            }
            $roleByName[$group.Name] = $role
            $vmRoles.Add($role)
        }
        if ($vmGroups.Count -gt 0) {
            # One pipeline for every VM resource of the cluster, not one call per group.
            $vmIdParameters = @($resources |
                Where-Object { $_.ResourceType.Name -eq 'Virtual Machine' } |
                Get-ClusterParameter -Name VmID -ErrorAction SilentlyContinue)
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
            $cluster = Get-Cluster -ErrorAction Stop

            $nodes = [System.Collections.Generic.List[Object]]@()
            foreach ($clusterNode in Get-ClusterNode -ErrorAction Stop) {
                $nodes.Add([Ordered]@{
                    Name = Get-NodeName -ClusterNode $clusterNode
                    State = $clusterNode.State.ToString()
                    Id = [String]$clusterNode.Id
                })
            }

            # ConfigStoreRootPath is a parameter of the resource 'Virtual Machine Cluster WMI', not of the
            # cluster: '' when unset, $null when the resource does not exist.
            $configStoreRootPath = $null
            $wmiResource = $resources | Where-Object { $_.Name -eq 'Virtual Machine Cluster WMI' } | Select-Object -First 1
            if ($null -ne $wmiResource) {
                $configStoreRootPath = ''
                $parameter = Get-ClusterParameter -InputObject $wmiResource -Name ConfigStoreRootPath -ErrorAction SilentlyContinue
                if ($null -ne $parameter -and $null -ne $parameter.Value) {
                    $configStoreRootPath = [String]$parameter.Value
                }
            }

            $sharedVolumes = [System.Collections.Generic.List[Object]]@()
            foreach ($volume in Get-ClusterSharedVolume -ErrorAction Stop) {
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

            $facts['cluster'] = [Ordered]@{
                Name = $cluster.Name
                Nodes = $nodes
                Parameters = [Ordered]@{ ConfigStoreRootPath = $configStoreRootPath }
                SharedVolumes = $sharedVolumes
                VMRoles = $vmRoles
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
    $vmList = @()
    $controllersByVM = @{}
    $disksByVM = @{}
    $integrationByVM = @{}
    $checkpointsByVM = @{}
    try {
        $vmList = @(Get-VM -ErrorAction Stop)
        if ($vmList.Count -gt 0) {
            # Each cmdlet once for all VMs (-VM takes an array), then grouped by VMId.
            $controllersByVM = Group-ByVMId -InputObject @(Get-VMScsiController -VM $vmList -ErrorAction Stop)
            $disksByVM = Group-ByVMId -InputObject @(Get-VMHardDiskDrive -VM $vmList -ErrorAction Stop)
            $integrationByVM = Group-ByVMId -InputObject @(
                Get-VMIntegrationService -VM $vmList -ErrorAction Stop | Where-Object {
                    $_.Id -like "*\$vssIntegrationComponentId"
                }
            )
            if ($withCheckpoints) {
                $checkpointsByVM = Group-ByVMId -InputObject @(Get-VMSnapshot -VM $vmList -ErrorAction Stop)
            }
        }
    }
    catch {
        $module.FailJson("host_facts: reading the VMs on $node failed: $($_.Exception.Message)", $_)
    }

    $vms = [System.Collections.Generic.List[Object]]@()
    foreach ($vm in $vmList) {
        $vmId = $vm.Id.ToString().ToLowerInvariant()

        $hardDisks = [System.Collections.Generic.List[Object]]@()
        foreach ($disk in (Get-Group -Groups $disksByVM -Key $vmId)) {
            $diskPath = $disk.Path
            $hardDisks.Add([Ordered]@{
                Path = $diskPath
                ControllerType = $disk.ControllerType.ToString()
                ControllerNumber = [int]$disk.ControllerNumber
                ControllerLocation = [int]$disk.ControllerLocation
                SupportPersistentReservations = [bool]$disk.SupportPersistentReservations
                IsVhdSet = ($null -ne $diskPath) -and $diskPath.EndsWith('.vhds', [StringComparison]::OrdinalIgnoreCase)
            })
        }

        # DiskCount: the hard disks attached to the controller (DVD drives are not counted).
        $scsiControllers = [System.Collections.Generic.List[Object]]@()
        foreach ($controller in (Get-Group -Groups $controllersByVM -Key $vmId)) {
            $number = [int]$controller.ControllerNumber
            $diskCount = @($hardDisks | Where-Object {
                $_.ControllerType -eq 'SCSI' -and $_.ControllerNumber -eq $number
            }).Count
            $scsiControllers.Add([Ordered]@{ ControllerNumber = $number; DiskCount = $diskCount })
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

        $automaticCheckpoints = $null
        if ($automaticCheckpointsSupported) {
            $automaticCheckpoints = [bool]$vm.AutomaticCheckpointsEnabled
        }

        $antiAffinity = @()
        if ($vm.IsClustered -and $antiAffinityByVMId.ContainsKey($vmId)) {
            $antiAffinity = $antiAffinityByVMId[$vmId]
        }

        $vms.Add([Ordered]@{
            Id = $vmId
            Name = $vm.Name
            State = $vm.State.ToString()
            Generation = [int]$vm.Generation
            Version = [String]$vm.Version
            ProcessorCount = [int]$vm.ProcessorCount
            MemoryStartup = [int64]$vm.MemoryStartup
            DynamicMemoryEnabled = [bool]$vm.DynamicMemoryEnabled
            CheckpointType = $vm.CheckpointType.ToString()
            AutomaticCheckpointsEnabled = $automaticCheckpoints
            Path = $vm.Path
            IsClustered = [bool]$vm.IsClustered
            AntiAffinityClassNames = $antiAffinity
            ScsiControllers = $scsiControllers
            HardDisks = $hardDisks
            BackupIntegration = $backupIntegration
            Checkpoints = $checkpoints
        })
    }
    $facts['vms'] = $vms
}

# --- VSS ---------------------------------------------------------------------------------------------

if ($gatherSubset -contains 'vss_access_control') {
    # Account name -> DWORD; a missing key means no account is listed.
    $accessControl = [Ordered]@{}
    $key = Get-Item -LiteralPath $vssAccessControlKey -ErrorAction SilentlyContinue
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

# --- ACLs --------------------------------------------------------------------------------------------

if ($aclPaths.Count -gt 0) {
    $acls = [System.Collections.Generic.List[Object]]@()
    foreach ($aclPath in $aclPaths) {
        try {
            $acl = Get-Acl -LiteralPath $aclPath -ErrorAction Stop
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
        }
        catch {
            $module.FailJson("host_facts: reading the ACL of acl_paths item '$aclPath' on $node failed: $($_.Exception.Message)", $_)
        }
        $ownerName = $null
        $ownerSidValue = $null
        if ($null -ne $ownerSid) {
            $ownerName = Resolve-AccountName -Sid $ownerSid
            $ownerSidValue = $ownerSid.Value
        }
        $acls.Add([Ordered]@{
            Path = $aclPath
            Owner = $ownerName
            OwnerSid = $ownerSidValue
            Access = $access
        })
    }
    $facts['acls'] = $acls
}

$module.Result.ansible_facts = @{ hyperv_backup = $facts }
$module.ExitJson()
