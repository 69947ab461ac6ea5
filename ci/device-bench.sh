#!/usr/bin/env bash
# Thread scaling and speed against LiteRT on a many-core x86-64 machine that gets this checkout alone
# and reaches no network (issue 11's 1-16 thread measurement), in one command:
#   here:   invoke device-pack [--python 3.12]   # .device/: wheels for its Python, the float models
#   there:  bash ci/device-bench.sh [all|layers|models]   # with .device carried along
# `layers`: every bench layer at 1, 2, 4 ... every CPU beside LiteRT at the same count, with parallel
# efficiency (invoke bench.scaling --threads); `models`: the MLPerf Tiny float models at those counts
# (invoke bench.models --threads); `all` (default): both. On the best SIMD table the CPU runs.
# Results (JSON, charts, this log) go to $OUT, or build/device/. The machine needs python3 (the
# version packed for) with numpy and matplotlib, and gcc, cmake and ninja: the harness names what is
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
case $what in all|layers|models) ;; *) echo "usage: bash ci/device-bench.sh [all|layers|models]" >&2; exit 2 ;; esac
pack=.device
if ! ls $pack/wheels/*.whl >/dev/null 2>&1 || [ ! -d $pack/models ]; then
  echo "error: no $pack/wheels or $pack/models: run 'invoke device-pack --python X.Y' where pip reaches PyPI, and carry $pack" >&2
  exit 2
fi
python=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if ! ls $pack/wheels/*-cp"${python/./}"-*.whl >/dev/null 2>&1; then
  echo "error: $pack/wheels is not for this Python (python3 is $python): run 'invoke device-pack --python $python'" >&2
  exit 2
fi
if ! python3 -c 'import numpy, matplotlib' 2>/dev/null; then
  echo "error: python3 lacks numpy or matplotlib (the device images have both; elsewhere: apt-get install python3-numpy python3-matplotlib)" >&2
  exit 2
fi
out=${OUT:-build/device}
mkdir -p "$out"
exec > >(tee "$out/device-bench.log") 2>&1
log_pid=$!
trap 'exec >&- 2>&-; wait $log_pid' EXIT  # the log is whole when the script returns, failed or not

site=/tmp/small-device-site
rm -rf "$site"
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" $pack/wheels/*.whl
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" SMALL_MODELS_DIR="$PWD/$pack/models" PYTHONUNBUFFERED=1

cpus=$(python3 -c 'import os; print(len(os.sched_getaffinity(0)))')
counts=1
for ((n = 2; n < cpus; n *= 2)); do counts+=",$n"; done
[ "$cpus" -gt 1 ] && counts+=",$cpus"
variant=avx2
grep -qw avx512f /proc/cpuinfo && variant=avx512
echo "device-bench: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $cpus CPUs, $(python3 -V 2>&1); variant $variant; threads $counts; code of $(cat $pack/revision 2>/dev/null || echo 'an unknown revision')"

start=$SECONDS
marker=$(mktemp)  # results written after it are this run's
if [ "$what" != models ]; then
  python3 -m invoke bench.scaling --variant "$variant" --threads "$counts"
  echo "device-bench: layers took $((SECONDS - start)) s"
fi
if [ "$what" != layers ]; then
  python3 -m invoke bench.models --variant "$variant" --threads "$counts"
  echo "device-bench: $what took $((SECONDS - start)) s"
fi
# $OUT takes names of letters, digits, '.', '_' and '-' alone.
for file in build/bench/scaling-*@"$variant".* build/bench/models-*@"$variant".*; do
  if [ "$file" -nt "$marker" ]; then cp "$file" "$out/$(basename "$file" | tr '@' '-')"; fi
done
ls -l "$out"
