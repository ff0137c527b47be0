#!/usr/bin/env bash
# Start the loopback PostgreSQL and MariaDB servers the integration tests use,
# when they are installed and not running. Safe to run repeatedly.
set -euo pipefail

if command -v pg_lsclusters >/dev/null 2>&1; then
  for version in $(ls /etc/postgresql 2>/dev/null); do
    if ! pg_lsclusters --no-header | awk -v v="$version" '$1==v && $2=="main" && $4=="online"' | grep -q .; then
      echo "starting PostgreSQL $version"
      pg_ctlcluster --skip-systemctl-redirect "$version" main start
    fi
  done
fi

if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then
  if ! mariadb-admin ping --silent >/dev/null 2>&1; then
    echo "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    for _ in $(seq 1 60); do
      mariadb-admin ping --silent >/dev/null 2>&1 && break
      sleep 0.5
    done
  fi
fi

for _ in $(seq 1 60); do
  pg_isready -h 127.0.0.1 -q && break
  sleep 0.5
done
