/* A stand-in for Windows' bcryptprimitives.dll, which Wine 8.0 lacks. Rust's std (>= 1.78)
 * imports ProcessPrng from it, so without this DLL every Rust program exits with code 53 under
 * Wine before main. ProcessPrng fills a buffer from the system RNG and always succeeds.
 *
 * Built by scripts/windows-test:
 *   x86_64-w64-mingw32-gcc -O2 -shared -o bcryptprimitives.dll bcryptprimitives.c -lbcrypt
 * and copied into $WINEPREFIX/drive_c/windows/system32/. Only for Wine; never shipped. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) < 0)
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
