//! `lockscope serve --metrics` and `status --format prometheus` with real components: real
//! certbot holding the locks, the built `lockscope` binary, a real Prometheus server (Debian
//! `prometheus`) scraping it, and `promtool` checking the exposition and the alert rules.
//! These tests fail (never skip) when prometheus or promtool is missing: .ci/run installs them.

use crate::common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `lockscope serve --metrics 127.0.0.1:0 ...`, killed on drop.
pub(crate) struct Serve {
    pub(crate) child: Child,
    /// `127.0.0.1:PORT`, as announced on stdout.
    pub(crate) addr: String,
}

impl Serve {
    pub(crate) fn start(args: &[&std::ffi::OsStr]) -> Serve {
        Serve::start_with_stderr(args, Stdio::inherit())
    }

    /// As [`Serve::start`], with serve's stderr going to `stderr`.
    fn start_with_stderr(args: &[&std::ffi::OsStr], stderr: Stdio) -> Serve {
        let mut child = lockscope()
            .args(["serve", "--metrics", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start lockscope serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read serve's first line");
        let addr = line
            .trim()
            .strip_prefix("serving http://")
            .and_then(|rest| rest.strip_suffix("/metrics"))
            .unwrap_or_else(|| panic!("serve announced {line:?}"))
            .to_string();
        Serve { child, addr }
    }

    pub(crate) fn scrape(&self) -> String {
        let (status, head, body) = http(&self.addr, "GET", "/metrics");
        assert_eq!(status, 200, "{head}\n{body}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{head}"
        );
        body
    }

    /// Scrapes until `done(body)` or 15 s, returning the last body.
    pub(crate) fn scrape_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let body = self.scrape();
            if done(&body) {
                return body;
            }
            assert!(Instant::now() < deadline, "never saw {what}:\n{body}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`: (status, head, body). Plain TcpStream: the
/// endpoint under test is the only thing spoken to, and it must answer a minimal client.
pub(crate) fn http(addr: &str, method: &str, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8(response).expect("UTF-8 response");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {response:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    (status, head.to_string(), body.to_string())
}

/// The value of the one sample `name{labels}` (labels exactly as encoded, in order).
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap_or_else(|e| panic!("{series} {v}: {e}")))
}

/// A label value as the text format writes it: `\`, `"` and newline escaped.
fn escaped(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn dir_label(dir: &Path) -> String {
    escaped(dir.to_str().unwrap())
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap()
        .trim_end()
        .to_string()
}

const FAMILIES: [&str; 6] = [
    "lockscope_lock_held",
    "lockscope_lock_state",
    "lockscope_lock_held_seconds",
    "lockscope_lock_holder_info",
    "lockscope_lock_warnings",
    "lockscope_probe_errors_total",
];

/// The flight recorder's families, which `serve` adds (not `status`): name and TYPE.
const RECORDER_FAMILIES: [(&str, &str); 5] = [
    ("lockscope_recorder_source", "gauge"),
    ("lockscope_recorder_lost_events_total", "counter"),
    ("lockscope_lock_acquisitions_total", "counter"),
    ("lockscope_lock_refused_total", "counter"),
    ("lockscope_lock_hold_duration_seconds", "histogram"),
];

/// `serve`'s recorder families are there, with their types, counting from the kernel's lock
/// events (the tests run as root).
fn assert_recorder_families(body: &str) {
    for (family, kind) in RECORDER_FAMILIES {
        assert!(
            body.contains(&format!("# TYPE {family} {kind}\n")),
            "no TYPE {kind} for {family}:\n{body}"
        );
    }
    assert_eq!(
        sample(body, "lockscope_recorder_source{source=\"kernel\"}"),
        Some(1.0),
        "{body}"
    );
}

fn assert_families(body: &str) {
    for family in FAMILIES {
        let kind = if family.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        assert!(
            body.contains(&format!("# HELP {family} ")),
            "no HELP for {family}:\n{body}"
        );
        assert!(
            body.contains(&format!("# TYPE {family} {kind}\n")),
            "no TYPE {kind} for {family}:\n{body}"
        );
    }
    // Hostile names must not forge lines: every line is a comment or one of our samples.
    for line in body.lines() {
        assert!(
            line.starts_with("# ")
                || FAMILIES.iter().any(|f| line.starts_with(f))
                || RECORDER_FAMILIES.iter().any(|(f, _)| line.starts_with(f)),
            "a line that is no sample of ours: {line:?}"
        );
    }
}

/// `promtool check metrics` (Prometheus's own parser and linter) accepts the exposition.
fn promtool_accepts(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is required (Debian package prometheus; .ci/run installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The directories of the direct-scrape tests: held by certbot, free (certbot killed), missing,
/// and one whose name has `"`, `\` and a newline (held by certbot too).
struct Scene {
    _root: tempfile::TempDir,
    held: PathBuf,
    free: PathBuf,
    missing: PathBuf,
    hostile: PathBuf,
    certbot: CertbotHolder,
    hostile_certbot: CertbotHolder,
}

fn scene() -> Scene {
    let root = tempfile::tempdir().unwrap();
    let held = root.path().join("held");
    let free = root.path().join("free");
    let missing = root.path().join("missing");
    let hostile = root.path().join("we\"ird\\dir\nx");
    for dir in [&held, &free, &hostile] {
        std::fs::create_dir(dir).unwrap();
    }
    let certbot = certbot_lock_dir(&held).expect_locked();
    certbot_lock_dir(&free).expect_locked().kill();
    let hostile_certbot = certbot_lock_dir(&hostile).expect_locked();
    Scene {
        _root: root,
        held,
        free,
        missing,
        hostile,
        certbot,
        hostile_certbot,
    }
}

impl Scene {
    fn dirs(&self) -> Vec<&std::ffi::OsStr> {
        [&self.held, &self.free, &self.missing, &self.hostile]
            .map(|d| d.as_os_str())
            .to_vec()
    }

    /// The checks `serve` and `status --format prometheus` share.
    fn check(&self, body: &str) {
        assert_families(body);
        let (held, free, missing, hostile) = (
            dir_label(&self.held),
            dir_label(&self.free),
            dir_label(&self.missing),
            dir_label(&self.hostile),
        );
        for (dir, expected_held, expected_state) in [
            (&held, 1.0, "held"),
            (&free, 0.0, "free"),
            (&missing, 0.0, "missing"),
            (&hostile, 1.0, "held"),
        ] {
            assert_eq!(
                sample(body, &format!("lockscope_lock_held{{dir=\"{dir}\"}}")),
                Some(expected_held),
                "{dir}:\n{body}"
            );
            for state in [
                "absent",
                "free",
                "held",
                "missing",
                "not-responding",
                "error",
            ] {
                let value = sample(
                    body,
                    &format!("lockscope_lock_state{{dir=\"{dir}\",state=\"{state}\"}}"),
                );
                let expected = if state == expected_state { 1.0 } else { 0.0 };
                assert_eq!(value, Some(expected), "{dir} {state}:\n{body}");
            }
            for kind in [
                "orphaned-lock",
                "flock",
                "network-filesystem",
                "holder-not-visible",
                "holder-not-permitted",
            ] {
                let value = sample(
                    body,
                    &format!("lockscope_lock_warnings{{dir=\"{dir}\",kind=\"{kind}\"}}"),
                );
                assert_eq!(value, Some(0.0), "{dir} {kind}:\n{body}");
            }
        }
        let held_for = sample(
            body,
            &format!("lockscope_lock_held_seconds{{dir=\"{held}\"}}"),
        )
        .expect("held_seconds of the held dir");
        assert!(held_for > 0.0 && held_for < 600.0, "{held_for}");
        assert_eq!(
            sample(
                body,
                &format!("lockscope_lock_held_seconds{{dir=\"{free}\"}}")
            ),
            Some(0.0)
        );
        for (dir, pid) in [
            (&held, self.certbot.pid),
            (&hostile, self.hostile_certbot.pid),
        ] {
            let series = format!(
                "lockscope_lock_holder_info{{dir=\"{dir}\",pid=\"{pid}\",program=\"{}\"}}",
                escaped(&comm(pid))
            );
            assert_eq!(sample(body, &series), Some(1.0), "{series}:\n{body}");
        }
        assert_eq!(
            body.matches("lockscope_lock_holder_info{").count(),
            2,
            "one holder series per held dir:\n{body}"
        );
        // Command lines are opt-in: by default nothing of certbot's arguments is exported.
        assert!(!body.contains("certbot_peer.py"), "{body}");
        assert!(!body.contains("command=\""), "{body}");
        promtool_accepts(body);
    }
}

#[test]
fn serve_exports_every_family_with_hostile_names_escaped() {
    let scene = scene();
    let serve = Serve::start(&scene.dirs());
    let hostile = dir_label(&scene.hostile);
    let body = serve.scrape_until("all four directories", |body| {
        body.matches("lockscope_lock_held{").count() == 4
    });
    // The raw name (with its newline) never appears; the escaped one does.
    assert!(body.contains(&format!("dir=\"{hostile}\"")), "{body}");
    assert!(hostile.contains("we\\\"ird\\\\dir\\nx"), "{hostile}");
    scene.check(&body);
    assert_recorder_families(&body);
    assert_eq!(
        sample(&body, "lockscope_probe_errors_total"),
        Some(0.0),
        "a missing dir is not a probe error"
    );

    // The metrics follow the monitor: certbot's release shows on the next scrapes.
    let held = dir_label(&scene.held);
    let held_series = format!("lockscope_lock_held{{dir=\"{held}\"}}");
    let Scene { certbot, .. } = scene;
    certbot.release();
    let body = serve.scrape_until("the release", |body| {
        sample(body, &held_series) == Some(0.0)
    });
    assert_eq!(
        sample(
            &body,
            &format!("lockscope_lock_state{{dir=\"{held}\",state=\"absent\"}}")
        ),
        Some(1.0),
        "certbot deletes its file:\n{body}"
    );
    assert_eq!(body.matches("lockscope_lock_holder_info{").count(), 1);

    let (status, _, _) = http(&serve.addr, "GET", "/other");
    assert_eq!(status, 404);
    let (status, head, _) = http(&serve.addr, "POST", "/metrics");
    assert_eq!(status, 405, "{head}");
}

#[test]
fn a_large_scrape_is_one_body_with_its_length() {
    // 400 directories make an exposition of ~330 KB: past tiny_http's default chunking
    // threshold (serve's server until issue 21), where a response became chunked (minimal clients and this test's reader see
    // chunk sizes inside the text).
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..400)
        .map(|i| root.path().join(format!("d{i:03}")))
        .collect();
    for d in &dirs {
        std::fs::create_dir(d).unwrap();
    }
    let args: Vec<&std::ffi::OsStr> = dirs.iter().map(|d| d.as_os_str()).collect();
    let serve = Serve::start(&args);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, head, body) = http(&serve.addr, "GET", "/metrics");
        assert_eq!(status, 200);
        let head = head.to_ascii_lowercase();
        assert!(!head.contains("transfer-encoding"), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        if body.matches("lockscope_lock_held{").count() == dirs.len() {
            assert_families(&body);
            promtool_accepts(&body);
            break;
        }
        assert!(Instant::now() < deadline, "never saw all 400 dirs");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_adds_command_lines_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let certbot = certbot_lock_dir(dir.path()).expect_locked();
    let serve = Serve::start(&["--metrics-command-line".as_ref(), dir.path().as_os_str()]);
    let body = serve.scrape_until("the holder", |body| {
        body.contains("lockscope_lock_holder_info{")
    });
    let line = body
        .lines()
        .find(|l| l.starts_with("lockscope_lock_holder_info{"))
        .unwrap();
    assert!(line.contains(&format!("pid=\"{}\"", certbot.pid)), "{line}");
    assert!(line.contains("command=\""), "{line}");
    assert!(line.contains("certbot_peer.py hold"), "{line}");
    promtool_accepts(&body);
}

#[test]
fn status_format_prometheus_matches_serve_and_replaces_the_file_in_one_rename() {
    let scene = scene();
    let out = run(lockscope()
        .args(["status", "--format", "prometheus"])
        .args(scene.dirs()));
    // As the table: a missing directory makes status exit 2; the metrics are still printed.
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    scene.check(&String::from_utf8(out.stdout).unwrap());

    let textfile_dir = tempfile::tempdir().unwrap();
    let file = textfile_dir.path().join("lockscope.prom");
    std::fs::write(&file, "old contents\n").unwrap();
    // A hard link keeps the old inode reachable: a rename leaves it untouched, an in-place
    // rewrite would change it.
    let keep_old = textfile_dir.path().join("old-inode");
    std::fs::hard_link(&file, &keep_old).unwrap();
    let out = run(lockscope()
        .args(["status", "--format", "prometheus", "--output"])
        .arg(&file)
        .args(scene.dirs()));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty(), "nothing on stdout with --output");
    scene.check(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(
        std::fs::read_to_string(&keep_old).unwrap(),
        "old contents\n",
        "the old file was replaced by a rename, not rewritten"
    );
    let mut names: Vec<String> = std::fs::read_dir(textfile_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["lockscope.prom", "old-inode"],
        "no temporary file left"
    );

    // A file that cannot be written: exit 2, a message, nothing created.
    let out = run(lockscope()
        .args(["status", "--format", "prometheus", "--output"])
        .arg(textfile_dir.path().join("no-such-dir/x.prom"))
        .arg(&scene.held));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot write"),
        "{out:?}"
    );
}

#[test]
fn status_json_flag_and_format_json_agree_and_output_needs_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let a = run(lockscope().args(["status", "--json"]).arg(dir.path()));
    let b = run(lockscope()
        .args(["status", "--format", "json"])
        .arg(dir.path()));
    assert_eq!(a.status.code(), Some(0));
    assert_eq!(a.stdout, b.stdout);
    let json: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(json[0]["state"], "absent");
    let text = run(lockscope()
        .args(["status", "--format", "text"])
        .arg(dir.path()));
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("DIR "));

    let out = run(lockscope()
        .args(["status", "--output"])
        .arg(dir.path().join("x.prom"))
        .arg(dir.path()));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format prometheus"));
    assert!(!dir.path().join("x.prom").exists());
    let out = run(lockscope()
        .args(["status", "--json", "--format", "text"])
        .arg(dir.path()));
    assert_eq!(out.status.code(), Some(2), "--json conflicts with --format");

    // HOST:DIR operands are for the ssh commands; the metrics are this machine's.
    for args in [
        &["status", "--format", "prometheus", "web1:/etc/letsencrypt"][..],
        &["serve", "--metrics", "0", "web1:/etc/letsencrypt"][..],
    ] {
        let out = run(lockscope()
            .args(args)
            .env("LOCKSCOPE_SSH_COMMAND", "/bin/false"));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("local directories only"),
            "{args:?}: {out:?}"
        );
    }
}

#[test]
fn serve_refuses_an_address_it_cannot_bind_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = run(lockscope()
        .args(["serve", "--metrics", &port.to_string()])
        .arg(dir.path()));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    for bad in ["nonsense", "127.0.0.1:99999", ":"] {
        let out = run(lockscope()
            .args(["serve", "--metrics", bad])
            .arg(dir.path()));
        assert_eq!(out.status.code(), Some(2), "{bad}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--metrics"),
            "{bad}: {out:?}"
        );
    }
    let out = run(lockscope().args(["serve", "--metrics", "0"]));
    assert_eq!(out.status.code(), Some(2), "DIR or --watchlist is required");

    let mut serve = Serve::start(&[dir.path().as_os_str()]);
    assert!(serve.addr.starts_with("127.0.0.1:"), "{}", serve.addr);
    serve.scrape_until("the dir", |b| b.contains("lockscope_lock_held{"));
    // SAFETY: kill has no memory-safety preconditions; the pid is our own child's.
    assert_eq!(
        unsafe { libc::kill(serve.child.id() as i32, libc::SIGTERM) },
        0
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = serve.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn serve_watches_a_saved_watch_list() {
    let config = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("lockscope.toml"),
        format!(
            "active = \"prod\"\n\n[[list]]\nname = \"prod\"\ndirs = [{:?}]\n",
            dir.path().to_str().unwrap()
        ),
    )
    .unwrap();
    let certbot = certbot_lock_dir(dir.path()).expect_locked();
    let serve = Serve::start(&[
        "--watchlist".as_ref(),
        "prod".as_ref(),
        "--config-dir".as_ref(),
        config.path().as_os_str(),
    ]);
    let series = format!("lockscope_lock_held{{dir=\"{}\"}}", dir_label(dir.path()));
    serve.scrape_until("the list's dir held", |b| sample(b, &series) == Some(1.0));
    drop(certbot);

    let out = run(lockscope()
        .args([
            "serve",
            "--metrics",
            "0",
            "--watchlist",
            "nope",
            "--config-dir",
        ])
        .arg(config.path()));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no watch list named \"nope\""), "{stderr}");
    assert!(stderr.contains("prod"), "names the saved lists: {stderr}");
}

