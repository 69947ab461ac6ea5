/* small_counts: a QEMU TCG plugin (API version 1) that counts, per layer of the library, the
 * instructions executed, the floating-point FMA instructions and the lanes they held, and the load
 * and store instructions. `invoke bench.counts` builds it with the host's gcc
 * (small_harness/counts/plugin.py) and loads it into qemu-user:
 *
 *   qemu-riscv64 ... -plugin build/count_plugin/small_counts.so,vlen=256,fma=vfmacc,fma=vfmadd,...
 *                -d plugin -D counts.txt small_runner
 *
 * Arguments (name=value, repeatable where marked):
 *   fma=PREFIX    (repeatable) mnemonic prefixes of the FMA instructions (the target TOML's fma_mnemonics
 *                 and scalar_fma_mnemonics)
 *   vlen=BITS     the vector length of the variant (RVV and SVE lanes); 0 or absent for fixed-width ISAs
 *   begin=SYMBOL  the marker that starts a new count (default small_count_layer)
 *   end=SYMBOL    the marker that stops counting (default small_count_end)
 *
 * Per count it writes one line through qemu_plugin_outs at exit:
 *   count N insns=I vfma=F vlanes=L sfma=S loads=R stores=W
 * vfma are FMAs of more than one lane and vlanes the lanes they held (fixed ISAs: from the operand
 * form, NEON q = 4 and d = 2, AArch64 .4s = 4 and .2s = 2; SVE: vlen / 32; RVV: VLMAX of the vtype
 * set by the last vsetvli/vsetivli, decoded from its encoding, so LMUL counts and a partial vl
 * wastes lanes); sfma are one-lane (scalar) FMAs. loads and stores count instructions that read or
 * wrote memory, each execution once however many bytes or elements it moved.
 *
 * Classification happens once per translated instruction, from QEMU's disassembly; where the
 * disassembler cannot decode an instruction (Debian 12's QEMU 7.2 uses capstone 4 for AArch64,
 * which has no SVE: ".byte 0x.."), SVE's FP multiply-add group is decoded from the bytes here.
 * Counting only happens between markers; start-up, model loading and weight packing are outside.
 * The counters are global, not per vCPU: counts are exact for one guest thread (the harness runs
 * the library at one thread). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_plugin_v1.h"

SMALL_PLUGIN_EXPORT int qemu_plugin_version = 1;

enum { MAX_PREFIXES = 16, LINE = 256 };

typedef struct {
    uint64_t insns, vfma, vlanes, sfma, loads, stores;
} counts;

typedef struct {
    uint64_t execs; /* executions of the translation block (an inline add at its start) */
} tb_info;

typedef struct {
    const tb_info *tb;
    uint64_t read_at, write_at; /* tb->execs when this instruction last counted as a load / a store */
} insn_info;

typedef enum { ISA_OTHER, ISA_RISCV, ISA_ARM, ISA_AARCH64 } isa_family;

static counts totals;        /* always counting; a layer's count is the difference across its markers */
static counts start;         /* totals when the open count began */
static counts *done;         /* closed counts, in order */
static size_t n_done, cap_done;
static int open_count;       /* 1 between a begin marker and the next marker */
static uint64_t vlmax;       /* RVV: lanes of the vtype in force (0 until a vset* ran) */
static uint64_t unknown_vtype; /* RVV: vsetvl executions, whose vtype comes from a register */

static const char *prefixes[MAX_PREFIXES];
static int n_prefixes;
static unsigned vlen;
static const char *begin_symbol = "small_count_layer", *end_symbol = "small_count_end";
static uint64_t begin_at, end_at; /* the markers' entry addresses, once translated */
static isa_family isa;

static void close_count(void) {
    if (!open_count) return;
    if (n_done == cap_done) {
        cap_done = cap_done ? 2 * cap_done : 64;
        done = realloc(done, cap_done * sizeof *done);
        if (!done) abort();
    }
    done[n_done++] = (counts){totals.insns - start.insns, totals.vfma - start.vfma, totals.vlanes - start.vlanes,
                              totals.sfma - start.sfma, totals.loads - start.loads, totals.stores - start.stores};
    open_count = 0;
}

static void on_begin(unsigned int vcpu, void *udata) {
    (void)vcpu, (void)udata;
    close_count();
    start = totals;
    open_count = 1;
}

static void on_end(unsigned int vcpu, void *udata) {
    (void)vcpu, (void)udata;
    close_count();
}

static void on_vset(unsigned int vcpu, void *udata) {
    (void)vcpu;
    vlmax = (uint64_t)(uintptr_t)udata;
    if (!vlmax) ++unknown_vtype;
}

static void on_rvv_fma(unsigned int vcpu, void *udata) {
    (void)vcpu, (void)udata;
    ++totals.vfma;
    totals.vlanes += vlmax;
}

