/*
 * nfq-delay: a userspace packet delay for kernels without netem, on NFQUEUE.
 *
 * Usage:
 *   nfq-delay -q QUEUE_NUM [-l MAXLEN] [-k dst|src] -c CONFIG [-s STATSFILE]
 *
 *   -q QUEUE_NUM  the NFQUEUE number to bind (0-65535)
 *   -l MAXLEN     the kernel queue's length limit in packets (default 16384; the kernel's is 1024)
 *   -k dst|src    which address of a packet CONFIG's lines name: its destination (default) or its
 *                 source (for a queue on the receiving side, see "Where to queue" below)
 *   -c CONFIG     the delay table (below)
 *   -s STATSFILE  where SIGUSR1 and exit write one JSON object (written to a temporary file, then renamed):
 *                 {"packets":N,"delayed":N,"passed":N,"held_max":N,"late_max_us":N,
 *                  "late_p99_us":N (left out until a held packet was released at its due time),"enobufs":N,
 *                  "verdict_errors":N}
 *                 late = release time - due time; late_p99_us is approximate (log-linear buckets, ~1.5%).
 *
 * CONFIG, one rule a line; '#' starts a comment, blank lines are ignored:
 *   IPV4 DELAY_US JITTER_US         e.g. 172.20.0.3 50000 0 (the destination; with -k src the source)
 *   default  DELAY_US JITTER_US     for IPv4 packets whose address is on no line (at most one)
 * A queued IPv4 packet whose destination (-k src: source) is on a line (else default, else none)
 * is held until arrival + DELAY_US + uniform[-JITTER_US, +JITTER_US] (never before arrival), then
 * accepted; per address never earlier than the previous packet (no reordering). Arrival is when
 * this process reads the packet. Other packets (no rule, not IPv4) are accepted at once.
 * An address listed twice, a bad address or a number out of range is an error: at start one
 * line on stderr naming the file and line, exit 2; on SIGHUP the same line and the old table stays.
 *
 * Signals: SIGHUP re-reads CONFIG (prints "nfq-delay: reloaded CONFIG (N rules)", or "(N rules and a
 * default)"; held packets keep their due times). SIGUSR1 writes STATSFILE. SIGTERM/SIGINT accept
 * every held packet at once (not counted as late), unbind, write STATSFILE, exit 0.
 * Once the queue is bound it prints "nfq-delay: ready queue N" on stderr.
 * Exit codes: 0 after SIGTERM/SIGINT, 1 when the queue cannot be bound or a system call fails,
 * 2 for bad arguments or a bad CONFIG at start.
 *
 * The queue is bound with copy mode NFQNL_COPY_PACKET of 20 bytes (the IPv4 header's fixed part),
 * NFQA_CFG_F_FAIL_OPEN (a full queue or socket accepts packets instead of dropping them) and,
 * where the kernel has it, NFQA_CFG_F_GSO (GSO packets are queued whole); the netlink receive
 * buffer is 8 MiB, and ENOBUFS (the kernel could not hand over a packet: it was accepted, fail-open)
 * is counted, not fatal. Pair it with `iptables ... -j NFQUEUE --queue-num N --queue-bypass`,
 * so traffic passes undelayed when this process is gone.
 *
 * Where to queue: a packet held on its sender's way out (OUTPUT, POSTROUTING) still counts
 * against its socket's send buffer, and TCP (its small-queue limit, most likely) then keeps only a
 * few packets out per delay: measured, one TCP stream through 50 ms moved 0.06 MB/s queued in OUTPUT
 * and 54 MB/s queued in the receiver's PREROUTING (a packet that crossed a veth into another
 * network namespace has no owning socket). netem avoids this by orphaning; a queue cannot. So
 * for TCP, delay on the receiving side: in the receiver's namespace,
 *   iptables -t mangle -A PREROUTING -s SENDER -j NFQUEUE --queue-num N --queue-bypass
 * with `nfq-delay -k src` and lines naming the senders. UDP senders see their send buffer fill
 * at about 270 small packets held per socket in OUTPUT.
 *
 * Build: gcc -O2 -Wall -Wextra -Werror -o nfq-delay nfq-delay.c -lnetfilter_queue -lnfnetlink
 * (Debian: gcc libnetfilter-queue-dev; at run time libnetfilter-queue1).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>
#include <libnfnetlink/libnfnetlink.h>

#define COPY_RANGE 20
#define RCVBUF_BYTES (8u << 20)
#define DEFAULT_MAXLEN 16384u
#define MAX_DELAY_US 3600000000ull /* one hour */
#define READ_BATCH 64

