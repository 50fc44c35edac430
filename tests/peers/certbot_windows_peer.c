/* A peer that takes certbot's lock exactly as certbot 5.8.0 does on Windows, for the Windows
 * tests (tests/windows.rs) run under Wine by scripts/windows-test.
 *
 * certbot/_internal/lock.py, _WindowsLockMechanism:
 *   acquire: fd = filesystem.open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
 *            msvcrt.locking(fd, LK_NBLCK, 1)       -> the CRT's _locking: byte 0, length 1
 *            any failure: close fd; EACCES means "Another instance of Certbot is already running."
 *   release: msvcrt.locking(fd, LK_UNLCK, 1); os.close(fd); os.remove(path), errors ignored
 * certbot/compat/filesystem.py, open() with O_CREAT on Windows:
 *   1. CreateFile(path, GENERIC_READ, FILE_SHARE_READ & FILE_SHARE_WRITE (= 0, no sharing),
 *                 SECURITY_ATTRIBUTES{owner = current user, DACL from mode 0o600 & ~0o022},
 *                 CREATE_ALWAYS, 0, NULL), then CloseHandle. ERROR_SHARING_VIOLATION -> EACCES.
 *   2. os.open(path, flags ^ O_CREAT ^ O_EXCL): the CRT's _wopen (Python adds O_NOINHERIT),
 *      which shares read and write (not delete).
 * Under Wine a failed _locking returns -1 but leaves errno at 0 (Windows sets EACCES), so -1
 * alone means failure here.
 *
 * Usage:
 *   certbot_windows_peer hold LOCKFILE
 *       prints "locked <pid>" (then holds until a line or EOF on stdin, then releases) or
 *       "busy" (create step or _locking refused) and exits 0; "error: ..." and exit 2 otherwise.
 *   certbot_windows_peer try LOCKFILE N
 *       acquires and releases N times in a row, then prints
 *       "tries N failed F create-failures C lock-failures L" and exits 0.
 * Each output line is flushed at once. */
#include <windows.h>
#include <aclapi.h>
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <share.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/locking.h>
#include <sys/stat.h>
#include <wchar.h>

enum outcome { ACQUIRED, BUSY_CREATE, BUSY_LOCK, FAILED };

/* _generate_windows_flags: read -> FILE_GENERIC_READ; write -> FILE_ALL_ACCESS ^
 * FILE_GENERIC_READ ^ FILE_GENERIC_EXECUTE (XOR, exactly as certbot computes it); execute ->
 * FILE_GENERIC_EXECUTE. */
static DWORD windows_flags(int read, int write, int execute)
{
    DWORD flag = 0;
    if (read)
        flag |= FILE_GENERIC_READ;
    if (write)
        flag |= (FILE_ALL_ACCESS ^ FILE_GENERIC_READ ^ FILE_GENERIC_EXECUTE);
    if (execute)
        flag |= FILE_GENERIC_EXECUTE;
    return flag;
}

/* certbot's _generate_dacl(user, 0o600, umask 0o022): the user gets read+write, everyone
 * nothing, SYSTEM and Administrators full control. Owner = the current user. */
static int make_security(SECURITY_ATTRIBUTES *sa, SECURITY_DESCRIPTOR *sd, PACL *dacl_out,
                         PSID *user_out)
{
    HANDLE token;
    DWORD len = 0;
    static BYTE token_user_buf[256];
    TOKEN_USER *tu = (TOKEN_USER *)token_user_buf;
    PSID system_sid = NULL, admins_sid = NULL;
    SID_IDENTIFIER_AUTHORITY nt = SECURITY_NT_AUTHORITY;

    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
        return 0;
    if (!GetTokenInformation(token, TokenUser, tu, sizeof token_user_buf, &len)) {
        CloseHandle(token);
        return 0;
    }
    CloseHandle(token);
    if (!AllocateAndInitializeSid(&nt, 1, SECURITY_LOCAL_SYSTEM_RID, 0, 0, 0, 0, 0, 0, 0,
                                  &system_sid) ||
        !AllocateAndInitializeSid(&nt, 2, SECURITY_BUILTIN_DOMAIN_RID, DOMAIN_ALIAS_RID_ADMINS,
                                  0, 0, 0, 0, 0, 0, &admins_sid))
        return 0;

    DWORD acl_size = sizeof(ACL) + 3 * (sizeof(ACCESS_ALLOWED_ACE) + GetLengthSid(tu->User.Sid));
    PACL dacl = (PACL)LocalAlloc(LPTR, acl_size + 256);
    if (!dacl || !InitializeAcl(dacl, acl_size + 256, ACL_REVISION))
        return 0;
    int mode = 0600 & (0777 - 0022);
    int user_is_privileged = EqualSid(tu->User.Sid, system_sid) || EqualSid(tu->User.Sid, admins_sid);
    if (!user_is_privileged) {
        DWORD user_flags = windows_flags(mode & 0400, mode & 0200, mode & 0100);
        if (user_flags && !AddAccessAllowedAce(dacl, ACL_REVISION, user_flags, tu->User.Sid))
            return 0;
    }
    DWORD all_flags = windows_flags(mode & 04, mode & 02, mode & 01);
    if (all_flags) { /* 0o600: no "everyone" ACE; kept for fidelity with certbot's code */
        PSID everyone = NULL;
        SID_IDENTIFIER_AUTHORITY world = SECURITY_WORLD_SID_AUTHORITY;
        if (!AllocateAndInitializeSid(&world, 1, SECURITY_WORLD_RID, 0, 0, 0, 0, 0, 0, 0, &everyone) ||
            !AddAccessAllowedAce(dacl, ACL_REVISION, all_flags, everyone))
            return 0;
    }
    DWORD full = windows_flags(1, 1, 1);
    if (!AddAccessAllowedAce(dacl, ACL_REVISION, full, system_sid) ||
        !AddAccessAllowedAce(dacl, ACL_REVISION, full, admins_sid))
        return 0;

    if (!InitializeSecurityDescriptor(sd, SECURITY_DESCRIPTOR_REVISION) ||
        !SetSecurityDescriptorOwner(sd, tu->User.Sid, FALSE) ||
        !SetSecurityDescriptorDacl(sd, TRUE, dacl, FALSE))
        return 0;
    sa->nLength = sizeof *sa;
    sa->lpSecurityDescriptor = sd;
    sa->bInheritHandle = FALSE;
    *dacl_out = dacl;
    *user_out = tu->User.Sid;
    return 1;
}

