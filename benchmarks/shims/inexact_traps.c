/* LD_PRELOAD shim for benchmarks/inexact_audit.py: reports which instructions with
 * implementation-defined results a process executes.
 *
 * RVHPC_TRAP_SITES names a file of "PATH<TAB>HEX_OFFSET" lines: the instructions to watch, by the
 * real path of their shared object and their offset from its load address (objdump's address).
 * Whenever an object is loaded (at start and after every dlopen), the shim writes an int3 (0xCC)
 * over the first byte of each of its sites. The first time a site runs, the SIGTRAP handler
 * appends "PATH<TAB>HEX_OFFSET<TAB>MODE" to RVHPC_TRAP_HITS, puts the original byte back and resumes at
 * the site, which then runs as it always does: a watched process computes what it computes
 * without the shim (benchmarks/inexact_audit.py checks that too). A third field names the
 * numerics mode the process was started in (RVHPC_NUMERICS, "-" where unset): an rvhpc command
 * that starts itself again in portable numerics ran its first moments without it.
 *
 * RVHPC_TRAP_LIST, where set, names a file the shim appends the real path of every object it sees
 * loaded to (the audit's first pass: which libraries to disassemble).
 *
 * RVHPC_TRAP_SWAP=rsqrtps answers every register-to-register ``rsqrtps`` among the sites with
 * another approximation within the architecture's bound instead of running it (1/sqrt rounded to
 * 12 bits, relative error below 2^-12; Intel's and AMD's own tables are two other such): what
 * a computation gives on a CPU whose approximation differs. Those sites stay armed.
 *
 * Children inherit LD_PRELOAD and the variables, so a process that starts itself again (rvhpc's
 * numerics re-exec) is watched too. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

typedef struct {
  char *path;        /* real path of the shared object */
  uintptr_t offset;  /* from its load address */
  uintptr_t addr;    /* where it is armed (0: not yet) */
  unsigned char orig;
  int hit;
} Site;

static Site *sites;
static size_t n_sites;
static int hits_fd = -1;
static int list_fd = -1;
static char mode[32] = "-";
static int swap_rsqrt;
static char **seen;
static size_t n_seen, cap_seen;

static void load_sites(const char *file) {
  FILE *f = fopen(file, "r");
  if (!f) return;
  size_t cap = 0;
  char path[PATH_MAX + 32];
  unsigned long off;
  while (fscanf(f, "%4095[^\t]\t%lx\n", path, &off) == 2) {
    if (n_sites == cap) {
      cap = cap ? 2 * cap : 1024;
      sites = realloc(sites, cap * sizeof *sites);
    }
    sites[n_sites++] = (Site){strdup(path), off, 0, 0, 0};
  }
  fclose(f);
}

static int already_seen(const char *real) {
  for (size_t i = 0; i < n_seen; i++)
    if (strcmp(seen[i], real) == 0) return 1;
  if (n_seen == cap_seen) {
    cap_seen = cap_seen ? 2 * cap_seen : 256;
    seen = realloc(seen, cap_seen * sizeof *seen);
  }
  seen[n_seen++] = strdup(real);
  return 0;
}

