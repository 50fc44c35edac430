//! Where a process runs, from its `/proc/<pid>/cgroup`: the systemd unit and the container.
//! A pure parser, so it is tested (and fuzzed) anywhere; only Linux reads the file
//! (`linux/place.rs`).
//!
//! The text is hostile input: any process may sit in a cgroup its owner created and named
//! (a user's delegated `user@.service` subtree), so the names are what the cgroup tree says,
//! for display, never proof. Nothing here panics; names are capped and limited to the
//! characters their runtime allows.

/// Where a process runs: its systemd unit and its container, as far as its cgroup path tells.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CgroupPlace {
    /// The innermost `.service` or `.scope` segment of the path, not counting a container's
    /// own scope (`docker-<id>.scope`, `libpod-<id>.scope`, `cri-containerd-<id>.scope`, ...:
    /// that is the container, reported as such). So a process in a container usually has no
    /// unit (`/system.slice/docker-<id>.scope`), the user manager's unit for a rootless one
    /// (`user@1000.service`), or the container's own unit when systemd runs inside it and its
    /// units show in the path (`.../libpod-<id>.scope/system.slice/certbot.service`).
    /// A `libpod-conmon-<id>.scope` is podman's monitor, not the container: it is the unit.
    pub unit: Option<String>,
    /// The innermost container in the path (docker-in-docker: the inner one).
    pub container: Option<ContainerRef>,
}

/// A container as its cgroup path names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerRef {
    /// "docker", "podman", "containerd", "kubernetes", "cri-o" or "lxc". A container of a
    /// Kubernetes pod (a `kubepods` path, whatever its runtime: containerd, CRI-O, dockershim)
    /// is "kubernetes": the pod is what a user knows it by. "cri-o" and "containerd" are their
    /// scopes outside `kubepods` (CRI-O run by hand, nerdctl).
    pub runtime: &'static str,
    /// The runtime's container id: 64 hex digits, or LXC's container name.
    pub id: String,
}

/// Longest unit name systemd accepts (`UNIT_NAME_MAX` less the NUL).
const UNIT_NAME_MAX: usize = 255;
/// Longest LXC container name we report (LXC allows long names; a display needs none longer).
const LXC_NAME_MAX: usize = 253;

/// The place of a process from the text of its `/proc/<pid>/cgroup`.
///
/// cgroup v2 has one line, `0::/path`. cgroup v1 has one per hierarchy
/// (`9:name=systemd:/path`, `4:memory:/path`); on hybrid systems both. The path read is
/// systemd's own hierarchy (`name=systemd`), else the v2 line, else the first v1 line with a
/// path; the first line of each kind wins (a cgroup name with a newline in it cannot replace
/// a line printed before it). When that path shows no container, the other lines are searched
/// for one (a runtime may place a process in some hierarchies only).
pub(crate) fn parse_cgroup(proc_pid_cgroup: &str) -> CgroupPlace {
    let mut systemd = None;
    let mut unified = None;
    let mut others = Vec::new();
    for line in proc_pid_cgroup.lines() {
        let Some((id, rest)) = line.split_once(':') else {
            continue;
        };
        let Some((controllers, path)) = rest.split_once(':') else {
            continue;
        };
        if !path.starts_with('/') || id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if controllers.split(',').any(|c| c == "name=systemd") {
            systemd.get_or_insert(path);
        } else if id == "0" && controllers.is_empty() {
            unified.get_or_insert(path);
        } else {
            others.push(path);
        }
    }
    let main = systemd.or(unified).or_else(|| others.first().copied());
    let Some(main) = main else {
        return CgroupPlace::default();
    };
    let mut place = place_of_path(main);
    if place.container.is_none() {
        place.container = systemd
            .into_iter()
            .chain(unified)
            .chain(others.iter().copied())
            .find_map(|p| place_of_path(p).container);
    }
    place
}

/// The unit and container of one cgroup path.
fn place_of_path(path: &str) -> CgroupPlace {
    // `..` appears when a cgroup namespace looks at a cgroup outside it: not a name.
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .collect();
    let in_kubepods = segments
        .iter()
        .any(|s| *s == "kubepods" || s.starts_with("kubepods.") || s.starts_with("kubepods-"));
    let mut container = None;
    let mut unit = None;
    for (i, seg) in segments.iter().enumerate() {
        if let Some(found) = container_segment(&segments, i, in_kubepods) {
            container = Some(found);
            continue;
        }
        if let Some(name) = unit_name(seg) {
            unit = Some(name.to_string());
        }
    }
    CgroupPlace { unit, container }
}