static const char *prog = "nfq-delay";

/* ------------------------------------------------------------------ rules */

struct rule {
  uint32_t addr; /* network byte order */
  int64_t delay_ns;
  int64_t jitter_ns;
  unsigned line; /* in CONFIG, for messages */
};

struct table {
  struct rule *rules; /* sorted by addr */
  size_t count;
  int has_default;
  struct rule fallback;
};

static int rule_cmp(const void *a, const void *b) {
  uint32_t x = ((const struct rule *)a)->addr, y = ((const struct rule *)b)->addr;
  return x < y ? -1 : x > y;
}

static const struct rule *table_find(const struct table *t, uint32_t addr) {
  size_t lo = 0, hi = t->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->rules[mid].addr == addr) return &t->rules[mid];
    if (t->rules[mid].addr < addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  return t->has_default ? &t->fallback : NULL;
}

static void table_free(struct table *t) {
  free(t->rules);
  memset(t, 0, sizeof(*t));
}

static int parse_us(const char *word, int64_t *out_ns) {
  if (*word < '0' || *word > '9') return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(word, &end, 10);
  if (errno || *end || v > MAX_DELAY_US) return -1;
  *out_ns = (int64_t)v * 1000;
  return 0;
}

/* Reads CONFIG into *t; on error fills err (one line, no newline) and returns -1. */
static int table_load(const char *path, struct table *t, char *err, size_t errlen) {
  memset(t, 0, sizeof(*t));
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    return -1;
  }
  size_t cap = 0;
  char line[1024];
  unsigned lineno = 0;
  int rc = 0;
  while (fgets(line, sizeof(line), f)) {
    lineno++;
    size_t len = strlen(line);
    if (len == sizeof(line) - 1 && line[len - 1] != '\n' && !feof(f)) {
      snprintf(err, errlen, "%s:%u: line longer than %zu characters", path, lineno, sizeof(line) - 2);
      rc = -1;
      break;
    }
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char *save = NULL, *words[3];
    int n = 0;
    for (char *w = strtok_r(line, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
      if (n < 3) words[n] = w;
      n++;
    }
    if (n == 0) continue;
    if (n != 3) {
      snprintf(err, errlen, "%s:%u: expected 'IPV4 DELAY_US JITTER_US' or 'default DELAY_US JITTER_US', got %d field%s",
               path, lineno, n, n == 1 ? "" : "s");
      rc = -1;
      break;
    }
    struct rule r;
    if (parse_us(words[1], &r.delay_ns) || parse_us(words[2], &r.jitter_ns)) {
      snprintf(err, errlen, "%s:%u: DELAY_US and JITTER_US must be whole numbers of microseconds, 0-%llu: '%s %s'",
               path, lineno, MAX_DELAY_US, words[1], words[2]);
      rc = -1;
      break;
    }
    if (strcmp(words[0], "default") == 0) {
      if (t->has_default) {
        snprintf(err, errlen, "%s:%u: a second 'default' line", path, lineno);
        rc = -1;
        break;
      }
      r.addr = 0;
      r.line = lineno;
      t->fallback = r;
      t->has_default = 1;
      continue;
    }
    struct in_addr a;
    if (inet_pton(AF_INET, words[0], &a) != 1) {
      snprintf(err, errlen, "%s:%u: '%s' is not an IPv4 address (a.b.c.d) or 'default'", path, lineno, words[0]);
      rc = -1;
      break;
    }
    r.addr = a.s_addr;
    r.line = lineno;
    if (t->count == cap) {
      cap = cap ? cap * 2 : 16;
      struct rule *grown = realloc(t->rules, cap * sizeof(*grown));
      if (!grown) {
        snprintf(err, errlen, "%s:%u: out of memory", path, lineno);
        rc = -1;
        break;
      }
      t->rules = grown;
    }
    t->rules[t->count++] = r;
  }
  if (rc == 0 && ferror(f)) {
    snprintf(err, errlen, "%s: read error", path);
    rc = -1;
  }
  fclose(f);
  if (rc == 0 && t->count > 1) {
    qsort(t->rules, t->count, sizeof(*t->rules), rule_cmp);
    for (size_t i = 1; i < t->count; i++)
      if (t->rules[i].addr == t->rules[i - 1].addr) {
        char ip[INET_ADDRSTRLEN];
        struct in_addr a = {.s_addr = t->rules[i].addr};
        inet_ntop(AF_INET, &a, ip, sizeof(ip));
        unsigned first = t->rules[i - 1].line, again = t->rules[i].line;
        snprintf(err, errlen, "%s:%u: %s is already on line %u", path, first > again ? first : again, ip,
                 first > again ? again : first);
        rc = -1;
        break;
      }
  }
  if (rc) table_free(t);
  return rc;
}

