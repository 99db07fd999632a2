#!/usr/bin/env bash
# Installs what the tests need, so that `make test` passes on a fresh machine with Go.
# Today the tests need only Go. Later tests (Redis locks) add redis-server here.
set -euo pipefail

require_go() {
	if ! command -v go >/dev/null 2>&1; then
		echo "test-deps: go is not on PATH; install Go 1.26 or newer" >&2
		exit 1
	fi
	go version
}

# --- redis-server (not called yet) --------------------------------------------------
# Enable by calling install_redis below once lock/redislock's tests need a real server.
# Debian package: redis-server. apt-get needs root; CI runs as root.
#
# install_redis() {
# 	if command -v redis-server >/dev/null 2>&1; then
# 		redis-server --version
# 		return
# 	fi
# 	SUDO=""
# 	if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# 	$SUDO apt-get update -qq
# 	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server
# 	redis-server --version
# }
# ------------------------------------------------------------------------------------

require_go
# install_redis
