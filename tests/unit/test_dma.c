/* SPDX-License-Identifier: BSD-2-Clause */
/* Every device-visible address goes through bv_port_dma_addr, and the cache
 * hooks sit where a non-coherent machine needs them. The fake device
 * (fake_virtio.c) understands only DMA addresses = CPU address + an offset
 * and sees guest memory only through a write-back cache model, behind the
 * real transports (virtio-mmio v2 and v1, virtio-pci through config-space
 * accessors, and also with the platform's own BAR accessors), the real
 * virtio_init, virtqueues and vsock device glue. A host
 * peer connects to a listening guest app, sends data, gets it echoed, and
 * delivers a TRANSPORT_RESET event; nothing may touch memory by a CPU address.
 * Then the same exchange against broken ports (no DMA translation, no clean,
 * no invalidate) must fail, so the checks above can fail. */
#include <string.h>
#define CHECK_MAIN
#include "tests/unit/check.h"
#include "tests/unit/fake_virtio.h"
#include "bv/err.h"
#include "bv/port.h"
#include "drivers/virtio.h"
#include "drivers/virtio_mmio.h"
#include "drivers/virtio_pci.h"
#include "vsock/vsock.h"
#include "vsock/vsock_dev.h"

#define GUEST_CID  3u
#define HOST_PORT  5000u
#define ECHO_PORT  1234u
/* Far above any host address, so a raw CPU pointer can never pass for one. */
#define BIG_OFFSET ((int64_t)1 << 40)
/* Made-up register addresses: the host port routes them to the fake. */
#define MMIO_BASE  ((uintptr_t)0x7e0000000000ull)
#define BAR_BASE   ((uintptr_t)0x7e0000100000ull)

static struct fv_dev dev;
static struct virtio_dev vd;

/* In the broken-port runs the exchange is expected to go wrong: the host
 * side's own checks would only repeat what the counters say, so they are off. */
static int broken;
#define HCHECK(c) do { if (!broken) CHECK(c); } while (0)

static uint8_t pat(unsigned i) { return (uint8_t)(i * 7u + (i >> 8) + 1u); }

/* ---- the host side of the vsock device ---- */

static void host_send(uint16_t op, const void *payload, uint32_t len)
{
	struct fv_chain c;
	if (!fv_pop(&dev, VSOCK_VQ_RX, &c)) {
		HCHECK(!"no RX buffer posted");
		return;
	}
	struct vsock_hdr h = {
		.src_cid = VSOCK_CID_HOST, .dst_cid = GUEST_CID, .src_port = HOST_PORT, .dst_port = ECHO_PORT,
		.len = len, .type = VSOCK_TYPE_STREAM, .op = op, .buf_alloc = 1u << 20, .fwd_cnt = 0,
	};
	HCHECK(c.writable >= VSOCK_HDR_SIZE + len);
	HCHECK(fv_write(&dev, &c, 0, &h, VSOCK_HDR_SIZE) == VSOCK_HDR_SIZE);
	if (len)
		HCHECK(fv_write(&dev, &c, VSOCK_HDR_SIZE, payload, len) == len);
	fv_push(&dev, VSOCK_VQ_RX, c.head, VSOCK_HDR_SIZE + len);
}

/* Take every TX packet; note the ops seen and append RW payload to rx. */
static unsigned tx_ops;   /* bit per op */
static uint8_t echoed[8192];
static uint32_t n_echoed;

static void host_collect(void)
{
	struct fv_chain c;
	while (fv_pop(&dev, VSOCK_VQ_TX, &c)) {
		struct vsock_hdr h;
		HCHECK(c.readable >= VSOCK_HDR_SIZE && c.writable == 0);
		if (fv_read(&dev, &c, 0, &h, VSOCK_HDR_SIZE) == VSOCK_HDR_SIZE && h.op < 32) {
			tx_ops |= 1u << h.op;
			HCHECK(h.src_cid == GUEST_CID && h.dst_cid == VSOCK_CID_HOST);
			if (h.op == VSOCK_OP_RW && h.len <= sizeof(echoed) - n_echoed && c.readable >= VSOCK_HDR_SIZE + h.len)
				n_echoed += fv_read(&dev, &c, VSOCK_HDR_SIZE, echoed + n_echoed, h.len);
		}
		fv_push(&dev, VSOCK_VQ_TX, c.head, 0);
	}
}

