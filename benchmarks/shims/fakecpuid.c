/* LD_PRELOAD shim for benchmarks/vendor_check.py: traps the cpuid instruction (Linux CPUID
 * faulting, arch_prctl ARCH_SET_CPUID) and answers as an AMD EPYC Zen 4 (Genoa) would: vendor
 * AuthenticAMD, family 0x19 model 0x11, this CPU's feature bits less the Intel-only ones (AMX,
 * AVX512-FP16, AVX-VNNI), AMD's cache leaves (leaf 2 and 4 empty, 0x80000005/6: L1 32 KB, L2 1 MB,
 * L3 32 MB) and an EPYC brand string. Every library that picks code by the CPU it finds (MKL,
 * oneDNN, torch's cpuinfo, numpy, OpenBLAS) then picks what it would pick on that AMD CPU; the
 * instructions still run on this one. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static int set_cpuid(int on) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, on); }
static const char brand[48] = "AMD EPYC 9R14 96-Core Processor";

static void answer(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
  if (leaf == 0) {
    r[1] = 0x68747541; r[3] = 0x69746e65; r[2] = 0x444d4163;  /* AuthenticAMD */
  } else if (leaf == 1) {
    r[0] = 0x00A10F11;                                          /* family 0x19 model 0x11 */
  } else if (leaf == 7 && sub == 0) {
    r[3] &= ~((1u << 22) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 8)); /* AMX, FP16 */
  } else if (leaf == 7 && sub == 1) {
    r[0] &= ~(1u << 4);                                          /* AVX-VNNI */
  } else if (leaf == 0x80000001) {
    r[2] |= (1u << 6);                                           /* SSE4A */
  } else if (leaf == 2 || leaf == 4) {
    r[0] = r[1] = r[2] = r[3] = 0;                               /* reserved on AMD */
  } else if (leaf == 0x80000005) {
    r[2] = 0x20080140; r[3] = 0x20080140;                        /* L1 32 KB, 8-way */
  } else if (leaf == 0x80000006) {
    r[2] = 0x04006140; r[3] = 0x01009140;                        /* L2 1 MB, L3 32 MB */
  } else if (leaf >= 0x80000002 && leaf <= 0x80000004) {
    memcpy(r, brand + 16 * (leaf - 0x80000002), 16);
  }
}

static void on_segv(int sig, siginfo_t *info, void *ctx) {
  ucontext_t *uc = ctx;
  greg_t *g = uc->uc_mcontext.gregs;
  const unsigned char *ip = (const unsigned char *)g[REG_RIP];
  if (ip[0] != 0x0F || ip[1] != 0xA2) {
    signal(SIGSEGV, SIG_DFL);
    return; /* re-executes and dies with the real fault */
  }
  uint32_t r[4];
  set_cpuid(1);
  answer((uint32_t)g[REG_RAX], (uint32_t)g[REG_RCX], r);
  set_cpuid(0);
  g[REG_RAX] = r[0]; g[REG_RBX] = r[1]; g[REG_RCX] = r[2]; g[REG_RDX] = r[3];
  g[REG_RIP] += 2;
}

__attribute__((constructor)) static void init(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  set_cpuid(0);
}
