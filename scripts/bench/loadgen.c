// loadgen: a loopback TCP load generator for scripts/bench.ts, written in C so that it is never the
// bottleneck of what it measures (one thread, epoll, non-blocking sockets, no allocation per connection).
//
//   loadgen flood   -p PORT [-c 50] [-n 20000] [-d 10] [-b BYTES] [-T 5000]
//       Keeps C connections in flight until N were made or D seconds passed. Each one: connect, read until
//       BYTES bytes arrived (default 0: until the first newline), close. Prints one JSON object: connections
//       per second, latency (connect() -> first byte, connect() -> greeting complete and closed) as
//       p50/p90/p99/max in microseconds, errors by kind, and the generator's own CPU time.
//   loadgen hold    -p PORT -k 10000 [-c 200] [-b BYTES] [-H 60]
//       Opens K connections (C at a time), reads each one's greeting, and holds them idle. Prints one JSON
//       line once they are held, then waits until stdin closes (or a line arrives, or H seconds pass),
//       closes them all and prints a second JSON line.
//   loadgen startup -p PORT [-w 15000] -- CMD [ARGS...]
//       Starts CMD and tries to connect to PORT every 100 us until a connection is accepted. Prints the
//       microseconds from fork to the accepted connection, then stops CMD (SIGTERM, SIGKILL after 5 s) and
//       prints its CPU time too (user + system, start to exit).
//
// Traffic goes to 127.0.0.1 only. Every loop is bounded in count and in time (a hard deadline per mode).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define MAX_CONNS 5000000
#define MAX_CONCURRENCY 20000

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen flood -p PORT [-c 50] [-n 20000] [-d 10] [-b BYTES] [-T 5000]\n"
          "       loadgen hold -p PORT -k 10000 [-c 200] [-b BYTES] [-H 60]\n"
          "       loadgen startup -p PORT [-w 15000] -- CMD [ARGS...]\n");
  exit(2);
}

static long num(const char *s, long min, long max, const char *flag) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < min || v > max) {
    fprintf(stderr, "loadgen: %s must be a whole number from %ld to %ld\n", flag, min, max);
    exit(2);
  }
  return v;
}

// Errors by kind, as the JSON names them.
enum { E_REFUSED, E_RESET, E_EOF_BEFORE_GREETING, E_SHORT_GREETING, E_TIMEOUT, E_LOCAL, E_OTHER, E_KINDS };
static const char *error_names[E_KINDS] = {"refused", "reset", "eof_before_greeting", "short_greeting", "timeout", "local", "other"};

static int kind_of(int err) {
  switch (err) {
  case ECONNREFUSED: return E_REFUSED;
  case ECONNRESET:
  case EPIPE: return E_RESET;
  case ETIMEDOUT: return E_TIMEOUT;
  case EADDRNOTAVAIL:
  case EMFILE:
  case ENFILE:
  case ENOBUFS:
  case ENOMEM: return E_LOCAL;
  default: return E_OTHER;
  }
}

struct conn {
  int fd; // -1: free slot
  uint64_t start;
  uint64_t first;
  long got;
  int held;
};

static struct sockaddr_in target;
static int epfd;
static long want_bytes; // 0: until a newline

// Opens a non-blocking connection in slot i; returns 0, or the errno of a failure that happened at once.
static int open_conn(struct conn *c, uint32_t i) {
  c->start = now_ns();
  c->first = 0;
  c->got = 0;
  c->held = 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int r = connect(fd, (struct sockaddr *)&target, sizeof target);
  if (r < 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    return e;
  }
  // Readable is all we wait for: a completed connect that never greets is a timeout, a failed one EPOLLERR.
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = i};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    int e = errno;
    close(fd);
    return e;
  }
  c->fd = fd;
  return 0;
}

static void close_conn(struct conn *c) {
  close(c->fd); // closing removes it from the epoll set
  c->fd = -1;
}

