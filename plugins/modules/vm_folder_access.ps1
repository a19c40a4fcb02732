#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils.HyperVBackup

# Gives VM accounts Full Control with object inheritance on folders (KB 4230569's
# `icacls <folder> /grant *<VM SID>:(OI)F`) and removes the explicit Allow ACEs of VM accounts whose VM no
# longer exists, as the action plugin planned it (docs/windows-contract.md, vm_folder_access).
#
# The operations are intent, not a new ACL: they are applied to the ACL as it is found when it is written,
# so that nodes editing one folder at once never lose each other's ACEs. Per folder, in its own
# try/catch/finally (a folder's failure is that folder's result, the others go on):
#   1. Get-Item: the folder exists and is a folder;
#   2. a lock file in the folder, created with FileMode.CreateNew (the file system lets one writer create it,
#      also across the nodes of a CSV or the clients of a share) and FileOptions.DeleteOnClose (it goes away
#      with its handle, also when the process dies), retried with a random back-off until lock_timeout;
#      released in `finally`;
#   3. the DACL read as raw ACEs in their order (RawSecurityDescriptor), so that the order, non-canonical
#      ACLs included, is kept;
#   4. the intent applied: each revoked SID loses its explicit Allow ACEs; each granted SID that has no ACE
#      that counts gets its first explicit Allow ACE upgraded in place, or a new ACE before the first inherited
#      one; a SID with an explicit Deny ACE gets nothing (reported under `denied`);
#   5. nothing to do: ok. Otherwise the DACL alone is written (never the owner or the SACL), read back and
#      verified: every grant counts, every revoked SID has no explicit Allow ACE, every other ACE read in step 3
#      is still there in the same order. A change lost to a writer that does not take the lock goes back to
#      step 3, three attempts in all.
# Check mode: steps 1, 3 and 4 only. The module needs no Hyper-V cmdlet: VM accounts are granted by SID,
# which is valid on every node (the account name resolves only where the VM is registered).

