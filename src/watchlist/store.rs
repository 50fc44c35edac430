//! The watch-list files on disk: [`Store`] (`<config dir>/lockscope.toml`), [`import`] and
//! [`export`] of single lists. Reading opens only regular files, never blocks on a FIFO and reads
//! at most [`MAX_FILE_SIZE`]; writes are atomic (temporary file, fsync, rename, directory fsync);
//! a corrupt file is set aside as `.bak`, never replaced; stale temporary files are removed.
//! What the bytes mean is [`format`](mod@super::format)'s job.

use super::{
    DirProblem, FILE_NAME, Loaded, MAX_FILE_SIZE, State, Warning, WatchList, WatchListError,
    format, sys,
};
use crate::path_error::parent_dir;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Leftover temporary files older than this are removed by [`Store::load`].
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// The saved state in a config directory (normally [`default_config_dir`]; the CLI's and app's
/// `--config-dir` choose another).
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// The platform's config directory for lockscope: `$XDG_CONFIG_HOME/lockscope` or
/// `~/.config/lockscope` on Linux, `~/Library/Application Support/lockscope` on macOS,
/// `%APPDATA%\lockscope\config` on Windows. `None` when there is no home directory.
pub fn default_config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "lockscope").map(|p| p.config_dir().to_path_buf())
}

impl Store {
    /// The store in `dir` (nothing is read or created until [`Store::load`] or [`Store::save`]).
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    /// The config directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/lockscope.toml`.
    pub fn file(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Reads the saved state; see the module docs for what is repaired, set aside or an error.
    pub fn load(&self) -> Result<Loaded, WatchListError> {
        remove_stale_temps(&self.dir, FILE_NAME);
        let file = self.file();
        let bytes = match read_limited(&file) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return corrupt(&file, "larger than 64 MiB".into()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Loaded {
                    state: State::default(),
                    warnings: Vec::new(),
                });
            }
            Err(source) => return Err(WatchListError::Read { path: file, source }),
        };
        match format::decode_state(&bytes, &file) {
            Ok(loaded) => Ok(loaded),
            Err(reason) => corrupt(&file, reason),
        }
    }

    /// Writes `state` atomically (see the module docs), creating the directory if needed.
    pub fn save(&self, state: &State) -> Result<(), WatchListError> {
        let text = format::encode_state(state)?;
        fs::create_dir_all(&self.dir).map_err(|source| WatchListError::Write {
            path: self.dir.clone(),
            source,
        })?;
        write_atomic(&self.file(), text.as_bytes())
    }
}

/// Reads one list from an exchange file (`name` and `dirs` at the top level, as written by
/// [`export`]). Unlike [`Store::load`], nothing is repaired: any rule broken is an error, so the
/// user can fix the file they chose.
pub fn import(path: &Path) -> Result<WatchList, WatchListError> {
    format::decode_list(&read_exchange_file(path)?, path)
}

/// An exchange file's bytes (see [`read_limited`]).
fn read_exchange_file(path: &Path) -> Result<Vec<u8>, WatchListError> {
    match read_limited(path) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(WatchListError::TooLarge {
            path: path.to_path_buf(),
        }),
        Err(source) => Err(WatchListError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A list read by [`import_skipping`], and the directories it left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The list, with every directory that may be in one.
    pub list: WatchList,
    /// Each directory left out, with why (in the file's order).
    pub skipped: Vec<(PathBuf, DirProblem)>,
}

/// As [`import`], but a directory that cannot be in a list is skipped and named in
/// [`Imported::skipped`] rather than refusing the file: the app imports what it can and lists
/// the rest. The name, the notification settings and the TOML itself must still be valid.
pub fn import_skipping(path: &Path) -> Result<Imported, WatchListError> {
    let bytes = read_exchange_file(path)?;
    let (list, skipped) = format::decode_list_skipping(&bytes, path)?;
    Ok(Imported { list, skipped })
}

/// Writes one list as an exchange file, atomically, replacing `path` if it exists.
pub fn export(list: &WatchList, path: &Path) -> Result<(), WatchListError> {
    let text = format::encode_list(list.checked()?)?;
    write_atomic(path, text.as_bytes())
}

/// The whole file, or `None` if it is larger than [`MAX_FILE_SIZE`] (without reading it all).
/// Only regular files are read: a FIFO would block until some writer appeared (so it is opened
/// non-blocking, then refused), and a device like `/dev/zero` would be read to the size limit.
fn read_limited(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let file = sys::open_for_reading(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        ));
    }
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket or device)",
        ));
    }
    if meta.len() > MAX_FILE_SIZE {
        return Ok(None);
    }
    // The length can lie (special files report 0) or grow meanwhile: read at most one byte more.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_FILE_SIZE).then_some(bytes))
}