// Reads what is there. Returns 1 when the greeting is complete, 0 to wait for more, -1 - kind on a failure.
static int read_greeting(struct conn *c, uint32_t events) {
  char buf[4096];
  if (events & EPOLLERR) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    return -1 - kind_of(err ? err : ECONNRESET);
  }
  for (int rounds = 0; rounds < 64; rounds++) {
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n > 0) {
      if (c->got == 0) c->first = now_ns();
      c->got += n;
      if (want_bytes > 0 ? c->got >= want_bytes : memchr(buf, '\n', (size_t)n) != NULL) return 1;
      continue;
    }
    if (n == 0) return -1 - (c->got == 0 ? E_EOF_BEFORE_GREETING : E_SHORT_GREETING);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno == EINTR) continue;
    return -1 - kind_of(errno);
  }
  return 0;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void print_dist(const char *name, uint32_t *v, long n) {
  if (n == 0) {
    printf("\"%s\":null", name);
    return;
  }
  qsort(v, (size_t)n, sizeof *v, cmp_u32);
  double sum = 0;
  for (long i = 0; i < n; i++) sum += v[i];
#define PCT(p) v[(long)((double)(n - 1) * (p))]
  printf("\"%s\":{\"p50\":%u,\"p90\":%u,\"p99\":%u,\"max\":%u,\"mean\":%.1f}", name, PCT(0.50), PCT(0.90), PCT(0.99), v[n - 1], sum / (double)n);
#undef PCT
}

static void print_errors(const long *errors) {
  printf("\"errors\":{");
  for (int k = 0; k < E_KINDS; k++) printf("%s\"%s\":%ld", k ? "," : "", error_names[k], errors[k]);
  printf("}");
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int flood(long concurrency, long total, long seconds, long timeout_ms) {
  struct conn *conns = calloc((size_t)concurrency, sizeof *conns);
  uint32_t *first_us = malloc((size_t)total * sizeof(uint32_t));
  uint32_t *done_us = malloc((size_t)total * sizeof(uint32_t));
  struct epoll_event *events = malloc((size_t)concurrency * sizeof *events);
  if (!conns || !first_us || !done_us || !events) die("malloc");
  long errors[E_KINDS] = {0};
  long started = 0, ok = 0, inflight = 0;
  double cpu0 = cpu_seconds();
  uint64_t t0 = now_ns();
  uint64_t stop_starting = t0 + (uint64_t)seconds * 1000000000ull;
  uint64_t hard_deadline = stop_starting + (uint64_t)timeout_ms * 1000000ull + 1000000000ull;
  uint64_t timeout_ns = (uint64_t)timeout_ms * 1000000ull;
  uint64_t last_sweep = t0;

  for (long i = 0; i < concurrency; i++) conns[i].fd = -1;
  // Fills slot i with a new connection while there are connections left to make and time to make them.
  // A connection that fails at once (no local port, refused before epoll) counts and the slot tries again.
#define REFILL(i)                                                                  \
  do {                                                                             \
    while (started < total && now_ns() < stop_starting) {                          \
      started++;                                                                   \
      int e_ = open_conn(&conns[i], (uint32_t)(i));                                \
      if (e_ == 0) {                                                               \
        inflight++;                                                                \
        break;                                                                     \
      }                                                                            \
      errors[kind_of(e_)]++;                                                       \
    }                                                                              \
  } while (0)

  for (long i = 0; i < concurrency; i++) REFILL(i);
  while (inflight > 0) {
    uint64_t now = now_ns();
    if (now > hard_deadline) {
      for (long i = 0; i < concurrency; i++)
        if (conns[i].fd >= 0) {
          close_conn(&conns[i]);
          errors[E_TIMEOUT]++;
          inflight--;
        }
      break;
    }
    int n = epoll_wait(epfd, events, (int)concurrency, 10);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < n; e++) {
      uint32_t i = events[e].data.u32;
      struct conn *c = &conns[i];
      if (c->fd < 0) continue;
      int r = read_greeting(c, events[e].events);
      if (r == 0) continue;
      uint64_t end = now_ns();
      close_conn(c);
      inflight--;
      if (r == 1) {
        first_us[ok] = (uint32_t)((c->first - c->start) / 1000);
        done_us[ok] = (uint32_t)((end - c->start) / 1000);
        ok++;
      } else errors[-1 - r]++;
      REFILL(i);
    }
    // Connections that never answered: swept a hundred times a second.
    now = now_ns();
    if (now - last_sweep > 10000000ull) {
      last_sweep = now;
      for (long i = 0; i < concurrency; i++)
        if (conns[i].fd >= 0 && now - conns[i].start > timeout_ns) {
          close_conn(&conns[i]);
          errors[E_TIMEOUT]++;
          inflight--;
          REFILL(i);
        }
    }
  }
  double elapsed = (double)(now_ns() - t0) / 1e9;
  double cpu = cpu_seconds() - cpu0;
  printf("{\"mode\":\"flood\",\"port\":%u,\"concurrency\":%ld,\"attempted\":%ld,\"ok\":%ld,\"elapsed_s\":%.4f,\"conns_per_s\":%.1f,", ntohs(target.sin_port),
         concurrency, started, ok, elapsed, (double)ok / elapsed);
  print_errors(errors);
  printf(",");
  print_dist("first_byte_us", first_us, ok);
  printf(",");
  print_dist("done_us", done_us, ok);
  printf(",\"cpu_s\":%.4f,\"cpu_share\":%.3f}\n", cpu, cpu / elapsed);
  fflush(stdout);
  return 0;
}

