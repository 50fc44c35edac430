/* The syscall floor of `lockscope status` (benches/status_floor.rs, issue 24): for each directory
 * argument, lstat DIR/.certbot.lock; when it exists open, fstat, F_OFD_GETLK, close; one
 * /proc/PID/cmdline read per holder pid. One line per directory on a buffered stdout. Nothing
 * else: no holder chain, no orphan check, no JSON; the least a program can do to say "held by
 * pid N (command)" for every directory. Built with `cc -O2` by the harness. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PIDS 4096

static pid_t seen[MAX_PIDS];
static char *commands[MAX_PIDS];
static char command_store[MAX_PIDS * 64];
static size_t nseen, store_used;

static const char *command_of(pid_t pid) {
    for (size_t i = 0; i < nseen; i++)
        if (seen[i] == pid) return commands[i];
    if (nseen == MAX_PIDS) return "?";
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    if (n < 0) n = 0;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 0) buf[i] = ' ';
    size_t keep = n > 63 ? 63 : (size_t)n;
    char *dst = command_store + store_used;
    memcpy(dst, buf, keep);
    dst[keep] = 0;
    store_used += keep + 1;
    seen[nseen] = pid;
    commands[nseen] = dst;
    return commands[nseen++];
}

int main(int argc, char **argv) {
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    for (int a = 1; a < argc; a++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/.certbot.lock", argv[a]);
        if (lstat(path, &st) != 0) {
            printf("%s absent\n", argv[a]);
            continue;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) != 0) {
            printf("%s unknown\n", argv[a]);
            if (fd >= 0) close(fd);
            continue;
        }
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        int r = fcntl(fd, F_OFD_GETLK, &fl);
        close(fd);
        if (r != 0)
            printf("%s unknown\n", argv[a]);
        else if (fl.l_type == F_UNLCK)
            printf("%s free\n", argv[a]);
        else if (fl.l_pid > 0)
            printf("%s held %d %s\n", argv[a], (int)fl.l_pid, command_of(fl.l_pid));
        else
            printf("%s held\n", argv[a]);
    }
    return fflush(stdout) == 0 ? 0 : 2;
}
