# SPDX-License-Identifier: BSD-2-Clause
# Guest vsock stack, library part: protocol engine, socket API and device
# glue. Relative to the tree's root; Filelists.mk includes this and adds the
# prefix. Add a new vsock/ source to this list.
BAREVSOCK_VSOCK_FILES := vsock/vsock_engine.c vsock/vsock_socket.c vsock/vsock_dev.c vsock/vsock_diag.c vsock/vsock_rpc.c
