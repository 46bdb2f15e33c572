# Installs (or upgrades in place) the Crontopus agent on this Windows machine, from a Crontopus
# server. The server serves this script at /install/agent.ps1 with its own address and agent
# version filled in. In PowerShell, as Administrator:
#
#   & ([scriptblock]::Create((irm https://crontopus.example.com/install/agent.ps1))) -Token cten_...
#
# Steps: check Python (3.11 or newer), create a virtualenv under %ProgramFiles%, install
# crontopus-agent from the server's own package index, enroll with the token, register the
# start-up task that runs the agent (restarted on failure), start it and wait for the first
# heartbeat. Running it again upgrades the agent in place and keeps the enrollment.
param(
    [string]$Token = "",
    [switch]$TokenStdin,
    [string]$Name = "",
    [string[]]$Label = @(),
    [string]$Driver = "",
    [switch]$Reenroll,
    [string]$Server = '__CRONTOPUS_SERVER__',
    [string]$Python = "",
    [string]$Prefix = (Join-Path $env:ProgramFiles "Crontopus Agent"),
    [string]$StateDir = "",
    [string]$IndexUrl = "",
    [string]$FindLinks = "",
    [switch]$NoIndex,
    [switch]$NoService,
    [int]$Wait = 60
)

$ErrorActionPreference = "Stop"
$AgentVersion = '__CRONTOPUS_AGENT_VERSION__'
# crontopus-core, -drivers and -agent: files under $Server/install/wheels/, with their sha256.
$AgentWheels = '__CRONTOPUS_AGENT_WHEELS__'
$TaskName = "Crontopus agent"
$Server = $Server.TrimEnd("/")

function Say([string]$Message) { [Console]::Error.WriteLine("crontopus-agent install: $Message") }
# throw, not exit: run as a script block (the one-liner), exit would close the whole window.
function Fail([string]$Message) { throw "crontopus-agent install: error: $Message" }
$Piped = @($input)

if ($NoIndex -and -not $FindLinks) {
    Fail "-NoIndex needs -FindLinks PATH: the directory of wheels the agent's dependencies come from"
}
if (-not $AgentVersion) {
    Fail "$Server has no agent wheels to install: its administrator builds them with ``make dist`` or installs the crontopus-server wheel"
}
$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $NoService -and -not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Fail "run PowerShell as Administrator: the agent registers a start-up task and manages Task Scheduler"
}

function Test-Python([string]$Command, [string[]]$Arguments = @()) {
    try {
        & $Command @Arguments -c "import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)" 2>$null | Out-Null
        return $LASTEXITCODE -eq 0
    } catch { return $false }
}

# The interpreter to build the virtualenv with: -Python, else the py launcher, else python.exe.
$PythonCommand = $null
$PythonArguments = @()
if ($Python) {
    if (-not (Test-Python $Python)) { Fail "-Python ${Python}: not a Python 3.11 or newer" }
    $PythonCommand = $Python
} elseif ((Get-Command py -ErrorAction SilentlyContinue) -and (Test-Python "py" @("-3"))) {
    $PythonCommand = "py"; $PythonArguments = @("-3")
} elseif ((Get-Command python -ErrorAction SilentlyContinue) -and (Test-Python "python")) {
    $PythonCommand = "python"
} else {
    Fail "the agent needs Python 3.11 or newer, and none was found. Install it: winget install --id Python.Python.3.12 -e (then open a new PowerShell and run this again, or name it with -Python C:\path\to\python.exe)"
}

$VenvPython = Join-Path $Prefix "Scripts\python.exe"
$Agent = Join-Path $Prefix "Scripts\crontopus-agent.exe"
if ((Test-Path $VenvPython) -and (Test-Python $VenvPython)) {
    Say "upgrading the agent in $Prefix to $AgentVersion"
} else {
    Say "creating the virtualenv $Prefix"
    & $PythonCommand @PythonArguments -m venv --clear $Prefix
    if ($LASTEXITCODE -ne 0) { Fail "creating the virtualenv $Prefix failed (see above)" }
}

