/* The part of QEMU's TCG plugin interface, API version 1 (QEMU 6.x to 7.2, e.g. Debian 12's
 * qemu-user 7.2), that small_counts.c uses: our own declarations, written from QEMU's public
 * documentation of the plugin API (docs/devel/tcg-plugins.rst and the comments of
 * include/qemu/qemu-plugin.h at the v7.2.0 tag). Debian packages no qemu-plugin.h, so the plugin
 * declares what it calls; the functions are resolved against the qemu-user binary that loads it.
 *
 * Version 1 is what QEMU 7.2 accepts (it loads plugins whose qemu_plugin_version lies between its
 * minimum and current API levels, both reported in qemu_info_t); later QEMUs changed the
 * interface (per-vCPU scoreboards, register reads) and the harness probes at run time whether the
 * QEMU in use loads this plugin at all. */
#ifndef SMALL_QEMU_PLUGIN_V1_H
#define SMALL_QEMU_PLUGIN_V1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMALL_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
typedef uint32_t qemu_plugin_meminfo_t; /* opaque: queried with qemu_plugin_mem_is_store */

/* What QEMU tells the plugin at install time (only valid during qemu_plugin_install). */
typedef struct {
    const char *target_name; /* "riscv64", "arm", "aarch64", ... */
    struct {
        int min, cur;
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus, max_vcpus;
        } system;
    };
} qemu_info_t;

struct qemu_plugin_tb;   /* a translation block, valid during the translation callback */
struct qemu_plugin_insn; /* one instruction of it, likewise */

enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_R = 1, QEMU_PLUGIN_MEM_W = 2, QEMU_PLUGIN_MEM_RW = 3 };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 }; /* *ptr += imm, generated inline (no call) */

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr,
                                          void *userdata);

/* Exported by the plugin: the API level it was written for, and its entry point (0 = loaded). */
extern SMALL_PLUGIN_EXPORT int qemu_plugin_version;
SMALL_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv);

/* Provided by QEMU. */
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op, void *ptr,
                                                uint64_t imm);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_mem_cb_t cb,
                                      enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn); /* the instruction's bytes */
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
char *qemu_plugin_insn_disas(const struct qemu_plugin_insn *insn);           /* malloc'ed; the caller frees */
const char *qemu_plugin_insn_symbol(const struct qemu_plugin_insn *insn);    /* best effort, may be NULL */
bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info);
void qemu_plugin_outs(const char *string); /* QEMU's log: shown with -d plugin, into -D FILE */

#endif