/* --------------------------------------- last due time per destination (no reordering) */

struct last_due {
  uint32_t addr;
  uint32_t used;
  int64_t due_ns;
};

static struct {
  struct last_due *slots;
  size_t cap, count; /* cap: a power of two */
} lastmap;

static size_t addr_hash(uint32_t addr, size_t cap) {
  uint64_t h = (uint64_t)addr * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 32) & (cap - 1);
}

static struct last_due *lastmap_slot(uint32_t addr) {
  size_t i = addr_hash(addr, lastmap.cap);
  while (lastmap.slots[i].used && lastmap.slots[i].addr != addr) i = (i + 1) & (lastmap.cap - 1);
  return &lastmap.slots[i];
}

/* Rebuilds the map at new_cap, dropping entries already in the past (they can no longer hold anything back). */
static int lastmap_rebuild(size_t new_cap, int64_t now_ns) {
  struct last_due *old = lastmap.slots;
  size_t old_cap = lastmap.cap;
  struct last_due *slots = calloc(new_cap, sizeof(*slots));
  if (!slots) return -1;
  lastmap.slots = slots;
  lastmap.cap = new_cap;
  lastmap.count = 0;
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].used && old[i].due_ns > now_ns) {
      *lastmap_slot(old[i].addr) = old[i];
      lastmap.count++;
    }
  free(old);
  return 0;
}

/* Returns max(due, the last due for addr) and records it. */
static int64_t lastmap_order(uint32_t addr, int64_t due_ns, int64_t now_ns) {
  struct last_due *s = lastmap_slot(addr);
  if (s->used) {
    if (s->due_ns > due_ns) due_ns = s->due_ns;
    s->due_ns = due_ns;
    return due_ns;
  }
  if ((lastmap.count + 1) * 4 > lastmap.cap * 3) {
    /* Drop the entries in the past; double the map if it is still over half full. */
    size_t cap = lastmap.cap;
    if (lastmap_rebuild(cap, now_ns) == 0 && (lastmap.count + 1) * 2 > cap) lastmap_rebuild(cap * 2, now_ns);
    if ((lastmap.count + 1) * 4 > lastmap.cap * 3) return due_ns; /* out of memory: unordered */
    s = lastmap_slot(addr);
  }
  s->addr = addr;
  s->used = 1;
  s->due_ns = due_ns;
  lastmap.count++;
  return due_ns;
}

/* ------------------------------------------------------------------ due-time heap */

struct held {
  int64_t due_ns;
  uint64_t seq; /* tie-break: equal due times leave in arrival order */
  uint32_t id;
};

static struct {
  struct held *items;
  size_t count, cap;
} heap;

static int held_before(const struct held *a, const struct held *b) {
  return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static int heap_reserve(size_t cap) {
  struct held *grown = realloc(heap.items, cap * sizeof(*grown));
  if (!grown) return -1;
  heap.items = grown;
  heap.cap = cap;
  return 0;
}

static int heap_push(struct held h) {
  if (heap.count == heap.cap && heap_reserve(heap.cap * 2) < 0) return -1;
  size_t i = heap.count++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!held_before(&h, &heap.items[parent])) break;
    heap.items[i] = heap.items[parent];
    i = parent;
  }
  heap.items[i] = h;
  return 0;
}

