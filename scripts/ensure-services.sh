#!/usr/bin/env bash
# Makes sure PostgreSQL, Redis and RabbitMQ (the second supported broker) answer on
# 127.0.0.1 for the test suite, and that
# Debian's docker-compose (used to validate docker-compose.yml), Chromium and nginx (the
# jobs page's browser tests drive the one, through compose's frontend config of the
# other) are there: starts the
# servers when installed, installs them from Debian's packages when missing.
set -euo pipefail

pg_answers() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_answers() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
rabbitmq_answers() { rabbitmqctl -q await_startup >/dev/null 2>&1; }

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}

wait_until() {
  local what=$1; shift
  for _ in $(seq 1 60); do "$@" && return 0; sleep 0.5; done
  echo "error: $what does not answer on 127.0.0.1" >&2
  return 1
}

if ! pg_answers; then
  if ! command -v pg_ctlcluster >/dev/null; then
    echo "installing PostgreSQL"
    apt_install postgresql
    version=$(ls /etc/postgresql | sort -V | tail -1)
    # The suite connects as postgres over TCP without a password, as on the CI machines.
    sed -i '1i host all all 127.0.0.1/32 trust' "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  wait_until PostgreSQL pg_answers
fi

if ! redis_answers; then
  command -v redis-server >/dev/null || { echo "installing Redis"; apt_install redis-server; }
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_until Redis redis_answers
fi

if ! rabbitmq_answers; then
  command -v rabbitmq-server >/dev/null || { echo "installing RabbitMQ"; apt_install rabbitmq-server; }
  echo "starting RabbitMQ"
  rabbitmq-server -detached || true
  wait_until RabbitMQ rabbitmq_answers
fi

command -v docker-compose >/dev/null || { echo "installing docker-compose"; apt_install docker-compose; }
command -v chromium >/dev/null || { echo "installing Chromium"; apt_install chromium; }
# Only the binary is used (the tests run it on a free port); Debian does not start it
# where no init system runs, as on the CI machines.
[ -x /usr/sbin/nginx ] || { echo "installing nginx"; apt_install nginx; }