try {
    Invoke-WebRequest -UseBasicParsing -Uri "$Server/install/simple/crontopus-agent/" | Out-Null
} catch {
    Fail "cannot reach $Server/install/simple/crontopus-agent/: $($_.Exception.Message)"
}
$pipArguments = @("-m", "pip", "--disable-pip-version-check", "--quiet", "install", "--upgrade")
$serverUri = [Uri]$Server
if ($serverUri.Scheme -eq "http") {
    # pip ignores plain-http indexes other than this machine unless told to trust them.
    $pipArguments += @("--trusted-host", $serverUri.Host)
}
if ($IndexUrl) { $pipArguments += @("--index-url", $IndexUrl) }
if ($FindLinks) { $pipArguments += @("--find-links", $FindLinks) }
if ($NoIndex) { $pipArguments += "--no-index" }
# The Crontopus wheels by URL and hash: pip takes them from this server and from no other index,
# however the machine's pip is configured; their dependencies come from that index.
$wheelUrls = @($AgentWheels -split " " | Where-Object { $_ } | ForEach-Object { "$Server/install/wheels/$_" })
& $VenvPython @pipArguments @wheelUrls
if ($LASTEXITCODE -ne 0) {
    Fail "pip could not install crontopus-agent $AgentVersion (see above); third-party dependencies come from pip's configured index: name another with -IndexUrl or -FindLinks"
}

$StateArguments = @()
if ($StateDir) { $StateArguments = @("--state-dir", $StateDir) }
function Get-AgentStatus {
    try { $json = & $Agent @StateArguments status --json 2>$null } catch { return $null }
    if ($LASTEXITCODE -ne 0 -or -not $json) { return $null }
    return ($json -join "`n") | ConvertFrom-Json
}

$status = Get-AgentStatus
if ($status -and $status.enrolled -and -not $Reenroll) {
    Say "already enrolled with $($status.server) as $($status.name): keeping it (-Reenroll -Token ... replaces it)"
} else {
    if ($TokenStdin) {
        # Piped into the script block (Get-Content token | & ...), else the console's input.
        if ($Piped.Count -gt 0) { $Token = [string]$Piped[0] } else { $Token = [Console]::In.ReadLine() }
        if (-not $Token) { Fail "-TokenStdin: standard input held no token" }
    }
    if (-not $Token) { Fail "enrolling needs a token: pass -Token cten_... or -TokenStdin (make one on the console's Install agent page)" }
    $enrollArguments = @("enroll", "--server", $Server, "--token-stdin")
    if ($Reenroll) { $enrollArguments += "--force" }
    if ($Name) { $enrollArguments += @("--name", $Name) }
    if ($Driver) { $enrollArguments += @("--driver", $Driver) }
    foreach ($item in $Label) { $enrollArguments += @("--label", $item) }
    # On standard input, so the token shows in no process list.
    $Token | & $Agent @StateArguments @enrollArguments
    if ($LASTEXITCODE -ne 0) { Fail "enrolling with $Server failed (see above)" }
}

if ($NoService) {
    Say "installed and enrolled; no start-up task registered (-NoService): start the agent with `"$Agent`" run"
    return
}

# ---- The service step ---------------------------------------------------------------------
# Everything that makes the agent run now and at start-up is in this one function: the agent's
# own `service install` when it has one (it registers and starts the platform's service), else a
# start-up task run as SYSTEM, restarted on failure.
function Install-AgentService {
    try { & $Agent service --help *> $null; $hasService = $LASTEXITCODE -eq 0 } catch { $hasService = $false }
    if ($hasService) {
        & $Agent @StateArguments service install --executable $Agent
        if ($LASTEXITCODE -ne 0) { Fail "installing the service failed (see above)" }
        return
    }
    $runArguments = (@($StateArguments | ForEach-Object { "`"$_`"" }) + "run") -join " "
    $action = New-ScheduledTaskAction -Execute $Agent -Argument $runArguments
    $trigger = New-ScheduledTaskTrigger -AtStartup
    $settings = New-ScheduledTaskSettingsSet -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) -ExecutionTimeLimit ([TimeSpan]::Zero) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
    $principal = New-ScheduledTaskPrincipal -UserId "SYSTEM" -LogonType ServiceAccount -RunLevel Highest
    Stop-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
    Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Settings $settings -Principal $principal -Force | Out-Null
    Start-ScheduledTask -TaskName $TaskName
}
# ---- End of the service step --------------------------------------------------------------

$before = (Get-AgentStatus).lastHeartbeatAt
Install-AgentService
for ($waited = 0; $waited -lt $Wait; $waited++) {
    $beat = (Get-AgentStatus).lastHeartbeatAt
    if ($beat -and $beat -ne $before) {
        Say "the agent is running: first heartbeat at $beat; it shows under Endpoints on $Server"
        return
    }
    Start-Sleep -Seconds 1
}
Fail "no heartbeat within $Wait s: see ``& `"$Agent`" status`` and the task `"$TaskName`" in Task Scheduler; an enrollment that waits for an admin's approval (the console's Endpoints page) starts working once approved"
