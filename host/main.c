/* SPDX-License-Identifier: BSD-2-Clause */
/* bv-vhost-vsock: a vhost-user vsock device back end for QEMU, bridging guest
 * connections to Unix sockets (Firecracker / vhost-device-vsock hybrid style).
 * This file is the process: options, the one epoll loop, the vhost-user
 * socket framing and signals. Non-goals: several guests per process, daemonizing. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "host/raw.h"
#include "host/ring.h"
#include "host/uds.h"
#include "host/pcap.h"
#include "host/vhu.h"

enum { K_VLISTEN = BVH_K_FIRST_FREE, K_QEMU, K_KICK, K_SIGNAL, K_RAW_LISTEN, K_RAW_CLIENT };

static const char usage[] =
	"usage: bv-vhost-vsock --socket PATH --uds-path PATH [options]\n"
	"       bv-vhost-vsock --vm guest-cid=N,socket=PATH,uds-path=PATH[,tx-buffer-size=N][,queue-size=N]\n"
	"       bv-vhost-vsock --socket PATH --raw CTLSOCK [options]   (raw-packet host for tests)\n"
	"\n"
	"vhost-user vsock device back end for QEMU (-device vhost-user-vsock-pci or\n"
	"vhost-user-vsock-device). Guest connections are bridged to Unix sockets:\n"
	"  host -> guest: connect to the --uds-path socket, write \"CONNECT <port>\\n\",\n"
	"                 read \"OK <host-port>\\n\", then the stream is the connection;\n"
	"                 if the guest refuses, the socket is closed without \"OK\".\n"
	"  guest -> host: a connection to CID 2 port P is connected to <uds-path>_P\n"
	"                 (SOCK_STREAM, or SOCK_SEQPACKET for seqpacket sockets).\n"
	"\n"
	"options:\n"
	"  --guest-cid N          guest CID given to QEMU (default 3; 3..0xFFFFFFFE)\n"
	"  --socket PATH          vhost-user socket QEMU connects to (-chardev socket,path=PATH)\n"
	"  --uds-path PATH        Unix socket for host programs; also the prefix of <PATH>_<port>\n"
	"  --queue-size N         largest virtqueue accepted (power of 2, 1..1024; default 1024)\n"
	"  --tx-buffer-size N     receive buffer per connection = buf_alloc told to the guest\n"
	"                         (bytes, 4096..1073741824; default 262144)\n"
	"  --connect-timeout MS   wait for the CONNECT line / the guest's answer (default 5000)\n"
	"  --max-connections N    connections held at once (default 1024)\n"
	"  --features LIST        vsock feature bits to offer, exactly: none, or a list of\n"
	"                         stream, seqpacket, no-implied-stream and bit numbers 0..23\n"
	"                         separated by ',' or '+' (default: seqpacket)\n"
	"  --pcap FILE            record every packet, both directions, to FILE (pcap, link\n"
	"                         type 271 LINKTYPE_VSOCK as Linux vsockmon: tshark -r FILE)\n"
	"  --pcap-snaplen N       bytes of each frame kept, headers included (76..262144;\n"
	"                         default 262144, which keeps every frame whole)\n"
	"  --stall-log-ms MS      log a connection whose data waited on zero credit this\n"
	"                         long, once per stall (default 5000; 0 = never)\n"
	"  --no-event-idx         do not offer VIRTIO_RING_F_EVENT_IDX (then a call per pump\n"
	"                         unless the guest set NO_INTERRUPT, a kick per batch)\n"
	"  --raw CTLSOCK          no bridge: a test client on the Unix socket CTLSOCK plays the\n"
	"                         host packet by packet (tests/rawhost.py; protocol in host/raw.h)\n"
	"  -v, --verbose          log connection events\n"
	"  -h, --help             this text\n"
	"SIGUSR1 prints counters to stderr. SIGTERM/SIGINT exit cleanly.\n";

static __attribute__((noreturn)) void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "bv-vhost-vsock: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nrun 'bv-vhost-vsock --help' for the options\n");
	exit(2);
}

static unsigned long long parse_num(const char *opt, const char *s, unsigned long long lo, unsigned long long hi)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (!*s || *end || errno || *s == '-' || v < lo || v > hi) {
		fprintf(stderr, "bv-vhost-vsock: %s: '%s' is not a number in %llu..%llu\n", opt, s, lo, hi);
		fprintf(stderr, "run 'bv-vhost-vsock --help' for the options\n");
		exit(2);
	}
	return v;
}

struct cfg {
	unsigned long long cid;
	const char *socket_path, *uds_path, *raw_path;
	unsigned queue_size;
	unsigned buf;
	unsigned connect_timeout;
	unsigned max_conns;
	uint64_t features;
	const char *pcap_path;
	unsigned pcap_snaplen;
	unsigned stall_log_ms;
	int verbose;
	int no_event_idx;
};

static const char features_help[] =
	"use none, or a list of stream, seqpacket, no-implied-stream and bit numbers 0..23 "
	"separated by ',' or '+' (e.g. --features stream,no-implied-stream)";

/* The vsock feature bits of a --features list. */
static uint64_t parse_features(const char *list)
{
	static const struct { const char *name; int bit; } names[] = {
		{ "stream", VSOCK_F_STREAM },
		{ "seqpacket", VSOCK_F_SEQPACKET },
		{ "no-implied-stream", VSOCK_F_NO_IMPLIED_STREAM },
	};
	if (!strcmp(list, "none"))
		return 0;
	if (!*list)
		die_usage("--features: the list is empty; %s", features_help);
	uint64_t f = 0;
	const char *p = list;
	for (;;) {
		size_t n = strcspn(p, ",+");
		char tok[32];
		char msg[400];
		if (n == 0 || n >= sizeof(tok)) {
			snprintf(msg, sizeof(msg), "--features: '%s' has an empty or overlong item; %s", list,
				 features_help);
			die_usage("%s", msg);
		}
		memcpy(tok, p, n);
		tok[n] = 0;
		int bit = -1;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(tok, names[i].name))
				bit = names[i].bit;
		if (bit < 0) {
			char *end;
			unsigned long v = strtoul(tok, &end, 10);
			if (tok[0] >= '0' && tok[0] <= '9' && !*end && v <= VHU_VSOCK_FEATURE_MAX_BIT)
				bit = (int)v;
		}
		if (bit < 0) {
			snprintf(msg, sizeof(msg), "--features: '%s' is not a vsock feature ('none' stands alone); %s",
				 tok, features_help);
			die_usage("%s", msg);
		}
		f |= 1ull << bit;
		if (!p[n])
			return f;
		p += n + 1;
	}
}