static struct held heap_pop(void) {
  struct held top = heap.items[0];
  struct held last = heap.items[--heap.count];
  size_t i = 0, n = heap.count;
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && held_before(&heap.items[child + 1], &heap.items[child])) child++;
    if (!held_before(&heap.items[child], &last)) break;
    heap.items[i] = heap.items[child];
    i = child;
  }
  if (n > 0) heap.items[i] = last;
  return top;
}

/* ------------------------------------------------------------------ statistics */

/* Log-linear buckets of lateness in microseconds: exact below 128, then 64 per power of two. */
#define LATE_BUCKETS (128 + 64 * 57)
static struct {
  uint64_t packets, delayed, passed, held_max, enobufs, verdict_errors, released;
  int64_t late_max_ns;
  uint64_t late_buckets[LATE_BUCKETS];
} stats;

static size_t late_bucket(uint64_t us) {
  if (us < 128) return (size_t)us;
  int e = 63 - __builtin_clzll(us); /* >= 7 */
  size_t i = 128 + (size_t)(e - 7) * 64 + (size_t)((us >> (e - 6)) & 63);
  return i < LATE_BUCKETS ? i : LATE_BUCKETS - 1;
}

/* The largest value in bucket i. */
static uint64_t late_bucket_top(size_t i) {
  if (i < 128) return i;
  int e = (int)((i - 128) / 64) + 7;
  uint64_t sub = (i - 128) % 64;
  return ((64 + sub + 1) << (e - 6)) - 1;
}

static void record_late(int64_t late_ns) {
  if (late_ns < 0) late_ns = 0;
  if (late_ns > stats.late_max_ns) stats.late_max_ns = late_ns;
  stats.late_buckets[late_bucket((uint64_t)late_ns / 1000)]++;
  stats.released++;
}

static uint64_t late_quantile_us(double q) {
  uint64_t rank = (uint64_t)((double)stats.released * q), seen = 0;
  if (rank >= stats.released) rank = stats.released - 1;
  for (size_t i = 0; i < LATE_BUCKETS; i++) {
    seen += stats.late_buckets[i];
    if (seen > rank) return late_bucket_top(i);
  }
  return (uint64_t)(stats.late_max_ns / 1000);
}

static void write_stats(const char *path) {
  if (!path) return;
  char json[512], p99[64] = "";
  if (stats.released > 0) {
    uint64_t q = late_quantile_us(0.99), top = (uint64_t)(stats.late_max_ns / 1000);
    snprintf(p99, sizeof(p99), "\"late_p99_us\":%" PRIu64 ",", q < top ? q : top);
  }
  int n = snprintf(json, sizeof(json),
                   "{\"packets\":%" PRIu64 ",\"delayed\":%" PRIu64 ",\"passed\":%" PRIu64 ",\"held_max\":%" PRIu64
                   ",\"late_max_us\":%" PRId64 ",%s\"enobufs\":%" PRIu64 ",\"verdict_errors\":%" PRIu64 "}\n",
                   stats.packets, stats.delayed, stats.passed, stats.held_max, stats.late_max_ns / 1000, p99,
                   stats.enobufs, stats.verdict_errors);
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
    fprintf(stderr, "%s: stats file path too long: %s\n", prog, path);
    return;
  }
  FILE *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "%s: cannot write stats file %s: %s\n", prog, tmp, strerror(errno));
    return;
  }
  int bad = fwrite(json, 1, (size_t)n, f) != (size_t)n;
  bad |= fclose(f) != 0;
  if (bad || rename(tmp, path) != 0) {
    fprintf(stderr, "%s: cannot write stats file %s: %s\n", prog, path, strerror(errno));
    unlink(tmp);
  }
}

/* ------------------------------------------------------------------ the queue */

