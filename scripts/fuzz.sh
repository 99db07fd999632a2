#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each. `go test -fuzz` accepts one
# package and one target per run, so list the pairs first and run them one by one.
set -euo pipefail

GO="${GO:-go}"
FUZZTIME="${FUZZTIME:-30s}"

if [ -z "$("$GO" list -e ./... 2>/dev/null)" ]; then
	echo "no Go packages yet: no fuzz targets"
	exit 0
fi

# `go test -list` prints a package's matching names, then "ok <package> <time>".
pairs="$("$GO" test -list '^Fuzz' ./... | awk '
	/^Fuzz/ { names[n++] = $1; next }
	/^ok /  { for (i = 0; i < n; i++) print $2, names[i]; n = 0; next }
	        { n = 0 }
')"

if [ -z "$pairs" ]; then
	echo "no fuzz targets"
	exit 0
fi

count=0
while read -r pkg target; do
	echo "== fuzz $pkg $target for $FUZZTIME"
	"$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
	count=$((count + 1))
done <<<"$pairs"
echo "fuzzed $count targets"
