#!/usr/bin/env bash
# Stop what cluster-up.sh started (by PID file only). --purge also deletes job
# state, logs and the accounting database, so the next start is a clean cluster.
set -uo pipefail

# cancel all jobs so that no slurmstepd/job processes outlive the daemons
if [ -s /run/slurm/slurmctld.pid ] && command -v squeue >/dev/null; then
  jobs=$(squeue -h -o %A 2>/dev/null || true)
  if [ -n "$jobs" ]; then
    scancel $jobs 2>/dev/null || true
    for _ in $(seq 50); do [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.2; done
  fi
fi

stop() {  # stop <pidfile>: SIGTERM, wait up to 10 s, then SIGKILL
  local f=$1 pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$f"
}
stop /run/slurm/slurmd.pid
stop /run/slurm/slurmctld.pid
stop /run/slurm/slurmdbd.pid
if [ "${1:-}" = "--purge" ] && [ -s /run/mysqld/mysqld.pid ]; then
  mariadb -uroot -e 'DROP DATABASE IF EXISTS slurm_acct_db' 2>/dev/null || true
fi
stop /run/mysqld/mysqld.pid
stop /run/munge/munged.pid

if [ "${1:-}" = "--purge" ]; then
  rm -rf /var/spool/slurmctld/* /var/spool/slurmd/* /var/log/slurm/*
fi
echo "slurm down"
