#!/usr/bin/env bash
# Fuzzes the core's decoders and state machines with SharpFuzz and AFL++ (by hand, not in CI; CI replays
# fuzz/corpus through the same targets: tests/Adversarial/FuzzCorpus.fs).
#
#   fuzz/run.sh [target ...] [-t seconds]     targets: frame preamble handshake record sealed (default: all), 300 s each
#   fuzz/run.sh --loop [runs]                 no AFL++: the in-process mutation loop (default 200000 runs per target)
#
# Findings go to fuzz/findings/<target>/ (not checked in). A crash becomes a regression test: copy the input
# to fuzz/corpus/<target>/ so that CI replays it, and fix the core.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

seconds=300
targets=()
loop=""
while [ $# -gt 0 ]; do
  case "$1" in
    -t) seconds="$2"; shift 2 ;;
    --loop) loop="${2:-200000}"; shift; [ $# -gt 0 ] && shift ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=(frame preamble handshake record sealed)

out=fuzz/bin
dotnet tool restore >/dev/null
dotnet publish fuzz/HybridProtocol.Fuzz -c Release -o "$out" -warnaserror >/dev/null
dll="$out/HybridProtocol.Fuzz.dll"

if [ -n "$loop" ]; then
  for t in "${targets[@]}"; do dotnet "$dll" loop "$t" fuzz/corpus "$loop" "$RANDOM"; done
  exit 0
fi

if ! command -v afl-fuzz >/dev/null; then
  echo "afl-fuzz not found: installing Debian's afl++ package" >&2
  sudo apt-get install -y afl++ || apt-get install -y afl++
fi

# Instrument the code under test (the core), not the harness. Idempotent: a fresh publish each run.
dotnet sharpfuzz "$out/HybridProtocol.Core.dll"

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1
for t in "${targets[@]}"; do
  findings="fuzz/findings/$t"
  mkdir -p "$findings"
  echo "== $t: $seconds s"
  afl-fuzz -V "$seconds" -i "fuzz/corpus/$t" -o "$findings" -t 10000 -m none -- dotnet "$dll" "$t" || true
  stats="$findings/default/fuzzer_stats"
  if [ -f "$stats" ]; then
    grep -E '^(execs_done|execs_per_sec|saved_crashes|saved_hangs|corpus_count)' "$stats" | sed "s/^/$t: /"
  fi
done
