#!/bin/sh
# Installs (or upgrades in place) the Crontopus agent on this machine, from a Crontopus server.
# The server serves this script at /install/agent.sh with its own address and agent version
# filled in:
#
#   curl -fsSL https://crontopus.example.com/install/agent.sh | sudo sh -s -- --token cten_...
#
# Steps: check the system (Linux or macOS) and Python (3.11 or newer), create a virtualenv in
# the prefix (/opt/crontopus-agent), install crontopus-agent from the server's own package index,
# enroll with the token, install and start the service (systemd, or a LaunchDaemon on macOS),
# wait for the first heartbeat. Running it again upgrades the agent in place and keeps the
# enrollment. `--help` lists every option.
set -eu

SERVER='__CRONTOPUS_SERVER__'
AGENT_VERSION='__CRONTOPUS_AGENT_VERSION__'
# crontopus-core, -drivers and -agent: files under $SERVER/install/wheels/, with their sha256.
AGENT_WHEELS='__CRONTOPUS_AGENT_WHEELS__'
PREFIX=/opt/crontopus-agent
STATE_DIR=
TOKEN=
TOKEN_STDIN=0
NAME=
LABELS=
DRIVER=
PYTHON=
INDEX_URL=
FIND_LINKS=
NO_INDEX=0
SERVICE=1
REENROLL=0
WAIT_SECONDS=60
UNIT=/etc/systemd/system/crontopus-agent.service
LAUNCHD_LOGS=/Library/Logs/crontopus-agent
# Which distribution this is (a test names another file).
OS_RELEASE=${CRONTOPUS_OS_RELEASE:-/etc/os-release}

say() { printf 'crontopus-agent install: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

usage() {
	cat <<EOF
Install or upgrade the Crontopus agent from $SERVER.

  curl -fsSL $SERVER/install/agent.sh | sudo sh -s -- --token cten_...
  sudo sh agent.sh --token-stdin < token-file

Options:
  --token TOKEN        the enrollment token (cten_...); not needed to upgrade an enrolled agent
  --token-stdin        read the enrollment token from standard input (also: --token -)
  --name NAME          the endpoint's name (default: the host name)
  --label KEY=VALUE    an endpoint label (repeatable)
  --driver NAME        the scheduler driver (default: the platform's)
  --reenroll           enroll again with --token although this machine is enrolled
  --server URL         the Crontopus server (default: $SERVER)
  --python PATH        the Python 3.11+ to build the virtualenv with (default: found on PATH)
  --prefix DIR         where the agent's virtualenv goes (default: $PREFIX)
  --state-dir DIR      the agent's state directory (default: the agent's, /var/lib/crontopus-agent
                       for root on Linux)
  --index-url URL      the package index for third-party dependencies (default: pip's own setting)
  --find-links PATH    a directory or page of wheels for dependencies (air-gapped machines)
  --no-index           no package index at all: dependencies from --find-links only
  --no-service         install and enroll only: no service, no wait for the first heartbeat
  --wait SECONDS       how long to wait for the first heartbeat (default: $WAIT_SECONDS)
EOF
}

need_value() {
	[ $# -ge 2 ] || die "$1 needs a value (see --help)"
}

while [ $# -gt 0 ]; do
	case $1 in
	--token)
		need_value "$@"
		if [ "$2" = - ]; then TOKEN_STDIN=1; else TOKEN=$2; fi
		shift 2
		;;
	--token-stdin) TOKEN_STDIN=1 && shift ;;
	--name) need_value "$@" && NAME=$2 && shift 2 ;;
	--label)
		need_value "$@"
		LABELS="$LABELS
