/*
 * uml-xstate.so: LD_PRELOAD shim that lets User-mode Linux 6.1 keep its guest
 * processes' vector registers on hosts with a large XSAVE area.
 *
 * UML saves and restores a guest thread's FPU state with
 * ptrace(PTRACE_GETREGSET / PTRACE_SETREGSET, NT_X86_XSTATE) into a buffer
 * sized for x87 + SSE + AVX (832 bytes). A host kernel accepts SETREGSET of
 * NT_X86_XSTATE only with its own full XSAVE size, which is larger on CPUs
 * with AVX-512 or AMX: every SETREGSET fails with EFAULT and the guest's init
 * dies ("ptrace set fp regs failed, errno = 14"). Making UML fall back to the
 * SSE-only PTRACE_SETFPREGS is not enough: wider registers are then lost, and
 * static busybox, Go programs and glibc's AVX-512 memcpy crash in the guest.
 *
 * This shim wraps ptrace() for NT_X86_XSTATE requests with a short buffer:
 *   GETREGSET: reads the full state, gives UML its first part (same layout:
 *     legacy area, XSAVE header, AVX), and keeps the full copy, keyed by
 *     UML's buffer address (one per guest thread);
 *   SETREGSET: starts from that full copy (or the thread's current state if
 *     there is none), overlays UML's part, writes the full size.
 * So every guest thread gets back all of its vector state, AVX-512 included.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

#define XSAVE_MAX (64 * 1024)
#define XSAVE_HEADER 512 /* offset of the XSAVE header (xstate_bv first) */
#define SAVED_SLOTS 4096

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

static ptrace_fn real_ptrace;
static size_t host_size; /* the kernel's NT_X86_XSTATE size; 0 until known */

/* Full states by UML buffer address; collisions just evict. */
static struct saved {
	const void *key;
	unsigned char *state;
} saved[SAVED_SLOTS];

static struct saved *slot_for(const void *key)
{
	uintptr_t h = (uintptr_t)key;

	h ^= h >> 17;
	h *= 0x9e3779b97f4a7c15ull;
	return &saved[(h >> 40) % SAVED_SLOTS];
}

/* Read pid's full XSAVE state into buf (XSAVE_MAX bytes); learn host_size. */
static long get_full(pid_t pid, unsigned char *buf)
{
	struct iovec iov = { .iov_base = buf, .iov_len = XSAVE_MAX };
	long ret = real_ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov);

	if (ret == 0)
		host_size = iov.iov_len;
	return ret;
}

static long short_get(pid_t pid, struct iovec *uml)
{
	static unsigned char full[XSAVE_MAX] __attribute__((aligned(64)));
	struct saved *s;
	long ret = get_full(pid, full);

	if (ret < 0)
		return ret;
	if (uml->iov_len > host_size)
		uml->iov_len = host_size;
	memcpy(uml->iov_base, full, uml->iov_len);
	s = slot_for(uml->iov_base);
	if (!s->state)
		s->state = aligned_alloc(64, XSAVE_MAX);
	if (s->state) {
		memcpy(s->state, full, host_size);
		s->key = uml->iov_base;
	}
	return 0;
}

static long short_set(pid_t pid, struct iovec *uml)
{
	static unsigned char full[XSAVE_MAX] __attribute__((aligned(64)));
	struct iovec iov = { .iov_base = full };
	struct saved *s = slot_for(uml->iov_base);
	uint64_t uml_bv, full_bv, uml_mask;
	size_t n = uml->iov_len;

	if (s->key == uml->iov_base && s->state)
		memcpy(full, s->state, host_size);
	else if (get_full(pid, full) < 0)
		return -1;
	if (n > host_size)
		n = host_size;
	/* The components UML's part covers are exactly those that fit in it. */
	uml_mask = n >= 832 ? 0x7 : 0x3;
	memcpy(&full_bv, full + XSAVE_HEADER, sizeof(full_bv));
	memcpy(full, uml->iov_base, n);
	memcpy(&uml_bv, full + XSAVE_HEADER, sizeof(uml_bv));
	full_bv = (full_bv & ~uml_mask) | (uml_bv & uml_mask);
	memcpy(full + XSAVE_HEADER, &full_bv, sizeof(full_bv));
	iov.iov_len = host_size;
	return real_ptrace(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &iov);
}

long ptrace(enum __ptrace_request request, ...)
{
	va_list ap;
	pid_t pid;
	void *addr, *data;

	va_start(ap, request);
	pid = va_arg(ap, pid_t);
	addr = va_arg(ap, void *);
	data = va_arg(ap, void *);
	va_end(ap);

	if (!real_ptrace) {
		real_ptrace = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
		if (!real_ptrace) {
			errno = ENOSYS;
			return -1;
		}
	}
	if ((request == PTRACE_GETREGSET || request == PTRACE_SETREGSET) &&
	    (uintptr_t)addr == NT_X86_XSTATE && data) {
		struct iovec *uml = data;

		/* Learn the host size once, with a state we can read anyway. */
		if (!host_size && request == PTRACE_SETREGSET) {
			static unsigned char probe[XSAVE_MAX] __attribute__((aligned(64)));
			if (get_full(pid, probe) < 0)
				return -1;
		}
		if (!host_size || uml->iov_len < host_size)
			return request == PTRACE_GETREGSET ? short_get(pid, uml) : short_set(pid, uml);
	}
	return real_ptrace(request, pid, addr, data);
}
