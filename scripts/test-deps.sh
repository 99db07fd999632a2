#!/usr/bin/env bash
# Installs what the tests need, so that `make test` passes on a fresh machine with Go.
# The tests need Go, redis-server for the Redis lease tests (lock/redislock), and
# chromium for the Web UI's browser tests (ui).
set -euo pipefail

require_go() {
	if ! command -v go >/dev/null 2>&1; then
		echo "test-deps: go is not on PATH; install Go 1.26 or newer" >&2
		exit 1
	fi
	go version
}

# apt_install PACKAGE WHAT: installs the Debian package PACKAGE with apt-get, as root
# (CI) or through passwordless sudo; otherwise it says what to install and returns 1,
# and WHAT (the tests that need it) skip until then.
apt_install() {
	local pkg=$1 what=$2 sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			echo "test-deps: $pkg is missing and installing it needs root or passwordless sudo:" >&2
			echo "test-deps: install the $pkg package by hand; until then $what skip" >&2
			return 1
		fi
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "test-deps: $pkg is missing and there is no apt-get: install $pkg by hand; until then $what skip" >&2
		return 1
	fi
	# env, not a prefix assignment: sudo would drop DEBIAN_FRONTEND from the environment.
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
}

# --- redis-server ---------------------------------------------------------------
# lock/redislock's and the cluster tests start real redis-servers on loopback ports (no
# persistence); they skip when it is missing unless SOP_REQUIRE_REDIS is set. Debian
# package: redis-server (7.x). Where systemd runs, the package also starts a service on
# port 6379; the tests neither use nor need it.
install_redis() {
	if ! command -v redis-server >/dev/null 2>&1; then
		apt_install redis-server "the Redis lease and cluster tests" || return 0
	fi
	redis-server --version
}

# --- chromium -------------------------------------------------------------------
# ui's browser tests drive headless Chromium through chromedp; they skip when no
# chromium binary is found unless SOP_REQUIRE_CHROMIUM is set. Debian package: chromium
# (SOP_CHROMIUM may name another binary).
install_chromium() {
	local bin
	for bin in chromium chromium-browser google-chrome google-chrome-stable; do
		if command -v "$bin" >/dev/null 2>&1; then
			"$bin" --version 2>/dev/null || echo "test-deps: $bin is installed"
			return
		fi
	done
	apt_install chromium "the Web UI browser tests" || return 0
	chromium --version 2>/dev/null || echo "test-deps: chromium installed"
}
# ------------------------------------------------------------------------------------

require_go
install_redis
install_chromium
