/* SPDX-License-Identifier: BSD-2-Clause */
/* rng: a small virtio-rng (device ID 4) driver that exercises the virtio layer
 * end to end: probe on any transport, init, one queue, a few reads of entropy.
 * Not a general entropy source: no pooling, no health tests beyond sanity. */
#include <stdio.h>
#include <string.h>
#include "bv/arch.h"
#include "bv/err.h"
#include "bv/exit.h"
#include "bv/time.h"
#include "drivers/virtio.h"
#include "discover/discover.h"

#define RNG_BYTES   64
#define RNG_ROUNDS  4
#define RNG_TIMEOUT_MS 5000

static struct virtq rq;
static uint8_t buf[RNG_ROUNDS][RNG_BYTES];

/* Fill dst through the ring; the device may return fewer bytes than asked. */
static int fill(uint8_t *dst, uint32_t want)
{
	uint32_t have = 0;
	while (have < want) {
		struct virtq_seg s = virtq_seg(dst + have, want - have);
		int rc = virtq_add(&rq, &s, 0, 1, dst + have);
		if (rc < 0)
			return rc;
		virtq_kick(&rq);
		uint64_t deadline = bv_now_ms() + RNG_TIMEOUT_MS;
		void *tok;
		uint32_t len;
		while (virtq_pop_used(&rq, &tok, &len) == 0) {
			if (bv_now_ms() > deadline) {
				printf("rng: device did not answer within %d ms\n", RNG_TIMEOUT_MS);
				return BV_ETIMEDOUT;
			}
			bv_port_relax();
		}
		if (tok != dst + have)
			return BV_EPROTO;
		have += len;
	}
	return BV_OK;
}

int main(void)
{
	struct virtio_dev *d;
	if (virtio_probe(VIRTIO_ID_RNG, 0, &d) < 0) {
		printf("rng: no virtio-rng device found (looked on pci and virtio-mmio)\n");
		return BV_EXIT_FAIL;
	}
	printf("rng: found virtio-rng on transport %s at %s\n",
	       virtio_transport_name(d->transport), d->where);
	struct virtq *qs[1] = { &rq };
	int rc = virtio_init(d, 0, 0, qs, 1);
	if (rc < 0) {
		printf("rng: init failed: %s\n", bv_strerror(rc));
		return BV_EXIT_FAIL;
	}
	printf("rng: features 0x%llx, queue size %u\n", (unsigned long long)d->features, rq.size);

	for (int r = 0; r < RNG_ROUNDS; r++) {
		rc = fill(buf[r], RNG_BYTES);
		if (rc < 0) {
			printf("rng: read %d failed: %s\n", r, bv_strerror(rc));
			return BV_EXIT_FAIL;
		}
		printf("rng: ");
		for (int i = 0; i < RNG_BYTES; i++)
			printf("%02x", buf[r][i]);
		printf("\n");
		int same = 1;
		for (int i = 1; i < RNG_BYTES; i++)
			same &= buf[r][i] == buf[r][0];
		if (same) {
			printf("rng: read %d is %d copies of 0x%02x\n", r, RNG_BYTES, buf[r][0]);
			return BV_EXIT_FAIL;
		}
		if (r > 0 && memcmp(buf[r], buf[r - 1], RNG_BYTES) == 0) {
			printf("rng: read %d repeats the previous one\n", r);
			return BV_EXIT_FAIL;
		}
	}
	const struct virtq_stats *st = &rq.stats;
	printf("rng: %llu buffers, %llu kicks, bad used entries %llu/%llu/%llu\n",
	       (unsigned long long)st->reaped, (unsigned long long)st->kicks,
	       (unsigned long long)st->bad_id, (unsigned long long)st->not_in_flight,
	       (unsigned long long)st->bad_len);
	if (st->bad_id + st->not_in_flight + st->bad_len) {
		printf("rng: device produced bad used entries\n");
		return BV_EXIT_FAIL;
	}
	printf("rng: ok (%s)\n", virtio_transport_name(d->transport));
	return BV_EXIT_OK;
}
