//! Mounting real filesystems for tests (loop images, overlayfs, tmpfs, FUSE via bindfs), with
//! Drop guards that undo every mount, loop device and daemon (also when a test panics). Used by
//! tests/suite/fs_matrix.rs and tests/suite/truth.rs; they need root and fail loudly without it.

use super::{OsStr, is_root};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[track_caller]
pub fn require_root() {
    assert!(
        is_root(),
        "this test mounts filesystems (loop images, overlayfs, tmpfs, FUSE) and enters pid \
         namespaces: it must run as root (CI does, on a disposable machine). Run it as root, e.g. \
         `sudo -E cargo test --test tests fs_matrix::` (or truth::)."
    );
}

/// Runs `prog args...` to completion; panics with its stderr unless it succeeds.
#[track_caller]
pub fn sh(prog: &str, args: &[&OsStr]) -> String {
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {prog}: {e}"));
    assert!(
        out.status.success(),
        "{prog} {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Whether `path` is a mount point in this process's mount namespace.
pub fn is_mount_point(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    let path = path.to_str().expect("UTF-8 test path");
    info.lines()
        .any(|l| l.split(' ').nth(4).is_some_and(|m| m == path))
}

/// Something to undo when a fixture is dropped.
pub enum Undo {
    Umount(PathBuf),
    DetachLoop(String),
    /// A FUSE daemon running in the foreground as our child: SIGCONT (it may have been
    /// stopped), unmount, then reap it.
    Fuse {
        daemon: Child,
        mount: PathBuf,
    },
}

impl Undo {
    pub fn run(self) {
        match self {
            Undo::Umount(path) => umount(&path),
            Undo::DetachLoop(dev) => {
                let _ = Command::new("losetup").arg("-d").arg(&dev).status();
            }
            Undo::Fuse { mut daemon, mount } => {
                // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
                unsafe { libc::kill(daemon.id() as i32, libc::SIGCONT) };
                umount(&mount);
                let deadline = Instant::now() + Duration::from_secs(5);
                while daemon.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let _ = daemon.kill();
                let _ = daemon.wait();
            }
        }
    }
}

pub fn umount(path: &Path) {
    let quiet = |args: &[&OsStr]| {
        Command::new("umount")
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !quiet(&[path.as_os_str()]) {
        // Busy (a process of a failed test still inside): detach it lazily.
        quiet(&[os("-l"), path.as_os_str()]);
    }
}

/// Undo steps, run last-first on drop (panics included).
#[derive(Default)]
pub struct Cleanup(pub Vec<Undo>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        while let Some(step) = self.0.pop() {
            step.run();
        }
    }
}

/// A fresh tempdir under /tmp that uid 65534 may traverse.
pub fn tempdir() -> tempfile::TempDir {
    let tmp = tempfile::Builder::new()
        .prefix("lockscope-fsm-")
        .tempdir()
        .expect("tempdir");
    chmod_755(tmp.path());
    tmp
}

pub fn chmod_755(path: &Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod 0755 {}: {e}", path.display()));
}

pub fn mkdir(path: &Path) {
    std::fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    chmod_755(path);
}

/// `losetup --find --show IMG`, retried: parallel tests race for the same free device.
pub fn attach_loop(img: &Path) -> String {
    let mut last = String::new();
    for attempt in 0..20 {
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(img)
            .output()
            .expect("run losetup");
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        std::thread::sleep(Duration::from_millis(20 * (attempt + 1)));
    }
    panic!("losetup --find --show {} failed: {last}", img.display());
}

/// The filesystems of the matrix. Each one stands for a place where users keep certbot's
/// directories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fs {
    /// The common case: /etc/letsencrypt on an ext4 root or data disk.
    Ext4,
    /// RHEL/CentOS-style servers with xfs.
    Xfs,
    /// Fedora / openSUSE roots on btrfs (top-level subvolume).
    Btrfs,
    /// btrfs with /etc or /var on a subvolume (what distributions install): its own st_dev.
    BtrfsSubvolume,
    /// A container whose image layer holds /etc/letsencrypt (overlayfs, upper and work dir on
    /// the same filesystem as the lower dir, like docker's overlay2).
    OverlaySameDisk,
    /// A container or live system with its writable layer in RAM (overlay upper on tmpfs).
    OverlayTmpfsUpper,
    /// Directories in /run or /tmp on tmpfs.
    Tmpfs,
    /// A userspace filesystem (bindfs stands in for any FUSE fs: sshfs, s3fs, ...).
    FuseBindfs,
}

/// A filesystem mounted for one test, with `dir` (owned by root, 0755 down the whole path) on
/// it. Fields drop in order: the mounts go before the tempdir.
pub struct Fixture {
    pub _cleanup: Cleanup,
    pub dir: PathBuf,
    /// The FUSE daemon's pid (bindfs only).
    pub daemon: Option<u32>,
    pub tmp: tempfile::TempDir,
}

impl Fs {
    /// The lock table names this filesystem's files by a device that files with other
    /// `st_dev`s share (btrfs: the whole filesystem's, every subvolume and snapshot their own
    /// st_dev; overlayfs with its upper layer elsewhere: one for every layer), so an inode
    /// number in it can be several files'. A row there is evidence for none of them: where the
    /// file cannot be opened (certbot's 0600 file, uid 65534) the answer is "cannot tell".
    pub fn table_names_are_shared(self) -> bool {
        matches!(self, Fs::Btrfs | Fs::BtrfsSubvolume | Fs::OverlayTmpfsUpper)
    }

    pub fn mount(self) -> Fixture {
        require_root();
        let tmp = tempdir();
        let root = tmp.path().to_path_buf();
        let mut cleanup = Cleanup::default();
        let mut daemon = None;
        let mnt = root.join("mnt");
        mkdir(&mnt);
        let loop_image = |cleanup: &mut Cleanup, size: u64, mkfs: &[&str]| {
            let img = root.join("fs.img");
            std::fs::File::create(&img)
                .and_then(|f| f.set_len(size << 20))
                .expect("sparse image");
            let mut args: Vec<&OsStr> = mkfs[1..].iter().map(|a| os(a)).collect();
            args.push(img.as_os_str());
            sh(mkfs[0], &args);
            let dev = attach_loop(&img);
            cleanup.0.push(Undo::DetachLoop(dev.clone()));
            sh("mount", &[os(&dev), mnt.as_os_str()]);
            cleanup.0.push(Undo::Umount(mnt.clone()));
            chmod_755(&mnt);
        };
        let overlay = |cleanup: &mut Cleanup, layers: &Path| {
            let (lower, upper, work) = (
                root.join("lower"),
                layers.join("upper"),
                layers.join("work"),
            );
            mkdir(&lower.join("d")); // the image provides the directory
            mkdir(&upper);
            mkdir(&work);
            let opts = format!(
                "lowerdir={},upperdir={},workdir={}",
                lower.display(),
                upper.display(),
                work.display()
            );
            sh(
                "mount",
                &[
                    os("-t"),
                    os("overlay"),
                    os("overlay"),
                    os("-o"),
                    os(&opts),
                    mnt.as_os_str(),
                ],
            );
            cleanup.0.push(Undo::Umount(mnt.clone()));
            chmod_755(&mnt);
        };
        let dir = match self {
            Fs::Ext4 => {
                loop_image(&mut cleanup, 16, &["mkfs.ext4", "-q", "-F"]);
                mnt.join("d")
            }
            Fs::Xfs => {
                // mkfs.xfs refuses filesystems under 300 MB.
                loop_image(&mut cleanup, 300, &["mkfs.xfs", "-q", "-f"]);
                mnt.join("d")
            }
            Fs::Btrfs => {
                // mkfs.btrfs needs about 114 MB.
                loop_image(&mut cleanup, 128, &["mkfs.btrfs", "-q", "-f"]);
                mnt.join("d")
            }
            Fs::BtrfsSubvolume => {
                loop_image(&mut cleanup, 128, &["mkfs.btrfs", "-q", "-f"]);
                let sv = mnt.join("sv");
                sh("btrfs", &[os("subvolume"), os("create"), sv.as_os_str()]);
                chmod_755(&sv);
                sv.join("d")
            }
            Fs::OverlaySameDisk => {
                overlay(&mut cleanup, &root);
                mnt.join("d")
            }
            Fs::OverlayTmpfsUpper => {
                let layers = root.join("layers");
                mkdir(&layers);
                sh(
                    "mount",
                    &[
                        os("-t"),
                        os("tmpfs"),
                        os("-o"),
                        os("size=16m,mode=0755"),
                        os("tmpfs"),
                        layers.as_os_str(),
                    ],
                );
                cleanup.0.push(Undo::Umount(layers.clone()));
                overlay(&mut cleanup, &layers);
                mnt.join("d")
            }
            Fs::Tmpfs => {
                sh(
                    "mount",
                    &[
                        os("-t"),
                        os("tmpfs"),
                        os("-o"),
                        os("size=16m,mode=0755"),
                        os("tmpfs"),
                        mnt.as_os_str(),
                    ],
                );
                cleanup.0.push(Undo::Umount(mnt.clone()));
                mnt.join("d")
            }
            Fs::FuseBindfs => {
                let src = root.join("src");
                mkdir(&src);
                // In the foreground as our child: we know its pid (to stop it) and reap it.
                // As root bindfs adds allow_other, so uid 65534 can use the mount.
                let child = Command::new("bindfs")
                    .arg("-f")
                    .arg(&src)
                    .arg(&mnt)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("start bindfs (apt-get install bindfs)");
                daemon = Some(child.id());
                cleanup.0.push(Undo::Fuse {
                    daemon: child,
                    mount: mnt.clone(),
                });
                let deadline = Instant::now() + Duration::from_secs(10);
                while !is_mount_point(&mnt) {
                    assert!(
                        Instant::now() < deadline,
                        "bindfs did not mount {}",
                        mnt.display()
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
                chmod_755(&mnt);
                mnt.join("d")
            }
        };
        mkdir(&dir);
        Fixture {
            _cleanup: cleanup,
            dir,
            daemon,
            tmp,
        }
    }
}