static void arm(const char *real, uintptr_t base) {
  long page = sysconf(_SC_PAGESIZE);
  for (size_t i = 0; i < n_sites; i++) {
    Site *s = &sites[i];
    if (s->addr || strcmp(s->path, real) != 0) continue;
    unsigned char *p = (unsigned char *)(base + s->offset);
    uintptr_t start = (uintptr_t)p & ~(uintptr_t)(page - 1);
    if (mprotect((void *)start, page, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) continue;
    s->orig = *p;
    s->addr = (uintptr_t)p;
    *p = 0xCC;
  }
}

static int visit(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  (void)data;
  const char *name = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : "/proc/self/exe";
  char real[PATH_MAX];
  if (!realpath(name, real) || already_seen(real)) return 0;
  if (list_fd >= 0) {
    dprintf(list_fd, "%s\n", real);
  }
  arm(real, info->dlpi_addr);
  return 0;
}

static void scan(void) { dl_iterate_phdr(visit, NULL); }

/* Length of a register-to-register rsqrtps at p (first byte `first`), 0 if it is not one. */
static int rsqrtps_length(const unsigned char *p, unsigned char first, int *rex) {
  int i = 0;
  *rex = 0;
  if (first >= 0x40 && first <= 0x4F) {
    *rex = first;
    i = 1;
  }
  unsigned char b0 = i ? p[0 + i] : first;
  if (b0 != 0x0F || p[1 + i] != 0x52 || (p[2 + i] >> 6) != 3) return 0;
  return 3 + i;
}

static uint32_t other_rsqrt(uint32_t bits, int daz) {
  float x;
  memcpy(&x, &bits, 4);
  if (daz && (bits & 0x7F800000u) == 0) x = copysignf(0.0f, x);
  float r = (float)(1.0 / sqrt((double)x));
  uint32_t out;
  memcpy(&out, &r, 4);
  if (isfinite(r) && r != 0.0f) out &= ~0x7FFu; /* keep 12 fraction bits */
  return out;
}

static int swap(greg_t *g, mcontext_t *mc, Site *s) {
  int rex;
  const unsigned char *p = (const unsigned char *)s->addr;
  int len = rsqrtps_length(p, s->orig, &rex);
  if (!len || !mc->fpregs) return 0;
  unsigned char modrm = p[len - 1];
  int dst = ((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0);
  int src = (modrm & 7) | ((rex & 1) ? 8 : 0);
  int daz = (mc->fpregs->mxcsr >> 6) & 1;
  uint32_t in[4], out[4];
  memcpy(in, mc->fpregs->_xmm[src].element, sizeof in);
  for (int k = 0; k < 4; k++) out[k] = other_rsqrt(in[k], daz);
  memcpy(mc->fpregs->_xmm[dst].element, out, sizeof out);
  g[REG_RIP] = (greg_t)(s->addr + (uintptr_t)len);
  return 1;
}

static void on_trap(int sig, siginfo_t *info, void *ctx) {
  (void)info;
  greg_t *g = ((ucontext_t *)ctx)->uc_mcontext.gregs;
  uintptr_t at = (uintptr_t)g[REG_RIP] - 1;
  for (size_t i = 0; i < n_sites; i++) {
    Site *s = &sites[i];
    if (s->addr != at) continue;
    if (!(swap_rsqrt && swap(g, &((ucontext_t *)ctx)->uc_mcontext, s))) {
      *(unsigned char *)at = s->orig;
      g[REG_RIP] = (greg_t)at;
    }
    if (!s->hit && hits_fd >= 0) {
      char line[PATH_MAX + 32];
      int n = snprintf(line, sizeof line, "%s\t%lx\t%s\n", s->path, (unsigned long)s->offset,
                       mode);
      if (write(hits_fd, line, (size_t)n) < 0) { /* nothing more to do in a handler */ }
    }
    s->hit = 1;
    return;
  }
  signal(sig, SIG_DFL); /* not one of ours: the default action */
}

void *dlopen(const char *file, int flags) {
  static void *(*real)(const char *, int);
  if (!real) real = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
  void *handle = real(file, flags);
  if (handle) scan();
  return handle;
}

__attribute__((constructor)) static void init(void) {
  const char *list = getenv("RVHPC_TRAP_LIST");
  const char *file = getenv("RVHPC_TRAP_SITES");
  const char *hits = getenv("RVHPC_TRAP_HITS");
  const char *numerics = getenv("RVHPC_NUMERICS");
  if (numerics && numerics[0]) snprintf(mode, sizeof mode, "%s", numerics);
  const char *swap_what = getenv("RVHPC_TRAP_SWAP");
  swap_rsqrt = swap_what && strcmp(swap_what, "rsqrtps") == 0;
  if (list) list_fd = open(list, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (file) load_sites(file);
  if (hits) hits_fd = open(hits, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_trap;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGTRAP, &sa, NULL);
  scan();
}
