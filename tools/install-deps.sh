#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Install every Debian package barevsock needs to build, run and test.
# Idempotent: only calls apt-get when something is missing.
set -euo pipefail

PKGS=(
	make gcc libc6-dev            # host tools, unit tests (ASan/UBSan come with gcc)
	gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu picolibc-aarch64-linux-gnu
	gcc-arm-none-eabi binutils-arm-none-eabi picolibc-arm-none-eabi
	qemu-system-x86 qemu-system-arm
	python3 python3-pytest
	socat                         # host-side clients in tests
	linux-image-amd64 busybox-static kmod cpio xz-utils   # Linux guest and kernel lane
	clang lld libclang-rt-14-dev  # fuzzing (libFuzzer + sanitizers); clang and lld-link also build the .efi apps
	python3-matplotlib            # bench chart
	ovmf qemu-efi-aarch64 qemu-efi-arm   # UEFI firmware for the .efi builds
	tshark                        # decoding our packet captures in tests
	graphviz                      # docs: the connection state diagram
	iproute2 tcpdump              # kernel lane: vsockmon captures
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PKGS[@]} packages present"
	exit 0
fi
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