/// The container that segment `i` of the path names, if it names one.
fn container_segment(segments: &[&str], i: usize, in_kubepods: bool) -> Option<ContainerRef> {
    let seg = segments[i];
    let parent = i.checked_sub(1).map(|p| segments[p]);
    let id_ref = |runtime: &'static str, id: &str| {
        is_container_id(id).then(|| ContainerRef {
            runtime: if in_kubepods { "kubernetes" } else { runtime },
            id: id.to_string(),
        })
    };
    // systemd cgroup driver: `<prefix>-<id>.scope`. The conmon scopes (podman's and CRI-O's
    // monitor processes) are not the container.
    if let Some(stem) = seg.strip_suffix(".scope") {
        if stem.starts_with("libpod-conmon-") || stem.starts_with("crio-conmon-") {
            return None;
        }
        const SCOPES: &[(&str, &str)] = &[
            ("docker-", "docker"),
            ("libpod-", "podman"),
            ("cri-containerd-", "containerd"),
            ("nerdctl-", "containerd"),
            ("crio-", "cri-o"),
        ];
        return SCOPES
            .iter()
            .find_map(|(prefix, runtime)| id_ref(runtime, stem.strip_prefix(prefix)?));
    }
    // podman's cgroupfs manager: `/libpod_parent/libpod-<id>` (measured, podman 4.3).
    if let Some(id) = seg.strip_prefix("libpod-") {
        return id_ref("podman", id);
    }
    // LXC 4+: `/lxc.payload.<name>`; older LXC: `/lxc/<name>`. `lxc.monitor.<name>` is the
    // monitor, not the container. LXC's id is the container's name.
    if let Some(name) = seg.strip_prefix("lxc.payload.") {
        return lxc_ref(name);
    }
    if parent == Some("lxc") && i == 1 {
        return lxc_ref(seg);
    }
    // cgroupfs drivers: a bare id under its runtime's parent. docker: `/docker/<id>` (also
    // nested: docker-in-docker gives `/docker/<outer>/docker/<inner>`); Kubernetes:
    // `/kubepods/<qos>/pod<uid>/<id>` or `/kubepods/pod<uid>/<id>`; containerd (nerdctl, ctr):
    // `/<namespace>/<id>` at the top, for its usual namespaces.
    let parent = parent?;
    if parent == "docker" {
        return id_ref("docker", seg);
    }
    if in_kubepods && parent.starts_with("pod") {
        return id_ref("kubernetes", seg);
    }
    if i == 1 && matches!(parent, "default" | "k8s.io" | "moby") {
        return id_ref("containerd", seg);
    }
    None
}

fn lxc_ref(name: &str) -> Option<ContainerRef> {
    let valid = !name.is_empty()
        && name.len() <= LXC_NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    valid.then(|| ContainerRef {
        runtime: "lxc",
        id: name.to_string(),
    })
}