/// The app saves remote rows as `HOST:DIR` in the same lists. `serve` exports local directories
/// only, so such an entry is skipped with one warning, never exported as a local directory that
/// is "not held" (it was never probed). A list with nothing local is refused.
#[test]
fn serve_skips_a_watch_lists_remote_entries_with_one_warning() {
    let config = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("lockscope.toml"),
        format!(
            "active = \"prod\"\n\n[[list]]\nname = \"prod\"\n\
             dirs = [{:?}, \"web1:/etc/letsencrypt\", \"admin@web2:/etc/letsencrypt\"]\n\n\
             [[list]]\nname = \"far\"\ndirs = [\"web1:/etc/letsencrypt\"]\n",
            dir.path().to_str().unwrap()
        ),
    )
    .unwrap();
    let certbot = certbot_lock_dir(dir.path()).expect_locked();
    let stderr_path = config.path().join("serve.stderr");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let serve = Serve::start_with_stderr(
        &[
            "--watchlist".as_ref(),
            "prod".as_ref(),
            "--config-dir".as_ref(),
            config.path().as_os_str(),
        ],
        Stdio::from(stderr),
    );
    let series = format!("lockscope_lock_held{{dir=\"{}\"}}", dir_label(dir.path()));
    let body = serve.scrape_until("the list's local dir held", |b| {
        sample(b, &series) == Some(1.0)
    });
    assert!(
        !body.contains("web1") && !body.contains("web2"),
        "a remote entry was exported as a local directory:\n{body}"
    );
    drop(certbot);
    drop(serve);
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("remote")).collect();
    assert_eq!(warnings.len(), 1, "one warning: {stderr}");
    assert!(
        warnings[0].contains("2 remote")
            && warnings[0].contains("web1:/etc/letsencrypt")
            && warnings[0].contains("admin@web2:/etc/letsencrypt")
            && warnings[0].contains("local directories only"),
        "says how many, which and why: {stderr}"
    );

    let out = run(lockscope()
        .args([
            "serve",
            "--metrics",
            "0",
            "--watchlist",
            "far",
            "--config-dir",
        ])
        .arg(config.path()));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no local directories") && stderr.contains("web1:/etc/letsencrypt"),
        "{stderr}"
    );
}