static void host_event(uint32_t id)
{
	struct fv_chain c;
	CHECK(fv_pop(&dev, VSOCK_VQ_EVENT, &c));
	CHECK_EQ(fv_write(&dev, &c, 0, &id, 4), 4);
	fv_push(&dev, VSOCK_VQ_EVENT, c.head, 4);
}

/* ---- the guest side: an echo app on the socket API ---- */

static int lh = -1, ch = -1;

static void guest_round(void)
{
	vsock_poll();
	if (ch < 0 && lh >= 0)
		ch = vsock_accept(lh, NULL, NULL);
	if (ch >= 0) {
		uint8_t buf[1024];
		int n = vsock_recv(ch, buf, sizeof(buf));
		if (n > 0)
			HCHECK(vsock_send(ch, buf, (uint32_t)n) == n);
	}
	vsock_poll();
}

static void attach(enum fv_transport t)
{
	struct fv_config c = {
		.transport = t, .device_id = VIRTIO_ID_VSOCK, .nqueues = 3,
		.features = (t == FV_MMIO_V1 ? 0 : 1ull << VIRTIO_F_VERSION_1) | 1ull << VSOCK_F_STREAM,
		.queue_max = { 64, 64, 8 }, .cfg_len = 8,
	};
	uint64_t cid = GUEST_CID;
	memcpy(c.cfg, &cid, 8);
	fv_init(&dev, &c, t == FV_PCI ? BAR_BASE : MMIO_BASE);
}

static int connect_and_echo(void)
{
	lh = ch = -1;
	tx_ops = 0;
	n_echoed = 0;
	lh = vsock_listen(ECHO_PORT, VSOCK_STREAM, 0);
	HCHECK(lh >= 0);
	host_send(VSOCK_OP_REQUEST, NULL, 0);
	for (int i = 0; i < 20 && ch < 0; i++) {
		guest_round();
		host_collect();
	}
	if (ch < 0 || !(tx_ops & 1u << VSOCK_OP_RESPONSE))
		return 0;
	uint8_t data[3000];
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = pat(i);
	host_send(VSOCK_OP_RW, data, 1500);
	host_send(VSOCK_OP_RW, data + 1500, 1500);
	for (int i = 0; i < 50 && n_echoed < sizeof(data); i++) {
		guest_round();
		host_collect();
	}
	return n_echoed == sizeof(data) && memcmp(echoed, data, sizeof(data)) == 0;
}

/* The platform's own BAR accessors (UEFI's PciIo->Mem): they reach the fake's
 * BAR0 window and count; the BAR address the transport is told is one where
 * nothing is mapped, so a single plain MMIO access would crash the test. */
#define BAR_NOWHERE ((uint64_t)0x7f0000000000ull)
static unsigned long bar_reads, bar_writes;
static uint32_t via_bar_read(void *ctx, unsigned bar, uint64_t off, unsigned width)
{
	(void)ctx;
	CHECK_EQ(bar, 0);
	bar_reads++;
	return bv_host_mmio_read(BAR_BASE + (uintptr_t)off, width);
}
static void via_bar_write(void *ctx, unsigned bar, uint64_t off, unsigned width, uint32_t v)
{
	(void)ctx;
	CHECK_EQ(bar, 0);
	bar_writes++;
	bv_host_mmio_write(BAR_BASE + (uintptr_t)off, width, v);
}
static struct virtio_pci_access via_bars;
static int use_bar_accessors;

/* The whole exchange on one transport, with the DMA model as set up. */
static void exchange(enum fv_transport t)
{
	attach(t);
	const uint64_t nowhere[6] = { BAR_NOWHERE };
	if (use_bar_accessors) {
		via_bars = dev.pci;
		via_bars.bar_read = via_bar_read;
		via_bars.bar_write = via_bar_write;
	}
	int rc = t != FV_PCI ? virtio_mmio_attach(&vd, dev.base) :
		use_bar_accessors ? virtio_pci_attach(&vd, &via_bars, nowhere) : virtio_pci_attach(&vd, &dev.pci, NULL);
	CHECK_EQ(rc, BV_OK);
	CHECK_EQ(vsock_dev_attach(&vd), BV_OK);
	CHECK(dev.status & VIRTIO_STATUS_DRIVER_OK);
	CHECK(fv_queue_live(&dev, 0) && fv_queue_live(&dev, 1) && fv_queue_live(&dev, 2));
	CHECK_EQ(vsock_local_cid(), GUEST_CID);
	CHECK(connect_and_echo());

	/* A transport reset from the event queue, with a new CID to re-read. */
	struct vsock_dev_stats before, after;
	vsock_dev_stats(&before);
	uint64_t cid = GUEST_CID + 1;
	fv_set_config(&dev, 0, &cid, 8);
	host_event(VSOCK_EVENT_TRANSPORT_RESET);
	guest_round();
	vsock_dev_stats(&after);
	CHECK_EQ(after.transport_resets - before.transport_resets, 1);
	CHECK_EQ(vsock_local_cid(), GUEST_CID + 1);
	CHECK_EQ(after.bad_used, 0);
	vsock_close(ch);
	vsock_close(lh);
	fv_fini(&dev);
}

