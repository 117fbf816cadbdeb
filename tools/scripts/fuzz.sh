#!/usr/bin/env bash
# Builds the libFuzzer targets (every tests/fuzz/fuzz_*.cc; clang with
# address + undefined sanitizers, in build-fuzz/) and runs each for SECONDS
# (default 60) from its committed seed corpus and dictionary. Exits non-zero
# on any finding; reproducers land in build-fuzz/findings/.
# Usage: tools/scripts/fuzz.sh [SECONDS] [TARGET...]     e.g. tools/scripts/fuzz.sh 30 fuzz_blob
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
build=build-fuzz
clang_version=14

tools/scripts/install-deps.sh "clang-$clang_version" "libclang-rt-$clang_version-dev"
options=(-Dfuzz=true -Dtests=disabled -Dbuildtype=debugoptimized
         -Db_sanitize=address,undefined -Db_lundef=false
         -Davx3_dl=false)  # clang-14 cannot build the VNNI target with Highway 1.0.3
if [ -f "$build/build.ninja" ]; then
  # Reconfiguring also picks up newly added fuzz_*.cc files.
  meson setup --reconfigure "$build" "${options[@]}" >/dev/null
else
  CC=clang-$clang_version CXX=clang++-$clang_version meson setup "$build" "${options[@]}" >/dev/null
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.cc; do targets+=("$(basename "$src" .cc)"); done
fi
mkdir -p "$build"
if ! meson compile -C "$build" -j 2 "${targets[@]}" >"$build/compile.log" 2>&1; then
  echo "fuzz: building the targets failed (log $build/compile.log):"
  grep -E "error|FAILED|undefined reference" "$build/compile.log" | head -20
  exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
mkdir -p "$build/findings"
failed=0
for t in "${targets[@]}"; do
  seeds=tests/fuzz/corpus/$t
  work=$build/corpus/$t       # grows while fuzzing; never committed
  mkdir -p "$work" "$seeds"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
        -malloc_limit_mb=512 -print_final_stats=1
        -artifact_prefix="$build/findings/$t-")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  log=$build/$t.log
  status=0
  "$build/tests/fuzz/$t" "${args[@]}" "$work" "$seeds" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if [ $status -ne 0 ]; then
    failed=1
    echo "fuzz: $t FAILED after ${execs:-?} executions (exit $status); log $log"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20 || true
  else
    echo "fuzz: $t ok: ${execs:-?} executions in ${seconds}s, ${cov:-cov: ?}, corpus $(ls "$work" | wc -l) files"
  fi
done
exit $failed