static void set_opt(struct cfg *c, const char *name, const char *val)
{
	if (!strcmp(name, "guest-cid")) {
		char *end;
		unsigned long long v = strtoull(val, &end, 0);
		if (!*val || *end || *val == '-' || v <= 2 || v >= 0xFFFFFFFFull)
			die_usage("--guest-cid: '%s' is not a usable CID: use 3..4294967294 "
				  "(0-2 are reserved for the hypervisor, loopback and host)", val);
		c->cid = v;
	} else if (!strcmp(name, "socket")) {
		c->socket_path = val;
	} else if (!strcmp(name, "uds-path")) {
		c->uds_path = val;
	} else if (!strcmp(name, "raw")) {
		c->raw_path = val;
	} else if (!strcmp(name, "queue-size")) {
		c->queue_size = (unsigned)parse_num("--queue-size", val, 1, VR_MAX_QUEUE);
		if (c->queue_size & (c->queue_size - 1))
			die_usage("--queue-size: '%s' is not a power of 2", val);
	} else if (!strcmp(name, "tx-buffer-size")) {
		c->buf = (unsigned)parse_num("--tx-buffer-size", val, 4096, 1u << 30);
	} else if (!strcmp(name, "connect-timeout")) {
		c->connect_timeout = (unsigned)parse_num("--connect-timeout", val, 1, 3600000);
	} else if (!strcmp(name, "features")) {
		c->features = parse_features(val);
	} else if (!strcmp(name, "max-connections")) {
		c->max_conns = (unsigned)parse_num("--max-connections", val, 1, 1u << 20);
	} else if (!strcmp(name, "pcap")) {
		if (!*val)
			die_usage("%s", "--pcap needs a file name to write the capture to");
		c->pcap_path = val;
	} else if (!strcmp(name, "pcap-snaplen")) {
		c->pcap_snaplen = (unsigned)parse_num("--pcap-snaplen", val, BVPCAP_FRAME_HDRS, BVPCAP_DEFAULT_SNAPLEN);
	} else if (!strcmp(name, "stall-log-ms")) {
		c->stall_log_ms = (unsigned)parse_num("--stall-log-ms", val, 0, 3600000);
	} else {
		die_usage("unknown option '%s'", name);
	}
}

