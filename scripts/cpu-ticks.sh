# Sourced by the benchmark scripts: CPU time from /proc, in ticks of 10 ms.

# The CPU a process has used (user + system).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# The CPU the processes named have used.
ticks_of() { local total=0 pid; for pid in "$@"; do total=$((total + $(ticks "$pid"))); done; echo "$total"; }
# PostgreSQL's CPU: the postmaster's, its live backends' and that of the backends it reaped
# (cutime + cstime): connections opened or closed during a run are counted too.
postgres_ticks() {
  local postmaster; postmaster=$(pgrep -o -x postgres) || { echo 0; return; }
  echo $(( $(awk '{print $14 + $15 + $16 + $17}' "/proc/$postmaster/stat") + $(ticks_of $(pgrep -P "$postmaster")) ))
}
