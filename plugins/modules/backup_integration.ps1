#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils.HyperVBackup

# Carries out the Backup integration service changes planned by the action plugin (docs/windows-contract.md,
# backup_integration): for each operation, finds the VM's Backup (volume shadow copy) integration service by
# the integration component ID that ends its Id (its Name is localized), enables or disables it when it still
# differs, and reads it back: a VM whose service did not change fails. Each VM has its own try/catch.

$spec = @{
    options = @{
        operations = @{
            type = 'list'
            elements = 'dict'
            required = $true
            options = @{
                id = @{ type = 'str'; required = $true }
                name = @{ type = 'str'; required = $true }
                enabled = @{ type = 'bool'; required = $true }
            }
        }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

Import-HyperVModule -Module $module -ModuleName backup_integration
# Set only now: a failure before this point shows its msg alone (FailJson returns every Result field).
$module.Result.vms = [System.Collections.Generic.List[Object]]@()

# "Microsoft:<VM ID>\5CED1297-4598-4915-A5FC-AD21BB4D02A4": the VSS (Backup) integration component.
$vssIntegrationComponentId = '5CED1297-4598-4915-A5FC-AD21BB4D02A4'

function Get-BackupIntegrationService {
    <#
    .SYNOPSIS
    The VM's Backup (volume shadow copy) integration service, found by its Id, or $null when it has none.
    #>
    param ($VM)
    Hyper-V\Get-VMIntegrationService -VM $VM -ErrorAction Stop |
        Where-Object { $_.Id -like "*\$vssIntegrationComponentId" } |
        Select-Object -First 1
}

foreach ($op in $module.Params.operations) {
    $item = @{ id = $op.id; name = $op.name; status = 'ok' }
    $module.Result.vms.Add($item)

    $vm = Get-OperationVM -Id $op.id -Item $item
    if ($null -eq $vm) {
        continue
    }
    $want = [bool]$op.enabled
    $step = "reading the integration services of '$($vm.Name)' failed"
    try {
        $service = Get-BackupIntegrationService -VM $vm
        if ($null -eq $service) {
            $item.status = 'failed'
            $item.error = "'$($vm.Name)' has no Backup (volume shadow copy) integration service (integration component $vssIntegrationComponentId)"
            continue
        }
        $item.before = @{ Enabled = [bool]$service.Enabled }
        $item.after = $item.before
        $item.guest_status = $service.PrimaryStatusDescription
        if ([bool]$service.Enabled -eq $want) {
            continue
        }
        if ($module.CheckMode) {
            $item.after = @{ Enabled = $want }
            $item.status = 'changed'
            $module.Result.changed = $true
            continue
        }
        if ($want) {
            $step = "enabling the Backup integration service of '$($vm.Name)' failed"
            Hyper-V\Enable-VMIntegrationService -VMIntegrationService $service -ErrorAction Stop
        }
        else {
            $step = "disabling the Backup integration service of '$($vm.Name)' failed"
            Hyper-V\Disable-VMIntegrationService -VMIntegrationService $service -ErrorAction Stop
        }
        $item.status = 'changed'
        $module.Result.changed = $true

        $step = "reading the Backup integration service of '$($vm.Name)' back failed"
        $current = Get-BackupIntegrationService -VM $vm
        if ($null -eq $current) {
            throw "it is no longer listed"
        }
        $item.after = @{ Enabled = [bool]$current.Enabled }
        $item.guest_status = $current.PrimaryStatusDescription
        if ([bool]$current.Enabled -ne $want) {
            $verb = if ($want) { 'Enable' } else { 'Disable' }
            $state = if ($current.Enabled) { 'enabled' } else { 'disabled' }
            $item.status = 'failed'
            $item.error = "$verb-VMIntegrationService returned without an error, but the Backup integration service of '$($vm.Name)' is still $state"
        }
    }
    catch {
        $item.status = 'failed'
        $item.error = "${step}: $($_.Exception.Message)"
    }
}

$module.ExitJson()
