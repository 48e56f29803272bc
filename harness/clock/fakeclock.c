/*
 * fencepost's clock library: an LD_PRELOAD shim that skews a process's wall clock at run time.
 *
 * Why not libfaketime: Debian's libfaketime 0.9.10 deadlocks Debian's redis-server before
 * `main` (jemalloc's start-up calls clock_gettime; libfaketime's start-up then allocates, which
 * re-enters jemalloc). This library never allocates: it reads the real time from the vDSO (or
 * the raw syscall before the vDSO is found), and the skew from a small memory-mapped control
 * file that the harness rewrites while the process runs (harness/src/cluster/clock.rs).
 *
 * What it overrides: clock_gettime for CLOCK_REALTIME and CLOCK_REALTIME_COARSE, gettimeofday
 * and time. Every other clock (MONOTONIC, BOOTTIME, CPU clocks) passes through untouched, so a
 * skewed redis-server keeps honest timers while its TTLs follow the skewed wall clock (redis's
 * key expiry reads the wall clock).
 *
 * The skew: skewed(real) = real + offset + (real - anchor) * (rate - 1), with rate in parts per
 * billion. The harness re-anchors on every rate change so the reading stays continuous. Fields
 * are read under a sequence lock (the writer makes `seq` odd while it writes); a reader that
 * cannot get a stable read after many tries falls back to the real time rather than spin.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* Must match harness/src/cluster/clock.rs. */
#define CONTROL_MAGIC 0x6b636f6c63706674ULL /* "ftpclock" */
#define CONTROL_ENV "FENCEPOST_CLOCK_FILE"
#define RATE_ONE 1000000000LL

struct control {
    uint64_t magic;
    uint64_t seq;
    int64_t offset_ns;
    int64_t rate_ppb;
    int64_t anchor_ns;
};

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static struct control *ctl;          /* NULL until mapped */
static clock_gettime_fn vdso_cgt;    /* NULL until found (or absent) */
static int init_state;               /* 0 not started, 1 running, 2 done */

static int str_eq(const char *a, const char *b) {
    while (*a && *a == *b) { a++; b++; }
    return *a == *b;
}

/* Finds a function exported by the vDSO, without allocating (after the kernel's parse_vdso.c). */
static void *vdso_sym(const char *name) {
    uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (!base) return NULL;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)base;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(base + eh->e_phoff);
    uintptr_t load = 0;
    int have_load = 0;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && !have_load) {
            load = base + ph[i].p_offset - ph[i].p_vaddr;
            have_load = 1;
        } else if (ph[i].p_type == PT_DYNAMIC) {
            dyn = (const ElfW(Dyn) *)(base + ph[i].p_offset);
        }
    }
    if (!have_load || !dyn) return NULL;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const ElfW(Word) *hash = NULL;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB: symtab = (const ElfW(Sym) *)(d->d_un.d_ptr + load); break;
        case DT_STRTAB: strtab = (const char *)(d->d_un.d_ptr + load); break;
        case DT_HASH: hash = (const ElfW(Word) *)(d->d_un.d_ptr + load); break;
        default: break;
        }
    }
    if (!symtab || !strtab || !hash) return NULL;
    ElfW(Word) nsyms = hash[1];
    for (ElfW(Word) i = 0; i < nsyms; i++) {
        const ElfW(Sym) *s = &symtab[i];
        if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF) continue;
        if (str_eq(strtab + s->st_name, name)) return (void *)(s->st_value + load);
    }
    return NULL;
}

/* Maps the control file named by FENCEPOST_CLOCK_FILE. Runs once; concurrent callers read the
 * real time until it is done. No allocation: getenv, open, mmap and close only. */
static void init(void) {
    int expected = 0;
    if (!__atomic_compare_exchange_n(&init_state, &expected, 1, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return;
    clock_gettime_fn f = (clock_gettime_fn)vdso_sym("__vdso_clock_gettime");
    __atomic_store_n(&vdso_cgt, f, __ATOMIC_RELEASE);
    const char *path = getenv(CONTROL_ENV);
    if (path && *path) {
        int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            void *p = mmap(NULL, sizeof(struct control), PROT_READ, MAP_SHARED, fd, 0);
            syscall(SYS_close, fd);
            if (p != MAP_FAILED) {
                struct control *c = (struct control *)p;
                if (__atomic_load_n(&c->magic, __ATOMIC_ACQUIRE) == CONTROL_MAGIC)
                    __atomic_store_n(&ctl, c, __ATOMIC_RELEASE);
                else
                    munmap(p, sizeof(struct control));
            }
        }
    }
    __atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void fakeclock_ctor(void) { init(); }

static int real_clock_gettime(clockid_t clk, struct timespec *ts) {
    clock_gettime_fn f = __atomic_load_n(&vdso_cgt, __ATOMIC_ACQUIRE);
    if (f) return f(clk, ts);
    return (int)syscall(SYS_clock_gettime, clk, ts);
}

static int64_t skew(int64_t real) {
    if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != 2) init();
    const struct control *c = __atomic_load_n(&ctl, __ATOMIC_ACQUIRE);
    if (!c) return real;
    for (int attempt = 0; attempt < 10000; attempt++) {
        uint64_t s1 = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
        if (s1 & 1) continue;
        int64_t offset = __atomic_load_n(&c->offset_ns, __ATOMIC_RELAXED);
        int64_t rate = __atomic_load_n(&c->rate_ppb, __ATOMIC_RELAXED);
        int64_t anchor = __atomic_load_n(&c->anchor_ns, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&c->seq, __ATOMIC_RELAXED) != s1) continue;
        __int128 drift = (__int128)(real - anchor) * (rate - RATE_ONE) / RATE_ONE;
        return (int64_t)((__int128)real + offset + drift);
    }
    return real;
}

static int is_wall_clock(clockid_t clk) {
    return clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE;
}

static int skewed_now(struct timespec *ts) {
    struct timespec real;
    int r = real_clock_gettime(CLOCK_REALTIME, &real);
    if (r != 0) return r;
    int64_t ns = skew((int64_t)real.tv_sec * RATE_ONE + real.tv_nsec);
    int64_t sec = ns / RATE_ONE, rem = ns % RATE_ONE;
    if (rem < 0) { rem += RATE_ONE; sec -= 1; }
    ts->tv_sec = (time_t)sec;
    ts->tv_nsec = (long)rem;
    return 0;
}

EXPORT int clock_gettime(clockid_t clk, struct timespec *ts) {
    if (!is_wall_clock(clk)) return real_clock_gettime(clk, ts);
    return skewed_now(ts);
}

/* glibc declares tv nonnull; callers that pass NULL anyway get 0, as from the kernel. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnonnull-compare"
EXPORT int gettimeofday(struct timeval *tv, void *tz) {
    if (tz) {
        struct timezone *z = (struct timezone *)tz;
        z->tz_minuteswest = 0;
        z->tz_dsttime = 0;
    }
    if (!tv) return 0;
    struct timespec ts;
    int r = skewed_now(&ts);
    if (r != 0) return r;
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}
#pragma GCC diagnostic pop

EXPORT time_t time(time_t *out) {
    struct timespec ts;
    if (skewed_now(&ts) != 0) return (time_t)-1;
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}