/// The ids docker, podman, containerd and CRI-O give containers: 64 hex digits.
fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `seg` as a systemd unit name, if it is a `.service` or `.scope` unit: a non-empty name of
/// the characters systemd allows, at most `UNIT_NAME_MAX` long.
fn unit_name(seg: &str) -> Option<&str> {
    let stem = seg
        .strip_suffix(".service")
        .or_else(|| seg.strip_suffix(".scope"))?;
    let valid = !stem.is_empty()
        && seg.len() <= UNIT_NAME_MAX
        && seg.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_' | b'.' | b'@' | b'\\')
        });
    valid.then_some(seg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4c58b5ff94706deda75a150742b9b00e4c58b5ff94706deda75a150742b9b00e";
    const ID2: &str = "269fa2e3c31aeaa152daa3450e49575b7fd5494ed79f649e48ec9958f188ce1e";

    fn v2(path: &str) -> CgroupPlace {
        parse_cgroup(&format!("0::{path}\n"))
    }

    fn container(runtime: &'static str, id: &str) -> Option<ContainerRef> {
        Some(ContainerRef {
            runtime,
            id: id.to_string(),
        })
    }

    fn unit(place: &CgroupPlace) -> Option<&str> {
        place.unit.as_deref()
    }

    /// A cgroup v1 file as a hybrid systemd host prints it: every controller, then `0::`.
    fn v1(path: &str) -> String {
        let controllers = [
            "name=systemd",
            "pids",
            "blkio",
            "freezer",
            "devices",
            "memory",
            "cpuset",
            "cpu,cpuacct",
            "net_cls,net_prio",
            "perf_event",
            "hugetlb",
            "misc",
        ];
        let mut text = String::new();
        for (n, c) in controllers.iter().enumerate() {
            text.push_str(&format!("{}:{c}:{path}\n", 12 - n));
        }
        text.push_str(&format!("0::{path}\n"));
        text
    }

    #[test]
    fn systemd_units() {
        for (path, expected) in [
            ("/system.slice/certbot.service", Some("certbot.service")),
            (
                "/system.slice/snap.certbot.renew.service",
                Some("snap.certbot.renew.service"),
            ),
            ("/system.slice/cron.service", Some("cron.service")),
            (
                "/user.slice/user-0.slice/session-3.scope",
                Some("session-3.scope"),
            ),
            (
                "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
                Some("foo.service"),
            ),
            (
                "/user.slice/user-1000.slice/user@1000.service/init.scope",
                Some("init.scope"),
            ),
            // systemd escapes dashes in instance names as \x2d.
            (
                r"/system.slice/system-getty.slice/getty@tty1.service",
                Some("getty@tty1.service"),
            ),
            (
                r"/system.slice/system-systemd\x2dfsck.slice/systemd-fsck@dev-vda1.service",
                Some("systemd-fsck@dev-vda1.service"),
            ),
            ("/init.scope", Some("init.scope")),
            ("/", None),
            ("/system.slice", None),
            ("/user.slice/user-1000.slice", None),
        ] {
            let place = v2(path);
            assert_eq!(unit(&place), expected, "{path}");
            assert_eq!(place.container, None, "{path}");
        }
    }

    #[test]
    fn docker_cgroupfs_and_systemd_drivers_and_nesting() {
        let cgroupfs = v2(&format!("/docker/{ID}"));
        assert_eq!(cgroupfs.container, container("docker", ID));
        assert_eq!(unit(&cgroupfs), None);
        let systemd = v2(&format!("/system.slice/docker-{ID}.scope"));
        assert_eq!(systemd.container, container("docker", ID));
        assert_eq!(
            unit(&systemd),
            None,
            "the container's own scope is not the unit"
        );
        // docker-in-docker: the inner container is where the process runs.
        let nested = parse_cgroup(&v1(&format!("/docker/{ID}/docker/{ID2}")));
        assert_eq!(nested.container, container("docker", ID2));
        let nested_systemd = v2(&format!(
            "/system.slice/docker-{ID}.scope/system.slice/docker-{ID2}.scope"
        ));
        assert_eq!(nested_systemd.container, container("docker", ID2));
        // Rootless docker: under the user's manager.
        let rootless = v2(&format!(
            "/user.slice/user-1000.slice/user@1000.service/user.slice/docker-{ID}.scope"
        ));
        assert_eq!(rootless.container, container("docker", ID));
        assert_eq!(unit(&rootless), Some("user@1000.service"));
        // systemd inside the container: its unit shows.
        let inside = v2(&format!(
            "/system.slice/docker-{ID}.scope/system.slice/certbot.service"
        ));
        assert_eq!(inside.container, container("docker", ID));
        assert_eq!(unit(&inside), Some("certbot.service"));
        // Not an id: not a container.
        assert_eq!(v2("/docker/buildkit").container, None);
        assert_eq!(v2("/system.slice/docker.service").container, None);
        assert_eq!(
            unit(&v2("/system.slice/docker.service")),
            Some("docker.service")
        );
    }

    #[test]
    fn podman_rootful_rootless_cgroupfs_and_conmon() {
        let rootful = v2(&format!("/machine.slice/libpod-{ID}.scope"));
        assert_eq!(rootful.container, container("podman", ID));
        assert_eq!(unit(&rootful), None);
        let sub = v2(&format!("/machine.slice/libpod-{ID}.scope/container"));
        assert_eq!(sub.container, container("podman", ID));
        assert_eq!(unit(&sub), None);
        let rootless = v2(&format!(
            "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"
        ));
        assert_eq!(rootless.container, container("podman", ID));
        assert_eq!(unit(&rootless), Some("user@1000.service"));
        let conmon = v2(&format!("/machine.slice/libpod-conmon-{ID}.scope"));
        assert_eq!(conmon.container, None);
        assert_eq!(unit(&conmon).map(|u| u.len()), Some(64 + 20));
        // What podman 4.3 with --cgroup-manager=cgroupfs printed on this project's VM
        // (cgroup v1 hybrid), for a container's process.
        let measured = [
            "10:hugetlb:/libpod_parent/libpod-{ID}",
            "9:name=systemd:/libpod_parent/libpod-{ID}",
            "8:pids:/libpod_parent/libpod-{ID}",
            "4:memory:/libpod_parent/libpod-{ID}",
            "1:cpu:/libpod_parent/libpod-{ID}",
            "0::/libpod_parent/libpod-{ID}",
        ]
        .join("\n")
        .replace("{ID}", ID2);
        let place = parse_cgroup(&measured);
        assert_eq!(place.container, container("podman", ID2));
        assert_eq!(unit(&place), None);
    }

    #[test]
    fn containerd_and_nerdctl() {
        let nerdctl = v2(&format!("/system.slice/nerdctl-{ID}.scope"));
        assert_eq!(nerdctl.container, container("containerd", ID));
        assert_eq!(
            v2(&format!("/default/{ID}")).container,
            container("containerd", ID)
        );
        let ctr = parse_cgroup(&v1(&format!("/k8s.io/{ID}")));
        assert_eq!(ctr.container, container("containerd", ID));
        // A namespace deeper down is not containerd's layout.
        assert_eq!(v2(&format!("/system.slice/default/{ID}")).container, None);
    }

    #[test]
    fn kubernetes_pods_whatever_the_runtime() {
        let pod = "kubepods-burstable-pod0f1c2d3e_4b5a_6978_8a9b_0c1d2e3f4a5b";
        let containerd = v2(&format!(
            "/kubepods.slice/kubepods-burstable.slice/{pod}.slice/cri-containerd-{ID}.scope"
        ));
        assert_eq!(containerd.container, container("kubernetes", ID));
        assert_eq!(unit(&containerd), None);
        let crio = v2(&format!(
            "/kubepods.slice/kubepods-besteffort.slice/{pod}.slice/crio-{ID}.scope"
        ));
        assert_eq!(crio.container, container("kubernetes", ID));
        let crio_conmon = v2(&format!(
            "/kubepods.slice/kubepods-besteffort.slice/{pod}.slice/crio-conmon-{ID}.scope"
        ));
        assert_eq!(crio_conmon.container, None);
        let guaranteed = v2(&format!(
            "/kubepods.slice/{pod}.slice/cri-containerd-{ID}.scope"
        ));
        assert_eq!(guaranteed.container, container("kubernetes", ID));
        let cgroupfs = parse_cgroup(&v1(&format!(
            "/kubepods/besteffort/pod0f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b/{ID}"
        )));
        assert_eq!(cgroupfs.container, container("kubernetes", ID));
        let cgroupfs_guaranteed = v2(&format!(
            "/kubepods/pod0f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b/{ID}"
        ));
        assert_eq!(cgroupfs_guaranteed.container, container("kubernetes", ID));
        // The pod cgroup itself (the pause process' parent) is no container.
        assert_eq!(v2(&format!("/kubepods.slice/{pod}.slice")).container, None);
        // CRI-O outside Kubernetes keeps its own name.
        assert_eq!(
            v2(&format!("/machine.slice/crio-{ID}.scope")).container,
            container("cri-o", ID)
        );
    }

    #[test]
    fn lxc_payload_and_old_layout() {
        let payload = v2("/lxc.payload.web01/system.slice/certbot.service");
        assert_eq!(payload.container, container("lxc", "web01"));
        assert_eq!(unit(&payload), Some("certbot.service"));
        assert_eq!(
            v2("/lxc.payload.web01").container,
            container("lxc", "web01")
        );
        assert_eq!(v2("/lxc.monitor.web01").container, None);
        let old = parse_cgroup(&v1("/lxc/mail.example"));
        assert_eq!(old.container, container("lxc", "mail.example"));
        assert_eq!(
            v2("/lxc/web01/init.scope").container,
            container("lxc", "web01")
        );
        // Not at the top: somebody's directory named lxc.
        assert_eq!(v2("/system.slice/lxc/web01").container, None);
        assert_eq!(v2("/lxc.payload.").container, None);
    }

    #[test]
    fn picks_systemds_hierarchy_then_v2_then_any() {
        // This VM's own cgroup: systemd's hierarchy at the root, memory elsewhere.
        let vm = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/4c58b5ff94706deda75a150742b9b00e\n0::/\n";
        assert_eq!(parse_cgroup(vm), CgroupPlace::default());
        let hybrid = "1:name=systemd:/system.slice/certbot.service\n0::/other.service\n";
        assert_eq!(unit(&parse_cgroup(hybrid)), Some("certbot.service"));
        let v1_only = "3:cpu,cpuacct:/system.slice/cron.service\n2:memory:/x.service\n";
        assert_eq!(unit(&parse_cgroup(v1_only)), Some("cron.service"));
        // The first line of systemd's hierarchy wins over a later forged one.
        let forged =
            "1:name=systemd:/user.slice/evil\n1:name=systemd:/system.slice/certbot.service\n";
        assert_eq!(unit(&parse_cgroup(forged)), None);
        // A container seen in another hierarchy only.
        let partial = format!("1:name=systemd:/system.slice/x.service\n2:memory:/docker/{ID}\n");
        let place = parse_cgroup(&partial);
        assert_eq!(
            (unit(&place), place.container.clone()),
            (Some("x.service"), container("docker", ID))
        );
        // A cgroup namespace's view of a cgroup outside it.
        assert_eq!(
            unit(&v2("/../../system.slice/cron.service")),
            Some("cron.service")
        );
    }

    #[test]
    fn garbage_and_hostile_names() {
        for text in [
            "",
            "\n",
            "garbage",
            "0:",
            "x::/a.service",
            "0::relative.service",
            ":::",
        ] {
            assert_eq!(parse_cgroup(text), CgroupPlace::default(), "{text:?}");
        }
        let long = format!("/system.slice/{}.service", "a".repeat(300));
        assert_eq!(unit(&v2(&long)), None);
        assert_eq!(unit(&v2("/system.slice/a b.service")), None);
        assert_eq!(unit(&v2("/system.slice/\u{202e}x.service")), None);
        assert_eq!(unit(&v2("/system.slice/.service")), None);
        assert_eq!(v2(&format!("/docker/{}", "g".repeat(64))).container, None);
        assert_eq!(
            v2(&format!("/lxc.payload.{}", "a".repeat(300))).container,
            None
        );
        assert_eq!(v2("/lxc.payload.a\u{1b}[31m").container, None);
    }
}

