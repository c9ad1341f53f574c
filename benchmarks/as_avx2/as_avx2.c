/* as_avx2.so: an LD_PRELOAD / LD_AUDIT shim that makes a process on an AVX-512 host see an AVX2-only CPU (a Zen 2/3 EPYC,
 * the developer machines' class), for every engine in it: ONNX Runtime's MLAS, oneDNN, numpy and rmsmp.
 *
 * Why: the AVX2 comparison with ONNX Runtime needs both engines on AVX2 code. rmsmp has RMSMP_CPU_ISA=avx2 and
 * oneDNN has ONEDNN_MAX_CPU_ISA, but MLAS picks its kernels from CPUID alone, with no switch from the outside.
 *
 * How: Linux's CPUID faulting (arch_prctl ARCH_SET_CPUID 0; the "cpuid_fault" flag in /proc/cpuinfo) turns
 * every CPUID instruction of the thread, and of the threads it creates later, into a SIGSEGV. The handler runs
 * the real CPUID with faulting briefly off, clears the AVX-512 / AVX-VNNI / AMX feature bits, writes the four
 * registers back and steps over the 2-byte instruction. XGETBV is not trapped: engines that test only XCR0
 * would still see the ZMM state, but all the ones above test the CPUID feature bits first.
 *
 * Limits: run.sh loads it both as LD_AUDIT (armed in la_version, before the program and its libraries are
 * relocated, so IFUNC resolvers such as GCC's target_clones see the masked CPU) and as LD_PRELOAD. Only glibc's
 * own start-up, before any audit module loads, sees the real CPU (its memcpy choice); run.sh also pins rmsmp
 * with RMSMP_CPU_ISA=avx2. ARCH_SET_CPUID resets on execve, and the shim re-arms in each new process. A program
 * run under it must not be a tool with its own SIGSEGV handler (perf record crashes: run perf outside run.sh). Refuses loudly (exit 3) where the kernel or CPU lacks CPUID faulting, so a
 * benchmark never silently runs unmasked. A program that installs its own SIGSEGV handler after this one
 * loses the masking (and crashes on its next CPUID): none of the engines above does. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef ARCH_SET_CPUID
#define ARCH_SET_CPUID 0x1012
#endif

static struct sigaction previous;
static volatile long trapped; /* CPUID instructions emulated (AS_AVX2_VERBOSE=1 prints the count at exit) */

static void real_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* Feature bits an AVX2-only EPYC does not have (Intel SDM vol. 2A, CPUID leaf 7). */
static void mask(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  if (leaf == 7 && sub == 0) {
    /* EBX: AVX512F 16, DQ 17, IFMA 21, PF 26, ER 27, CD 28, BW 30, VL 31 */
    r[1] &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) |
              (1u << 31));
    /* ECX: VBMI 1, VBMI2 6, VNNI 11, BITALG 12, VPOPCNTDQ 14 */
    r[2] &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
    /* EDX: 4VNNIW 2, 4FMAPS 3, VP2INTERSECT 8, AMX-BF16 22, AVX512-FP16 23, AMX-TILE 24, AMX-INT8 25 */
    r[3] &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
  } else if (leaf == 7 && sub == 1) {
    /* EAX: AVX-VNNI 4, AVX512-BF16 5, AVX-IFMA 23; EDX: AVX-VNNI-INT8 4, AVX10 19 */
    r[0] &= ~((1u << 4) | (1u << 5) | (1u << 23));
    r[3] &= ~((1u << 4) | (1u << 19));
  } else if (leaf == 0x1d || leaf == 0x1e || leaf == 0x24) {
    r[0] = r[1] = r[2] = r[3] = 0; /* AMX palette / TMUL / AVX10 information leaves */
  }
}

static void on_segv(int sig, siginfo_t* info, void* ctx_) {
  ucontext_t* ctx = (ucontext_t*)ctx_;
  greg_t* g = ctx->uc_mcontext.gregs;
  const uint8_t* ip = (const uint8_t*)g[REG_RIP];
  if (ip && ip[0] == 0x0f && ip[1] == 0xa2) {
    uint32_t r[4];
    uint32_t leaf = (uint32_t)g[REG_RAX], sub = (uint32_t)g[REG_RCX];
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
    real_cpuid(leaf, sub, r);
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
    mask(leaf, sub, r);
    g[REG_RAX] = r[0];
    g[REG_RBX] = r[1];
    g[REG_RCX] = r[2];
    g[REG_RDX] = r[3];
    g[REG_RIP] += 2;
    __atomic_add_fetch(&trapped, 1, __ATOMIC_RELAXED);
    return;
  }
  /* A real fault: hand it to whoever had SIGSEGV before us, or die with the default action. */
  if (previous.sa_flags & SA_SIGINFO) {
    previous.sa_sigaction(sig, info, ctx_);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
  } else {
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
  }
}

static int armed;

__attribute__((constructor)) static void arm(void) {
  if (armed++) return; /* once per process: la_version and the constructor both call it */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &previous) != 0 || syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
    fprintf(stderr, "as_avx2.so: this kernel or CPU has no CPUID faulting (arch_prctl ARCH_SET_CPUID): %m\n");
    _exit(3);
  }
}

/* As an LD_AUDIT module too: glibc loads audit modules and calls la_version before it relocates the program
 * and its libraries, so the IFUNC resolvers of GCC's target_clones (which run during relocation, before any
 * constructor, and read CPUID through libgcc's __builtin_cpu_supports) see the masked CPU as well. */
unsigned int la_version(unsigned int version) {
  arm();
  return version;
}

__attribute__((destructor)) static void report(void) {
  const char* v = getenv("AS_AVX2_VERBOSE");
  if (v && *v == '1') fprintf(stderr, "as_avx2.so: %ld CPUID instructions masked in process %d\n", trapped, (int)getpid());
}
