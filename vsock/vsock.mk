# SPDX-License-Identifier: BSD-2-Clause
# Guest vsock stack: protocol engine and socket API (pure C, no device access).
# The device glue appends its own source here.
VSOCK_SRCS += vsock/vsock_engine.c
VSOCK_SRCS += vsock/vsock_dev.c
