#!/usr/bin/env bash
# Starts a Docker engine when none answers: through systemd where there is one, else dockerd by
# hand with settings that work in containers and VMs without iptables or a bridge (such as CI).
set -euo pipefail
if docker info >/dev/null 2>&1; then
  echo "docker engine: already running"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ -d /run/systemd/system ] && $sudo systemctl start docker 2>/dev/null; then
  echo "docker engine: started with systemctl"
else
  log=/tmp/small-dockerd.log
  $sudo sh -c "nohup dockerd --storage-driver=vfs --iptables=false --bridge=none >$log 2>&1 &"
  echo "docker engine: started dockerd (log: $log)"
fi
for _ in $(seq 60); do
  if $sudo docker info >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "docker engine: did not answer within 60 s; see the log above" >&2
exit 1
