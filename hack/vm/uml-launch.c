/*
 * uml-launch: exec User-mode Linux, working around hosts whose extended FPU
 * state is bigger than UML 6.1 can handle.
 *
 *   uml-launch [--probe] LINUX-UML [ARG...]
 *
 * UML saves and restores its guest processes' FPU registers with
 * ptrace(PTRACE_GETREGSET/SETREGSET, NT_X86_XSTATE) using a fixed buffer sized
 * for x87+SSE+AVX (832 bytes). The host kernel only accepts a SETREGSET of
 * exactly its own full XSAVE size, which is larger on CPUs with AVX-512 or
 * AMX, so every SETREGSET fails (EFAULT) and the guest's init is killed
 * ("ptrace set fp regs failed, errno = 14").
 *
 * UML uses NT_X86_XSTATE only if a first GETREGSET of it succeeds, and falls
 * back to PTRACE_GETFPREGS/SETFPREGS (the 512-byte FXSAVE area, accepted at
 * any XSAVE size) otherwise. So when this host would reject UML's buffer, a
 * seccomp filter makes ptrace(PTRACE_GETREGSET, _, NT_X86_XSTATE, _) fail with
 * EIO for UML and everything it forks; all other system calls are untouched.
 * Cost of the fallback: the upper halves of AVX registers are not switched
 * between threads of one guest process (see hack/vm/README.md).
 *
 * --probe only reports: exit 0 when the workaround is needed, 1 when not.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/audit.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* sizeof(struct _xstate) on x86_64: what UML 6.1 passes to NT_X86_XSTATE. */
#define UML_XSTATE_BYTES 832

/*
 * Does this host reject an NT_X86_XSTATE SETREGSET of UML's size? Asks the
 * kernel directly with a stopped child, the way UML itself will.
 * Returns 1 (rejected), 0 (accepted) or -1 (could not tell).
 */
static int host_rejects_uml_xstate(void)
{
	unsigned char buf[UML_XSTATE_BYTES] __attribute__((aligned(64)));
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	int status, rejected = -1;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGSTOP);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) == pid && WIFSTOPPED(status)) {
		memset(buf, 0, sizeof(buf));
		if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov) == 0) {
			iov.iov_len = sizeof(buf);
			rejected = ptrace(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &iov) < 0;
		} else {
			rejected = 0; /* no XSTATE regset at all: UML falls back by itself */
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return rejected;
}

static int hide_xstate_regset(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PTRACE_GETREGSET, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NT_X86_XSTATE, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EIO),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

int main(int argc, char **argv)
{
	int probe = argc > 1 && strcmp(argv[1], "--probe") == 0;
	int rejects;

	if (argc < 2 + probe && !probe) {
		fprintf(stderr, "usage: uml-launch [--probe] LINUX-UML [ARG...]\n");
		return 2;
	}
	rejects = host_rejects_uml_xstate();
	if (probe)
		return rejects == 1 ? 0 : 1;
	if (rejects == 1 && hide_xstate_regset() < 0) {
		perror("uml-launch: seccomp filter");
		return 125;
	}
	execv(argv[1], argv + 1);
	fprintf(stderr, "uml-launch: exec %s: %s\n", argv[1], strerror(errno));
	return 125;
}