static int hold(long count, long concurrency, long hold_seconds, long timeout_ms) {
  struct conn *conns = calloc((size_t)count, sizeof *conns);
  struct epoll_event *events = malloc(1024 * sizeof *events);
  if (!conns || !events) die("malloc");
  long errors[E_KINDS] = {0};
  long next = 0, connecting = 0, held = 0, dropped = 0;
  uint64_t t0 = now_ns();
  uint64_t deadline = t0 + (uint64_t)timeout_ms * 1000000ull + (uint64_t)count * 1000000ull; // 1 ms a connection, at most
  for (long i = 0; i < count; i++) conns[i].fd = -1;
  while (next < count || connecting > 0) {
    while (next < count && connecting < concurrency) {
      int e = open_conn(&conns[next], (uint32_t)next);
      next++;
      if (e == 0) connecting++;
      else errors[kind_of(e)]++;
    }
    if (connecting == 0) break;
    if (now_ns() > deadline) break;
    int n = epoll_wait(epfd, events, 1024, 10);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < n; e++) {
      struct conn *c = &conns[events[e].data.u32];
      if (c->fd < 0) continue;
      if (c->held) {
        // A held connection the server closed or reset, or that got more than its greeting.
        char buf[512];
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
          close_conn(c);
          held--;
          dropped++;
        }
        continue;
      }
      int r = read_greeting(c, events[e].events);
      if (r == 0) continue;
      connecting--;
      if (r == 1) {
        c->held = 1;
        held++;
      } else {
        close_conn(c);
        errors[-1 - r]++;
      }
    }
  }
  // Whatever still waits for its greeting after the deadline is a timeout.
  for (long i = 0; i < count; i++)
    if (conns[i].fd >= 0 && !conns[i].held) {
      close_conn(&conns[i]);
      errors[E_TIMEOUT]++;
    }
  printf("{\"mode\":\"hold\",\"port\":%u,\"wanted\":%ld,\"held\":%ld,\"open_s\":%.3f,", ntohs(target.sin_port), count, held, (double)(now_ns() - t0) / 1e9);
  print_errors(errors);
  printf("}\n");
  fflush(stdout);

  // Hold until told (stdin closes or says anything) or until the hold bound; note held connections that drop.
  uint64_t until = now_ns() + (uint64_t)hold_seconds * 1000000000ull;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLHUP, .data.u32 = UINT32_MAX};
  int stdin_watched = epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev) == 0;
  int told = 0;
  while (!told && now_ns() < until) {
    int n = epoll_wait(epfd, events, 1024, stdin_watched ? 100 : 10);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < n; e++) {
      if (events[e].data.u32 == UINT32_MAX) {
        told = 1;
        continue;
      }
      struct conn *c = &conns[events[e].data.u32];
      if (c->fd < 0) continue;
      char buf[512];
      ssize_t r = read(c->fd, buf, sizeof buf);
      if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
        close_conn(c);
        held--;
        dropped++;
      }
    }
  }
  for (long i = 0; i < count; i++)
    if (conns[i].fd >= 0) close_conn(&conns[i]);
  printf("{\"mode\":\"hold\",\"released\":%ld,\"dropped_while_held\":%ld}\n", held, dropped);
  fflush(stdout);
  return 0;
}