$2"
		shift 2
		;;
	--driver) need_value "$@" && DRIVER=$2 && shift 2 ;;
	--reenroll) REENROLL=1 && shift ;;
	--server) need_value "$@" && SERVER=${2%/} && shift 2 ;;
	--python) need_value "$@" && PYTHON=$2 && shift 2 ;;
	--prefix) need_value "$@" && PREFIX=${2%/} && shift 2 ;;
	--state-dir) need_value "$@" && STATE_DIR=$2 && shift 2 ;;
	--index-url) need_value "$@" && INDEX_URL=$2 && shift 2 ;;
	--find-links) need_value "$@" && FIND_LINKS=$2 && shift 2 ;;
	--no-index) NO_INDEX=1 && shift ;;
	--no-service) SERVICE=0 && shift ;;
	--wait)
		need_value "$@"
		case $2 in '' | *[!0-9]*) die "--wait takes whole seconds, e.g. --wait 120" ;; esac
		WAIT_SECONDS=$2
		shift 2
		;;
	-h | --help) usage && exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
done

[ "$NO_INDEX" = 0 ] || [ -n "$FIND_LINKS" ] || die "--no-index needs --find-links PATH: the directory of wheels the agent's dependencies come from"
[ -n "$AGENT_VERSION" ] || die "$SERVER has no agent wheels to install: its administrator builds them with \`make dist\` or installs the crontopus-server wheel (see docs/deployment.md)"
AGENT="$PREFIX/bin/crontopus-agent"

# The distribution family, for the exact command that installs what is missing.
os_family() {
	if [ "$(uname -s)" = Darwin ]; then
		echo macos
		return
	fi
	[ -r "$OS_RELEASE" ] || {
		echo unknown
		return
	}
	# shellcheck disable=SC1090
	ids=$(. "$OS_RELEASE" && echo "${ID:-} ${ID_LIKE:-}")
	case " $ids " in
	*" ubuntu "*) echo ubuntu ;;
	*" debian "*) echo debian ;;
	*" fedora "* | *" rhel "* | *" centos "*) echo rhel ;;
	*" suse "* | *" opensuse "*) echo suse ;;
	*" alpine "*) echo alpine ;;
	*" arch "*) echo arch ;;
	*) echo unknown ;;
	esac
}

python_fix() {
	case $(os_family) in
	ubuntu) echo "sudo apt-get update && sudo apt-get install -y python3.11 python3.11-venv" ;;
	debian) echo "sudo apt-get update && sudo apt-get install -y python3 python3-venv (Debian 12 or newer ships Python 3.11)" ;;
	rhel) echo "sudo dnf install -y python3.11" ;;
	suse) echo "sudo zypper install -y python311" ;;
	alpine) echo "sudo apk add python3" ;;
	arch) echo "sudo pacman -S --needed python" ;;
	macos) echo "brew install python@3.12" ;;
	*) echo "install Python 3.11 or newer with your system's package manager" ;;
	esac
}

check_system() {
	case $(uname -s) in
	Linux | Darwin) ;;
	*) die "$(uname -s) is not supported by this script: on Windows run $SERVER/install/agent.ps1 in PowerShell" ;;
	esac
	if [ "$(id -u)" != 0 ] && [ "$SERVICE" = 1 ]; then
		die "run as root (… | sudo sh -s -- …): the agent installs a system service and manages the system's scheduler"
	fi
}

# The agent's own default state directory (see its statedir.py), for the checks made before
# the agent is installed.
default_state_dir() {
	if [ "$(uname -s)" = Darwin ]; then
		if [ "$(id -u)" = 0 ]; then
			echo "/Library/Application Support/Crontopus/agent"
		else
			echo "$HOME/Library/Application Support/Crontopus/agent"
		fi
	elif [ "$(id -u)" = 0 ]; then
		echo /var/lib/crontopus-agent
	else
		echo "${XDG_STATE_HOME:-$HOME/.local/state}/crontopus-agent"
	fi
}

