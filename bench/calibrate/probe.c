/*
 * probe: times the kernel's receive path for one UDP datagram, per packet, with
 * no scheduler in the measurement.
 *
 * One process holds a socket in each of two network namespaces (a socket stays
 * in the namespace it was created in, setns(2)). sendto() on the client socket
 * runs, on this CPU and before it returns, the whole path: the client's output
 * hooks, veth_xmit, __netif_rx onto this CPU's backlog, and the softirq that
 * local_bh_enable() runs at the end of __dev_queue_xmit: ip_rcv, the server
 * namespace's PREROUTING and INPUT hooks, udp_rcv, the socket queue. So the
 * time sendto() takes includes every netfilter hook the datagram crosses in
 * both namespaces, and a recv(MSG_DONTWAIT) right after it finds the datagram.
 * A datagram that is not there yet was deferred (ksoftirqd, another CPU): that
 * sample left work out, so it is dropped and counted.
 *
 * Each exchange times the request (client -> server) and the reply
 * (server -> client, to the address recvfrom() reported) separately.
 *
 * Modes:
 *   est  one client socket (port PORT_BASE - 1): every request belongs to one
 *        established flow.
 *   alt  alternates an exchange on that established flow with one on a fresh
 *        client socket, bound to the next port from PORT_BASE: each fresh
 *        request is the first packet of a new flow (a new conntrack entry, the
 *        nat table walks, nf_nat_setup_info where NAT applies). Pairing them
 *        inside one run cancels the drift between runs that a shared VM has,
 *        so new - est is the first packet's extra cost in the same machine state.
 *
 * usage: probe -c CLIENT_NETNS_PATH -s SERVER_NETNS_PATH -d DST_IP:PORT
 *              -b SERVER_BIND_IP:PORT -m est|alt -n COUNT -w WARMUP
 *              -p PORT_BASE [-C CPU]
 * prints one JSON line: for each flow kind, per-direction quantiles in ns;
 * deferred and lost counts.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "probe: %s: %s\n", what, strerror(errno));
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void enter_netns(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(path);
  if (setns(fd, CLONE_NEWNET) < 0) die("setns");
  close(fd);
}

static struct sockaddr_in parse_addr(const char *s) {
  char buf[64];
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  snprintf(buf, sizeof buf, "%s", s);
  char *colon = strchr(buf, ':');
  if (colon == NULL) { fprintf(stderr, "probe: %s is not IP:PORT\n", s); exit(2); }
  *colon = '\0';
  if (inet_pton(AF_INET, buf, &a.sin_addr) != 1) { fprintf(stderr, "probe: bad address %s\n", buf); exit(2); }
  a.sin_port = htons((uint16_t)atoi(colon + 1));
  return a;
}

static int udp_socket_bound(struct sockaddr_in *a) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (bind(fd, (struct sockaddr *)a, sizeof *a) < 0) die("bind");
  return fd;
}

/* The datagram should already be queued; a blocking wait means it was deferred. */
static ssize_t take(int fd, char *buf, size_t len, struct sockaddr_in *from, int *deferred) {
  socklen_t fl = sizeof *from;
  ssize_t n = recvfrom(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)from, &fl);
  if (n >= 0) return n;
  if (errno != EAGAIN) die("recvfrom");
  *deferred = 1;
  struct pollfd p = { .fd = fd, .events = POLLIN };
  if (poll(&p, 1, 200) <= 0) return -1;
  fl = sizeof *from;
  return recvfrom(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)from, &fl);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static uint32_t quantile(const uint32_t *sorted, int n, double q) {
  if (n == 0) return 0;
  int i = (int)(q * (n - 1) + 0.5);
  return sorted[i];
}

static void print_stats(const char *name, uint32_t *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_u32);
  printf("\"%s\":{\"samples\":%d,\"min\":%u,\"p10\":%u,\"p25\":%u,\"median\":%u,\"p75\":%u,\"p90\":%u}",
         name, n, quantile(v, n, 0), quantile(v, n, 0.10), quantile(v, n, 0.25), quantile(v, n, 0.5),
         quantile(v, n, 0.75), quantile(v, n, 0.90));
}

/* Times of one kind of exchange (established or first packet), both directions. */
struct series {
  uint32_t *req, *rep;
  int kept;
};

/*
 * One request/response exchange from client socket c. Returns 1 when timed,
 * 0 when deferred (its times left work out), -1 when a datagram was lost.
 */