static void parse_vm(struct cfg *c, char *spec)
{
	for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
		char *eq = strchr(tok, '=');
		if (!eq)
			die_usage("--vm: '%s' is not key=value", tok);
		*eq = 0;
		set_opt(c, tok, eq + 1);
	}
}

static void parse_args(struct cfg *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			exit(0);
		}
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			c->verbose++;
			continue;
		}
		if (!strcmp(a, "--no-event-idx")) {
			c->no_event_idx = 1;
			continue;
		}
		if (strncmp(a, "--", 2))
			die_usage("unexpected argument '%s'", a);
		const char *name = a + 2;
		const char *eq = strchr(name, '=');
		char key[64];
		const char *val;
		if (eq) {
			snprintf(key, sizeof(key), "%.*s", (int)(eq - name), name);
			val = eq + 1;
		} else {
			snprintf(key, sizeof(key), "%s", name);
			if (i + 1 >= argc)
				die_usage("%s needs a value", a);
			val = argv[++i];
		}
		if (!strcmp(key, "vm"))
			parse_vm(c, (char *)val);
		else
			set_opt(c, key, val);
	}
	if (!c->socket_path)
		die_usage("%s", "--socket PATH is required: the vhost-user socket QEMU's -chardev connects to");
	if (c->uds_path && c->raw_path)
		die_usage("%s", "--uds-path and --raw exclude each other: the raw host has no bridge");
	if (!c->uds_path && !c->raw_path)
		die_usage("%s", "--uds-path PATH is required: the Unix socket host programs connect to");
}

/* ------------------------------------------------- vhost-user framing --- */

/* Receive one message. Returns 1 = got one, 0 = nothing pending, -1 = gone/broken. */
static int vhu_recv(int fd, struct vhu_msg *m, int *fds, int *nfds, const char **why)
{
	char cbuf[CMSG_SPACE(VHU_MAX_FDS * sizeof(int))];
	struct iovec iov = { .iov_base = &m->hdr, .iov_len = sizeof(m->hdr) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	*nfds = 0;
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n < 0) {
		*why = strerror(errno);
		return -1;   /* no control data to look at */
	}
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < k; i++) {
				int f;
				memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (*nfds < VHU_MAX_FDS)
					fds[(*nfds)++] = f;
				else
					close(f);
			}
		}
	}
	if (n <= 0) {
		*why = n == 0 ? "QEMU disconnected" : strerror(errno);
		return -1;
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		*why = "too many fds in one message";
		return -1;
	}
	if (n < (ssize_t)sizeof(m->hdr)) {
		ssize_t r = recv(fd, (char *)&m->hdr + n, sizeof(m->hdr) - (size_t)n, MSG_WAITALL);
		if (r != (ssize_t)sizeof(m->hdr) - n) {
			*why = "short message header";
			return -1;
		}
	}
	if (m->hdr.size > sizeof(m->u)) {
		*why = "message payload larger than any vhost-user vsock message";
		return -1;
	}
	if (m->hdr.size && recv(fd, &m->u, m->hdr.size, MSG_WAITALL) != (ssize_t)m->hdr.size) {
		*why = "short message payload";
		return -1;
	}
	return 1;
}