$spec = @{
    options = @{
        folders = @{
            type = 'list'
            elements = 'dict'
            required = $true
            options = @{
                path = @{ type = 'str'; required = $true }
                grant = @{
                    type = 'list'
                    elements = 'dict'
                    default = @()
                    options = @{
                        sid = @{ type = 'str'; required = $true }
                        rights = @{ type = 'str'; default = 'FullControl'; choices = @('FullControl') }
                        inheritance = @{ type = 'str'; default = 'ObjectInherit'; choices = @('ObjectInherit') }
                        propagation = @{ type = 'str'; default = 'None'; choices = @('None') }
                    }
                }
                revoke = @{
                    type = 'list'
                    elements = 'dict'
                    default = @()
                    options = @{
                        sid = @{ type = 'str'; required = $true }
                    }
                }
            }
        }
        lock_timeout = @{ type = 'int'; default = 60 }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

$attempts = 3
$maxLockTimeout = 86400
$lockName = '.hyperv-backup-acl.lock'
# FileSystemRights.FullControl
$fullControl = 0x1F01FF
# An absolute path: a drive letter, a colon and a separator, or a UNC path \\server\share.
$absolutePathPattern = '^(?:[A-Za-z]:[\\/]|[\\/]{2}[^\\/?.][^\\/]*[\\/][^\\/]+)'
# The SID of a VM account: S-1-5-83-1 and four 32-bit sub-authorities.
$vmSidPattern = '^S-1-5-83-1-(0|[1-9][0-9]{0,9})-(0|[1-9][0-9]{0,9})-(0|[1-9][0-9]{0,9})-(0|[1-9][0-9]{0,9})$'
$allowed = [System.Security.AccessControl.AceQualifier]::AccessAllowed
$deniedQualifier = [System.Security.AccessControl.AceQualifier]::AccessDenied

# --- arguments: all checked before anything changes ------------------------------------------------------

$lockTimeout = $module.Params.lock_timeout
if ($lockTimeout -lt 0 -or $lockTimeout -gt $maxLockTimeout) {
    $module.FailJson("vm_folder_access: lock_timeout $lockTimeout is out of range; give 0 to $maxLockTimeout seconds")
}
$index = 0
foreach ($folder in $module.Params.folders) {
    $where = "vm_folder_access: folders[$index]"
    if ($folder.path -notmatch $absolutePathPattern) {
        $module.FailJson("$where.path '$($folder.path)' is not an absolute path")
    }
    $number = 0
    foreach ($grant in $folder.grant) {
        try {
            $null = [System.Security.Principal.SecurityIdentifier]::new($grant.sid)
        }
        catch {
            $module.FailJson("$where.grant[$number].sid '$($grant.sid)' is not a SID")
        }
        $number++
    }
    $granted = @($folder.grant | ForEach-Object { $_.sid })
    $number = 0
    foreach ($revoke in $folder.revoke) {
        $isVmSid = $revoke.sid -match $vmSidPattern
        if ($isVmSid) {
            foreach ($part in @($Matches[1], $Matches[2], $Matches[3], $Matches[4])) {
                if ([uint64]$part -gt [uint32]::MaxValue) {
                    $isVmSid = $false
                }
            }
        }
        if (-not $isVmSid) {
            $module.FailJson("$where.revoke[$number].sid '$($revoke.sid)' is not the SID of a VM account (S-1-5-83-1- and four numbers); only those are revoked")
        }
        if ($granted -contains $revoke.sid) {
            $module.FailJson("$where.revoke[$number].sid '$($revoke.sid)' is granted too; a SID is either granted or revoked")
        }
        $number++
    }
    $index++
}

# --- functions ---------------------------------------------------------------------------------------

function Read-Dacl {
    <#
    .SYNOPSIS
    The folder's security descriptor, DACL only, as a RawSecurityDescriptor: its DiscretionaryAcl is a RawAcl
    whose ACEs keep their order. Throws for a folder without a DACL or with an ACE that is not an
    access-allowed or access-denied ACE: such an ACL is not understood, so it is left as it is.
    #>
    param ([String]$Path)
    $security = [System.IO.Directory]::GetAccessControl($Path, [System.Security.AccessControl.AccessControlSections]::Access)
    $descriptor = [System.Security.AccessControl.RawSecurityDescriptor]::new($security.GetSecurityDescriptorBinaryForm(), 0)
    $dacl = $descriptor.DiscretionaryAcl
    if ($null -eq $dacl) {
        throw "'$Path' has no DACL (every account has full access to it), so it is left as it is"
    }
    for ($i = 0; $i -lt $dacl.Count; $i++) {
        $ace = $dacl[$i]
        $known = ($ace -is [System.Security.AccessControl.CommonAce]) -and
            ($ace.AceQualifier -eq $allowed -or $ace.AceQualifier -eq $deniedQualifier)
        if (-not $known) {
            throw "the ACL of '$Path' has an ACE of type $($ace.AceType) (entry $i), which this module does not handle, so it is left as it is"
        }
    }
    $descriptor
}

function ConvertTo-AccessList {
    <#
    .SYNOPSIS
    The ACEs of a RawAcl in host_facts' Access shape, in order. The comma returns the list itself.
    #>
    param ([System.Security.AccessControl.RawAcl]$Dacl)
    $access = [System.Collections.Generic.List[Object]]@()
    for ($i = 0; $i -lt $Dacl.Count; $i++) {
        $ace = $Dacl[$i]
        $kind = 'Deny'
        if ($ace.AceQualifier -eq $allowed) {
            $kind = 'Allow'
        }
        $access.Add([Ordered]@{
            IdentityReference = Resolve-AccountName -Sid $ace.SecurityIdentifier
            Sid = $ace.SecurityIdentifier.Value
            # Enum.ToObject, not a cast: a mask with bits no name covers (GENERIC_ALL) prints as its number
            FileSystemRights = [System.Enum]::ToObject([System.Security.AccessControl.FileSystemRights], $ace.AccessMask).ToString()
            AccessControlType = $kind
            InheritanceFlags = $ace.InheritanceFlags.ToString()
            PropagationFlags = $ace.PropagationFlags.ToString()
            IsInherited = [bool]$ace.IsInherited
        })
    }
    , $access
}

function Get-AceKey {
    <#
    .SYNOPSIS
    What makes two ACEs the same entry: qualifier, SID, mask and flags.
    #>
    param ($Ace)
    '{0}|{1}|{2}|{3}' -f $Ace.AceQualifier, $Ace.SecurityIdentifier.Value, $Ace.AccessMask, [int]$Ace.AceFlags
}

function Test-Counts {
    <#
    .SYNOPSIS
    Whether the ACE gives the SID what (OI)F gives: explicit, Allow, every bit of Full Control, object
    inheritance, no propagation flag (neither inherit-only nor no-propagate).
    #>
    param ($Ace, [System.Security.Principal.SecurityIdentifier]$Sid)
    ($Ace.SecurityIdentifier -eq $Sid) -and ($Ace.AceQualifier -eq $allowed) -and (-not $Ace.IsInherited) -and
        (($Ace.AccessMask -band $fullControl) -eq $fullControl) -and
        (($Ace.InheritanceFlags -band [System.Security.AccessControl.InheritanceFlags]::ObjectInherit) -ne 0) -and
        ($Ace.PropagationFlags -eq [System.Security.AccessControl.PropagationFlags]::None)
}

function Test-ExplicitAllow {
    param ($Ace, [System.Security.Principal.SecurityIdentifier]$Sid)
    ($Ace.SecurityIdentifier -eq $Sid) -and ($Ace.AceQualifier -eq $allowed) -and (-not $Ace.IsInherited)
}

function Invoke-Intent {
    <#
    .SYNOPSIS
    Step 4: the folder's revokes and grants applied to the RawAcl, in place. Returns @{ granted; upgraded;
    revoked; denied (SID strings); kept (the keys of the ACEs read that are neither revoked nor upgraded, in
    order: they must survive the write); changed }.
    #>
    param ([System.Security.AccessControl.RawAcl]$Dacl, $Folder)
    $done = @{
        granted = [System.Collections.Generic.List[String]]@()
        upgraded = [System.Collections.Generic.List[String]]@()
        revoked = [System.Collections.Generic.List[String]]@()
        denied = [System.Collections.Generic.List[String]]@()
        kept = [System.Collections.Generic.List[String]]@()
    }
    # The index each ACE had when read; -1 for a new one.
    $origin = [System.Collections.Generic.List[Int32]]@()
    for ($i = 0; $i -lt $Dacl.Count; $i++) {
        $origin.Add($i)
    }
    foreach ($revoke in $Folder.revoke) {
        $sid = [System.Security.Principal.SecurityIdentifier]::new($revoke.sid)
        $removed = $false
        for ($i = $Dacl.Count - 1; $i -ge 0; $i--) {
            if (Test-ExplicitAllow -Ace $Dacl[$i] -Sid $sid) {
                $Dacl.RemoveAce($i)
                $origin.RemoveAt($i)
                $removed = $true
            }
        }
        if ($removed -and -not $done.revoked.Contains($sid.Value)) {
            $done.revoked.Add($sid.Value)
        }
    }
    $upgraded = @{}
    foreach ($grant in $Folder.grant) {
        $sid = [System.Security.Principal.SecurityIdentifier]::new($grant.sid)
        $isDenied = $false
        $counts = $false
        $weaker = -1
        $firstInherited = -1
        for ($i = 0; $i -lt $Dacl.Count; $i++) {
            $ace = $Dacl[$i]
            if ($ace.IsInherited) {
                if ($firstInherited -lt 0) {
                    $firstInherited = $i
                }
                continue
            }
            if ($ace.SecurityIdentifier -ne $sid) {
                continue
            }
            if ($ace.AceQualifier -eq $deniedQualifier) {
                $isDenied = $true
            }
            elseif (Test-Counts -Ace $ace -Sid $sid) {
                $counts = $true
            }
            elseif ($weaker -lt 0) {
                $weaker = $i
            }
        }
        if ($isDenied) {
            $done.denied.Add($sid.Value)
            continue
        }
        if ($counts) {
            continue
        }
        if ($weaker -ge 0) {
            # Upgraded in place: Full Control added to its mask, object inheritance to its flags, the
            # propagation flags (NoPropagateInherit 0x4, InheritOnly 0x8) cleared; its other bits stay.
            $old = $Dacl[$weaker]
            $flags = ([int]$old.AceFlags -bor [int][System.Security.AccessControl.AceFlags]::ObjectInherit) -band (-bnot 0xC)
            $new = [System.Security.AccessControl.CommonAce]::new(
                [System.Enum]::ToObject([System.Security.AccessControl.AceFlags], $flags), $allowed,
                ($old.AccessMask -bor $fullControl), $sid, $false, $null)
            $Dacl.RemoveAce($weaker)
            $Dacl.InsertAce($weaker, $new)
            $upgraded[$origin[$weaker]] = $true
            $done.upgraded.Add($sid.Value)
            continue
        }
        if ($firstInherited -lt 0) {
            $firstInherited = $Dacl.Count
        }
        $new = [System.Security.AccessControl.CommonAce]::new([System.Security.AccessControl.AceFlags]::ObjectInherit,
            $allowed, $fullControl, $sid, $false, $null)
        $Dacl.InsertAce($firstInherited, $new)
        $origin.Insert($firstInherited, -1)
        $done.granted.Add($sid.Value)
    }
    for ($i = 0; $i -lt $Dacl.Count; $i++) {
        if ($origin[$i] -ge 0 -and -not $upgraded.ContainsKey($origin[$i])) {
            $done.kept.Add((Get-AceKey -Ace $Dacl[$i]))
        }
    }
    $done.changed = ($done.granted.Count + $done.upgraded.Count + $done.revoked.Count) -gt 0
    $done
}

function Write-Dacl {
    <#
    .SYNOPSIS
    Write the descriptor's DACL to the folder, and nothing else: a DirectorySecurity made from its binary form
    with AccessControlSections.Access only, so SetAccessControl writes neither the owner nor the SACL. The
    protection of the DACL (inheritance from the parent on or off) is part of what is copied.
    #>
    param ([String]$Path, [System.Security.AccessControl.RawSecurityDescriptor]$Descriptor)
    $binary = [byte[]]::new($Descriptor.BinaryLength)
    $Descriptor.GetBinaryForm($binary, 0)
    $security = [System.Security.AccessControl.DirectorySecurity]::new()
    $security.SetSecurityDescriptorBinaryForm($binary, [System.Security.AccessControl.AccessControlSections]::Access)
    [System.IO.Directory]::SetAccessControl($Path, $security)
}

function Test-Written {
    <#
    .SYNOPSIS
    Step 5's verification of the DACL read back: what is missing, one sentence each (none: the write took).
    #>
    param ([System.Security.AccessControl.RawAcl]$Dacl, $Done)
    $missing = [System.Collections.Generic.List[String]]@()
    foreach ($sidText in @($Done.granted) + @($Done.upgraded)) {
        $sid = [System.Security.Principal.SecurityIdentifier]::new($sidText)
        $found = $false
        for ($i = 0; $i -lt $Dacl.Count; $i++) {
            if (Test-Counts -Ace $Dacl[$i] -Sid $sid) {
                $found = $true
            }
        }
        if (-not $found) {
            $missing.Add("$sidText has no explicit Allow ACE with Full Control and object inheritance")
        }
    }
    foreach ($sidText in $Done.revoked) {
        $sid = [System.Security.Principal.SecurityIdentifier]::new($sidText)
        for ($i = 0; $i -lt $Dacl.Count; $i++) {
            if (Test-ExplicitAllow -Ace $Dacl[$i] -Sid $sid) {
                $missing.Add("$sidText still has an explicit Allow ACE")
                break
            }
        }
    }
    $position = 0
    for ($i = 0; $i -lt $Dacl.Count; $i++) {
        if ($position -lt $Done.kept.Count -and (Get-AceKey -Ace $Dacl[$i]) -eq $Done.kept[$position]) {
            $position++
        }
    }
    if ($position -lt $Done.kept.Count) {
        $missing.Add("the ACE of $(($Done.kept[$position] -split '\|')[1]) read before the write is gone or out of place")
    }
    , $missing
}

function Lock-Folder {
    <#
    .SYNOPSIS
    Create the folder's lock file (CreateNew, no sharing, deleted when closed) and return its stream; while
    another writer holds it, try again after a random 0.2 to 1 s until $Timeout seconds have passed.
    #>
    param ([String]$Path, [int]$Timeout)
    $lockPath = [System.IO.Path]::Combine($Path, $lockName)
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $random = [System.Random]::new()
    while ($true) {
        try {
            return [System.IO.FileStream]::new($lockPath, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write,
                [System.IO.FileShare]::None, 1, [System.IO.FileOptions]::DeleteOnClose)
        }
        catch {
            $reason = $_.Exception.GetBaseException()
            # ERROR_FILE_EXISTS (80), ERROR_ALREADY_EXISTS (183), ERROR_SHARING_VIOLATION (32): another writer
            # has it; access denied while the file exists: it is being deleted by the writer that had it.
            $held = (($reason -is [System.IO.IOException]) -and (($reason.HResult -band 0xFFFF) -in @(80, 183, 32))) -or
                (($reason -is [System.UnauthorizedAccessException]) -and [System.IO.File]::Exists($lockPath))
            if (-not $held) {
                throw
            }
        }
        if ($watch.Elapsed.TotalSeconds -ge $Timeout) {
            throw "the lock file '$lockPath' was held by another writer for $Timeout s (lock_timeout); if no vm_folder_access run is under way, delete it"
        }
        Microsoft.PowerShell.Utility\Start-Sleep -Milliseconds ($random.Next(200, 1000))
    }
}

# --- the folders -------------------------------------------------------------------------------------

# Set only now: a failure before this point shows its msg alone (FailJson returns every Result field).
$module.Result.folders = [System.Collections.Generic.List[Object]]@()
foreach ($folder in $module.Params.folders) {
    $path = $folder.path
    $item = [Ordered]@{
        path = $path
        status = 'ok'
        before = @()
        after = @()
        granted = @()
        upgraded = @()
        revoked = @()
        denied = @()
        attempts = 0
    }
    $module.Result.folders.Add($item)
    $lock = $null
    $step = "reading '$path'"
    try {
        $found = Microsoft.PowerShell.Management\Get-Item -LiteralPath $path -Force -ErrorAction Stop
        if (-not ($found -is [System.IO.DirectoryInfo])) {
            throw "it is not a folder"
        }
        $step = "reading the ACL of '$path'"
        $descriptor = Read-Dacl -Path $path
        $item.before = ConvertTo-AccessList -Dacl $descriptor.DiscretionaryAcl
        $item.after = $item.before
        if ($module.CheckMode) {
            $done = Invoke-Intent -Dacl $descriptor.DiscretionaryAcl -Folder $folder
            foreach ($key in @('granted', 'upgraded', 'revoked', 'denied')) {
                $item[$key] = @($done[$key])
            }
            $item.attempts = 1
            $item.after = ConvertTo-AccessList -Dacl $descriptor.DiscretionaryAcl
            if ($done.changed) {
                $item.status = 'changed'
                $module.Result.changed = $true
            }
            continue
        }

        $step = "locking '$path'"
        $lock = Lock-Folder -Path $path -Timeout $lockTimeout
        $wrote = $false
        $missing = @()
        for ($attempt = 1; $attempt -le $attempts; $attempt++) {
            $item.attempts = $attempt
            $step = "reading the ACL of '$path'"
            $descriptor = Read-Dacl -Path $path
            $done = Invoke-Intent -Dacl $descriptor.DiscretionaryAcl -Folder $folder
            foreach ($key in @('granted', 'upgraded', 'revoked', 'denied')) {
                $item[$key] = @($done[$key])
            }
            if (-not $done.changed) {
                $item.after = ConvertTo-AccessList -Dacl $descriptor.DiscretionaryAcl
                $item.status = 'ok'
                if ($wrote) {
                    $item.status = 'changed'
                }
                $missing = @()
                break
            }
            $step = "writing the ACL of '$path'"
            Write-Dacl -Path $path -Descriptor $descriptor
            $wrote = $true
            $module.Result.changed = $true
            $step = "reading the ACL of '$path' back"
            $readBack = Read-Dacl -Path $path
            $item.after = ConvertTo-AccessList -Dacl $readBack.DiscretionaryAcl
            $missing = Test-Written -Dacl $readBack.DiscretionaryAcl -Done $done
            if ($missing.Count -eq 0) {
                $item.status = 'changed'
                break
            }
        }
        if ($missing.Count -gt 0) {
            $item.status = 'failed'
            $item.error = "the ACL of '$path' lost this module's change $attempts times (another program wrote it at the same time): $($missing -join '; ')"
        }
    }
    catch {
        $item.status = 'failed'
        $item.error = "${step} failed: $($_.Exception.GetBaseException().Message)"
    }
    finally {
        if ($null -ne $lock) {
            $lock.Dispose()
        }
    }
}

$module.ExitJson()