static int exchange(int c, int sfd, const struct sockaddr_in *dst, uint32_t *req_ns, uint32_t *rep_ns) {
  static char msg[32] = "podwire calibrate";
  char buf[256];
  struct sockaddr_in from;
  int late = 0;
  uint64_t t0 = now_ns();
  if (sendto(c, msg, sizeof msg, 0, (const struct sockaddr *)dst, sizeof *dst) < 0) die("sendto request");
  uint64_t t1 = now_ns();
  if (take(sfd, buf, sizeof buf, &from, &late) < 0) return -1;
  uint64_t t2 = now_ns();
  if (sendto(sfd, msg, sizeof msg, 0, (struct sockaddr *)&from, sizeof from) < 0) die("sendto reply");
  uint64_t t3 = now_ns();
  if (take(c, buf, sizeof buf, &from, &late) < 0) return -1;
  if (late) return 0;
  *req_ns = (uint32_t)(t1 - t0);
  *rep_ns = (uint32_t)(t3 - t2);
  return 1;
}

static void series_init(struct series *s, int count) {
  s->req = malloc(sizeof(uint32_t) * (size_t)count);
  s->rep = malloc(sizeof(uint32_t) * (size_t)count);
  if (s->req == NULL || s->rep == NULL) die("malloc");
  s->kept = 0;
}

/* Runs one exchange and keeps its times unless it is warm-up. */
static void record(struct series *s, int c, int sfd, const struct sockaddr_in *dst, int keep, int *deferred, int *lost) {
  uint32_t a, b;
  int r = exchange(c, sfd, dst, &a, &b);
  if (r < 0) { (*lost)++; return; }
  if (r == 0) { (*deferred)++; return; }
  if (!keep) return;
  s->req[s->kept] = a;
  s->rep[s->kept] = b;
  s->kept++;
}

static void print_series(const char *name, struct series *s) {
  printf("\"%s\":{", name);
  print_stats("request", s->req, s->kept);
  printf(",");
  print_stats("reply", s->rep, s->kept);
  printf("}");
}

int main(int argc, char **argv) {
  const char *cns = NULL, *sns = NULL, *dst_s = NULL, *bind_s = NULL, *mode = "est";
  int count = 2000, warmup = 200, port_base = 20000, cpu = -1, opt;
  while ((opt = getopt(argc, argv, "c:s:d:b:m:n:w:p:C:")) != -1) {
    switch (opt) {
      case 'c': cns = optarg; break;
      case 's': sns = optarg; break;
      case 'd': dst_s = optarg; break;
      case 'b': bind_s = optarg; break;
      case 'm': mode = optarg; break;
      case 'n': count = atoi(optarg); break;
      case 'w': warmup = atoi(optarg); break;
      case 'p': port_base = atoi(optarg); break;
      case 'C': cpu = atoi(optarg); break;
      default: fprintf(stderr, "usage: see the comment at the top of probe.c\n"); return 2;
    }
  }
  if (cns == NULL || sns == NULL || dst_s == NULL || bind_s == NULL) { fprintf(stderr, "probe: -c -s -d -b are required\n"); return 2; }
  int alt = strcmp(mode, "alt") == 0;
  if (!alt && strcmp(mode, "est") != 0) { fprintf(stderr, "probe: -m est|alt\n"); return 2; }
  int total = count + warmup;
  if (port_base < 2 || (alt && port_base + total > 65536)) { fprintf(stderr, "probe: client ports outside 1..65535\n"); return 2; }

  /* The softirq runs on the sending CPU: keep the process on one. */
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0) die("sched_setaffinity");
  }
  int nclient = alt ? total + 1 : 1;
  struct rlimit cur;
  if (getrlimit(RLIMIT_NOFILE, &cur) < 0) die("getrlimit");
  if (cur.rlim_cur < (rlim_t)nclient + 64) {
    struct rlimit rl = { .rlim_cur = (rlim_t)nclient + 64, .rlim_max = (rlim_t)nclient + 64 };
    if (rl.rlim_max < cur.rlim_max) rl.rlim_max = cur.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) die("setrlimit");
  }

  struct sockaddr_in dst = parse_addr(dst_s), sbind = parse_addr(bind_s);
  enter_netns(sns);
  int sfd = udp_socket_bound(&sbind);
  enter_netns(cns);
  /* cfd[0]: the established flow; cfd[1 + i]: the i-th fresh flow. */
  int *cfd = malloc(sizeof(int) * (size_t)nclient);
  if (cfd == NULL) die("malloc");
  for (int i = 0; i < nclient; i++) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)(port_base - 1 + i));
    cfd[i] = udp_socket_bound(&a);
  }

  struct series est, fresh;
  series_init(&est, count);
  if (alt) series_init(&fresh, count);
  int deferred = 0, lost = 0;
  for (int i = 0; i < total; i++) {
    record(&est, cfd[0], sfd, &dst, i >= warmup, &deferred, &lost);
    if (alt) record(&fresh, cfd[1 + i], sfd, &dst, i >= warmup, &deferred, &lost);
  }

  printf("{\"mode\":\"%s\",\"count\":%d,\"warmup\":%d,\"deferred\":%d,\"lost\":%d,", mode, count, warmup, deferred, lost);
  print_series("est", &est);
  if (alt) {
    printf(",");
    print_series("new", &fresh);
  }
  printf("}\n");
  return 0;
}
