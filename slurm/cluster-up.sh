#!/usr/bin/env bash
# The local test cluster of rvhpc (recipe: shared/notes/hpc-feasibility.md).
# Bring up a single-node Slurm 22.05 cluster (Debian 12 packages) without systemd.
# Idempotent: re-running with the daemons up only re-checks them (restarts them
# if the generated slurm.conf changed). Needs root.
#   SLURM_ACCOUNTING=none      (default) no slurmdbd; `sacct` says "Slurm accounting
#                              storage is disabled", `sacct -c` reads jobcomp/filetxt
#   SLURM_ACCOUNTING=slurmdbd  also installs+starts MariaDB and slurmdbd: real sacct
set -euo pipefail

ACCT=${SLURM_ACCOUNTING:-none}
CONF=/etc/slurm/slurm.conf
NODE=localhost

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stopd() { local p; [ -s "$1" ] || return 0; p=$(cat "$1")
  kill "$p" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done; }

# 1. packages (the machine has no systemd; policy-rc.d keeps postinst from starting them)
PKGS="slurm-wlm munge"
[ "$ACCT" = slurmdbd ] && PKGS="$PKGS slurmdbd mariadb-server"
missing=""
for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"; done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 2. munge key (Debian's postinst normally creates it)
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --force
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
fi

# 3. slurm.conf: real CPU count, memory a bit below what slurmd detects
CPUS=$(nproc)
MEM_DETECTED=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
MEM=$(( MEM_DETECTED * 9 / 10 ))
if [ "$ACCT" = slurmdbd ]; then
  ACCT_LINES="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost"
else
  ACCT_LINES="AccountingStorageType=accounting_storage/none"
fi
mkdir -p /etc/slurm
cat > "$CONF.new" <<EOF
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# a requeued job waits cred_expire (+1) s before it is eligible again (default 120)
AuthInfo=cred_expire=5
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
$ACCT_LINES
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DependencyParameters=kill_invalid_depend
ReturnToService=2
MailProg=/bin/true
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MinJobAge=300
KillWait=5
InactiveLimit=0
Waittime=0
DefMemPerCPU=1024
# deliberately small so that the tests exercise rvhpc splitting grids into several arrays
MaxArraySize=5
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
CHANGED=0
if ! cmp -s "$CONF.new" "$CONF"; then mv "$CONF.new" "$CONF"; CHANGED=1; else rm -f "$CONF.new"; fi

# 4. runtime dirs
mkdir -p /run/munge /run/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chown slurm:slurm /run/slurm /var/spool/slurmctld /var/log/slurm

# 5. munged (runs as user munge, forks, writes /run/munge/munged.pid)
if ! alive /run/munge/munged.pid; then
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 50); do munge -n | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null

# 6. optional accounting: MariaDB (started by hand) + slurmdbd
if [ "$ACCT" = slurmdbd ]; then
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  if ! alive /run/mysqld/mysqld.pid; then
    setsid /usr/sbin/mariadbd --user=mysql --pid-file=/run/mysqld/mysqld.pid \
      --socket=/run/mysqld/mysqld.sock --bind-address=127.0.0.1 \
      >>/var/log/slurm/mariadb.log 2>&1 </dev/null &
  fi
  for _ in $(seq 150); do mariadb -uroot -e 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
  mariadb -uroot -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmdbpw';
    ALTER USER 'slurm'@'localhost' IDENTIFIED BY 'slurmdbpw';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  cat > /etc/slurm/slurmdbd.conf <<'EOF'
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
DebugLevel=info
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurm/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=slurmdbpw
EOF
  chown slurm:slurm /etc/slurm/slurmdbd.conf; chmod 600 /etc/slurm/slurmdbd.conf
  alive /run/slurm/slurmdbd.pid || /usr/sbin/slurmdbd
  for _ in $(seq 150); do sacctmgr -n show cluster >/dev/null 2>&1 && break; sleep 0.2; done
  sacctmgr -n -P show cluster format=cluster | grep -qx ci || sacctmgr -i add cluster ci >/dev/null
fi

# 7. slurmctld and slurmd (both daemonize by themselves). On a config change
#    restart them: `scontrol reconfigure` does not apply e.g. cred_expire.
if [ "$CHANGED" = 1 ]; then stopd /run/slurm/slurmd.pid; stopd /run/slurm/slurmctld.pid; fi
alive /run/slurm/slurmctld.pid || /usr/sbin/slurmctld
alive /run/slurm/slurmd.pid || /usr/sbin/slurmd -N "$NODE"

# 8. wait until the node is usable; undrain it if an earlier run left it down
for _ in $(seq 150); do
  state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
  case "$state" in
    idle|mixed|allocated|completing) break ;;
    down*|drain*) scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 0.2
done
if ! sinfo -h -n "$NODE" -o %T | grep -Eq '^(idle|mixed|allocated|completing)$'; then
  echo "slurm node not ready: $(sinfo -h -N -o '%N %T %E')" >&2
  tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2
  exit 1
fi
echo "slurm up ($ACCT accounting): $(sinfo -h -N -o '%N %T cpus=%c mem=%m')"