static int startup(char **cmd, long wait_ms) {
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) die("open /dev/null");
  uint64_t t0 = now_ns();
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execvp(cmd[0], cmd);
    _exit(127);
  }
  uint64_t deadline = t0 + (uint64_t)wait_ms * 1000000ull;
  long attempts = 0;
  long accepted_us = -1;
  int status = 0;
  int exited = 0;
  while (now_ns() < deadline) {
    attempts++;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    // Loopback answers a blocking connect at once: accepted (listening) or refused (not yet).
    int r = connect(fd, (struct sockaddr *)&target, sizeof target);
    uint64_t t = now_ns();
    close(fd);
    if (r == 0) {
      accepted_us = (long)((t - t0) / 1000);
      break;
    }
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = 1;
      break;
    }
    struct timespec pause = {0, 100000};
    nanosleep(&pause, NULL);
  }
  // The child's CPU time (user + system, all its threads) from start to exit: less at the mercy of other
  // load on the machine than the wall time (its stop after SIGTERM is included, a small part).
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  if (!exited) {
    kill(pid, SIGTERM);
    uint64_t stop_deadline = now_ns() + 5000000000ull;
    while (wait4(pid, &status, WNOHANG, &ru) == 0) {
      if (now_ns() > stop_deadline) {
        kill(pid, SIGKILL);
        wait4(pid, &status, 0, &ru);
        break;
      }
      struct timespec pause = {0, 1000000};
      nanosleep(&pause, NULL);
    }
  }
  long cpu_us = (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  if (accepted_us < 0) {
    printf("{\"mode\":\"startup\",\"error\":\"%s\",\"attempts\":%ld}\n", exited ? "exited before accepting" : "timeout", attempts);
    return 1;
  }
  printf("{\"mode\":\"startup\",\"port\":%u,\"startup_us\":%ld,\"cpu_us\":%ld,\"attempts\":%ld}\n", ntohs(target.sin_port), accepted_us, cpu_us, attempts);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  const char *mode = argv[1];
  long port = -1, concurrency = -1, total = 20000, seconds = 10, timeout_ms = 5000, count = 0, hold_seconds = 60, wait_ms = 15000;
  want_bytes = 0;
  int opt;
  optind = 2;
  while ((opt = getopt(argc, argv, "+p:c:n:d:b:T:k:H:w:")) != -1) {
    switch (opt) {
    case 'p': port = num(optarg, 1, 65535, "-p"); break;
    case 'c': concurrency = num(optarg, 1, MAX_CONCURRENCY, "-c"); break;
    case 'n': total = num(optarg, 1, MAX_CONNS, "-n"); break;
    case 'd': seconds = num(optarg, 1, 600, "-d"); break;
    case 'b': want_bytes = num(optarg, 0, 1 << 20, "-b"); break;
    case 'T': timeout_ms = num(optarg, 10, 600000, "-T"); break;
    case 'k': count = num(optarg, 1, MAX_CONCURRENCY, "-k"); break;
    case 'H': hold_seconds = num(optarg, 1, 3600, "-H"); break;
    case 'w': wait_ms = num(optarg, 10, 600000, "-w"); break;
    default: usage();
    }
  }
  if (port < 0) usage();
  memset(&target, 0, sizeof target);
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)port);
  target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  signal(SIGPIPE, SIG_IGN);

  if (strcmp(mode, "startup") == 0) {
    if (optind >= argc) usage();
    return startup(argv + optind, wait_ms);
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  if (strcmp(mode, "flood") == 0) return flood(concurrency < 0 ? 50 : concurrency, total, seconds, timeout_ms);
  if (strcmp(mode, "hold") == 0) {
    if (count <= 0) usage();
    return hold(count, concurrency < 0 ? 200 : concurrency, hold_seconds, timeout_ms);
  }
  usage();
  return 2;
}
