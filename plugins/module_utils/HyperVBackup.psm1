# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# What the PowerShell modules of hyperv.backup share: loading the Hyper-V module, finding the VM an
# operation names, asking the host which parameters a cmdlet has, naming cluster nodes (docs/windows-contract.md).
#
# Patterns every module of this collection follows (docs/windows-contract.md, "Conventions"):
# - Cmdlets are called module-qualified (Hyper-V\Get-VM, FailoverClusters\Get-ClusterGroup,
#   Microsoft.PowerShell.Management\Get-Item, Microsoft.PowerShell.Core\Wait-Job, ...): a bare name binds
#   by autoload in PSModulePath order, and on a host with VMware PowerCLI, Get-VM is VMware's.
# - Each item of an apply loop (VM, folder, account, move) has its own try/catch(/finally): a failure is
#   that item's status 'failed' with 'error', and the others go on. Ansible runs modules with
#   $ErrorActionPreference = 'Stop', so any unguarded call would end the module.
# - $module.FailJson returns every Result field set so far: a module sets its list of items (vms, ...)
#   only once its arguments are accepted, so a failure before that shows only its msg.
# - Features are detected by asking the host (Test-CommandParameter), not by build number.
# - What is written is read back and verified: an item whose setting did not take fails.

Function Import-HyperVModule {
    <#
    .SYNOPSIS
    Import the Hyper-V module, or fail the Ansible module with the contract's message. A module-qualified
    call would autoload it too, but with a less clear error where it is missing.
    #>
    param (
        [Parameter(Mandatory = $true)]$Module,
        [Parameter(Mandatory = $true)][String]$ModuleName
    )
    if (-not (Microsoft.PowerShell.Core\Get-Module -ListAvailable -Name Hyper-V)) {
        $Module.FailJson("${ModuleName}: the Hyper-V PowerShell module is not available on $env:COMPUTERNAME; install the Hyper-V management tools")
    }
    try {
        Microsoft.PowerShell.Core\Import-Module -Name Hyper-V -ErrorAction Stop
    }
    catch {
        $Module.FailJson("${ModuleName}: importing the Hyper-V PowerShell module on $env:COMPUTERNAME failed: $($_.Exception.Message)", $_)
    }
}

Function Test-CommandParameter {
    <#
    .SYNOPSIS
    Whether the cmdlet -Name of the module -ModuleName has the parameter -Parameter on this host: how a
    feature is detected (Set-VM -AutomaticCheckpointsEnabled exists from Windows build 16299 on).
    #>
    param (
        [Parameter(Mandatory = $true)][String]$Name,
        [Parameter(Mandatory = $true)][String]$ModuleName,
        [Parameter(Mandatory = $true)][String]$Parameter
    )
    $command = Microsoft.PowerShell.Core\Get-Command -Name $Name -Module $ModuleName -ErrorAction SilentlyContinue |
        Select-Object -First 1
    ($null -ne $command) -and $command.Parameters.ContainsKey($Parameter)
}

Function Get-OperationVM {
    <#
    .SYNOPSIS
    Get-VM -Id for one operation. Returns the VM and sets the item's name, or marks the item failed with
    the reason and returns $null: an id that is not a GUID, or no VM with that ID on this host.
    #>
    param (
        [Parameter(Mandatory = $true)][String]$Id,
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Item
    )
    $vmId = [Guid]::Empty
    if (-not [Guid]::TryParse($Id, [ref]$vmId)) {
        $Item.status = 'failed'
        $Item.error = "'$Id' is not a VM ID (a GUID)"
        return $null
    }
    try {
        $vm = Hyper-V\Get-VM -Id $vmId -ErrorAction Stop
    }
    catch {
        $Item.status = 'failed'
        $Item.error = $_.Exception.Message
        return $null
    }
    $Item.name = $vm.Name
    $vm
}

Function Resolve-AccountName {
    <#
    .SYNOPSIS
    The account name of a SID as this node resolves it, or the SID string where it does not resolve
    (NT VIRTUAL MACHINE\<VM GUID> resolves only on the node where that VM is registered).
    #>
    param ([Parameter(Mandatory = $true)][System.Security.Principal.SecurityIdentifier]$Sid)
    try {
        $Sid.Translate([System.Security.Principal.NTAccount]).Value
    }
    catch {
        $Sid.Value
    }
}

Function Get-NodeName {
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

Microsoft.PowerShell.Core\Export-ModuleMember -Function Import-HyperVModule, Test-CommandParameter, Get-OperationVM, Resolve-AccountName, Get-NodeName
