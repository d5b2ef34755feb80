#!/usr/bin/env bash
# Make sure the services idemsum needs are up:
#   - MariaDB at 127.0.0.1:3306, root with an EMPTY password over TCP, database `test`
#   - Redis at 127.0.0.1:6379
#
# Idempotent and quiet when all is well: a service that already answers is left
# completely alone (never restarted, never killed). Otherwise the script installs
# what is missing with apt-get, starts the service without systemd, waits for it
# by polling with a deadline, and sets up root/`test`. Installing and starting
# need root; checking does not.
#
# Overrides, meant for testing this script against throw-away instances (the
# defaults are the standard ones):
#   IDEMSUM_MYSQL_PORT     (3306)  IDEMSUM_MYSQL_DATADIR, IDEMSUM_MYSQL_SOCKET,
#   IDEMSUM_MYSQL_PIDFILE, IDEMSUM_MYSQL_LOG  (default: from the MariaDB config)
#   IDEMSUM_REDIS_PORT     (6379)  IDEMSUM_REDIS_DIR (/var/lib/redis),
#   IDEMSUM_REDIS_LOG, IDEMSUM_REDIS_PIDFILE
#   IDEMSUM_SERVICES_TIMEOUT (60): seconds to wait for each service to answer
set -euo pipefail

HOST=127.0.0.1
MYSQL_PORT=${IDEMSUM_MYSQL_PORT:-3306}
REDIS_PORT=${IDEMSUM_REDIS_PORT:-6379}
TIMEOUT=${IDEMSUM_SERVICES_TIMEOUT:-60}
MARIADBD=/usr/sbin/mariadbd

# Debian puts daemons and admin tools in sbin; make sure we find them even when
# PATH is minimal.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

