/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of host/vhu.c: vhost-user messages as QEMU 7.2 sends them for a
 * vsock device, and malformed ones (sizes, indices, fds, feature bits) that
 * must be refused without leaking fds. Uses a memfd as guest RAM. */
#define _GNU_SOURCE
#define CHECK_MAIN
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/vhu.h"
#include "tests/unit/test_host_fakeguest.h"
#include "vsock/vsock_wire.h"

static struct vhu_dev d;
static struct vhu_msg m, rep;

static int send_msg(uint32_t req, uint32_t flags, uint32_t size, int *fds, int nfds)
{
	m.hdr.request = req;
	m.hdr.flags = VHU_VERSION | flags;
	m.hdr.size = size;
	memset(&rep, 0, sizeof(rep));
	return vhu_handle(&d, &m, fds, nfds, &rep);
}

static int msg_u64(uint32_t req, uint64_t v, int *fds, int nfds)
{
	memset(&m.u, 0, sizeof(m.u));
	m.u.u64 = v;
	return send_msg(req, 0, 8, fds, nfds);
}

static int msg_state(uint32_t req, uint32_t idx, uint32_t num)
{
	memset(&m.u, 0, sizeof(m.u));
	m.u.state.index = idx;
	m.u.state.num = num;
	return send_msg(req, 0, 8, NULL, 0);
}

static bool fd_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

static void test_features_and_config(void)
{
	CHECK_EQ(send_msg(VHU_GET_FEATURES, 0, 0, NULL, 0), 1);
	CHECK_EQ(rep.hdr.flags, VHU_VERSION | VHU_FLAG_REPLY);
	CHECK_EQ(rep.hdr.size, 8);
	CHECK(rep.u.u64 & (1ull << 32));
	CHECK(rep.u.u64 & (1ull << 30));
	CHECK(rep.u.u64 & (1ull << VSOCK_F_SEQPACKET));
	CHECK_EQ(msg_u64(VHU_SET_FEATURES, 1ull << 5, NULL, 0), -1);     /* not offered */
	CHECK(strstr(d.err, "did not offer"));
	CHECK_EQ(msg_u64(VHU_SET_FEATURES, (1ull << 32) | (1ull << 30), NULL, 0), 0);
	/* --features: exactly the chosen vsock bits are offered, and only those accepted */
	CHECK_EQ(d.vsock_features, VHU_DEFAULT_VSOCK_FEATURES);
	d.vsock_features = (1ull << VSOCK_F_STREAM) | (1ull << VSOCK_F_NO_IMPLIED_STREAM);
	CHECK_EQ(send_msg(VHU_GET_FEATURES, 0, 0, NULL, 0), 1);
	CHECK_EQ(rep.u.u64, (1ull << 32) | (1ull << 30) | (1ull << VRING_F_EVENT_IDX) | 1ull | 4ull);
	CHECK_EQ(msg_u64(VHU_SET_FEATURES, (1ull << 32) | (1ull << VSOCK_F_SEQPACKET), NULL, 0), -1);
	CHECK_EQ(msg_u64(VHU_SET_FEATURES, (1ull << 32) | 1ull | 4ull, NULL, 0), 0);
	CHECK_EQ(d.features, (1ull << 32) | 1ull | 4ull);
	d.vsock_features = 0;
	CHECK_EQ(send_msg(VHU_GET_FEATURES, 0, 0, NULL, 0), 1);
	CHECK_EQ(rep.u.u64, (1ull << 32) | (1ull << 30) | (1ull << VRING_F_EVENT_IDX));
	d.no_event_idx = true;   /* --no-event-idx */
	CHECK_EQ(send_msg(VHU_GET_FEATURES, 0, 0, NULL, 0), 1);
	CHECK_EQ(rep.u.u64, (1ull << 32) | (1ull << 30));
	d.no_event_idx = false;
	CHECK_EQ(msg_u64(VHU_RESET_DEVICE, 0, NULL, 0), 0);
	CHECK_EQ(d.vsock_features, 0);   /* the offer is configuration: a reset keeps it */
	d.vsock_features = VHU_DEFAULT_VSOCK_FEATURES;
	CHECK_EQ(msg_u64(VHU_SET_FEATURES, (1ull << 32) | (1ull << 30), NULL, 0), 0);
	CHECK_EQ(send_msg(VHU_GET_PROTOCOL_FEATURES, 0, 0, NULL, 0), 1);
	CHECK(rep.u.u64 & (1ull << VHU_PF_CONFIG));
	CHECK_EQ(msg_u64(VHU_SET_PROTOCOL_FEATURES, 1ull << VHU_PF_MQ, NULL, 0), -1);
	CHECK_EQ(msg_u64(VHU_SET_PROTOCOL_FEATURES, (1ull << VHU_PF_CONFIG) | (1ull << VHU_PF_REPLY_ACK), NULL, 0), 0);
	/* REPLY_ACK: a message asking for an answer gets 0 on success, nonzero on failure */
	CHECK_EQ(send_msg(VHU_SET_OWNER, VHU_FLAG_NEED_REPLY, 0, NULL, 0), 1);
	CHECK_EQ(rep.u.u64, 0);
	memset(&m.u, 0, sizeof(m.u));
	m.u.state.index = 0;
	m.u.state.num = 100;
	CHECK_EQ(send_msg(VHU_SET_VRING_NUM, VHU_FLAG_NEED_REPLY, 8, NULL, 0), 1);
	CHECK(rep.u.u64 != 0);
	CHECK_EQ(send_msg(VHU_GET_QUEUE_NUM, 0, 0, NULL, 0), 1);
	CHECK_EQ(rep.u.u64, 3);

	/* GET_CONFIG: the CID as le64 at offset 0 */
	memset(&m.u, 0, sizeof(m.u));
	m.u.config.offset = 0;
	m.u.config.size = 8;
	CHECK_EQ(send_msg(VHU_GET_CONFIG, 0, 12 + 8, NULL, 0), 1);
	CHECK_EQ(rep.hdr.size, 20);
	uint64_t cid;
	memcpy(&cid, rep.u.config.region, 8);
	CHECK_EQ(cid, 77);
	m.u.config.offset = 4;
	m.u.config.size = 4;
	CHECK_EQ(send_msg(VHU_GET_CONFIG, 0, 12 + 4, NULL, 0), 1);
	uint32_t hi;
	memcpy(&hi, rep.u.config.region, 4);
	CHECK_EQ(hi, 0);
	m.u.config.offset = 250;
	m.u.config.size = 10;                            /* past the config space */
	CHECK_EQ(send_msg(VHU_GET_CONFIG, 0, 12 + 10, NULL, 0), -1);
	m.u.config.offset = 0;
	m.u.config.size = 8;                             /* size disagrees with the header */
	CHECK_EQ(send_msg(VHU_GET_CONFIG, 0, 12 + 4, NULL, 0), -1);
}

