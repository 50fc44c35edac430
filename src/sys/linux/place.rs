//! Where a process runs (Linux): its `/proc/<pid>/cgroup`, parsed by `sys::cgroup`, and a
//! container's name from its runtime's own files where this process may read them.

use super::super::cgroup::{CgroupPlace, ContainerRef, parse_cgroup};
use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// `/proc/<pid>/cgroup` is one line per hierarchy; a few KiB even with deep paths. More is
/// not a cgroup file we want to parse.
const CGROUP_FILE_MAX: u64 = 64 * 1024;
/// A docker `config.v2.json` is a few KiB (the environment and labels make it bigger).
const DOCKER_CONFIG_MAX: u64 = 4 * 1024 * 1024;
/// podman's `containers.json` lists every container of the store: ~1 KiB each.
const PODMAN_CONTAINERS_MAX: u64 = 8 * 1024 * 1024;
/// A name longer than this is not shown (docker's and podman's are far shorter).
const CONTAINER_NAME_MAX: usize = 253;

/// Why a runtime's file could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a regular file")]
    NotRegular,
    #[error("larger than {0} bytes")]
    TooLarge(u64),
}

/// Where process `pid` runs: its systemd unit and container, from `/proc/<pid>/cgroup`.
/// `None` when the file cannot be read (the process is gone, or `/proc` hides it).
pub(crate) fn process_place(pid: u32) -> Option<CgroupPlace> {
    let raw = read_bounded(
        Path::new(&format!("/proc/{pid}/cgroup")),
        CGROUP_FILE_MAX,
        false,
    )
    .ok()?;
    Some(parse_cgroup(&String::from_utf8_lossy(&raw)))
}

/// The name a container's runtime gave it, read from the runtime's files where they are
/// readable (normally as root): docker's `config.v2.json`, rootful podman's
/// `containers.json`; LXC's id is its name. `None` for the others (containerd, CRI-O and
/// Kubernetes keep names behind their APIs) and when nothing readable names it.
pub(crate) fn container_name(c: &ContainerRef) -> Option<String> {
    container_name_in(
        c,
        Path::new("/var/lib/docker"),
        Path::new("/var/lib/containers/storage"),
    )
}

/// [`container_name`] with docker's and podman's state directories as parameters (tests).
fn container_name_in(c: &ContainerRef, docker_root: &Path, podman_root: &Path) -> Option<String> {
    let name = match c.runtime {
        "lxc" => Some(c.id.clone()),
        // The id becomes a path component: only the runtimes' own hex ids are looked up.
        _ if !c.id.bytes().all(|b| b.is_ascii_hexdigit()) || c.id.is_empty() => None,
        "docker" => docker_name(docker_root, &c.id),
        "podman" => podman_name(podman_root, &c.id),
        _ => None,
    }?;
    let name = name.trim_start_matches('/');
    let shown = !name.is_empty() && name.len() <= CONTAINER_NAME_MAX;
    shown.then(|| name.to_string())
}

/// docker: `<root>/containers/<id>/config.v2.json`, `"Name": "/foo"`.
fn docker_name(root: &Path, id: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(rename = "Name")]
        name: String,
    }
    let path = root.join("containers").join(id).join("config.v2.json");
    let raw = read_bounded(&path, DOCKER_CONFIG_MAX, true).ok()?;
    let config: Config = serde_json::from_slice(&raw).ok()?;
    Some(config.name)
}

/// podman (containers/storage): `<root>/overlay-containers/containers.json`, an array of
/// `{"id": ..., "names": [...]}`; the first name is the one `podman ps` shows.
fn podman_name(root: &Path, id: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Container {
        id: String,
        #[serde(default)]
        names: Vec<String>,
    }
    let path = root.join("overlay-containers").join("containers.json");
    let raw = read_bounded(&path, PODMAN_CONTAINERS_MAX, true).ok()?;
    let containers: Vec<Container> = serde_json::from_slice(&raw).ok()?;
    containers
        .into_iter()
        .find(|c| c.id.eq_ignore_ascii_case(id))?
        .names
        .into_iter()
        .next()
}