static void expect_clean_run(const char *what)
{
	printf("%s: %lu device accesses checked, %lu bad addresses, %lu uncleaned lines\n",
	       what, fv_dma.checked, fv_dma.bad_addr, fv_dma.uncleaned);
	CHECK(fv_dma.checked > 50);
	CHECK_EQ(fv_dma.bad_addr, 0);
	CHECK_EQ(fv_dma.uncleaned, 0);
}

int main(void)
{
	/* The good port on each transport, cache model on. */
	fv_dma_setup(BIG_OFFSET, 1);
	exchange(FV_MMIO_V2);
	expect_clean_run("mmio v2, offset +2^40");

	fv_dma_setup(-BIG_OFFSET, 1);
	exchange(FV_PCI);
	expect_clean_run("pci, offset -2^40");

	/* PCI whose BARs the platform reaches itself (bar_read/bar_write). */
	use_bar_accessors = 1;
	fv_dma_setup(BIG_OFFSET, 1);
	exchange(FV_PCI);
	expect_clean_run("pci through the platform's BAR accessors");
	printf("pci through BAR accessors: %lu reads, %lu writes\n", bar_reads, bar_writes);
	CHECK(bar_reads > 10 && bar_writes > 10);
	use_bar_accessors = 0;

	/* Legacy mmio wants the ring's page number in 32 bits: move the test's
	 * memory down to 256 MiB in device space (still far from CPU addresses). */
	fv_dma_setup((int64_t)0x10000000 - (int64_t)(fv_dma_lo() & ~(uintptr_t)0xfff), 1);
	exchange(FV_MMIO_V1);
	expect_clean_run("mmio v1, offset to 256 MiB");

	/* Broken ports: each must be caught. */
	broken = 1;
	fv_dma_setup(BIG_OFFSET, 0);
	fv_dma.port_raw = 1;    /* CPU addresses handed to the device */
	attach(FV_MMIO_V2);
	CHECK_EQ(virtio_mmio_attach(&vd, dev.base), BV_OK);
	CHECK(vsock_dev_attach(&vd) < 0);       /* the device refuses the rings: NEEDS_RESET */
	CHECK(fv_dma.bad_addr > 0);
	fv_fini(&dev);
	printf("raw CPU addresses: %lu bad addresses caught\n", fv_dma.bad_addr);

	fv_dma_setup(BIG_OFFSET, 1);
	fv_dma.skip_clean = 1;  /* the device reads stale RAM */
	attach(FV_MMIO_V2);
	CHECK_EQ(virtio_mmio_attach(&vd, dev.base), BV_OK);
	if (vsock_dev_attach(&vd) == BV_OK)
		CHECK(!connect_and_echo());
	CHECK(fv_dma.uncleaned > 0);
	fv_fini(&dev);
	printf("no clean: %lu uncleaned lines caught\n", fv_dma.uncleaned);

	fv_dma_setup(BIG_OFFSET, 1);
	fv_dma.skip_invalidate = 1;  /* the guest reads its stale cache */
	attach(FV_MMIO_V2);
	CHECK_EQ(virtio_mmio_attach(&vd, dev.base), BV_OK);
	CHECK_EQ(vsock_dev_attach(&vd), BV_OK);
	CHECK(!connect_and_echo());
	CHECK(!(tx_ops & 1u << VSOCK_OP_RESPONSE));   /* it never saw the REQUEST */
	fv_fini(&dev);
	printf("no invalidate: the guest never saw the host's REQUEST\n");

	return check_report("test_dma");
}
