#!/usr/bin/env bash
# Builds the libFuzzer target of the row parser with clang (ASan + UBSan + libFuzzer; the rest of
# the project stays GCC) and runs it for a bounded time on a seed corpus of real rows.
# Usage: tests/fuzz/run_fuzz.sh SOURCE_DIR BUILD_DIR [SECONDS]
# Exit 0 with a "skip:" line when clang++ or its libFuzzer runtime (libclang-rt-14-dev) is
# missing; exit 1 on a crash, a sanitizer report or a failed check.
set -euo pipefail
src=$1 build=$2 seconds=${3:-20}
cxx=${ECOM_FUZZ_CXX:-clang++}
out="$build/fuzz"
mkdir -p "$out"
command -v "$cxx" >/dev/null || { echo "skip: $cxx not found (apt-get install clang libclang-rt-14-dev)"; exit 0; }
mpi_inc=()
if command -v mpicxx >/dev/null; then
  read -r -a mpi_inc <<<"$(mpicxx --showme:compile 2>/dev/null || true)"
fi
flags=(-std=c++20 -DOMPI_SKIP_MPICXX=1 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I "$src/include" "${mpi_inc[@]}")
if ! echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
     "$cxx" -x c++ -fsanitize=fuzzer - -o "$out/probe" 2>/dev/null; then
  echo "skip: $cxx cannot link libFuzzer (apt-get install libclang-rt-14-dev)"; exit 0
fi
"$cxx" "${flags[@]}" "$src/src/io/csv.cpp" "$src/tests/fuzz/fuzz_row_parser.cpp" -o "$out/fuzz_row_parser"

# Seeds: real rows (the REES46 samples) and a few hand-made edge cases.
corpus="$out/corpus"
rm -rf "$corpus"; mkdir -p "$corpus"
n=0
for f in "$src"/tests/data/*.csv.gz; do
  while IFS= read -r line; do
    n=$((n + 1))
    printf '%s\n' "$line" > "$corpus/real_$n"
  done < <(set +o pipefail; gzip -dc "$f" | sed -n '2,41p')
done
printf '%s\n' '2019-10-01 00:00:00 UTC,view,1,2,"a,""b""",brand,1.5,0007,s' > "$corpus/quoted"
printf '%s\n' '2019-10-01 00:00:00 UTC,purchase,1,2,"a' 'b",c,1e308,1,s' > "$corpus/newline"
printf '2019-10-01 00:00:00 UTC,cart,1,2,caf\xc3\xa9,\xff,0,1,s\n' > "$corpus/utf8"
"$out/fuzz_row_parser" -max_total_time="$seconds" -max_len=512 -timeout=10 -print_final_stats=1 \
  "$corpus" 2>&1 | tail -n 12