/* The back-end channel the raw-packet host changes the CID through. */
static void test_backend_channel(void)
{
	int sv[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CHECK(!(vhu_offered_protocol_features(&d) & (1ull << VHU_PF_BACKEND_REQ)));   /* bridge mode */
	d.offer_backend_req = true;
	CHECK(vhu_offered_protocol_features(&d) & (1ull << VHU_PF_BACKEND_REQ));
	CHECK_EQ(vhu_config_changed(&d), -1);   /* no channel yet */
	int fds[1] = { dup(sv[0]) };
	CHECK_EQ(msg_u64(VHU_SET_PROTOCOL_FEATURES, 1ull << VHU_PF_CONFIG, NULL, 0), 0);
	CHECK_EQ(send_msg(VHU_SET_BACKEND_REQ_FD, 0, 0, fds, 1), -1);   /* not negotiated */
	CHECK(!fd_open(fds[0]));                                         /* and its fd closed */
	CHECK_EQ(msg_u64(VHU_SET_PROTOCOL_FEATURES, (1ull << VHU_PF_CONFIG) | (1ull << VHU_PF_BACKEND_REQ), NULL, 0), 0);
	fds[0] = dup(sv[0]);
	CHECK_EQ(send_msg(VHU_SET_BACKEND_REQ_FD, 0, 0, fds, 1), 0);
	int kept = d.backend_fd;
	CHECK(kept >= 0 && fd_open(kept));
	d.guest_cid = 91;
	unsigned reads = d.config_reads;
	CHECK_EQ(vhu_config_changed(&d), 0);
	struct vhu_hdr h;
	CHECK_EQ(recv(sv[1], &h, sizeof(h), MSG_DONTWAIT), (ssize_t)sizeof(h));
	CHECK_EQ(h.request, VHU_BACKEND_CONFIG_CHANGE_MSG);
	CHECK_EQ(h.flags, VHU_VERSION);   /* no NEED_REPLY: QEMU's answer would wait on our GET_CONFIG reply */
	CHECK_EQ(h.size, 0);
	memset(&m.u, 0, sizeof(m.u));
	m.u.config.size = 8;
	CHECK_EQ(send_msg(VHU_GET_CONFIG, 0, 12 + 8, NULL, 0), 1);
	uint64_t cid;
	memcpy(&cid, rep.u.config.region, 8);
	CHECK_EQ(cid, 91);
	CHECK_EQ(d.config_reads, reads + 1);
	vhu_dev_reset(&d);
	CHECK(!fd_open(kept));   /* a reset closes the channel */
	CHECK_EQ(d.backend_fd, -1);
	d.offer_backend_req = false;
	d.guest_cid = 77;
	close(sv[0]);
	close(sv[1]);
}

static void test_malformed_framing(void)
{
	CHECK_EQ(send_msg(VHU_GET_FEATURES, VHU_FLAG_REPLY, 0, NULL, 0), -1);  /* a reply from QEMU? */
	m.hdr.flags = 2;                                                        /* version 2 */
	CHECK_EQ(vhu_handle(&d, &m, NULL, 0, &rep), -1);
	CHECK_EQ(send_msg(VHU_SET_FEATURES, 0, 4, NULL, 0), -1);               /* short u64 */
	CHECK_EQ(send_msg(VHU_GET_FEATURES, 0, 100000, NULL, 0), -1);          /* oversize */
	CHECK_EQ(send_msg(99, 0, 0, NULL, 0), -1);                              /* unknown request */
	CHECK(strstr(d.err, "not supported"));
	CHECK_EQ(msg_state(VHU_SET_VRING_NUM, 3, 8), -1);                       /* queue 3 */
	CHECK_EQ(msg_state(VHU_SET_VRING_NUM, 0, 4096), -1);                    /* > max */
	CHECK_EQ(msg_state(VHU_SET_VRING_NUM, 0, 0), -1);
	CHECK_EQ(msg_state(VHU_SET_VRING_BASE, 0, 70000), -1);
	CHECK_EQ(msg_state(VHU_SET_VRING_ENABLE, 0, 2), -1);
	/* fds that came with a refused message are closed, never leaked */
	int e1 = eventfd(0, 0), e2 = eventfd(0, 0);
	int fds[2] = { e1, e2 };
	CHECK_EQ(msg_u64(VHU_SET_VRING_KICK, 0, fds, 2), -1);                  /* two fds */
	CHECK(!fd_open(e1) && !fd_open(e2));
	e1 = eventfd(0, 0);
	fds[0] = e1;
	CHECK_EQ(msg_u64(VHU_SET_VRING_CALL, 0 | VHU_VRING_NOFD, fds, 1), -1); /* nofd plus an fd */
	CHECK(!fd_open(e1));
	e1 = eventfd(0, 0);
	fds[0] = e1;
	CHECK_EQ(msg_u64(VHU_SET_VRING_CALL, 5, fds, 1), -1);                  /* queue 5 */
	CHECK(!fd_open(e1));
	CHECK_EQ(msg_u64(VHU_SET_VRING_ERR, 1ull << 20, NULL, 0), -1);         /* unknown bits */
	e1 = eventfd(0, 0);
	fds[0] = e1;
	memset(&m.u, 0, sizeof(m.u));
	m.u.mem.nregions = 2;                                                   /* 2 regions, 1 fd */
	CHECK_EQ(send_msg(VHU_SET_MEM_TABLE, 0, 8 + 2 * 32, fds, 1), -1);
	CHECK(!fd_open(e1));
	m.u.mem.nregions = 9;
	CHECK_EQ(send_msg(VHU_SET_MEM_TABLE, 0, 8 + 9 * 32, NULL, 0), -1);
}

/* The start sequence QEMU uses, with guest RAM in a memfd. */
static void test_ring_lifecycle(void)
{
	vhu_dev_reset(&d);
	int mfd = memfd_create("guestram", 0);
	CHECK(ftruncate(mfd, 1 << 20) == 0);
	uint8_t *ram = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	const uint64_t gpa = 0x40000000, uva = 0x7f1234500000ull;
	CHECK_EQ(msg_u64(VHU_SET_FEATURES, (1ull << 32) | (1ull << 30), NULL, 0), 0);
	memset(&m.u, 0, sizeof(m.u));
	m.u.mem.nregions = 1;
	m.u.mem.r[0].gpa = gpa;
	m.u.mem.r[0].size = (1 << 20) - 4096;
	m.u.mem.r[0].uva = uva;
	m.u.mem.r[0].mmap_offset = 4096;
	int fds[1] = { mfd };
	CHECK_EQ(send_msg(VHU_SET_MEM_TABLE, 0, 8 + 32, fds, 1), 0);
	CHECK(!fd_open(mfd));                    /* mapped, then closed */
	CHECK_EQ(msg_state(VHU_SET_VRING_NUM, 1, 8), 0);
	CHECK_EQ(msg_state(VHU_SET_VRING_BASE, 1, 3), 0);
	memset(&m.u, 0, sizeof(m.u));
	m.u.addr.index = 1;
	m.u.addr.desc = uva + 0x1000;
	m.u.addr.avail = uva + 0x2000;
	m.u.addr.used = uva + 0x3000;
	CHECK_EQ(send_msg(VHU_SET_VRING_ADDR, 0, sizeof(struct vhu_addr), NULL, 0), 0);
	CHECK(!vhu_vq_ready(&d, 1));             /* no kick yet */
	int kick = eventfd(0, 0), call = eventfd(0, 0);
	fds[0] = kick;
	CHECK_EQ(msg_u64(VHU_SET_VRING_KICK, 1, fds, 1), 0);
	CHECK(d.kick_changed & 2);
	CHECK_EQ(d.vq[1].kick_fd, kick);
	fds[0] = call;
	CHECK_EQ(msg_u64(VHU_SET_VRING_CALL, 1, fds, 1), 0);
	CHECK(!vhu_vq_ready(&d, 1));             /* PROTOCOL_FEATURES: disabled until ENABLE */
	CHECK_EQ(msg_state(VHU_SET_VRING_ENABLE, 1, 1), 0);
	CHECK(vhu_vq_ready(&d, 1));
	/* the device reads what the guest (at offset 4096 of the memfd) wrote */
	ram[4096 + 0x1000] = 0xab;               /* a shared mapping of the same memfd */
	CHECK_EQ(((volatile uint8_t *)d.vq[1].q.desc)[0], 0xab);
	CHECK_EQ(d.vq[1].q.last_avail, 3);
	d.vq[1].q.last_avail = 9;                /* as if 6 chains were consumed */
	CHECK_EQ(msg_state(VHU_GET_VRING_BASE, 1, 0), 1);
	CHECK_EQ(rep.u.state.index, 1);
	CHECK_EQ(rep.u.state.num, 9);
	CHECK(!vhu_vq_ready(&d, 1));
	CHECK(d.rings_stopped);
	CHECK(!fd_open(kick));
	/* a ring outside the memory table never becomes ready */
	memset(&m.u, 0, sizeof(m.u));
	m.u.addr.index = 0;
	m.u.addr.desc = 0x1000;
	m.u.addr.avail = uva;
	m.u.addr.used = uva;
	CHECK_EQ(send_msg(VHU_SET_VRING_ADDR, 0, sizeof(struct vhu_addr), NULL, 0), 0);
	CHECK_EQ(msg_state(VHU_SET_VRING_NUM, 0, 8), 0);
	CHECK_EQ(msg_u64(VHU_SET_VRING_KICK, 0 | VHU_VRING_NOFD, NULL, 0), 0);
	CHECK_EQ(msg_state(VHU_SET_VRING_ENABLE, 0, 1), 0);
	CHECK(!vhu_vq_ready(&d, 0));
	vhu_dev_reset(&d);
	CHECK(!fd_open(call));
	munmap(ram, 1 << 20);
}

int main(void)
{
	vhu_dev_init(&d, 77, 1024);
	test_features_and_config();
	vhu_dev_reset(&d);
	test_backend_channel();
	test_malformed_framing();
	test_ring_lifecycle();
	return check_report("test_host_vhu");
}