/// A real Prometheus server on 127.0.0.1, its storage in a temporary directory, killed on drop.
pub(crate) struct Prometheus {
    child: Child,
    pub(crate) addr: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    pub(crate) fn start(scrape_addr: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/prometheus-rules.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {rules:?}\n\
                 scrape_configs:\n  - job_name: lockscope\n    static_configs:\n      - targets: [\"{scrape_addr}\"]\n"
            ),
        )
        .unwrap();
        // Prometheus picks its port (:0) and logs it: a port found free here and handed over
        // could be taken by another test before Prometheus binds it.
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg("--web.listen-address=127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus is required (Debian package prometheus; .ci/run installs it)");
        let mut server = Prometheus {
            child,
            addr: String::new(),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        server.addr = loop {
            if let Some(addr) = listening_address(&server.log()) {
                break addr;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!(
                    "prometheus exited {status} before listening:\n{}",
                    server.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not say where it listens:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        while http(&server.addr, "GET", "/-/ready").0 != 200 {
            assert!(
                Instant::now() < deadline,
                "prometheus not ready:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query through the HTTP API: the `data.result` array.
    pub(crate) fn query(&self, query: &str) -> Vec<serde_json::Value> {
        let (status, _, body) = http(&self.addr, "GET", &format!("/api/v1/query?query={query}"));
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], "success", "{body}");
        json["data"]["result"].as_array().unwrap().clone()
    }

    /// `lockscope_lock_held` of `dir` as Prometheus has it now, if it has a sample.
    fn held(&self, dir: &str) -> Option<String> {
        self.query("lockscope_lock_held")
            .into_iter()
            .find(|r| r["metric"]["dir"] == dir)
            .map(|r| r["value"][1].as_str().unwrap().to_string())
    }

    /// Waits up to 30 s for the instant query `query` to be one sample of `value`.
    fn wait_for(&self, query: &str, value: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let encoded = query
                .replace('%', "%25")
                .replace('"', "%22")
                .replace(' ', "%20")
                .replace('|', "%7C")
                .replace('~', "%7E")
                .replace('[', "%5B")
                .replace(']', "%5D");
            let result = self.query(&encoded);
            if result.len() == 1 && result[0]["value"][1] == value {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus never had {query} == {value} (has {result:?}):\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_held(&self, dir: &str, value: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.held(dir).as_deref() != Some(value) {
            assert!(
                Instant::now() < deadline,
                "Prometheus never had lockscope_lock_held{{dir={dir:?}}} == {value} (has {:?}):\n{}",
                self.held(dir),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in Prometheus's `msg="Listening on" address=127.0.0.1:PORT` log line: where it
/// bound `--web.listen-address=127.0.0.1:0`.
fn listening_address(log: &str) -> Option<String> {
    log.lines()
        .filter(|l| l.contains(r#"msg="Listening on""#))
        .find_map(|l| l.split_once(" address=")?.1.split_whitespace().next())
        .filter(|a| a.starts_with("127.0.0.1:") && !a.ends_with(":0"))
        .map(str::to_string)
}

#[test]
fn a_real_prometheus_sees_certbot_hold_and_release() {
    let dir = tempfile::tempdir().unwrap();
    let label = dir.path().to_str().unwrap();
    let certbot = certbot_lock_dir(dir.path()).expect_locked();
    let serve = Serve::start(&[dir.path().as_os_str()]);
    let prometheus = Prometheus::start(&serve.addr);
    prometheus.wait_held(label, "1");
    let holder = prometheus.query("lockscope_lock_holder_info");
    assert_eq!(holder.len(), 1, "{holder:?}");
    assert_eq!(holder[0]["metric"]["pid"], certbot.pid.to_string());
    assert_eq!(holder[0]["metric"]["job"], "lockscope");
    // A second certbot is refused while the first holds: the kernel's lock events count it.
    let _ = certbot_lock_dir(dir.path()).expect_busy();
    prometheus.wait_for(
        &format!("lockscope_lock_refused_total{{dir=\"{label}\"}}"),
        "1",
    );
    certbot.release();
    prometheus.wait_held(label, "0");
    // A third runs after the release: one acquisition, one hold of about 0.4 s. The first
    // certbot's hold, found held when serve started, counts as neither.
    let third = certbot_lock_dir(dir.path()).expect_locked();
    std::thread::sleep(Duration::from_millis(400));
    third.release();
    let acquired = format!("lockscope_lock_acquisitions_total{{dir=\"{label}\"}}");
    prometheus.wait_for(&acquired, "1");
    let holds = format!("lockscope_lock_hold_duration_seconds_count{{dir=\"{label}\"}}");
    prometheus.wait_for(&holds, "1");
    // `le` as lockscope writes it ("1") or as Prometheus 3 normalizes it ("1.0").
    let below_one_second =
        format!("lockscope_lock_hold_duration_seconds_bucket{{dir=\"{label}\",le=~\"1|1[.]0\"}}");
    prometheus.wait_for(&below_one_second, "1");
    let short =
        format!("lockscope_lock_hold_duration_seconds_bucket{{dir=\"{label}\",le=\"0.1\"}}");
    prometheus.wait_for(&short, "0");
    // The rules file loads in a real server too (promtool tests what it does).
    let (status, _, body) = http(&prometheus.addr, "GET", "/api/v1/rules");
    assert_eq!(status, 200);
    for alert in [
        "CertbotLockHeldTooLong",
        "CertbotLockFileStale",
        "LockscopeProbeErrors",
        "CertbotLockContention",
    ] {
        assert!(body.contains(alert), "{alert} not loaded: {body}");
    }
    assert!(!body.contains("\"health\":\"err\""), "{body}");
}

#[test]
fn promtool_checks_and_tests_the_alert_rules() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    for args in [
        ["check", "rules", "prometheus-rules.yml"],
        ["test", "rules", "prometheus-rules.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&config)
            .output()
            .expect("promtool is required (Debian package prometheus; .ci/run installs it)");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