static void on_memory(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata) {
    (void)vcpu, (void)vaddr;
    insn_info *insn = udata;
    if (qemu_plugin_mem_is_store(info)) {
        if (insn->write_at != insn->tb->execs) ++totals.stores, insn->write_at = insn->tb->execs;
    } else if (insn->read_at != insn->tb->execs) {
        ++totals.loads, insn->read_at = insn->tb->execs;
    }
}

static uint32_t insn_word(const struct qemu_plugin_insn *insn) {
    const unsigned char *b = qemu_plugin_insn_data(insn);
    if (qemu_plugin_insn_size(insn) < 4) return 0;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* RVV: the VLMAX a vsetvli/vsetivli sets (its vtype is an immediate: vsew in bits 5:3, vlmul in
 * 2:0), 0 for vsetvl (vtype from a register); -1 when the word is no vset* at all. */
static int64_t rvv_vset_vlmax(uint32_t w) {
    if ((w & 0x7f) != 0x57 || ((w >> 12) & 7) != 7) return -1;
    uint32_t vtype;
    if (!(w >> 31)) vtype = (w >> 20) & 0x7ff;                  /* vsetvli */
    else if ((w >> 30) == 3) vtype = (w >> 20) & 0x3ff;         /* vsetivli */
    else return 0;                                              /* vsetvl */
    const unsigned sew = 8u << ((vtype >> 3) & 7), lmul_code = vtype & 7;
    if (sew > 64 || lmul_code == 4) return 0;                   /* reserved */
    const uint64_t bits = lmul_code < 4 ? (uint64_t)vlen << lmul_code : vlen >> (8 - lmul_code);
    return (int64_t)(bits / sew);
}

/* SVE's FP multiply-add group that capstone 4 cannot print: the predicated vector forms (FMLA, FMLS,
 * FNMLA, FNMLS, FMAD, FMSB, FNMAD, FNMSB: 0110 0101 size 1 ...) and the indexed FMLA/FMLS (0110 0100
 * 1 x 1 ... 0000 0x). Writes a mnemonic and a z-register operand, so the same prefix test applies;
 * 0 when it is neither. */
static int sve_fma_text(uint32_t w, char *out, size_t size) {
    static const char *const predicated[8] = {"fmla", "fmls", "fnmla", "fnmls", "fmad", "fmsb", "fnmad", "fnmsb"};
    static const char *const suffix[4] = {"b", "h", "s", "d"};
    if ((w & 0xff200000u) == 0x65200000u) {
        snprintf(out, size, "%s z%u.%s", predicated[(w >> 13) & 7], w & 31, suffix[(w >> 22) & 3]);
        return 1;
    }
    if ((w & 0xff20f800u) == 0x64200000u) {
        snprintf(out, size, "%s z%u.%s", (w >> 10) & 1 ? "fmls" : "fmla", w & 31, (w >> 22) & 3 ? "s" : "h");
        return 1;
    }
    return 0;
}

/* The mnemonic and first operand of a disassembly line ("vfmacc.vf v8,ft0,v12" after QEMU's RISC-V
 * disassembler's leading hex word; "vfma.f32 q0, q15, q8"; "fmla v0.4s, v2.4s, v3.s[0]"). */
static void split(const char *text, char *mnemonic, size_t m_size, char *operand, size_t o_size) {
    const char *p = text;
    while (*p == ' ' || *p == '\t') ++p;
    if (isa == ISA_RISCV) { /* "0d287057          vsetvli ...": skip the encoding */
        while (*p && *p != ' ' && *p != '\t') ++p;
        while (*p == ' ' || *p == '\t') ++p;
    }
    size_t n = 0;
    while (*p && *p != ' ' && *p != '\t' && n + 1 < m_size) mnemonic[n++] = *p++;
    mnemonic[n] = '\0';
    while (*p == ' ' || *p == '\t') ++p;
    n = 0;
    while (*p && *p != ',' && *p != ' ' && n + 1 < o_size) operand[n++] = *p++;
    operand[n] = '\0';
}

/* Lanes of an FMA by its first operand: 0 for RVV vector FMAs (VLMAX, known when it runs). */
static uint64_t fma_lanes(const char *operand) {
    switch (isa) {
    case ISA_RISCV:
        return operand[0] == 'v' ? 0 : 1;
    case ISA_ARM:
        return operand[0] == 'q' ? 4 : operand[0] == 'd' ? 2 : 1;
    case ISA_AARCH64:
        if (operand[0] == 'z') return vlen / 32; /* .s: the library is fp32 */
        if (strstr(operand, ".4s")) return 4;
        if (strstr(operand, ".2s")) return 2;
        return 1;
    default:
        return 1;
    }
}

static int is_fma(const char *mnemonic) {
    for (int i = 0; i < n_prefixes; ++i)
        if (!strncmp(mnemonic, prefixes[i], strlen(prefixes[i]))) return 1;
    return 0;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    const size_t n = qemu_plugin_tb_n_insns(tb);
    tb_info *block = calloc(1, sizeof *block); /* lives as long as the translation may run */
    if (!block) abort();
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &totals.insns, n);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &block->execs, 1);
    for (size_t i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const uint64_t at = qemu_plugin_insn_vaddr(insn);
        const char *symbol = qemu_plugin_insn_symbol(insn);
        if (symbol && !strcmp(symbol, begin_symbol) && (!begin_at || at == begin_at)) {
            begin_at = at; /* the first translation of a marker is its entry: it is only ever called */
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin, QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
        if (symbol && !strcmp(symbol, end_symbol) && (!end_at || at == end_at)) {
            end_at = at;
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
        insn_info *info = calloc(1, sizeof *info);
        if (!info) abort();
        info->tb = block;
        qemu_plugin_register_vcpu_mem_cb(insn, on_memory, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, info);

        const uint32_t word = insn_word(insn);
        if (isa == ISA_RISCV) {
            const int64_t lanes = rvv_vset_vlmax(word);
            if (lanes >= 0) {
                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_vset, QEMU_PLUGIN_CB_NO_REGS,
                                                       (void *)(uintptr_t)lanes);
                continue;
            }
        }
        char *text = qemu_plugin_insn_disas(insn);
        char mnemonic[32], operand[32], decoded[48];
        const char *line = text ? text : "";
        if (isa == ISA_AARCH64 && !strncmp(line, ".byte", 5) && sve_fma_text(word, decoded, sizeof decoded))
            line = decoded;
        split(line, mnemonic, sizeof mnemonic, operand, sizeof operand);
        free(text);
        if (!is_fma(mnemonic)) continue;
        const uint64_t lanes = fma_lanes(operand);
        if (lanes == 0) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_rvv_fma, QEMU_PLUGIN_CB_NO_REGS, NULL);
        } else if (lanes == 1) {
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &totals.sfma, 1);
        } else {
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &totals.vfma, 1);
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &totals.vlanes, lanes);
        }
    }
}

