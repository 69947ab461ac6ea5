#!/bin/sh
# semihost_run.sh QEMU-SYSTEM-COMMAND... PROGRAM.elf
#
# Runs a bare-metal program under QEMU system mode with Arm semihosting, as if it were a user-mode
# program: this script's stdin and stdout reach the program as two FIFOs, whose paths it gets as
# the arguments --in=PATH and --out=PATH (lib/runner/runner.c opens them; semihosting file I/O is
# byte-exact, while QEMU's emulated console corrupts binary data). The program's console output
# (printf, semihosting writes to stdout and stderr) comes out on this script's stderr, and the
# script exits with the program's exit status (picolibc's semihosting crt0 passes main's return
# value to QEMU). A program that never opens the FIFOs (the self-test) runs the same way.
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 QEMU-SYSTEM-COMMAND... PROGRAM.elf" >&2
    exit 2
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/semihost.XXXXXX") || exit 1
mkfifo "$dir/in" "$dir/out" || exit 1

# The program is the last argument; everything before it is the QEMU command.
program=""
for argument in "$@"; do program=$argument; done
count=$#
index=0
for argument in "$@"; do
    index=$((index + 1))
    shift
    [ "$index" -lt "$count" ] && set -- "$@" "$argument"
done

# Asynchronous commands get /dev/null as stdin unless given another: keep ours on fd 3.
exec 3<&0
cat <&3 >"$dir/in" &
input_relay=$!
cat "$dir/out" &
output_relay=$!
"$@" -semihosting-config "enable=on,target=native,arg=$(basename "$program"),arg=--in=$dir/in,arg=--out=$dir/out" \
    -kernel "$program" </dev/null >&2 &
qemu=$!
# The runner's deadline kills this script; take QEMU and the relays along.
trap 'kill $qemu $input_relay $output_relay 2>/dev/null; rm -rf "$dir"; exit 143' TERM INT HUP
wait $qemu
status=$?
# A relay still waiting to open its FIFO (the program never opened it) is released by opening the
# FIFO read-write, which never blocks; the output relay then sees the end of its data. Again until
# it has gone: a relay not yet started when QEMU is quick (a probe) would open it after a one-time
# release and wait for a writer for ever (1 run in 50 on 2 busy cores).
while kill -0 $output_relay 2>/dev/null; do
    : <>"$dir/out"
    sleep 0.01
done
wait $output_relay
kill $input_relay 2>/dev/null
: <>"$dir/in"
rm -rf "$dir"
exit $status
