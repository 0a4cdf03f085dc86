# shellcheck shell=bash
# A single-node Slurm cluster for tests and CI, on Debian 12 as root without systemd:
# munge + slurmctld + slurmd on the loopback address, started by hand.
#
# Source this file, then:
#   slurm_install             apt-get install slurmctld slurmd slurm-client munge (if missing)
#   slurm_up                  start munge and both daemons (what is not running yet); wait for the node
#   slurm_wait_job ID SECS    wait until every task of job ID has ended; 0 if all COMPLETED
#   slurm_down                stop the daemons slurm_up started (by their pidfiles)
#
# Every external command runs under `timeout`, and every wait is bounded, so nothing here hangs.
# It writes /etc/slurm/slurm.conf only if there is none or it is one it wrote itself.

SLURM_CONF=/etc/slurm/slurm.conf
SLURM_MARK="# inference-lab test cluster: written by tests/slurm/cluster.sh"
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac
_slurm_started=()

slurm_log() { echo "slurm: $*" >&2; }

slurm_installed() {
    command -v sbatch >/dev/null 2>&1 && [ -x /usr/sbin/slurmctld ] &&
        [ -x /usr/sbin/slurmd ] && [ -x /usr/sbin/munged ]
}

slurm_install() {
    slurm_installed && return 0
    if [ "$(id -u)" != 0 ]; then
        slurm_log "Slurm is not installed, and installing it needs root"
        return 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        slurm_log "Slurm is not installed, and there is no apt-get"
        return 1
    fi
    local log
    log=$(mktemp /tmp/slurm-apt.XXXXXX)
    slurm_log "installing slurmctld slurmd slurm-client munge with apt-get"
    # Not `slurm`: that Debian package is an unrelated network monitor.
    if ! DEBIAN_FRONTEND=noninteractive timeout 180 apt-get update >"$log" 2>&1 ||
        ! DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y --no-install-recommends \
            slurmctld slurmd slurm-client munge >>"$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -f "$log"
        slurm_log "apt-get failed (no network to the Debian mirror?)"
        return 1
    fi
    rm -f "$log"
    slurm_installed
}

# Whether the process in pidfile $1 is alive (a zombie waiting for PID 1 to reap it is not).
_slurm_alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}

_munge_ok() {
    local cred
    cred=$(timeout 5 munge -n </dev/null 2>/dev/null) || return 1
    timeout 5 unmunge >/dev/null 2>&1 <<<"$cred"
}

# Waits up to $1 seconds (in 0.5 s steps) for the command "${@:2}" to succeed.
_slurm_until() {
    local tries=$(($1 * 2))
    shift
    while ! "$@"; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 1
        sleep 0.5
    done
}

_slurm_node_idle() {
    local state
    state=$(timeout 5 sinfo -h -N -o %T 2>/dev/null) || return 1
    [ "$state" = idle ]
}

_slurm_write_conf() {
    local node=$1 cpus mem
    cpus=$(nproc)
    mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
    install -d -m 0755 /etc/slurm
    cat >"$SLURM_CONF" <<EOF
$SLURM_MARK
ClusterName=ci
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
# Schedule at once (the default waits 3 s a round), and cancel jobs whose dependency can
# never be met instead of leaving them pending forever.
SchedulerParameters=batch_sched_delay=0
DependencyParameters=kill_invalid_depend
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

slurm_up() {
    local node
    node=$(hostname -s)
    if [ "$(id -u)" != 0 ] && ! _slurm_node_idle; then
        slurm_log "no Slurm node is up, and starting one needs root"
        return 1
    fi
    if ! _munge_ok; then
        install -d -o munge -g munge -m 0755 /run/munge
        [ -s /etc/munge/munge.key ] ||
            timeout 20 runuser -u munge -- /usr/sbin/mungekey --create --force || return 1
        # As the munge user: as root munged refuses its log file. --force takes over a stale
        # socket left by a killed munged.
        timeout 20 runuser -u munge -- /usr/sbin/munged --force || return 1
        _slurm_started+=(/run/munge/munged.pid)
        _slurm_until 10 _munge_ok || {
            slurm_log "munge does not answer"
            return 1
        }
    fi
    if [ -e "$SLURM_CONF" ] && ! grep -qF "$SLURM_MARK" "$SLURM_CONF"; then
        if _slurm_node_idle; then
            slurm_log "using the running cluster of $SLURM_CONF"
            return 0
        fi
        slurm_log "$SLURM_CONF was not written by this script: not touching it"
        return 1
    fi
    _slurm_write_conf "$node"
    install -d -m 0755 /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    if ! _slurm_alive /run/slurmctld.pid; then
        # -c: start with an empty state. Both daemons fork into the background themselves.
        timeout 30 /usr/sbin/slurmctld -c || return 1
        _slurm_started+=(/run/slurmctld.pid)
    fi
    if ! _slurm_alive /run/slurmd.pid; then
        timeout 30 /usr/sbin/slurmd -N "$node" || return 1
        _slurm_started+=(/run/slurmd.pid)
    fi
    if ! _slurm_until 60 _slurm_node_idle; then
        slurm_log "node $node is not idle after 60 s:"
        timeout 5 sinfo -N >&2 || true
        tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
        return 1
    fi
}

slurm_down() {
    local i pidfile pid
    for ((i = ${#_slurm_started[@]} - 1; i >= 0; i--)); do
        pidfile=${_slurm_started[i]}
        _slurm_alive "$pidfile" || continue
        pid=$(cat "$pidfile")
        kill -TERM "$pid" 2>/dev/null || continue
        _slurm_until 15 eval "! _slurm_alive $pidfile" || kill -KILL "$pid" 2>/dev/null || true
    done
    _slurm_started=()
}

_slurm_job_ended() {
    local info
    info=$(timeout 10 scontrol -o show job "$1" 2>/dev/null) || return 1
    [ -n "$info" ] || return 1
    # Every record (one per array task; pending tasks share one) in a final state.
    ! grep -vqE 'JobState=(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE) ' <<<"$info"
}

# Polls scontrol every 0.5 s (sbatch --wait backs off to 32 s), up to $2 seconds. Prints each
# task's final state; returns 0 only if every task COMPLETED with exit code 0.
slurm_wait_job() {
    local id=$1 secs=$2 info
    if ! _slurm_until "$secs" _slurm_job_ended "$id"; then
        slurm_log "job $id has not ended after $secs s:"
        timeout 10 scontrol show job "$id" >&2 || true
        return 1
    fi
    info=$(timeout 10 scontrol -o show job "$id") || return 1
    awk '{
        line = "slurm:  "; state = ""; code = ""
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^(JobId|ArrayTaskId|JobName|JobState|ExitCode)=/) line = line " " $i
            if ($i ~ /^JobState=/) state = $i
            if ($i ~ /^ExitCode=/) code = $i
        }
        print line > "/dev/stderr"
        if (state != "JobState=COMPLETED" || code != "ExitCode=0:0") bad = 1
    } END { exit bad }' <<<"$info"
}
