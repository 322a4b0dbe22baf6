#!/usr/bin/env bash
# Runs Paket with the machine's own NuGet feed, so no file in this repository names a registry.
# MSBuild calls this through PaketExePath (Directory.Build.props); you can call it by hand too.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ -z "${NUGET_SOURCE:-}" ]; then
  NUGET_SOURCE="$(dotnet nuget list source --format Short 2>/dev/null | awk '$1 ~ /^E/ { print $2; exit }')"
  export NUGET_SOURCE
fi
# Several projects may restore tools at once on a fresh machine; retry on collisions.
for attempt in 1 2 3 4 5; do
  if dotnet tool restore >/dev/null 2>&1; then break; fi
  sleep $((attempt))
done
status=0
dotnet paket "$@" || status=$?
# paket install/update/add write the expanded feed into paket.lock: put the placeholder back.
if [ -f "$root/paket.lock" ] && [ -n "$NUGET_SOURCE" ]; then
  sed -i "s#remote: ${NUGET_SOURCE}#remote: %NUGET_SOURCE%#" "$root/paket.lock"
fi
exit $status