int main(int argc, char **argv)
{
	struct cfg cfg = { .cid = 3, .queue_size = VR_MAX_QUEUE, .buf = 256 * 1024, .connect_timeout = 5000,
			   .max_conns = 1024, .features = VHU_DEFAULT_VSOCK_FEATURES, .pcap_snaplen = BVPCAP_DEFAULT_SNAPLEN,
			   .stall_log_ms = 5000 };
	parse_args(&cfg, argc, argv);

	/* One fd per connection: take the hard limit so --max-connections is reachable. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGUSR1);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	int sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || epfd < 0) {
		perror("bv-vhost-vsock: signalfd/epoll");
		return 1;
	}

	static struct vhu_dev dev;
	static struct bvh_engine eng;
	static struct raw_host raw;
	const bool rawmode = cfg.raw_path != NULL;
	vhu_dev_init(&dev, cfg.cid, cfg.queue_size);
	dev.vsock_features = cfg.features;
	dev.no_event_idx = cfg.no_event_idx;
	char err[256];
	struct bvh_opts o = { .guest_cid = cfg.cid, .uds_path = cfg.uds_path, .buf_alloc = cfg.buf,
			      .connect_timeout_ms = cfg.connect_timeout, .close_timeout_ms = 8000,
			      .max_conns = cfg.max_conns, .stall_log_ms = cfg.stall_log_ms, .verbose = cfg.verbose };
	/* The capture before anything listens, so its first packet has a file to go to. */
	static struct bvpcap pcap;
	if (cfg.pcap_path && bvpcap_open(&pcap, cfg.pcap_path, cfg.pcap_snaplen, err, sizeof(err)) < 0) {
		fprintf(stderr, "bv-vhost-vsock: --pcap: %s\n", err);
		return 1;
	}
	/* The host-side socket first: once the vhost-user socket exists (what
	 * scripts wait for before starting QEMU), everything is ready. */
	if (rawmode) {
		if (raw_init(&raw, &dev, epfd, cfg.raw_path, BVH_TAG(K_RAW_LISTEN, 0, 0), BVH_TAG(K_RAW_CLIENT, 0, 0),
			     err, sizeof(err)) < 0) {
			fprintf(stderr, "bv-vhost-vsock: --raw: %s\n", err);
			bvpcap_close(&pcap);
			return 1;
		}
		if (cfg.pcap_path)
			raw.all = &pcap;
	} else if (bvh_init(&eng, &o, &dev, epfd, err, sizeof(err)) < 0) {
		fprintf(stderr, "bv-vhost-vsock: --uds-path: %s\n", err);
		bvpcap_close(&pcap);
		return 1;
	}
	if (cfg.pcap_path)
		eng.pcap = &pcap;
	int vlisten = bvh_unix_listen(cfg.socket_path, err, sizeof(err));
	if (vlisten < 0) {
		fprintf(stderr, "bv-vhost-vsock: --socket: %s\n", err);
		if (rawmode)
			raw_fini(&raw);
		else
			bvh_fini(&eng);
		bvpcap_close(&pcap);
		return 1;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = BVH_TAG(K_VLISTEN, 0, 0) };
	epoll_ctl(epfd, EPOLL_CTL_ADD, vlisten, &ev);
	ev.data.u64 = BVH_TAG(K_SIGNAL, 0, 0);
	epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);

	printf("bv-vhost-vsock: listening on %s (cid %llu); %s %s\n", cfg.socket_path, cfg.cid,
	       rawmode ? "raw-packet control socket" : "host programs connect to",
	       rawmode ? cfg.raw_path : cfg.uds_path);
	fflush(stdout);

	int qfd = -1;
	int kick_reg[VHU_NUM_QUEUES] = { -1, -1, -1 };
	bool running = true;
	static struct vhu_msg msg, reply;
	while (running) {
		struct epoll_event evs[64];
		int n = epoll_wait(epfd, evs, 64, 100);
		if (n < 0 && errno != EINTR) {
			perror("bv-vhost-vsock: epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			unsigned kind = BVH_TAG_KIND(tag);
			if (kind == K_VLISTEN) {
				int fd = accept4(vlisten, NULL, NULL, SOCK_CLOEXEC);
				if (fd < 0)
					continue;
				if (qfd >= 0) {
					fprintf(stderr, "bv-vhost-vsock: a second front end connected while one is "
						"active; closing it (one guest per back end)\n");
					close(fd);
					continue;
				}
				struct timeval tv = { .tv_sec = 5 };
				setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
				setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
				qfd = fd;
				struct epoll_event qe = { .events = EPOLLIN, .data.u64 = BVH_TAG(K_QEMU, 0, 0) };
				epoll_ctl(epfd, EPOLL_CTL_ADD, qfd, &qe);
				if (cfg.verbose)
					fprintf(stderr, "bv-vhost-vsock: front end connected\n");
			} else if (kind == K_QEMU && qfd >= 0) {
				for (;;) {
					int fds[VHU_MAX_FDS], nfds = 0;
					const char *why = NULL;
					int r = vhu_recv(qfd, &msg, fds, &nfds, &why);
					int h = 0;
					if (r > 0) {
						memset(&reply, 0, sizeof(reply));
						h = vhu_handle(&dev, &msg, fds, nfds, &reply);
						if (cfg.verbose > 1)
							fprintf(stderr, "bv-vhost-vsock: vhost-user request %u size %u -> %d\n",
								msg.hdr.request, msg.hdr.size, h);
						if (dev.err[0])
							fprintf(stderr, "bv-vhost-vsock: vhost-user: %s\n", dev.err);
						if (h == 1) {
							size_t len = sizeof(reply.hdr) + reply.hdr.size;
							if (send(qfd, &reply, len, MSG_NOSIGNAL) != (ssize_t)len) {
								why = "cannot send a reply";
								h = -1;
							}
						} else if (h < 0) {
							why = "protocol error";
						}
					} else {
						for (int k = 0; k < nfds; k++)
							close(fds[k]);
					}
					/* keep the kick eventfds in the epoll set in step with the device */
					for (int q = 0; q < VHU_NUM_QUEUES; q++) {
						if (!(dev.kick_changed & (1u << q)))
							continue;
						if (kick_reg[q] >= 0)
							epoll_ctl(epfd, EPOLL_CTL_DEL, kick_reg[q], NULL);
						kick_reg[q] = dev.vq[q].kick_fd;
						if (kick_reg[q] >= 0) {
							struct epoll_event ke = { .events = EPOLLIN,
										  .data.u64 = BVH_TAG(K_KICK, 0, q) };
							epoll_ctl(epfd, EPOLL_CTL_ADD, kick_reg[q], &ke);
						}
					}
					dev.kick_changed = 0;
					if (dev.rings_stopped) {
						dev.rings_stopped = false;
						if (rawmode)
							raw_device_reset(&raw);
						else
							bvh_reset_all(&eng, "the guest's device stopped");
					}
					if (r < 0 || h < 0) {
						fprintf(stderr, "bv-vhost-vsock: front end gone (%s); waiting for the next one\n",
							why ? why : "?");
						if (!rawmode)
							bvh_reset_all(&eng, "front end disconnected");
						vhu_dev_reset(&dev);
						if (rawmode)
							raw_device_reset(&raw);
						for (int q = 0; q < VHU_NUM_QUEUES; q++)
							kick_reg[q] = -1;   /* closed by the reset */
						dev.kick_changed = 0;
						dev.rings_stopped = false;
						close(qfd);
						qfd = -1;
						break;
					}
					if (r == 0)
						break;
				}
			} else if (kind == K_KICK) {
				unsigned q = BVH_TAG_SLOT(tag);
				eventfd_t v;
				if (q < VHU_NUM_QUEUES && dev.vq[q].kick_fd >= 0 &&
				    eventfd_read(dev.vq[q].kick_fd, &v) == 0)
					eng.st.kicks[q] += v;   /* bench/ reports kicks per MiB */
			} else if (kind == K_SIGNAL) {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGUSR1) {
						if (!rawmode)
							bvh_dump_stats(&eng, stderr);
					} else {
						running = false;
					}
				}
			} else if (kind == K_RAW_LISTEN || kind == K_RAW_CLIENT) {
				raw_event(&raw, tag);
			} else if (!rawmode && (kind == BVH_K_LISTEN || kind == BVH_K_CONN)) {
				bvh_event(&eng, tag, evs[i].events);
			}
		}
		if (rawmode) {
			raw_pump(&raw);
		} else {
			bvh_pump(&eng);
			bvh_timers(&eng);
			bvh_pump(&eng);
		}
		bvpcap_tick(&pcap, bvh_now_ms());
	}
	fprintf(stderr, "bv-vhost-vsock: exiting\n");
	if (rawmode) {
		raw_fini(&raw);
	} else {
		bvh_dump_stats(&eng, stderr);
		bvh_fini(&eng);
	}
	if (cfg.pcap_path) {
		uint64_t pkts = pcap.pkts, lost = pcap.lost;
		if (bvpcap_close(&pcap) < 0)
			fprintf(stderr, "bv-vhost-vsock: capture %s is incomplete: %llu packet(s) lost\n",
				cfg.pcap_path, (unsigned long long)lost);
		else
			fprintf(stderr, "bv-vhost-vsock: capture: %llu packets in %s\n", (unsigned long long)pkts,
				cfg.pcap_path);
	}
	if (qfd >= 0)
		close(qfd);
	vhu_dev_reset(&dev);
	close(vlisten);
	unlink(cfg.socket_path);
	return 0;
}