log() { echo "services.sh: $*" >&2; }
die() {
	echo "services.sh: ERROR: $*" >&2
	exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

need_root() {
	if [ "$(id -u)" != 0 ]; then
		die "$1 needs root (run this script as root, or bring the service up yourself)"
	fi
}

# port_open PORT: something accepts TCP connections on $HOST:PORT.
port_open() {
	(exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# wait_for DESCRIPTION COMMAND...: poll COMMAND until it succeeds or TIMEOUT passes.
wait_for() {
	local what=$1
	shift
	local deadline=$((SECONDS + TIMEOUT))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			log "$what did not answer within ${TIMEOUT}s"
			return 1
		fi
		sleep 0.2
	done
}

# run_quiet COMMAND...: run COMMAND with its output captured; show it only on failure.
run_quiet() {
	local out rc=0
	out=$(mktemp)
	"$@" </dev/null >"$out" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		echo "services.sh: command failed (exit $rc): $*" >&2
		tail -n 50 "$out" >&2
		rm -f "$out"
		return "$rc"
	fi
	rm -f "$out"
}

APT_UPDATED=0
apt_install() {
	need_root "installing $*"
	have apt-get || die "apt-get not found: install $* by hand"
	export DEBIAN_FRONTEND=noninteractive
	if [ "$APT_UPDATED" = 0 ]; then
		log "apt-get update"
		run_quiet apt-get -o DPkg::Lock::Timeout=300 update ||
			die "apt-get update failed"
		APT_UPDATED=1
	fi
	log "apt-get install $*"
	run_quiet apt-get -o DPkg::Lock::Timeout=300 install -y "$@" ||
		die "apt-get install $* failed"
}

# tail_log FILE: show the end of a service log after a failure.
tail_log() {
	if [ -r "$1" ]; then
		echo "---- last lines of $1 ----" >&2
		tail -n 30 "$1" >&2
		echo "----" >&2
	fi
}

# ---------------------------------------------------------------- MariaDB

# mysql_tcp ARGS...: the mariadb client as root, empty password, over TCP.
# --no-defaults: see exactly what the Go driver sees (no ~/.my.cnf password).
mysql_tcp() {
	mariadb --no-defaults --protocol=tcp -h"$HOST" -P"$MYSQL_PORT" -uroot --connect-timeout=5 "$@"
}

# mysql_socket ARGS...: the mariadb client as root over the unix socket (unix_socket auth).
mysql_socket() {
	mariadb --no-defaults --protocol=socket -S"$MYSQL_SOCKET" -uroot --connect-timeout=5 "$@"
}

# mysql_ok: the final contract — root, empty password, TCP, database test.
mysql_ok() {
	have mariadb && mysql_tcp -e 'select 1' test >/dev/null 2>&1
}

# mysql_alive: the server answers, on TCP or on its unix socket. mariadb-admin ping
# succeeds even when access is denied, but not when the host is refused (error 1130,
# which a fresh install gives TCP clients under skip-name-resolve), hence the socket.
mysql_alive() {
	mariadb-admin --no-defaults --protocol=tcp -h"$HOST" -P"$MYSQL_PORT" --connect-timeout=2 ping ||
		{ [ -S "$MYSQL_SOCKET" ] && mariadb-admin --no-defaults --protocol=socket -S"$MYSQL_SOCKET" \
			-uroot --connect-timeout=2 ping; }
}

# mysql_config NAME DEFAULT: a [mysqld] setting from the MariaDB config files.
mysql_config() {
	local name=$1 def=$2 line key val=""
	if have my_print_defaults; then
		while IFS= read -r line; do
			key=${line%%=*}
			key=${key//_/-}
			if [ "$key" = "--$name" ] && [ "$line" != "$key" ]; then
				val=${line#*=}
			fi
		done < <(my_print_defaults --mysqld 2>/dev/null || true)
	fi
	echo "${val:-$def}"
}

# make_mysql_dir DIR: create DIR owned by mysql if it does not exist yet.
make_mysql_dir() {
	if [ ! -d "$1" ]; then
		install -d -o mysql -g mysql -m 0755 "$1"
	fi
}

start_mysql() {
	need_root "starting MariaDB"
	[ -x "$MARIADBD" ] || die "$MARIADBD not found even after installing mariadb-server"
	id mysql >/dev/null 2>&1 || die "there is no 'mysql' user to run MariaDB as"

	local datadir pidfile logfile
	datadir=${IDEMSUM_MYSQL_DATADIR:-$(mysql_config datadir /var/lib/mysql)}
	pidfile=${IDEMSUM_MYSQL_PIDFILE:-$(mysql_config pid-file /run/mysqld/mysqld.pid)}
	logfile=${IDEMSUM_MYSQL_LOG:-$(mysql_config log-error /var/log/mysql/error.log)}

	make_mysql_dir "$(dirname "$MYSQL_SOCKET")"
	make_mysql_dir "$(dirname "$pidfile")"
	make_mysql_dir "$(dirname "$logfile")"

	if [ ! -d "$datadir/mysql" ]; then
		log "initialising the MariaDB data directory $datadir"
		run_quiet mariadb-install-db --user=mysql --datadir="$datadir" \
			--auth-root-authentication-method=socket --skip-test-db ||
			die "mariadb-install-db failed"
	fi

	log "starting MariaDB on $HOST:$MYSQL_PORT"
	# --pidfile+--exec: --oknodo only skips the start when *this* instance runs.
	start-stop-daemon --start --oknodo --quiet --background \
		--pidfile "$pidfile" --exec "$MARIADBD" -- \
		--user=mysql --datadir="$datadir" --socket="$MYSQL_SOCKET" \
		--pid-file="$pidfile" --log-error="$logfile" \
		--bind-address="$HOST" --port="$MYSQL_PORT" </dev/null ||
		die "start-stop-daemon could not start $MARIADBD"

	if ! wait_for "MariaDB on $HOST:$MYSQL_PORT" mysql_alive; then
		tail_log "$logfile"
		die "MariaDB did not start"
	fi
}

# setup_mysql_root: root with an empty password over TCP, and database test.
setup_mysql_root() {
	if mysql_tcp -e 'select 1' >/dev/null 2>&1; then
		# root already gets in over TCP: only the database is missing.
		mysql_tcp -e 'CREATE DATABASE IF NOT EXISTS test' ||
			die "could not create database test"
		return
	fi
	log "letting root in over TCP with an empty password (via $MYSQL_SOCKET)"
	mysql_socket -e 'select 1' >/dev/null 2>&1 ||
		die "MariaDB answers on $HOST:$MYSQL_PORT but root can log in neither over TCP with an empty password nor through the unix socket $MYSQL_SOCKET; fix its credentials by hand"
	mysql_socket <<'SQL' || die "could not set up root and database test"
ALTER USER IF EXISTS root@localhost IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
CREATE USER IF NOT EXISTS root@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('');
ALTER USER root@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('');
GRANT ALL PRIVILEGES ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS test;
FLUSH PRIVILEGES;
SQL
}

ensure_mysql() {
	mysql_ok && return 0

	if ! have mariadb || ! have mariadb-admin; then
		if port_open "$MYSQL_PORT" || [ -x "$MARIADBD" ]; then
			apt_install mariadb-client
		else
			apt_install mariadb-server mariadb-client
		fi
		# The package may have started the server itself.
		mysql_ok && return 0
	fi

	MYSQL_SOCKET=${IDEMSUM_MYSQL_SOCKET:-$(mysql_config socket /run/mysqld/mysqld.sock)}

	if ! mysql_alive >/dev/null 2>&1; then
		if port_open "$MYSQL_PORT"; then
			# Something listens but does not answer yet (still starting?): wait.
			wait_for "MariaDB on $HOST:$MYSQL_PORT" mysql_alive ||
				die "something listens on $HOST:$MYSQL_PORT but MariaDB does not answer there"
		else
			if [ ! -x "$MARIADBD" ]; then
				apt_install mariadb-server mariadb-client
			fi
			if ! mysql_alive >/dev/null 2>&1; then
				start_mysql
			fi
		fi
	fi

	mysql_ok && return 0
	setup_mysql_root
}

# ---------------------------------------------------------------- Redis

redis_ok() {
	have redis-cli && [ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

start_redis() {
	need_root "starting Redis"
	local dir=${IDEMSUM_REDIS_DIR:-/var/lib/redis}
	local logfile=${IDEMSUM_REDIS_LOG:-/var/log/redis/redis-server-$REDIS_PORT.log}
	local pidfile=${IDEMSUM_REDIS_PIDFILE:-/run/redis/redis-server-$REDIS_PORT.pid}
	mkdir -p "$dir" "$(dirname "$logfile")" "$(dirname "$pidfile")"

	log "starting Redis on $HOST:$REDIS_PORT"
	redis-server --daemonize yes --bind "$HOST" -::1 --port "$REDIS_PORT" \
		--save "" --appendonly no --dir "$dir" --logfile "$logfile" \
		--pidfile "$pidfile" </dev/null >/dev/null ||
		{
			tail_log "$logfile"
			die "redis-server failed to start"
		}
	if ! wait_for "Redis on $HOST:$REDIS_PORT" redis_ok; then
		tail_log "$logfile"
		die "Redis did not start"
	fi
}

ensure_redis() {
	redis_ok && return 0

	if ! have redis-cli || ! have redis-server; then
		if port_open "$REDIS_PORT" || have redis-server; then
			have redis-cli || apt_install redis-tools
		else
			apt_install redis-server
		fi
		# The package may have started the server itself.
		redis_ok && return 0
	fi

	if port_open "$REDIS_PORT"; then
		# Something listens (Redis still loading?): wait, never start a second one.
		wait_for "Redis on $HOST:$REDIS_PORT" redis_ok ||
			die "something listens on $HOST:$REDIS_PORT but Redis does not answer PING there"
		return 0
	fi
	start_redis
}

# ---------------------------------------------------------------- main

ensure_mysql
ensure_redis

# Final check: exactly what the tests and the service will use.
if ! have mariadb || ! mysql_tcp -e 'select 1' test >/dev/null; then
	die "MariaDB does not accept root with an empty password over TCP at $HOST:$MYSQL_PORT with database test"
fi
if ! redis_ok; then
	die "Redis does not answer PING at $HOST:$REDIS_PORT"
fi