static void report(qemu_plugin_id_t id, void *udata) {
    (void)id, (void)udata;
    char line[LINE];
    close_count(); /* a run that died between markers still reports what it did */
    snprintf(line, sizeof line, "small_counts counts=%zu vlen=%u unknown_vtype=%llu begin=%s\n", n_done, vlen,
             (unsigned long long)unknown_vtype, begin_at ? "found" : "missing");
    qemu_plugin_outs(line);
    for (size_t i = 0; i < n_done; ++i) {
        const counts *c = &done[i];
        snprintf(line, sizeof line, "count %zu insns=%llu vfma=%llu vlanes=%llu sfma=%llu loads=%llu stores=%llu\n", i,
                 (unsigned long long)c->insns, (unsigned long long)c->vfma, (unsigned long long)c->vlanes,
                 (unsigned long long)c->sfma, (unsigned long long)c->loads, (unsigned long long)c->stores);
        qemu_plugin_outs(line);
    }
}

static const char *value_of(const char *arg, const char *name) {
    const size_t n = strlen(name);
    return !strncmp(arg, name, n) && arg[n] == '=' ? arg + n + 1 : NULL;
}

SMALL_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    /* System mode serves the bare-metal targets: one core, no MMU (virtual addresses are physical),
     * symbols from the ELF QEMU loaded, and no interrupts enabled by the firmware. */
    const char *target = info->target_name ? info->target_name : "";
    isa = !strncmp(target, "riscv", 5) ? ISA_RISCV : !strcmp(target, "aarch64") ? ISA_AARCH64
        : !strcmp(target, "arm") ? ISA_ARM : ISA_OTHER;
    for (int i = 0; i < argc; ++i) {
        const char *v;
        if ((v = value_of(argv[i], "fma"))) {
            if (n_prefixes == MAX_PREFIXES) {
                fprintf(stderr, "small_counts: more than %d fma= prefixes\n", MAX_PREFIXES);
                return 1;
            }
            prefixes[n_prefixes++] = v;
        } else if ((v = value_of(argv[i], "vlen"))) {
            vlen = (unsigned)strtoul(v, NULL, 10);
        } else if ((v = value_of(argv[i], "begin"))) {
            begin_symbol = v;
        } else if ((v = value_of(argv[i], "end"))) {
            end_symbol = v;
        } else {
            fprintf(stderr, "small_counts: unknown argument '%s' (fma=, vlen=, begin=, end=)\n", argv[i]);
            return 1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, report, NULL);
    return 0;
}
