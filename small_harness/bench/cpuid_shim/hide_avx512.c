/* Loaded into the bench's own process (ctypes) by `invoke bench --peer-isa avx2`: from then on every
 * CPUID this thread and the threads it starts execute traps (Linux CPUID faulting, arch_prctl
 * ARCH_SET_CPUID), and the handler below answers it as the CPU would, less AVX-512, AMX and the
 * 256-bit extensions that came after AVX2 (AVX-VNNI and its kin, AVX10): a CPU with AVX2 and FMA and
 * nothing newer (Haswell to Skylake clients, Zen 2 and 3). XNNPACK (LiteRT) reads CPUID once, when
 * its first interpreter is made, and then runs its AVX2 kernels. AVX-VNNI matters: LiteRT runs the
 * int8 weights of DS-CNN (KWS) as dynamically quantized int8 GEMMs, twice as fast with it. Our
 * library runs in the runner, another process (execve clears the setting), and keeps its own choice. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static struct sigaction previous; /* SIGSEGV's action before ours: a fault that is no CPUID goes there */

static long cpuid_faulting(int on) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1); }

static void answer_cpuid(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    greg_t *r = uc->uc_mcontext.gregs;
    const unsigned char *at = (const unsigned char *)r[REG_RIP];
    if (sig != SIGSEGV || info->si_code != SI_KERNEL || at[0] != 0x0f || at[1] != 0xa2) {
        sigaction(SIGSEGV, &previous, NULL); /* the fault repeats, to whoever handled it before */
        return;
    }
    const unsigned leaf = (unsigned)r[REG_RAX], subleaf = (unsigned)r[REG_RCX];
    unsigned eax, ebx, ecx, edx;
    cpuid_faulting(0);
    __cpuid_count(leaf, subleaf, eax, ebx, ecx, edx);
    cpuid_faulting(1);
    if (leaf == 7 && subleaf == 0) {
        /* EBX: AVX512 F, DQ, IFMA, PF, ER, CD, BW, VL. ECX: VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ.
         * EDX: 4VNNIW, 4FMAPS, VP2INTERSECT, AMX-BF16, AVX512-FP16, AMX-TILE, AMX-INT8. */
        ebx &= ~(1u << 16 | 1u << 17 | 1u << 21 | 1u << 26 | 1u << 27 | 1u << 28 | 1u << 30 | 1u << 31);
        ecx &= ~(1u << 1 | 1u << 6 | 1u << 11 | 1u << 12 | 1u << 14);
        edx &= ~(1u << 2 | 1u << 3 | 1u << 8 | 1u << 22 | 1u << 23 | 1u << 24 | 1u << 25);
    }
    if (leaf == 7 && subleaf == 1) {
        eax &= ~(1u << 4 | 1u << 5 | 1u << 23); /* AVX-VNNI, AVX512-BF16, AVX-IFMA */
        edx &= ~(1u << 4 | 1u << 5 | 1u << 10 | 1u << 19); /* AVX-VNNI-INT8, AVX-NE-CONVERT, AVX-VNNI-INT16, AVX10 */
    }
    r[REG_RAX] = eax, r[REG_RBX] = ebx, r[REG_RCX] = ecx, r[REG_RDX] = edx;
    r[REG_RIP] += 2; /* past the 2-byte instruction */
}

/* 0, or the errno of what failed (arch_prctl: EINVAL or ENODEV where the CPU cannot fault CPUID). */
EXPORT int small_hide_avx512(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = answer_cpuid;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGSEGV, &action, &previous) != 0) return errno;
    if (cpuid_faulting(1) != 0) {
        const int error = errno;
        sigaction(SIGSEGV, &previous, NULL);
        return error;
    }
    return 0;
}

/* What this thread's CPUID now says of AVX-512 Foundation: 0 once hidden. */
EXPORT int small_cpuid_avx512f(void) {
    unsigned eax, ebx, ecx, edx;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    return (int)(ebx >> 16 & 1u);
}

/* ... and of AVX-VNNI. */
EXPORT int small_cpuid_avx_vnni(void) {
    unsigned eax, ebx, ecx, edx;
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    return (int)(eax >> 4 & 1u);
}