/// Fuzzing, bounded like proc_parse's (`PROPTEST_CASES=N`); Unix-only like proptest itself.
#[cfg(all(test, unix))]
mod fuzz {
    use super::*;
    use crate::sys::proc_parse::fuzz::config;
    use proptest::prelude::*;

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("docker".to_string()),
            Just("kubepods.slice".to_string()),
            Just("lxc".to_string()),
            Just("default".to_string()),
            Just("libpod_parent".to_string()),
            "(docker-|libpod-|libpod-conmon-|crio-|cri-containerd-|nerdctl-)?[0-9a-f]{60,66}(\\.scope)?",
            "(lxc\\.payload\\.|pod)?[a-z0-9._@:\\\\-]{0,20}(\\.service|\\.scope|\\.slice)?",
            "[^/\n]{0,30}",
        ]
    }

    proptest! {
        #![proptest_config(config(3000))]

        /// Anything at all: a place, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = parse_cgroup(&text);
        }

        /// Paths of the segments runtimes use: never a panic, names within their limits.
        #[test]
        fn cgrouplike_paths_never_panic(
            lines in prop::collection::vec(
                ("[0-9]{0,2}", "(name=systemd|memory|cpu,cpuacct|)", prop::collection::vec(segment(), 0..8)),
                0..5,
            )
        ) {
            let text: String = lines
                .iter()
                .map(|(id, c, segs)| format!("{id}:{c}:/{}\n", segs.join("/")))
                .collect();
            let place = parse_cgroup(&text);
            if let Some(unit) = &place.unit {
                prop_assert!(unit.len() <= UNIT_NAME_MAX && !unit.contains('/'));
            }
            if let Some(c) = &place.container {
                prop_assert!(!c.id.is_empty() && c.id.len() <= LXC_NAME_MAX && !c.id.contains('/'));
            }
        }
    }
}