python_ok() {
	"$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

find_python() {
	if [ -n "$PYTHON" ]; then
		python_ok "$PYTHON" || die "--python $PYTHON: not a Python 3.11 or newer"
	else
		for candidate in python3 python3.14 python3.13 python3.12 python3.11; do
			if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
				PYTHON=$(command -v "$candidate")
				break
			fi
		done
		[ -n "$PYTHON" ] || die "the agent needs Python 3.11 or newer, and none is on PATH. Install it: $(python_fix); then run this again (or name it with --python PATH)"
	fi
	if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
		minor=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
		case $(os_family) in
		ubuntu | debian) die "$PYTHON cannot create virtualenvs: sudo apt-get install -y python$minor-venv" ;;
		*) die "$PYTHON cannot create virtualenvs (its venv or ensurepip module is missing): $(python_fix)" ;;
		esac
	fi
}

install_agent() {
	if [ -x "$PREFIX/bin/python" ] && python_ok "$PREFIX/bin/python"; then
		say "upgrading the agent in $PREFIX to $AGENT_VERSION"
	else
		say "creating the virtualenv $PREFIX with $PYTHON"
		"$PYTHON" -m venv --clear "$PREFIX"
	fi
	# The index must answer before pip is asked: its error names the cause, pip's would not.
	"$PREFIX/bin/python" - "$SERVER/install/simple/crontopus-agent/" <<'EOF' || exit 1
import sys
import urllib.error
import urllib.request

url = sys.argv[1]
try:
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
except urllib.error.HTTPError as error:
    detail = error.read().decode("utf-8", "replace").strip()
    sys.exit(f"crontopus-agent install: error: {url} answered {error.code}: {detail}")
except (OSError, ValueError) as error:
    sys.exit(f"crontopus-agent install: error: cannot reach {url}: {error}")
EOF
	set -- --disable-pip-version-check --quiet install --upgrade
	case $SERVER in
	http://*)
		# pip ignores plain-http indexes other than this machine unless told to trust them.
		host=$(printf '%s' "$SERVER" | sed -e 's|^http://||' -e 's|[/?#].*$||' -e 's|^.*@||' -e 's|:[0-9]*$||')
		set -- "$@" --trusted-host "$host"
		;;
	esac
	[ -z "$INDEX_URL" ] || set -- "$@" --index-url "$INDEX_URL"
	[ -z "$FIND_LINKS" ] || set -- "$@" --find-links "$FIND_LINKS"
	[ "$NO_INDEX" = 0 ] || set -- "$@" --no-index
	# The Crontopus wheels by URL and hash: pip takes them from this server and from no other
	# index, however the machine's pip is configured; their dependencies come from that index.
	for wheel in $AGENT_WHEELS; do
		set -- "$@" "$SERVER/install/wheels/$wheel"
	done
	"$PREFIX/bin/python" -m pip "$@" ||
		die "pip could not install crontopus-agent $AGENT_VERSION (see above); third-party dependencies come from pip's configured index: name another with --index-url or --find-links"
	"$AGENT" --version >&2
}

# Runs the agent with --state-dir when one was given.
agent() {
	if [ -n "$STATE_DIR" ]; then
		"$AGENT" --state-dir "$STATE_DIR" "$@"
	else
		"$AGENT" "$@"
	fi
}

status_field() {
	agent status --json 2>/dev/null | "$PREFIX/bin/python" -c \
		'import json, sys; value = json.load(sys.stdin).get(sys.argv[1]); print("" if value is None else value)' "$1"
}

# Before anything changes: a machine that is not enrolled yet needs a token.
check_token() {
	if [ "$TOKEN_STDIN" = 1 ]; then
		IFS= read -r TOKEN || true
		[ -n "$TOKEN" ] || die "--token-stdin: standard input held no token"
	fi
	state=${STATE_DIR:-$(default_state_dir)}
	[ -n "$TOKEN" ] || [ -s "$state/endpoint-token" ] ||
		die "enrolling needs a token: pass --token cten_... or --token-stdin (make one on the console's Install agent page)"
	if [ -n "$TOKEN" ] && [ "$REENROLL" = 0 ] && [ -s "$state/endpoint-token" ]; then
		say "this machine is already enrolled: the token is not used (--reenroll replaces the enrollment)"
	fi
}