static SECURITY_ATTRIBUTES g_sa;
static SECURITY_DESCRIPTOR g_sd;

static enum outcome acquire(const wchar_t *path, int *fd_out)
{
    /* filesystem.open, step 1: create with share mode 0 and the ACL. */
    HANDLE h = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ & FILE_SHARE_WRITE, &g_sa,
                           CREATE_ALWAYS, 0, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD err = GetLastError();
        if (err == ERROR_SHARING_VIOLATION)
            return BUSY_CREATE; /* certbot: OSError(EACCES) -> LockError */
        fprintf(stderr, "CreateFileW failed: error %lu\n", err);
        return FAILED;
    }
    CloseHandle(h);

    /* Step 2: os.open(path, flags ^ O_CREAT ^ O_EXCL); Python's os.open adds O_NOINHERIT. */
    int flags = (_O_RDWR | _O_CREAT | _O_TRUNC) ^ _O_CREAT ^ _O_EXCL;
    int fd = _wopen(path, flags | _O_NOINHERIT);
    if (fd < 0) {
        if (errno == EACCES)
            return BUSY_CREATE;
        fprintf(stderr, "_wopen failed: errno %d\n", errno);
        return FAILED;
    }
    /* msvcrt.locking(fd, LK_NBLCK, 1) */
    errno = 0;
    if (_locking(fd, _LK_NBLCK, 1) == -1) {
        _close(fd);
        return BUSY_LOCK;
    }
    *fd_out = fd;
    return ACQUIRED;
}

static void release(const wchar_t *path, int fd)
{
    _locking(fd, _LK_UNLCK, 1);
    _close(fd);
    _wremove(path); /* errors ignored, as certbot does */
}

int wmain(int argc, wchar_t **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    PACL dacl;
    PSID user;
    if (argc < 3) {
        fprintf(stderr, "usage: certbot_windows_peer hold LOCKFILE | try LOCKFILE N\n");
        return 2;
    }
    if (!make_security(&g_sa, &g_sd, &dacl, &user)) {
        printf("error: cannot build the security descriptor (error %lu)\n", GetLastError());
        return 2;
    }
    const wchar_t *path = argv[2];
    if (wcscmp(argv[1], L"hold") == 0) {
        int fd = -1;
        enum outcome o = acquire(path, &fd);
        if (o == FAILED) {
            printf("error\n");
            return 2;
        }
        if (o != ACQUIRED) {
            printf("busy\n");
            return 0;
        }
        printf("locked %lu\n", GetCurrentProcessId());
        char line[64];
        fgets(line, sizeof line, stdin); /* a line or EOF */
        release(path, fd);
        printf("released\n");
        return 0;
    }
    if (wcscmp(argv[1], L"try") == 0 && argc >= 4) {
        long n = wcstol(argv[3], NULL, 10);
        long create_failures = 0, lock_failures = 0, errors = 0;
        for (long i = 0; i < n; i++) {
            int fd = -1;
            switch (acquire(path, &fd)) {
            case ACQUIRED: release(path, fd); break;
            case BUSY_CREATE: create_failures++; break;
            case BUSY_LOCK: lock_failures++; break;
            case FAILED: errors++; break;
            }
        }
        printf("tries %ld failed %ld create-failures %ld lock-failures %ld errors %ld\n", n,
               create_failures + lock_failures + errors, create_failures, lock_failures, errors);
        return 0;
    }
    fprintf(stderr, "usage: certbot_windows_peer hold LOCKFILE | try LOCKFILE N\n");
    return 2;
}