/// At most `max` bytes of the file at `path`, or an error if it has more. Opened without
/// blocking (a FIFO planted there cannot hang us) and without following a final symlink when
/// `regular_only`, which also refuses anything but a regular file. (`/proc` files are
/// regular too, but report size 0: the cap, not the size, bounds the read.)
fn read_bounded(path: &Path, max: u64, regular_only: bool) -> Result<Vec<u8>, ReadError> {
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if regular_only {
        flags |= libc::O_NOFOLLOW;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)?;
    if regular_only && !file.metadata()?.is_file() {
        return Err(ReadError::NotRegular);
    }
    let mut raw = Vec::new();
    file.take(max + 1).read_to_end(&mut raw)?;
    if raw.len() as u64 > max {
        return Err(ReadError::TooLarge(max));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const ID: &str = "269fa2e3c31aeaa152daa3450e49575b7fd5494ed79f649e48ec9958f188ce1e";

    fn docker(id: &str) -> ContainerRef {
        ContainerRef {
            runtime: "docker",
            id: id.to_string(),
        }
    }

    fn podman(id: &str) -> ContainerRef {
        ContainerRef {
            runtime: "podman",
            id: id.to_string(),
        }
    }

    /// The cgroup hierarchy `parse_cgroup` reads first: systemd's v1 one (`name=systemd`)
    /// where mounted, else the v2 one. Its mount point and this process's path in it.
    fn our_main_hierarchy() -> Option<(std::path::PathBuf, String)> {
        let mounts = fs::read_to_string("/proc/self/mounts").ok()?;
        let mount = |kind: &str, option: Option<&str>| {
            mounts.lines().find_map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                let fits = f.len() > 3
                    && f[2] == kind
                    && option.is_none_or(|o| f[3].split(',').any(|x| x == o));
                fits.then(|| std::path::PathBuf::from(f[1]))
            })
        };
        let cgroup = fs::read_to_string("/proc/self/cgroup").ok()?;
        let path_of = |controllers: &str| {
            cgroup.lines().find_map(|l| {
                let (_, rest) = l.split_once(':')?;
                let (c, path) = rest.split_once(':')?;
                (c == controllers).then(|| path.to_string())
            })
        };
        match mount("cgroup", Some("name=systemd")) {
            Some(at) => Some((at, path_of("name=systemd")?)),
            None => Some((mount("cgroup2", None)?, path_of("")?)),
        }
    }

    /// A real process moved into a cgroup made for it, `<ours>/lockscope-place-<pid>.slice/
    /// certbot-renew.service/docker-<ID>.scope`: its place is exactly that unit and container
    /// (read from its own `/proc/<pid>/cgroup`, not ours). Needs root and a writable cgroup
    /// hierarchy (CI has both).
    #[test]
    fn a_process_in_a_known_cgroup_is_placed_exactly() {
        // One SKIPPED line, which CI counts (and fails on), on the real stderr: libtest keeps
        // a passing test's print!s to itself.
        fn skipped(reason: &str) {
            use std::io::Write;
            let test = concat!(
                module_path!(),
                "::a_process_in_a_known_cgroup_is_placed_exactly"
            );
            let test = test.split_once("::").map_or(test, |(_, t)| t);
            let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {reason}");
        }
        use std::process::Command;
        assert!(process_place(u32::MAX).is_none(), "no such process");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            skipped("needs root");
            return;
        }
        let (mount, ours) = our_main_hierarchy().expect("a cgroup hierarchy to read");
        let base = mount
            .join(ours.trim_start_matches('/'))
            .join(format!("lockscope-place-{}.slice", std::process::id()));
        let unit = base.join("certbot-renew.service");
        let leaf = unit.join(format!("docker-{ID}.scope"));
        if let Err(e) = fs::create_dir_all(&leaf) {
            if matches!(
                e.raw_os_error(),
                Some(libc::EROFS | libc::EACCES | libc::EPERM)
            ) {
                skipped(&format!("{}: {e}", leaf.display()));
                return;
            }
            panic!("{}: {e}", leaf.display());
        }
        let mut child = Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("start sleep");
        let moved = fs::write(leaf.join("cgroup.procs"), child.id().to_string());
        let place = process_place(child.id());
        let _ = child.kill();
        let _ = child.wait();
        // Empty once the child is reaped; the kernel may need a moment to let go of it.
        for dir in [&leaf, &unit, &base] {
            for _ in 0..100 {
                if fs::remove_dir(dir).is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        moved.unwrap_or_else(|e| panic!("move into {}: {e}", leaf.display()));
        assert_eq!(
            place,
            Some(CgroupPlace {
                unit: Some("certbot-renew.service".into()),
                container: Some(docker(ID)),
            })
        );
        assert!(!base.exists(), "{} left behind", base.display());
    }

    #[test]
    fn docker_name_from_config_v2() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("containers").join(ID);
        fs::create_dir_all(&dir).unwrap();
        // Abridged from a real config.v2.json: the fields around Name stay.
        fs::write(
            dir.join("config.v2.json"),
            format!(
                r#"{{"StreamConfig":{{}},"State":{{"Running":true,"Pid":4242}},"ID":"{ID}",
                "Created":"2024-05-01T10:00:00Z","Path":"certbot","Args":["renew"],
                "Config":{{"Hostname":"269fa2e3c31a","Image":"certbot/certbot"}},
                "Name":"/certbot-renew","RestartCount":0,"Driver":"overlay2"}}"#
            ),
        )
        .unwrap();
        let other = tempfile::tempdir().unwrap();
        assert_eq!(
            container_name_in(&docker(ID), root.path(), other.path()),
            Some("certbot-renew".into())
        );
        // Another id, a podman ref, a path-like id: nothing.
        let id2 = ID.replace('2', "3");
        assert_eq!(
            container_name_in(&docker(&id2), root.path(), other.path()),
            None
        );
        assert_eq!(
            container_name_in(&podman(ID), root.path(), other.path()),
            None
        );
        assert_eq!(
            container_name_in(&docker("../containers"), root.path(), other.path()),
            None
        );
    }

    #[test]
    fn docker_refuses_broken_symlinked_fifo_and_huge_files() {
        let root = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let ids: Vec<String> = (0..4).map(|n| format!("{n}{}", &ID[1..])).collect();
        let path = |id: &str| {
            root.path()
                .join("containers")
                .join(id)
                .join("config.v2.json")
        };
        for id in &ids {
            fs::create_dir_all(path(id).parent().unwrap()).unwrap();
        }
        fs::write(path(&ids[0]), "{not json").unwrap();
        let target = root.path().join("elsewhere.json");
        fs::write(&target, r#"{"Name":"/planted"}"#).unwrap();
        std::os::unix::fs::symlink(&target, path(&ids[1])).unwrap();
        let fifo =
            std::ffi::CString::new(path(&ids[2]).into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let huge = fs::File::create(path(&ids[3])).unwrap();
        huge.set_len(DOCKER_CONFIG_MAX + 1).unwrap();
        for id in &ids {
            assert_eq!(
                container_name_in(&docker(id), root.path(), other.path()),
                None,
                "{id}"
            );
        }
        assert!(matches!(
            read_bounded(&path(&ids[2]), 10, true),
            Err(ReadError::NotRegular)
        ));
        assert!(matches!(
            read_bounded(&path(&ids[3]), DOCKER_CONFIG_MAX, true),
            Err(ReadError::TooLarge(_))
        ));
    }

    #[test]
    fn podman_name_from_containers_json() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("overlay-containers");
        fs::create_dir_all(&dir).unwrap();
        // As podman 4.3 wrote it on this project's VM (one more entry added).
        fs::write(
            dir.join("containers.json"),
            format!(
                r#"[{{"id":"{other}","names":["web"],"image":"","layer":"aa"}},
                {{"id":"{ID}","names":["lsprobe"],"image":"","layer":"60541a84",
                "metadata":"{{\"image-name\":\"\",\"name\":\"lsprobe\"}}",
                "created":"2026-12-02T03:06:22.384512121Z","flags":{{"MountLabel":""}}}}]"#,
                other = ID.replace('e', "d")
            ),
        )
        .unwrap();
        let docker_root = tempfile::tempdir().unwrap();
        assert_eq!(
            container_name_in(&podman(ID), docker_root.path(), root.path()),
            Some("lsprobe".into())
        );
        assert_eq!(
            container_name_in(
                &podman(&ID.replace('1', "0")),
                docker_root.path(),
                root.path()
            ),
            None
        );
        // LXC's id is its name; the others have no file we read.
        let lxc = ContainerRef {
            runtime: "lxc",
            id: "web01".into(),
        };
        assert_eq!(container_name(&lxc), Some("web01".into()));
        let k8s = ContainerRef {
            runtime: "kubernetes",
            id: ID.into(),
        };
        assert_eq!(
            container_name_in(&k8s, docker_root.path(), root.path()),
            None
        );
    }

    /// A real podman container (run by hand: `cargo test --lib -- --ignored podman`; needs
    /// root, podman and crun). On this project's VM (cgroup v1 hybrid) crun needed the
    /// hugetlb controller moved off cgroup v2 first (`mount -t cgroup -o hugetlb cgroup
    /// /sys/fs/cgroup/hugetlb`), the cgroupfs manager and lower rlimits than podman's default.
    #[test]
    #[ignore = "needs root, podman and a cgroup setup crun accepts"]
    fn podman_container_is_placed_and_named() {
        use std::process::Command;
        let rootfs = tempfile::tempdir().unwrap();
        let bin = rootfs.path().join("bin");
        fs::create_dir_all(&bin).unwrap();
        fs::copy("/bin/busybox", bin.join("busybox")).expect("busybox-static");
        std::os::unix::fs::symlink("busybox", bin.join("sleep")).unwrap();
        let name = format!("lockscope-place-{}", std::process::id());
        let out = Command::new("podman")
            .args(["--cgroup-manager=cgroupfs", "run", "-d", "--name", &name])
            .args([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
                "--rootfs",
            ])
            .arg(rootfs.path())
            .args(["/bin/sleep", "60"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let pid = Command::new("podman")
            .args(["inspect", "-f", "{{.State.Pid}}", &name])
            .output()
            .unwrap();
        let pid: u32 = String::from_utf8(pid.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let place = process_place(pid);
        let named = place
            .as_ref()
            .and_then(|p| p.container.as_ref())
            .and_then(container_name);
        let _ = Command::new("podman")
            .args(["rm", "-f", "-t", "0", &name])
            .output();
        let place = place.expect("the container's cgroup file");
        assert_eq!(
            place.container,
            Some(ContainerRef {
                runtime: "podman",
                id
            })
        );
        assert_eq!(named.as_deref(), Some(name.as_str()));
    }
}
