/* SPDX-License-Identifier: BSD-2-Clause */
/* The Unix-socket side of the host back end: the host end of each connection
 * is a Unix socket, in the Firecracker / vhost-device-vsock hybrid convention
 * (host -> guest: connect to --uds-path, "CONNECT <port>\n", "OK <n>\n";
 * guest -> host: <uds-path>_<port>). Implements the bvh_host_* hooks of
 * conn.h. Non-goals: host-initiated SEQPACKET, other socket families. */
#ifndef HOST_UDS_H
#define HOST_UDS_H

#include "host/conn.h"

/* epoll tags: kind in the top byte, a generation to spot stale events, a slot. */
enum bvh_kind { BVH_K_LISTEN = 1, BVH_K_CONN = 2, BVH_K_FIRST_FREE = 3 };
#define BVH_TAG(kind, gen, slot) (((uint64_t)(kind) << 56) | ((uint64_t)((gen) & 0xffffffffu) << 24) | (uint64_t)(slot))
#define BVH_TAG_KIND(t) ((unsigned)((t) >> 56))
#define BVH_TAG_GEN(t)  ((uint32_t)((t) >> 24))
#define BVH_TAG_SLOT(t) ((unsigned)((t) & 0xffffffu))

/* Listen on a Unix socket path; a stale socket file (nobody listening) is
 * removed, anything else at that path is an error. Returns fd or -1 with err. */
int bvh_unix_listen(const char *path, char *err, size_t errlen);

/* The engine with its host-side listener on o->uds_path, in the epoll set epfd. */
int bvh_init(struct bvh_engine *e, const struct bvh_opts *o, struct vhu_dev *dev, int epfd,
	     char *err, size_t errlen);
void bvh_fini(struct bvh_engine *e);
/* An epoll event whose tag kind is BVH_K_LISTEN or BVH_K_CONN. */
void bvh_event(struct bvh_engine *e, uint64_t tag, uint32_t events);

#endif