static struct table table;
static struct nfq_q_handle *queue;
static int key_offset = 16; /* the IPv4 header's destination address; 12 for the source (-k src) */
static uint64_t seq, rng_state;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rng_next(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void accept_packet(uint32_t id) {
  if (nfq_set_verdict(queue, id, NF_ACCEPT, 0, NULL) < 0) stats.verdict_errors++;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)qh, (void)msg, (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  stats.packets++;
  unsigned char *payload;
  int len = nfq_get_payload(nfa, &payload);
  const struct rule *r = NULL;
  uint32_t key = 0;
  if (len >= 20 && (payload[0] >> 4) == 4) {
    memcpy(&key, payload + key_offset, sizeof(key));
    r = table_find(&table, key);
  }
  if (!r) {
    stats.passed++;
    accept_packet(id);
    return 0;
  }
  int64_t arrival = now_ns();
  int64_t due = arrival + r->delay_ns;
  if (r->jitter_ns > 0) due += (int64_t)(rng_next() % (uint64_t)(2 * r->jitter_ns + 1)) - r->jitter_ns;
  if (due < arrival) due = arrival;
  due = lastmap_order(key, due, arrival);
  if (heap_push((struct held){.due_ns = due, .seq = seq++, .id = id}) < 0) {
    stats.passed++; /* out of memory: let it through rather than hold it forever */
    accept_packet(id);
    return 0;
  }
  stats.delayed++;
  if (heap.count > stats.held_max) stats.held_max = heap.count;
  return 0;
}

/* Accepts every held packet due by now; returns the next due time, or -1 when none is held. */
static int64_t release_due(void) {
  while (heap.count > 0) {
    int64_t now = now_ns();
    if (heap.items[0].due_ns > now) return heap.items[0].due_ns;
    struct held h = heap_pop();
    accept_packet(h.id);
    record_late(now - h.due_ns);
  }
  return -1;
}

/* ------------------------------------------------------------------ main */

static volatile sig_atomic_t got_quit, got_hup, got_usr1;

static void on_signal(int sig) {
  if (sig == SIGHUP)
    got_hup = 1;
  else if (sig == SIGUSR1)
    got_usr1 = 1;
  else
    got_quit = 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: %s -q QUEUE_NUM [-l MAXLEN] [-k dst|src] -c CONFIG [-s STATSFILE]\n"
          "CONFIG lines: 'IPV4 DELAY_US JITTER_US' or 'default DELAY_US JITTER_US'; see the source's header.\n",
          prog);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out) {
  if (!s || *s < '0' || *s > '9') return -1;
  errno = 0;
  char *end;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *end || v > max) return -1;
  *out = v;
  return 0;
}

