/* lock_churn DIR FILES SECONDS [RATE]: takes and drops a POSIX write lock (F_SETLK) on FILES
 * files in DIR in turn for SECONDS, as fast as it can or RATE cycles per second; prints the
 * cycles per second it made. The load of benches/recorder.rs: lock-table churn on the watched
 * directories' filesystem, by a process that has nothing to do with them. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: lock_churn DIR FILES SECONDS [RATE]\n");
    return 2;
  }
  int n = atoi(argv[2]);
  double seconds = atof(argv[3]);
  double rate = argc > 4 ? atof(argv[4]) : 0;
  int *fds = calloc(n, sizeof *fds);
  char path[4096];
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/churn-%d", argv[1], i);
    fds[i] = open(path, O_RDWR | O_CREAT, 0600);
    if (fds[i] < 0) {
      perror(path);
      return 2;
    }
  }
  double start = now(), elapsed = 0;
  long cycles = 0;
  for (;;) {
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int fd = fds[cycles % n];
    if (fcntl(fd, F_SETLK, &fl) != 0) {
      perror("F_SETLK");
      return 2;
    }
    fl.l_type = F_UNLCK;
    fcntl(fd, F_SETLK, &fl);
    cycles++;
    if (cycles % 64 == 0) {
      elapsed = now() - start;
      if (elapsed >= seconds) break;
      if (rate > 0) {
        double ahead = cycles / rate - elapsed;
        if (ahead > 0) usleep((useconds_t)(ahead * 1e6));
      }
    }
  }
  printf("%.0f\n", cycles / elapsed);
  return 0;
}
