/*
 * floor: the least work a container runtime can do for `run` of a bundle.
 *
 *   floor ROOTFS CMD [ARG...]
 *
 * Only the system calls no runtime can avoid: clone into new mount, pid, uts,
 * ipc and network namespaces; make the mount tree private; bind the rootfs
 * onto itself; pivot_root into it; mount /proc; exec CMD; wait for it.
 * No config parsing, no state directory, no cgroups, capabilities, seccomp,
 * /dev setup or masked paths. The benchmark times it as one more "runtime"
 * running `true`, so every real runtime's time can be read as a distance
 * from this floor.
 *
 * Exit status: CMD's, or 128+N when CMD died of signal N, or 125 when the
 * container could not be set up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SETUP_FAILED 125

struct child_args {
	const char *rootfs;
	char **argv;
};

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "floor: %s %s: %s\n", what, path ? path : "", strerror(errno));
	return SETUP_FAILED;
}

/* Runs as PID 1 of the new pid namespace, inside the new mount namespace. */
static int container_init(void *arg)
{
	const struct child_args *a = arg;

	/* Keep our mounts out of the parent's namespace (shared propagation). */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail("make private", "/");
	/* pivot_root needs the new root to be a mount point. */
	if (mount(a->rootfs, a->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return fail("bind", a->rootfs);
	if (chdir(a->rootfs) < 0)
		return fail("chdir", a->rootfs);
	/* pivot_root(".", ".") stacks the old root on top of the new one... */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fail("pivot_root", a->rootfs);
	/* ...so detaching "." drops the old root and leaves the rootfs. */
	if (umount2(".", MNT_DETACH) < 0)
		return fail("detach old root", NULL);
	if (chdir("/") < 0)
		return fail("chdir", "/");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL) < 0)
		return fail("mount", "/proc");
	execvp(a->argv[0], a->argv);
	return fail("exec", a->argv[0]);
}

int main(int argc, char **argv)
{
	static char stack[256 * 1024] __attribute__((aligned(16)));
	struct child_args a;
	int status;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: floor ROOTFS CMD [ARG...]\n");
		return 2;
	}
	a.rootfs = argv[1];
	a.argv = argv + 2;

	pid = clone(container_init, stack + sizeof(stack),
		    CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
			    CLONE_NEWNET | SIGCHLD,
		    &a);
	if (pid < 0)
		return fail("clone", NULL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return fail("waitpid", NULL);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
