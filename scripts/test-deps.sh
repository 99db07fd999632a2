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

# --- redis-server ---------------------------------------------------------------
# lock/redislock's tests start a real redis-server on a loopback port (no persistence);
# they skip when it is missing unless SOP_REQUIRE_REDIS is set. Debian package:
# redis-server. apt-get runs as root (CI) or through passwordless sudo; otherwise this
# says what to install and goes on, and those tests skip.
install_redis() {
	if command -v redis-server >/dev/null 2>&1; then
		redis-server --version
		return
	fi
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			echo "test-deps: redis-server is missing and installing it needs root or passwordless sudo:" >&2
			echo "test-deps: install the redis-server package by hand; until then the Redis lease tests skip" >&2
			return
		fi
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "test-deps: redis-server is missing and there is no apt-get: install redis-server (7.x) by hand; until then the Redis lease tests skip" >&2
		return
	fi
	# env, not a prefix assignment: sudo would drop DEBIAN_FRONTEND from the environment.
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
	# Where systemd runs, the package also starts a service on port 6379; the tests
	# neither use nor need it: each starts its own server on a free port.
	redis-server --version
}
# ------------------------------------------------------------------------------------

# --- chromium -------------------------------------------------------------------
# ui's browser tests drive headless Chromium through chromedp; they skip when no
# chromium binary is found unless SOP_REQUIRE_CHROMIUM is set. Debian package: chromium
# (SOP_CHROMIUM may name another binary). Installed like redis-server above.
install_chromium() {
	local bin
	for bin in chromium chromium-browser google-chrome google-chrome-stable; do
		if command -v "$bin" >/dev/null 2>&1; then
			"$bin" --version 2>/dev/null || echo "test-deps: $bin is installed"
			return
		fi
	done
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			echo "test-deps: chromium is missing and installing it needs root or passwordless sudo:" >&2
			echo "test-deps: install the chromium package by hand; until then the Web UI browser tests skip" >&2
			return
		fi
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "test-deps: chromium is missing and there is no apt-get: install Chromium by hand (or set SOP_CHROMIUM to a Chrome binary); until then the Web UI browser tests skip" >&2
		return
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
	chromium --version 2>/dev/null || echo "test-deps: chromium installed"
}
# ------------------------------------------------------------------------------------

require_go
install_redis
install_chromium