/// Moves a corrupt file aside and starts empty, telling the user where the file went.
fn corrupt(file: &Path, reason: String) -> Result<Loaded, WatchListError> {
    let backup = set_aside(file).map_err(|source| WatchListError::SetAside {
        path: file.to_path_buf(),
        source,
    })?;
    Ok(Loaded {
        state: State::default(),
        warnings: vec![Warning::SetAside {
            file: file.to_path_buf(),
            backup,
            reason,
        }],
    })
}

/// Renames `file` to the first free name of `file.bak`, `file.bak.1`, ... Never replaces an
/// existing backup: a hard link fails if its target exists, so two processes cannot pick the
/// same name. Where hard links are not supported, an existence check and a rename do.
fn set_aside(file: &Path) -> io::Result<PathBuf> {
    for n in 0..1000 {
        let mut name = file.as_os_str().to_owned();
        name.push(".bak");
        if n > 0 {
            name.push(format!(".{n}"));
        }
        let backup = PathBuf::from(name);
        match fs::hard_link(file, &backup) {
            Ok(()) => {
                match fs::remove_file(file) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
                sync_parent(file)?;
                return Ok(backup);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
            Err(_) => {
                if fs::symlink_metadata(&backup).is_ok() {
                    continue;
                }
                fs::rename(file, &backup)?;
                sync_parent(file)?;
                return Ok(backup);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "1000 backups exist already; remove some",
    ))
}

/// Replaces `target` with `bytes` so that readers and crashes see the old or the new content.
fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), WatchListError> {
    crate::atomic_file::write(target, bytes).map_err(|source| WatchListError::Write {
        path: target.to_path_buf(),
        source,
    })
}

/// Removes `.<file_name>.*.tmp` files in `dir` older than [`STALE_TEMP_AGE`]. Best effort.
fn remove_stale_temps(dir: &Path, file_name: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{file_name}.");
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with(&prefix) && name.ends_with(".tmp")) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if old && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Makes a rename or unlink in `path`'s directory durable (see [`sys::sync_dir`]).
fn sync_parent(path: &Path) -> io::Result<()> {
    sys::sync_dir(parent_dir(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watchlist::MAX_FILE_SIZE;
    use crate::watchlist::test_support::*;

    #[test]
    fn save_load_round_trip() {
        let (_dir, store) = store();
        let state = sample();
        store.save(&state).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.warnings, []);
        assert_eq!(loaded.state, state);
        assert_eq!(loaded.state.active().unwrap().name, "web");
        // Saving the loaded state gives the same bytes.
        let first = fs::read(store.file()).unwrap();
        store.save(&loaded.state).unwrap();
        assert_eq!(fs::read(store.file()).unwrap(), first);
    }

    #[test]
    fn missing_file_and_directory_load_empty() {
        let (_dir, store) = store();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.state, State::default());
        assert_eq!(loaded.warnings, []);
        assert!(!store.dir().exists(), "load must not create the directory");
    }

    #[test]
    fn operations_then_save_survive_a_reload() {
        let (_dir, store) = store();
        let mut s = sample();
        s.rename("certbot", "letsencrypt").unwrap();
        s.delete("empty").unwrap();
        s.switch("letsencrypt").unwrap();
        store.save(&s).unwrap();
        let loaded = store.load().unwrap().state;
        assert_eq!(names(&loaded), ["letsencrypt", "web"]);
        assert_eq!(loaded.active().unwrap().name, "letsencrypt");
        assert_eq!(loaded, s);
    }

    #[test]
    fn corrupt_file_is_set_aside_byte_for_byte() {
        let original = b"[[list]]\nname = \"certbot\"\ndirs = [\"/etc/letsencrypt\"\n\xff garbage";
        let (_dir, store, loaded) = load_bytes(original);
        assert_eq!(loaded.state, State::default());
        let [Warning::SetAside { file, backup, .. }] = &loaded.warnings[..] else {
            panic!("{:?}", loaded.warnings)
        };
        assert_eq!(file, &store.file());
        assert_eq!(backup, &store.dir().join("lockscope.toml.bak"));
        assert_eq!(fs::read(backup).unwrap(), original);
        assert!(!store.file().exists());
        let message = loaded.warnings[0].to_string();
        assert!(message.contains("lockscope.toml was corrupt"), "{message}");
        assert!(message.contains("moved aside to"), "{message}");
        assert!(message.contains("lockscope.toml.bak"), "{message}");
        // The app goes on: a save works and loads cleanly.
        store.save(&sample()).unwrap();
        assert_eq!(store.load().unwrap().state, sample());
    }

    #[test]
    fn a_second_corrupt_file_does_not_replace_the_first_backup() {
        let (_dir, store, _) = load_bytes(b"first = = corrupt");
        fs::write(store.file(), b"second \x00 corrupt").unwrap();
        let loaded = store.load().unwrap();
        fs::write(store.file(), b"[third").unwrap();
        let third = store.load().unwrap();
        assert_eq!(
            backups(&store),
            [
                "lockscope.toml.bak",
                "lockscope.toml.bak.1",
                "lockscope.toml.bak.2"
            ]
        );
        let read = |n: &str| fs::read(store.dir().join(n)).unwrap();
        assert_eq!(read("lockscope.toml.bak"), b"first = = corrupt");
        assert_eq!(read("lockscope.toml.bak.1"), b"second \x00 corrupt");
        assert_eq!(read("lockscope.toml.bak.2"), b"[third");
        let Warning::SetAside { backup, .. } = &loaded.warnings[0] else {
            panic!()
        };
        assert!(backup.ends_with("lockscope.toml.bak.1"));
        assert!(matches!(&third.warnings[..], [Warning::SetAside { .. }]));
    }

    #[test]
    fn hostile_inputs_are_set_aside_without_panicking() {
        let deep = "a = ".to_string() + &"[".repeat(100_000);
        let inputs: Vec<(&str, Vec<u8>)> = vec![
            ("binary", (0..=255u8).cycle().take(10_000).collect()),
            ("not utf-8", b"name = \"\xc3\x28\"".to_vec()),
            ("nul bytes", b"\0\0\0\0".to_vec()),
            (
                "truncated",
                b"active = \"a\"\n[[list]]\nname = \"a\"\ndirs = [\"/x\", \"/y".to_vec(),
            ),
            ("truncated key", b"[setti".to_vec()),
            ("lists not an array", b"list = 5".to_vec()),
            (
                "dirs a string",
                b"[[list]]\nname = \"a\"\ndirs = \"/etc\"".to_vec(),
            ),
            (
                "dirs of numbers",
                b"[[list]]\nname = \"a\"\ndirs = [1, 2]".to_vec(),
            ),
            ("name missing", b"[[list]]\ndirs = []".to_vec()),
            ("name a table", b"[[list]]\nname = { a = 1 }".to_vec()),
            ("active a number", b"active = 3".to_vec()),
            ("settings a string", b"settings = \"fast\"".to_vec()),
            ("interval a number", b"[settings]\ninterval = 1".to_vec()),
            ("deep nesting", deep.into_bytes()),
            ("duplicate keys", b"active = \"a\"\nactive = \"b\"".to_vec()),
        ];
        for (what, bytes) in inputs {
            let (_dir, store, loaded) = load_bytes(&bytes);
            assert_eq!(loaded.state, State::default(), "{what}");
            assert!(
                matches!(&loaded.warnings[..], [Warning::SetAside { .. }]),
                "{what}: {:?}",
                loaded.warnings
            );
            assert_eq!(
                fs::read(store.dir().join("lockscope.toml.bak")).unwrap(),
                bytes,
                "{what}"
            );
            let message = loaded.warnings[0].to_string();
            assert!(!message.contains('\n'), "{what}: one line: {message}");
        }
    }

    #[test]
    fn huge_file_is_set_aside_without_reading_it_all() {
        let (_dir, store) = store();
        fs::create_dir_all(store.dir()).unwrap();
        let file = fs::File::create(store.file()).unwrap();
        file.set_len(MAX_FILE_SIZE + 1).unwrap(); // sparse
        drop(file);
        let loaded = store.load().unwrap();
        assert!(
            matches!(&loaded.warnings[..], [Warning::SetAside { reason, .. }] if reason.contains("64 MiB"))
        );
        assert_eq!(
            fs::metadata(store.dir().join("lockscope.toml.bak"))
                .unwrap()
                .len(),
            MAX_FILE_SIZE + 1
        );
    }

    #[test]
    fn unreadable_path_is_an_error_not_a_backup() {
        let (_dir, store) = store();
        fs::create_dir_all(store.file()).unwrap(); // a directory where the file should be
        assert!(matches!(store.load(), Err(WatchListError::Read { .. })));
        assert!(store.file().is_dir(), "left alone");
        assert!(store.save(&sample()).is_err());
    }

    #[test]
    fn import_export_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.toml");
        let list = WatchList::new(
            "my sites",
            [
                abs("/srv/a"),
                abs("/srv/b \"quoted\""),
                abs("/srv/new\nline\t'ü"),
            ],
        )
        .unwrap();
        export(&list, &path).unwrap();
        assert_eq!(import(&path).unwrap(), list);
        // Export replaces an existing file.
        let other = WatchList::new("other", [abs("/srv/c")]).unwrap();
        export(&other, &path).unwrap();
        assert_eq!(import(&path).unwrap(), other);
        // An imported list whose name is taken gets a free one.
        let mut s = State::default();
        s.insert(list.clone()).unwrap();
        let mut again = import(&dir.path().join("shared.toml")).unwrap();
        again.name = "my sites".into();
        assert!(matches!(
            s.insert(again.clone()),
            Err(WatchListError::DuplicateName(_))
        ));
        again.name = s.unused_name(&again.name);
        assert_eq!(again.name, "my sites (2)");
        s.insert(again).unwrap();
    }

    #[test]
    fn hundred_thousand_dirs_load_quickly() {
        let (_dir, store) = store();
        let dirs: Vec<PathBuf> = (0..100_000)
            .map(|i| abs(&format!("/srv/sites/site-{i:06}/letsencrypt")))
            .collect();
        let mut state = State::default();
        let start = std::time::Instant::now();
        state
            .insert(WatchList::new("big", dirs.clone()).unwrap())
            .unwrap();
        store.save(&state).unwrap();
        let saved = start.elapsed();
        let start = std::time::Instant::now();
        let loaded = store.load().unwrap();
        let load_time = start.elapsed();
        assert_eq!(loaded.warnings, []);
        assert_eq!(loaded.state.get("big").unwrap().dirs, dirs);
        // Generous for unoptimized test builds on a slow machine; a release build takes
        // a small fraction of this.
        assert!(
            load_time < Duration::from_secs(10),
            "load took {load_time:?}"
        );
        assert!(saved < Duration::from_secs(10), "save took {saved:?}");
    }

    #[test]
    fn default_config_dir_ends_in_lockscope() {
        if let Some(dir) = default_config_dir() {
            assert!(dir.is_absolute());
            assert!(
                dir.components().any(|c| c.as_os_str() == "lockscope"),
                "{dir:?}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn save_keeps_permissions_and_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, store) = store();
        store.save(&sample()).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store.file()) & 0o600, 0o600);
        fs::set_permissions(store.file(), fs::Permissions::from_mode(0o600)).unwrap();
        store.save(&State::default()).unwrap();
        assert_eq!(mode(&store.file()), 0o600, "kept by a save");

        // A symlinked config: the link stays, its target gets the new content.
        let real = dir.path().join("dotfiles-lockscope.toml");
        fs::rename(store.file(), &real).unwrap();
        std::os::unix::fs::symlink(&real, store.file()).unwrap();
        store.save(&sample()).unwrap();
        assert!(
            fs::symlink_metadata(store.file())
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(store.load().unwrap().state, sample());
    }

    #[test]
    fn save_leaves_no_temp_files_and_load_removes_stale_ones() {
        let (_dir, store) = store();
        for _ in 0..5 {
            store.save(&sample()).unwrap();
        }
        let entries = || -> Vec<String> {
            let mut v: Vec<String> = fs::read_dir(store.dir())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        assert_eq!(entries(), ["lockscope.toml"]);
        let stale = store.dir().join(".lockscope.toml.99999.0.tmp");
        let fresh = store.dir().join(".lockscope.toml.99999.1.tmp");
        fs::write(&stale, "partial").unwrap();
        fs::write(&fresh, "partial").unwrap();
        fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(7200))
            .unwrap();
        store.load().unwrap();
        assert!(!stale.exists(), "an old leftover is removed");
        assert!(fresh.exists(), "a young one may be a save in progress");
    }
}
