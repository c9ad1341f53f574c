/* no_amx.so: an LD_PRELOAD shim that makes a process see an AVX-512 VNNI host without AMX (a Zen 4, an Ice Lake).
 *
 * Why: on an AMX Xeon, ONNX Runtime's MLAS switches its u8s8 GEMMs to AMX tiles once the kernel grants the
 * process the tile state (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), and so do oneDNN and our cpu
 * backend. CPUID still says AMX, so no engine has a switch to turn it off from the outside. Linux never gives a
 * process the tile state without that request, so refusing it (as an old kernel or a sandbox would) leaves every
 * engine in the process on its AVX-512 VNNI path: a fair stand-in, on this hardware, for the checker's Zen 4.
 *
 * Intercepts libc's syscall() only (MLAS and our backend go through it; glibc's arch_prctl wrapper is not
 * used for these codes). Every other call is forwarded unchanged. Used by benchmarks/no_amx/run.sh. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>

#define ARCH_GET_XCOMP_PERM 0x1022
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_MASK_XTILEDATA (1UL << 18)

typedef long (*syscall_fn)(long, ...);

long syscall(long nr, ...) {
  static syscall_fn real;
  if (!real) real = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
  va_list ap;
  va_start(ap, nr);
  long a[6];
  for (int i = 0; i < 6; ++i) a[i] = va_arg(ap, long); /* the ABI passes up to 6 integer args; extras are junk */
  va_end(ap);
  if (nr == SYS_arch_prctl && a[0] == ARCH_REQ_XCOMP_PERM) {
    errno = EPERM;
    return -1;
  }
  long r = real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  if (r == 0 && nr == SYS_arch_prctl && a[0] == ARCH_GET_XCOMP_PERM && a[1])
    *(unsigned long*)a[1] &= ~XFEATURE_MASK_XTILEDATA;
  return r;
}
