# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# What the PowerShell modules of hyperv.backup share: loading the Hyper-V module and finding the VM an
# operation names (docs/windows-contract.md).

Function Import-HyperVModule {
    <#
    .SYNOPSIS
    Import the Hyper-V module, or fail the Ansible module with the contract's message.
    #>
    param (
        [Parameter(Mandatory = $true)]$Module,
        [Parameter(Mandatory = $true)][String]$ModuleName
    )
    if (-not (Get-Module -ListAvailable -Name Hyper-V)) {
        $Module.FailJson("${ModuleName}: the Hyper-V PowerShell module is not available on $env:COMPUTERNAME; install the Hyper-V management tools")
    }
    Import-Module -Name Hyper-V -ErrorAction Stop
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
        $vm = Get-VM -Id $vmId -ErrorAction Stop
    }
    catch {
        $Item.status = 'failed'
        $Item.error = $_.Exception.Message
        return $null
    }
    $Item.name = $vm.Name
    $vm
}

Export-ModuleMember -Function Import-HyperVModule, Get-OperationVM
