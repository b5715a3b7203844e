/*
 * timewrap: stands in for a runtime binary where a caller (containerd's
 * shim, dockerd, podman's conmon) invokes it, runs the real runtime and
 * appends one line per invocation to a log, so that a benchmark can tell
 * how much of an end-to-end operation was spent in the runtime:
 *
 *   start_ns <TAB> wall_ns <TAB> cpu_ns (user + system) <TAB> subcommand
 *
 * Built per runtime by the bench scripts:
 *   gcc -O2 -DREAL='"/usr/bin/crun"' -DLOG='"/tmp/x/crun.log"' -o W timewrap.c
 * The runtime gets the same argv (argv[0] = REAL), fds, environment and
 * exit status; only a fork and an exec of this small program are added,
 * the same for every runtime measured.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long ns(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The subcommand: the first argument that is not a global option (or the
 * value of --root/--log/--log-format, which take one). */
static const char *subcommand(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-')
			return argv[i];
		if (!strchr(argv[i], '=') &&
		    (!strcmp(argv[i], "--root") || !strcmp(argv[i], "--log") ||
		     !strcmp(argv[i], "--log-format") || !strcmp(argv[i], "--criu")))
			i++;
	}
	return "-";
}

int main(int argc, char **argv)
{
	long long start = ns(CLOCK_REALTIME), t0 = ns(CLOCK_MONOTONIC);
	pid_t pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		argv[0] = REAL;
		execv(REAL, argv);
		_exit(127);
	}
	/* Signals to the wrapper are not passed on: the callers measured here
	 * only signal a runtime that hangs, which is a failed benchmark anyway. */
	int status = 0;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0)
		;
	long long wall = ns(CLOCK_MONOTONIC) - t0;
	long long cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
			(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
	int fd = open(LOG, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		char line[256];
		int n = snprintf(line, sizeof line, "%lld\t%lld\t%lld\t%s\n", start, wall, cpu,
				 subcommand(argc, argv));
		if (n > 0)
			write(fd, line, n < (int)sizeof line ? n : (int)sizeof line - 1);
		close(fd);
	}
	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
