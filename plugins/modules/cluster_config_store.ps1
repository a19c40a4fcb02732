#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# Sets ConfigStoreRootPath, a private parameter of the cluster resource of type 'Virtual Machine Cluster WMI',
# once (docs/windows-contract.md, cluster_config_store). The action plugin has judged the path against the
# cluster's CSVs; this module reads the value again before changing it, so a value set meanwhile (by another
# node, another run) is never overwritten: Windows refuses to change it once set ("The request is not
# supported", Microsoft KB 4488568). The folder must exist before the value is set (a value naming a missing
# folder breaks live migration and cannot be corrected); it is created when create_folder says so, and removed
# again when setting the value then fails. The value is read back after Set-ClusterParameter.

$spec = @{
    options = @{
        path = @{ type = 'str'; required = $true }
        create_folder = @{ type = 'bool'; default = $true }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

$node = $env:COMPUTERNAME.ToUpperInvariant()
$resourceType = 'Virtual Machine Cluster WMI'
$path = $module.Params.path
$createFolder = $module.Params.create_folder

# --- arguments: the controller validated the path; a host still refuses what is not an absolute folder ---

if ($path -match '[\x00-\x1f\x7f]') {
    $module.FailJson("cluster_config_store: path '$path' contains a control character; a Windows folder name cannot")
}
if ($path -notmatch '^[A-Za-z]:\\') {
    $module.FailJson("cluster_config_store: path '$path' is not an absolute path on a drive (such as C:\ClusterStorage\Volume1\Hyper-V\ConfigStore)")
}
if ($path -match '(^|\\)\.{1,2}(\\|$)') {
    $module.FailJson("cluster_config_store: path '$path' has a . or .. segment; give the folder itself")
}

function ConvertTo-PathKey {
    <#
    .SYNOPSIS
    The comparison key of a Windows path: backslashes, no doubled or trailing separator, upper case.
    #>
    param ([String]$Path)
    $text = ($Path -replace '/', '\') -replace '(?<!^)\\{2,}', '\'
    if ($text.Length -gt 3) {
        $text = $text.TrimEnd('\')
    }
    $text.ToUpperInvariant()
}

function Test-Folder {
    <#
    .SYNOPSIS
    Whether the folder exists: $true, $false when it does not; throws when it cannot be read or is a file.
    Get-Item, not Test-Path: Test-Path says $false for a folder that exists but may not be read.
    #>
    param ([String]$Path)
    try {
        $item = Microsoft.PowerShell.Management\Get-Item -LiteralPath $Path -Force -ErrorAction Stop
    }
    catch [System.Management.Automation.ItemNotFoundException] {
        return $false
    }
    if (-not ($item -is [System.IO.DirectoryInfo])) {
        throw "'$Path' exists on $node but is not a folder"
    }
    $true
}

function Read-ConfigStoreRootPath {
    <#
    .SYNOPSIS
    The value of ConfigStoreRootPath of the resource: '' when unset.
    #>
    param ($Resource)
    $parameter = FailoverClusters\Get-ClusterParameter -InputObject $Resource -Name ConfigStoreRootPath -ErrorAction Stop
    if ($null -eq $parameter -or $null -eq $parameter.Value) {
        return ''
    }
    [String]$parameter.Value
}

function Remove-CreatedFolder {
    <#
    .SYNOPSIS
    Remove the folders this run created, deepest first, each only while it is empty ([IO.Directory]::Delete
    without recursion refuses a folder with content). Returns the folders it could not remove.
    #>
    param ([String[]]$Folders)
    $left = [System.Collections.Generic.List[String]]@()
    for ($index = $Folders.Count - 1; $index -ge 0; $index--) {
        try {
            [System.IO.Directory]::Delete($Folders[$index])
        }
        catch {
            $left.Add("$($Folders[$index]) ($($_.Exception.Message))")
        }
    }
    , $left
}

# --- the cluster ----------------------------------------------------------------------------------------

# The cluster cmdlets answer only where the cluster service runs, and need the FailoverClusters module.
$clusService = Microsoft.PowerShell.Management\Get-Service -Name ClusSvc -ErrorAction SilentlyContinue
if ($null -eq $clusService) {
    $module.FailJson("cluster_config_store: $node is not a node of a failover cluster (it has no cluster service), so ConfigStoreRootPath cannot be set from it")
}
$serviceState = $clusService.Status.ToString()
if ($serviceState -ne 'Running') {
    $module.FailJson("cluster_config_store: the cluster service (ClusSvc) is $serviceState on $node; start it (Start-ClusterNode) or run the task on another node of the cluster")
}
if (-not (Microsoft.PowerShell.Core\Get-Module -ListAvailable -Name FailoverClusters)) {
    $module.FailJson("cluster_config_store: $node runs the cluster service (ClusSvc) but has no FailoverClusters PowerShell module; install it: Install-WindowsFeature RSAT-Clustering-PowerShell")
}
try {
    Microsoft.PowerShell.Core\Import-Module -Name FailoverClusters -ErrorAction Stop
    # Found by its type: an administrator may rename the resource.
    $resource = @(FailoverClusters\Get-ClusterResource -ErrorAction Stop |
        Where-Object { $_.ResourceType.Name -eq $resourceType }) | Select-Object -First 1
}
catch {
    $module.FailJson("cluster_config_store: reading the cluster resources on $node failed: $($_.Exception.Message)", $_)
}
if ($null -eq $resource) {
    $module.FailJson("cluster_config_store: the failover cluster has no resource of type '$resourceType', which holds ConfigStoreRootPath, so nothing was changed; failover clusters of Windows Server 2016 and later whose nodes run Hyper-V have it in the core cluster group")
}
$module.Result.resource = $resource.Name

try {
    $before = Read-ConfigStoreRootPath -Resource $resource
}
catch {
    $module.FailJson("cluster_config_store: reading ConfigStoreRootPath of '$($resource.Name)' on $node failed: $($_.Exception.Message)", $_)
}
$module.Result.before = @{ ConfigStoreRootPath = $before }
$module.Result.after = @{ ConfigStoreRootPath = $before }
$module.Result.status = 'ok'

# Set only when empty; the same folder is ok; another one is never overwritten.
if ($before -ne '') {
    if ((ConvertTo-PathKey -Path $before) -ne (ConvertTo-PathKey -Path $path)) {
        $module.Result.status = 'conflict'
        $module.Result.msg = "ConfigStoreRootPath is already '$before' (read on $node); Windows does not allow changing it once set, so '$path' was not set"
    }
    $module.ExitJson()
}

# --- the folder -----------------------------------------------------------------------------------------

try {
    $exists = Test-Folder -Path $path
}
catch {
    $module.FailJson("cluster_config_store: the folder '$path' cannot be read on ${node}: $($_.Exception.Message); nothing was set", $_)
}
if (-not $exists -and -not $createFolder) {
    $module.FailJson("cluster_config_store: the folder '$path' does not exist on $node; ConfigStoreRootPath must name a folder that exists, so nothing was set: create it, or let the task create it (create_folder: true)")
}

if ($module.CheckMode) {
    $module.Result.status = 'changed'
    $module.Result.changed = $true
    $module.Result.after = @{ ConfigStoreRootPath = $path }
    $module.Result.folder_created = -not $exists
    $module.ExitJson()
}

# The folders to create, from the first that is missing down to the folder itself.
$created = [System.Collections.Generic.List[String]]@()
$module.Result.folder_created = $false
if (-not $exists) {
    $missing = [System.Collections.Generic.List[String]]@()
    $folder = $path.TrimEnd('\')
    try {
        while ($null -ne $folder -and -not (Test-Folder -Path $folder)) {
            $missing.Insert(0, $folder)
            $folder = [System.IO.Path]::GetDirectoryName($folder)
        }
        foreach ($folder in $missing) {
            $null = Microsoft.PowerShell.Management\New-Item -Path $folder -ItemType Directory -Force -ErrorAction Stop
            $created.Add($folder)
        }
    }
    catch {
        $errorRecord = $_
        $left = Remove-CreatedFolder -Folders $created
        $module.Result.folder_created = $left.Count -gt 0
        $module.FailJson("cluster_config_store: creating the folder '$path' on $node failed: $($errorRecord.Exception.Message); nothing was set", $errorRecord)
    }
    $module.Result.folder_created = $true
    $module.Result.changed = $true
}

# --- the value ------------------------------------------------------------------------------------------

$setWarnings = @()
try {
    FailoverClusters\Set-ClusterParameter -InputObject $resource -Name ConfigStoreRootPath -Value $path -ErrorAction Stop -WarningVariable setWarnings -WarningAction SilentlyContinue
}
catch {
    # Kept: the read below has its own catch.
    $errorRecord = $_
    $message = $errorRecord.Exception.Message
    $now = $null
    try {
        $now = Read-ConfigStoreRootPath -Resource $resource
    }
    catch {
        $now = $null
    }
    if ($null -ne $now -and $now -ne '') {
        # Set meanwhile (another node, another run): what is there stays, as it would have anyway.
        $module.Result.after = @{ ConfigStoreRootPath = $now }
        $module.Result.before = @{ ConfigStoreRootPath = $now }
        if ((ConvertTo-PathKey -Path $now) -eq (ConvertTo-PathKey -Path $path)) {
            $module.Result.status = 'ok'
        }
        else {
            # Another folder won: the folders this run created for its own are not needed.
            $left = Remove-CreatedFolder -Folders $created
            $module.Result.folder_created = $left.Count -gt 0
            $module.Result.changed = $left.Count -gt 0
            $module.Result.status = 'conflict'
            $module.Result.msg = "ConfigStoreRootPath was set to '$now' meanwhile (read on $node after Set-ClusterParameter failed: $message); Windows does not allow changing it once set, so '$path' was not set"
        }
        $module.ExitJson()
    }
    $left = Remove-CreatedFolder -Folders $created
    $module.Result.folder_created = $left.Count -gt 0
    $module.Result.changed = $left.Count -gt 0
    $removal = ''
    if ($created.Count -gt 0 -and $left.Count -eq 0) {
        $removal = '; the folder this run created was removed again'
    }
    elseif ($left.Count -gt 0) {
        $removal = "; the folders this run created could not all be removed: $($left -join ', ')"
    }
    $module.FailJson("cluster_config_store: setting ConfigStoreRootPath of '$($resource.Name)' to '$path' on $node failed: $message$removal", $errorRecord)
}
$module.Result.changed = $true
$module.Result.status = 'changed'
$module.Result.after = @{ ConfigStoreRootPath = $path }
foreach ($warning in $setWarnings) {
    $module.Warn("cluster_config_store: Set-ClusterParameter on ${node}: $warning")
}

try {
    $after = Read-ConfigStoreRootPath -Resource $resource
}
catch {
    $module.FailJson("cluster_config_store: reading ConfigStoreRootPath back after Set-ClusterParameter on $node failed: $($_.Exception.Message)", $_)
}
$module.Result.after = @{ ConfigStoreRootPath = $after }
if ((ConvertTo-PathKey -Path $after) -ne (ConvertTo-PathKey -Path $path)) {
    $module.FailJson("cluster_config_store: Set-ClusterParameter returned without an error on $node, but ConfigStoreRootPath is '$after' (asked: '$path')")
}

$module.ExitJson()