enroll() {
	if [ "$(status_field enrolled)" = True ] && [ "$REENROLL" = 0 ]; then
		say "already enrolled with $(status_field server) as $(status_field name): keeping it (--reenroll --token … replaces it)"
		return
	fi
	set -- enroll --server "$SERVER" --token-stdin
	[ "$REENROLL" = 0 ] || set -- "$@" --force
	[ -z "$NAME" ] || set -- "$@" --name "$NAME"
	[ -z "$DRIVER" ] || set -- "$@" --driver "$DRIVER"
	set -f
	old_ifs=$IFS
	IFS='
'
	for label in $LABELS; do
		set -- "$@" --label "$label"
	done
	IFS=$old_ifs
	set +f
	# On standard input, so the token shows in no process list.
	printf '%s\n' "$TOKEN" | agent "$@" >&2 || die "enrolling with $SERVER failed (see above)"
}

# ---- The service step ---------------------------------------------------------------------
# Everything that makes the agent run now and at boot is in this one function: the agent's own
# `service install` when it has one (it writes, enables and restarts the platform's service: a
# systemd unit, or on macOS the LaunchDaemon io.crontopus.agent), else a systemd unit written
# here.
install_service() {
	if "$AGENT" service --help >/dev/null 2>&1; then
		set -- service install --executable "$AGENT"
		if [ "$(uname -s)" = Darwin ]; then
			set -- "$@" --manager launchd
			# launchd writes the daemon's output there but does not make the directory.
			mkdir -p "$LAUNCHD_LOGS"
			# `launchctl bootstrap` refuses a loaded daemon: an upgrade boots the old one out.
			agent service stop --manager launchd >/dev/null 2>&1 || true
		fi
		agent "$@" || die "installing the service failed (see above)"
		return
	fi
	[ "$(uname -s)" = Linux ] || die "this agent has no \`service\` command: rerun with --no-service and run \`$AGENT run\` from a LaunchDaemon"
	[ -d /run/systemd/system ] || die "this machine does not run systemd: rerun with --no-service, then start \`$AGENT run\` from your init system"
	if [ -n "$STATE_DIR" ]; then
		exec_start="\"$AGENT\" --state-dir \"$STATE_DIR\" run"
	else
		exec_start="\"$AGENT\" run"
	fi
	cat >"$UNIT" <<EOF
[Unit]
Description=Crontopus agent
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=$exec_start
Restart=always
RestartSec=5
# SIGTERM ends the loop after the step in progress; a crontab is never half written.
KillSignal=SIGTERM
TimeoutStopSec=60

[Install]
WantedBy=multi-user.target
EOF
	systemctl daemon-reload
	systemctl enable crontopus-agent.service >/dev/null 2>&1
	# restart, not start: an upgrade must run the new version.
	systemctl restart crontopus-agent.service
}
# ---- End of the service step --------------------------------------------------------------

wait_for_heartbeat() {
	before=$1
	waited=0
	while [ "$waited" -lt "$WAIT_SECONDS" ]; do
		beat=$(status_field lastHeartbeatAt)
		if [ -n "$beat" ] && [ "$beat" != "$before" ]; then
			say "the agent is running: first heartbeat at $beat; it shows under Endpoints on $SERVER"
			return
		fi
		sleep 1
		waited=$((waited + 1))
	done
	if [ "$(uname -s)" = Darwin ]; then
		logs="$LAUNCHD_LOGS/agent.log"
	else
		logs="\`journalctl -u crontopus-agent\`"
	fi
	die "no heartbeat within ${WAIT_SECONDS}s: see $logs and \`$AGENT status\`; an enrollment that waits for an admin's approval (the console's Endpoints page) starts working once approved"
}

check_system
check_token
find_python
install_agent
enroll
if [ "$SERVICE" = 0 ]; then
	say "installed and enrolled; no service installed (--no-service): start the agent with \`$AGENT${STATE_DIR:+ --state-dir $STATE_DIR} run\`"
	exit 0
fi
before=$(status_field lastHeartbeatAt)
install_service
wait_for_heartbeat "$before"
