//! Windows: who has a lock file open, from the Restart Manager (`RmGetList` lists the processes
//! using a file, with an application name), and a process's executable path. Windows has no
//! lock table and no F_GETLK: a lock query learns only "held", never by whom.

pub(crate) use super::no_lock_table::*;
pub(crate) use super::no_process_details::*;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;

use windows_sys::Win32::Foundation::{CloseHandle, ERROR_MORE_DATA, ERROR_SUCCESS};
use windows_sys::Win32::System::RestartManager::{
    CCH_RM_SESSION_KEY, RM_PROCESS_INFO, RmEndSession, RmGetList, RmRegisterResources,
    RmStartSession,
};
use windows_sys::Win32::System::Threading::{
    OpenProcess, PROCESS_NAME_WIN32, PROCESS_QUERY_LIMITED_INFORMATION, QueryFullProcessImageNameW,
};

/// The executable path of `pid` (Windows keeps another process's command line in its memory,
/// which we do not read).
pub(crate) fn command_line(pid: u32) -> Option<String> {
    // SAFETY: plain calls; the handle is closed below; the buffer length is passed in and out.
    unsafe {
        let process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if process.is_null() {
            return None;
        }
        let mut buf = [0u16; 1024];
        let mut len = buf.len() as u32;
        let ok =
            QueryFullProcessImageNameW(process, PROCESS_NAME_WIN32, buf.as_mut_ptr(), &mut len);
        CloseHandle(process);
        (ok != 0 && len > 0).then(|| String::from_utf16_lossy(&buf[..len as usize]))
    }
}

/// The executable's file name of `pid` (`certbot.exe`).
pub(crate) fn program_name(pid: u32) -> Option<String> {
    let exe = command_line(pid)?;
    let name = exe.rsplit(['\\', '/']).next()?;
    (!name.is_empty()).then(|| name.to_string())
}

/// The one process other than this one that has the lock file open, per the Restart Manager,
/// with the application name it reports. `None` when the Restart Manager is unavailable, lists
/// no process, or lists several (then which one holds the lock is unknown).
pub(crate) fn find_lock_owner(lock_path: &Path) -> Option<(u32, Option<String>)> {
    let me = std::process::id();
    let mut others = processes_using(lock_path)?
        .into_iter()
        .filter(|(pid, _)| *pid != me);
    let owner = others.next()?;
    others.next().is_none().then_some(owner)
}

/// Every process the Restart Manager says has `path` open: (pid, application name).
fn processes_using(path: &Path) -> Option<Vec<(u32, Option<String>)>> {
    let absolute = std::path::absolute(path).ok()?;
    let wide: Vec<u16> = absolute.as_os_str().encode_wide().chain(Some(0)).collect();
    let mut session = 0u32;
    let mut key = [0u16; CCH_RM_SESSION_KEY as usize + 1];
    // SAFETY: out-pointers to live locals; the key buffer has the documented size.
    if unsafe { RmStartSession(&mut session, 0, key.as_mut_ptr()) } != ERROR_SUCCESS {
        return None;
    }
    let result = list_in_session(session, &wide);
    // SAFETY: ends the session started above.
    unsafe { RmEndSession(session) };
    result
}

fn list_in_session(session: u32, wide_path: &[u16]) -> Option<Vec<(u32, Option<String>)>> {
    let files = [wide_path.as_ptr()];
    // SAFETY: one NUL-terminated path that outlives the call; no applications or services.
    let registered = unsafe {
        RmRegisterResources(
            session,
            1,
            files.as_ptr(),
            0,
            std::ptr::null(),
            0,
            std::ptr::null(),
        )
    };
    if registered != ERROR_SUCCESS {
        return None;
    }
    let mut infos: Vec<RM_PROCESS_INFO> = Vec::new();
    for _ in 0..4 {
        let mut needed = 0u32;
        let mut count = infos.capacity() as u32;
        let mut reasons = 0u32;
        // SAFETY: `infos` has room for `count` entries; RmGetList writes at most that many.
        let status = unsafe {
            RmGetList(
                session,
                &mut needed,
                &mut count,
                infos.as_mut_ptr(),
                &mut reasons,
            )
        };
        match status {
            ERROR_SUCCESS => {
                // SAFETY: RmGetList initialized `count` (<= capacity) entries.
                unsafe { infos.set_len((count as usize).min(infos.capacity())) };
                return Some(
                    infos
                        .iter()
                        .map(|info| (info.Process.dwProcessId, app_name(info)))
                        .collect(),
                );
            }
            ERROR_MORE_DATA => infos.reserve_exact(needed as usize + 4),
            _ => return None,
        }
    }
    None
}

fn app_name(info: &RM_PROCESS_INFO) -> Option<String> {
    let name = &info.strAppName;
    let len = name.iter().position(|&c| c == 0).unwrap_or(name.len());
    (len > 0).then(|| String::from_utf16_lossy(&name[..len]))
}

/// Not known here (see the Linux version): never claimed.
pub(crate) fn process_is_exiting(_pid: u32) -> bool {
    false
}

/// Not looked for on Windows (no way to compare handles across processes is used here).
pub(crate) fn lock_sharers(_lock_path: &Path, _pid: u32) -> Vec<u32> {
    Vec::new()
}