int main(int argc, char **argv) {
  unsigned long qnum = 0, maxlen = DEFAULT_MAXLEN;
  const char *config = NULL, *statsfile = NULL;
  int have_q = 0, opt;
  while ((opt = getopt(argc, argv, "q:l:k:c:s:h")) != -1) {
    switch (opt) {
    case 'q':
      if (parse_uint(optarg, 65535, &qnum)) {
        fprintf(stderr, "%s: -q '%s': a queue number 0-65535\n", prog, optarg);
        return 2;
      }
      have_q = 1;
      break;
    case 'l':
      if (parse_uint(optarg, UINT32_MAX, &maxlen) || maxlen == 0) {
        fprintf(stderr, "%s: -l '%s': a queue length 1-%u\n", prog, optarg, UINT32_MAX);
        return 2;
      }
      break;
    case 'k':
      if (strcmp(optarg, "dst") == 0)
        key_offset = 16;
      else if (strcmp(optarg, "src") == 0)
        key_offset = 12;
      else {
        fprintf(stderr, "%s: -k '%s': dst or src\n", prog, optarg);
        return 2;
      }
      break;
    case 'c': config = optarg; break;
    case 's': statsfile = optarg; break;
    case 'h': usage(); return 0;
    default: usage(); return 2;
    }
  }
  if (!have_q || !config || optind != argc) {
    usage();
    return 2;
  }

  char err[512];
  if (table_load(config, &table, err, sizeof(err)) < 0) {
    fprintf(stderr, "%s: bad config: %s\n", prog, err);
    return 2;
  }
  if (getrandom(&rng_state, sizeof(rng_state), GRND_NONBLOCK) != sizeof(rng_state))
    rng_state = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
  if (lastmap_rebuild(1024, 0) < 0 || heap_reserve(4096) < 0) {
    fprintf(stderr, "%s: out of memory\n", prog);
    return 1;
  }
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* wake at the due time, not up to 50 us after */

  /* Signals are blocked except inside ppoll, so a flag set by a handler is seen at once. */
  sigset_t block, wait_mask;
  sigemptyset(&block);
  int sigs[] = {SIGHUP, SIGUSR1, SIGTERM, SIGINT};
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++) {
    sigaddset(&block, sigs[i]);
    sigaction(sigs[i], &sa, NULL);
  }
  sigprocmask(SIG_BLOCK, &block, &wait_mask);
  for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++) sigdelset(&wait_mask, sigs[i]);

  struct nfq_handle *h = nfq_open();
  if (!h) {
    fprintf(stderr, "%s: cannot open nfnetlink_queue: %s (needs CAP_NET_ADMIN)\n", prog, strerror(errno));
    return 1;
  }
  queue = nfq_create_queue(h, (uint16_t)qnum, on_packet, NULL);
  if (!queue) {
    fprintf(stderr, "%s: cannot bind queue %lu: %s (another process may hold it)\n", prog, qnum, strerror(errno));
    nfq_close(h);
    return 1;
  }
  if (nfq_set_mode(queue, NFQNL_COPY_PACKET, COPY_RANGE) < 0) {
    fprintf(stderr, "%s: cannot set copy mode on queue %lu: %s\n", prog, qnum, strerror(errno));
    return 1;
  }
  if (nfq_set_queue_maxlen(queue, (uint32_t)maxlen) < 0) {
    fprintf(stderr, "%s: cannot set queue %lu's length to %lu: %s\n", prog, qnum, maxlen, strerror(errno));
    return 1;
  }
  if (nfq_set_queue_flags(queue, NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO, NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO) < 0 &&
      nfq_set_queue_flags(queue, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN) < 0) {
    fprintf(stderr, "%s: cannot set fail-open on queue %lu: %s\n", prog, qnum, strerror(errno));
    return 1;
  }
  nfnl_rcvbufsiz(nfq_nfnlh(h), RCVBUF_BYTES);
  int fd = nfq_fd(h);
  fprintf(stderr, "%s: ready queue %lu\n", prog, qnum);

  static char buf[4096] __attribute__((aligned));
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  int rc = 0;
  while (!got_quit) {
    if (got_hup) {
      got_hup = 0;
      struct table fresh;
      if (table_load(config, &fresh, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: bad config, keeping the previous one: %s\n", prog, err);
      } else {
        table_free(&table);
        table = fresh;
        fprintf(stderr, "%s: reloaded %s (%zu rules%s)\n", prog, config, table.count,
                table.has_default ? " and a default" : "");
      }
    }
    if (got_usr1) {
      got_usr1 = 0;
      write_stats(statsfile);
    }
    int64_t next = release_due();
    struct timespec timeout, *tp = NULL;
    if (next >= 0) {
      int64_t wait = next - now_ns();
      if (wait < 0) wait = 0;
      timeout.tv_sec = wait / 1000000000;
      timeout.tv_nsec = wait % 1000000000;
      tp = &timeout;
    }
    int ready = ppoll(&pfd, 1, tp, &wait_mask);
    if (ready < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
      rc = 1;
      break;
    }
    if (ready == 0) continue;
    for (int i = 0; i < READ_BATCH; i++) {
      ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        nfq_handle_packet(h, buf, (int)n);
        if (heap.count > 0 && heap.items[0].due_ns <= now_ns()) release_due(); /* a busy queue delays no release */
        continue;
      }
      if (n < 0 && errno == ENOBUFS) {
        stats.enobufs++;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
      fprintf(stderr, "%s: recv: %s\n", prog, n < 0 ? strerror(errno) : "socket closed");
      rc = 1;
      got_quit = 1;
      break;
    }
  }

  /* Let every held packet go at once, in due order (early: not counted as late). */
  while (heap.count > 0) accept_packet(heap_pop().id);
  nfq_destroy_queue(queue);
  nfq_close(h);
  write_stats(statsfile);
  table_free(&table);
  return rc;
}
