//! The desktop app, driven headless through egui_kittest: what a user types and clicks, what the
//! window then shows (read from its AccessKit tree), and, for locks, what ANOTHER process sees
//! (`lockscope status --json`). No display, no GPU, no image snapshots.
//!
//! The app works on background threads (monitor, lock worker, watch-list store, dialogs), so every
//! wait steps the harness until a condition holds, with a deadline ([`run_until`]); a fixed sleep
//! is never the synchronization. Each test has its own config directory and a fake folder picker:
//! the real rfd dialog never opens.

use crate::common;

use crate::common::{LOCK, certbot_lock_dir, lockscope, lockscope_hold};
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::{Harness, Node};
use lockscope::gui::FolderPicker;
use lockscope::gui::{AppConfig, LockscopeApp, Notice, NoticeSink, OpenList};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type App = Harness<'static, LockscopeApp>;

/// How long any one wait may take. Generous: the test machine has 2 noisy cores.
const DEADLINE: Duration = Duration::from_secs(10);
const PATH_HINT: &str = "type or paste a directory, Enter to add";
const STATE_WORDS: [&str; 8] = [
    "Orphaned lock",
    "Unknown",
    "Held",
    "Held by this app",
    "Free (stale file)",
    "Absent",
    "Missing",
    "Error",
];

// ---- a fake folder dialog -------------------------------------------------------------------

/// Canned dialog answers, in order; a folder answer comes after its delay (a real user takes
/// time, an unavailable dialog answers at once). Counts the calls, so a test can check that every
/// dialog it expected was asked for and no other ([`FakePicker::assert_all_used`]).
#[derive(Default)]
struct FakePicker {
    folders: Mutex<VecDeque<(Duration, Option<Vec<PathBuf>>)>>,
    file: Mutex<VecDeque<Option<PathBuf>>>,
    save: Mutex<VecDeque<Option<PathBuf>>>,
    calls: AtomicUsize,
    unexpected: AtomicUsize,
}

impl FakePicker {
    fn new() -> Arc<FakePicker> {
        Arc::new(FakePicker::default())
    }

    fn answer_folders(&self, after: Duration, answer: Option<Vec<PathBuf>>) {
        self.folders.lock().unwrap().push_back((after, answer));
    }

    fn answer_pick_file(&self, answer: Option<PathBuf>) {
        self.file.lock().unwrap().push_back(answer);
    }

    fn answer_save_file(&self, answer: Option<PathBuf>) {
        self.save.lock().unwrap().push_back(answer);
    }

    fn next<T>(&self, queue: &Mutex<VecDeque<T>>) -> Option<T> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let next = queue.lock().unwrap().pop_front();
        if next.is_none() {
            self.unexpected.fetch_add(1, Ordering::SeqCst);
        }
        next
    }

    #[track_caller]
    fn assert_all_used(&self, calls: usize) {
        assert_eq!(self.calls.load(Ordering::SeqCst), calls, "dialog calls");
        assert_eq!(
            self.unexpected.load(Ordering::SeqCst),
            0,
            "a dialog was opened that the test did not expect"
        );
    }
}

impl FolderPicker for FakePicker {
    fn pick_folders(&self) -> Option<Vec<PathBuf>> {
        let (after, answer) = self.next(&self.folders)?;
        std::thread::sleep(after);
        answer
    }

    fn pick_file(&self) -> Option<PathBuf> {
        self.next(&self.file).flatten()
    }

    fn save_file(&self, _suggested_name: &str) -> Option<PathBuf> {
        self.next(&self.save).flatten()
    }
}

// ---- the app ----------------------------------------------------------------------------------

fn app_config(
    config_dir: &Path,
    picker: Arc<FakePicker>,
    open_list: Option<OpenList>,
) -> AppConfig {
    AppConfig {
        config_dir: config_dir.to_path_buf(),
        open_list,
        picker,
        stats: None,
        before_load: None,
        file_manager: None,
        notices: Arc::new(RecordedNotices::default()),
        // Never the environment's: a test that wants remote rows says how to reach them.
        ssh_command: None,
        remote_command: None,
        info_lifetime: lockscope::gui::INFO_LIFETIME,
        // Never the machine's own history (a recorder may have run here as root): a test that
        // shows one names its file.
        history_stores: Vec::new(),
    }
}

/// Desktop notifications recorded instead of shown (scripts/gui-notify shows them with a real
/// notification daemon).
#[derive(Default)]
struct RecordedNotices(Mutex<Vec<Notice>>);

impl RecordedNotices {
    fn all(&self) -> Vec<Notice> {
        self.0.lock().unwrap().clone()
    }

    fn with_summary(&self, summary: &str) -> Vec<Notice> {
        self.all()
            .into_iter()
            .filter(|n| n.summary == summary)
            .collect()
    }
}

impl NoticeSink for RecordedNotices {
    fn show(&self, notice: &Notice) -> Result<(), String> {
        self.0.lock().unwrap().push(notice.clone());
        Ok(())
    }
}

/// The real app on a window large enough for every table column, with the harness's checks on:
/// every input widget has an accessible name and every character shown has a glyph.
fn start_app(config_dir: &Path, picker: Arc<FakePicker>) -> App {
    let mut h = build_app(app_config(config_dir, picker, None), true);
    run_until(&mut h, "the watch lists are loaded", lists_loaded);
    h
}

/// The app, its first frames run, its watch lists maybe not loaded yet. `strict`: the harness
/// panics on an unnamed input widget or a character without a glyph.
fn build_app(config: AppConfig, strict: bool) -> App {
    let mut builder = Harness::builder()
        .with_size([1400.0, 900.0])
        .with_accessibility_check(strict);
    if !strict {
        builder = builder.allow_missing_glyphs();
    }
    builder.build_eframe(move |cc| LockscopeApp::new(cc, config).expect("start the app"))
}

fn lists_loaded(h: &App) -> bool {
    active_list(h).is_some_and(|name| !name.is_empty())
}

/// Steps the app (a few ms apart, so its threads can work) until `done` holds; panics with what
/// the window shows after [`DEADLINE`].
#[track_caller]
fn run_until(h: &mut App, what: &str, mut done: impl FnMut(&App) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        h.step();
        if done(h) {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "not within {DEADLINE:?}: {what}\nthe window shows:\n{}",
                describe(h)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every label and button of the window, one per line (for failure messages).
fn describe(h: &App) -> String {
    h.query_all_by(|n| {
        matches!(
            n.role(),
            Role::Label | Role::Button | Role::ComboBox | Role::TextInput | Role::SpinButton
        )
    })
    .map(|n| {
        let n = n.accesskit_node();
        let text = n.value().or_else(|| n.label()).unwrap_or_default();
        let disabled = if n.is_disabled() { " (disabled)" } else { "" };
        format!("  {:?} {text:?}{disabled}", n.role())
    })
    .collect::<Vec<_>>()
    .join("\n")
}

/// Clicks like a mouse does (move, press, release), then takes the pointer away so no tooltip
/// stays on top of the table.
fn click(h: &mut App, node: impl for<'a> Fn(&'a App) -> Node<'a>) {
    let n = node(h);
    assert!(
        !n.accesskit_node().is_disabled(),
        "clicking a disabled widget: {n:?}"
    );
    n.click();
    h.remove_cursor();
    h.step();
}

fn button<'a>(h: &'a App, label: &'a str) -> Node<'a> {
    h.get_by_role_and_label(Role::Button, label)
}

fn path_field(h: &App) -> Node<'_> {
    h.get_by(|n| n.role() == Role::TextInput && n.data().placeholder() == Some(PATH_HINT))
}

fn list_name_field(h: &App) -> Node<'_> {
    h.get_by(|n| n.role() == Role::TextInput && n.data().placeholder() == Some("list name"))
}

/// The "Hold for" seconds (a DragValue; its value reads "30 s").
fn hold_secs_field(h: &App) -> Node<'_> {
    h.get_by(|n| n.role() == Role::SpinButton && n.value().is_some_and(|v| v.ends_with(" s")))
}

/// The watch-list ComboBox shows the active list's name.
fn active_list(h: &App) -> Option<String> {
    h.query_by_role(Role::ComboBox)
        .and_then(|n| n.accesskit_node().value())
}

/// Names a new watch list in the field and clicks "New list"; waits until it is active.
fn create_list(h: &mut App, name: &str) {
    list_name_field(h).focus();
    h.step();
    list_name_field(h).type_text(name);
    h.step();
    click(h, |h| button(h, "New list"));
    run_until(h, &format!("{name} is the active list"), |h| {
        active_list(h).as_deref() == Some(name)
    });
}

/// Picks watch list `name` in the ComboBox; waits until it is active.
fn switch_list(h: &mut App, name: &'static str) {
    click(h, |h| h.get_by_role(Role::ComboBox));
    run_until(h, "the list menu opens", |h| {
        h.query_all_by_label(name).next().is_some()
    });
    click(h, |h| h.get_by_label(name));
    run_until(h, &format!("{name} is the active list"), |h| {
        active_list(h).as_deref() == Some(name)
    });
}

/// Types each directory into the path field and waits until every row shows Absent.
fn add_absent_rows(h: &mut App, dirs: &[&Path]) {
    for dir in dirs {
        type_path(h, dir.to_str().unwrap());
    }
    run_until(h, "every new row Absent", |h| {
        dirs.iter().all(|dir| has_badge(h, dir, "Absent"))
    });
}

/// Focuses the path field, types `text` and presses Enter.
fn type_path(h: &mut App, text: &str) {
    path_field(h).focus();
    h.step();
    path_field(h).type_text(text);
    h.key_press(egui::Key::Enter);
    h.step();
}

fn is_label(n: &egui_kittest::kittest::AccessKitNode<'_>, text: &str) -> bool {
    n.role() == Role::Label && n.value().as_deref() == Some(text)
}

/// The table cells of `dir`'s row, left to right. egui_extras' table puts every cell of every
/// row side by side in one AccessKit container (there is no row node), so a row is the run of
/// cells from the one with the path label to the one with the row's buttons.
fn row<'a>(h: &'a App, dir: &Path) -> Option<Vec<Node<'a>>> {
    let text = dir.display().to_string();
    // The details pane shows the selected row's path too: the row is the label that has one.
    h.query_all_by(move |n| is_label(n, &text))
        .find_map(row_from_label)
}

fn row_from_label<'a>(label: Node<'a>) -> Option<Vec<Node<'a>>> {
    let cell = label.parent()?;
    let cells: Vec<Node<'a>> = cell.parent()?.children().collect();
    let id = cell.accesskit_node().id();
    let first = cells.iter().position(|c| c.accesskit_node().id() == id)?;
    let mut row = Vec::new();
    for c in cells.into_iter().skip(first) {
        let last = c.query_all_by_label("Acquire").next().is_some();
        row.push(c);
        if last {
            return Some(row);
        }
    }
    None
}

/// The texts of `dir`'s row: path, state word, pid, command, since, countdown.
fn row_texts(h: &App, dir: &Path) -> Vec<String> {
    row(h, dir).map_or_else(Vec::new, |cells| {
        cells
            .iter()
            .flat_map(|c| c.query_all_by_role(Role::Label))
            .filter_map(|n| n.accesskit_node().value())
            .collect()
    })
}

/// The seconds a timed hold has left, from its countdown label ("  2 s", or "2 s left").
fn countdown(row_texts: &[String]) -> Option<u64> {
    row_texts.iter().find_map(|t| {
        let t = t.trim();
        let t = t.strip_suffix(" left").unwrap_or(t);
        t.strip_suffix(" s")?.trim().parse().ok()
    })
}

/// The state badge of `dir`'s row ("Held", "Absent", ...), if the row is shown.
fn badge(h: &App, dir: &Path) -> Option<String> {
    row_texts(h, dir)
        .into_iter()
        .find(|t| STATE_WORDS.contains(&t.as_str()))
}

fn has_badge(h: &App, dir: &Path, word: &str) -> bool {
    badge(h, dir).as_deref() == Some(word)
}

/// A button of `dir`'s row.
fn row_button<'a>(h: &'a App, dir: &Path, label: &'a str) -> Node<'a> {
    let cells = row(h, dir).unwrap_or_else(|| panic!("no row for {}", dir.display()));
    let actions = cells.last().expect("a row has cells");
    actions.get_by_role_and_label(Role::Button, label)
}

fn row_button_enabled(h: &App, dir: &Path, label: &str) -> bool {
    !row_button(h, dir, label).accesskit_node().is_disabled()
}

/// Which of `candidates` have a row, in the order given.
fn shown_dirs(h: &App, candidates: &[&Path]) -> Vec<PathBuf> {
    candidates
        .iter()
        .filter(|d| row(h, d).is_some())
        .map(|d| d.to_path_buf())
        .collect()
}

/// A banner message (or hint) containing `text`.
fn message_containing(h: &App, text: &str) -> Option<String> {
    h.query_all_by(|n| n.role() == Role::Label && n.value().is_some_and(|v| v.contains(text)))
        .next()
        .and_then(|n| n.accesskit_node().value())
}

// ---- another process's view -------------------------------------------------------------------

/// `lockscope status --json DIR`, run as a separate process: (state, holder pid).
fn status(dir: &Path) -> (String, Option<u64>) {
    let out = common::run(lockscope().args(["status", "--json"]).arg(dir));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json: {e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let record = &v[0];
    (
        record["state"].as_str().unwrap_or_default().to_string(),
        record["holder"]["pid"].as_u64(),
    )
}

/// Steps the app until another process sees `dir` in `state` (held: by `pid`).
#[track_caller]
fn run_until_status(h: &mut App, dir: &Path, state: &str, pid: Option<u32>) {
    let want = (state.to_string(), pid.map(u64::from));
    run_until(
        h,
        &format!("another process sees {} as {want:?}", dir.display()),
        |_| status(dir) == want,
    );
}

/// `lockscope watch --json DIR` as a child process: every change of DIR, as it sees them.
struct Watch {
    child: std::process::Child,
    changes: std::sync::mpsc::Receiver<Seen>,
}

/// One change `lockscope watch` printed, and when this test read it.
struct Seen {
    state: String,
    pid: Option<u64>,
    seen: Instant,
}

impl Watch {
    /// Returns once the watcher has reported DIR's initial state.
    fn start(dir: &Path) -> Watch {
        use std::io::BufRead;
        let mut child = lockscope()
            .args(["watch", "--json", "--interval", "100ms"])
            .arg(dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start lockscope watch");
        let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, changes) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
                let seen = Seen {
                    state: v["state"].as_str().unwrap_or_default().to_string(),
                    pid: v["holder"]["pid"].as_u64(),
                    seen: Instant::now(),
                };
                if tx.send(seen).is_err() {
                    break;
                }
            }
        });
        let watch = Watch { child, changes };
        let initial = watch
            .changes
            .recv_timeout(DEADLINE)
            .expect("watch's first line");
        assert_eq!(initial.state, "absent");
        watch
    }

    /// The next change, stepping the app meanwhile.
    #[track_caller]
    fn next_change(&self, h: &mut App) -> Seen {
        let mut next = None;
        run_until(h, "lockscope watch reports a change", |_| {
            next = self.changes.try_recv().ok();
            next.is_some()
        });
        next.expect("a change")
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn me() -> u32 {
    std::process::id()
}

fn tempdirs(n: usize) -> (tempfile::TempDir, Vec<PathBuf>) {
    let root = tempfile::tempdir().unwrap();
    let dirs = (0..n)
        .map(|i| {
            let d = root.path().join(format!("d{i}"));
            std::fs::create_dir(&d).unwrap();
            d
        })
        .collect();
    (root, dirs)
}

// ---- the tests -------------------------------------------------------------------------------

/// A lock file removed while its holder still holds it is the most dangerous state: not the
/// green "Absent" with a small "⚠ 1" it showed, but its own badge, with the reason in the row.
#[test]
fn an_orphaned_lock_looks_dangerous() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(2);
    let lock = dirs[0].join(LOCK);
    let script = "import fcntl, os, sys\n\
                  fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n\
                  fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n\
                  os.unlink(sys.argv[1])\n\
                  print('locked', flush=True)\n\
                  sys.stdin.read()\n";
    let mut holder = common::ScriptedPeer::start(script, &lock);
    assert_eq!(holder.read_line(), "locked");
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[&dirs[1]]);
    type_path(&mut h, dirs[0].to_str().unwrap());
    run_until(&mut h, "the orphaned lock's badge", |h| {
        has_badge(h, &dirs[0], "Orphaned lock")
    });
    let texts = row_texts(&h, &dirs[0]);
    let pid = holder.child.id().to_string();
    drop(holder);
    assert!(
        texts
            .iter()
            .any(|t| t.contains("removed while") && t.contains(&pid)),
        "no reason in the row: {texts:?}"
    );
    assert!(
        has_badge(&h, &dirs[1], "Absent"),
        "the other row stays Absent"
    );
}

/// The flight recorder's history shows in the app: a real `lockscope record` (the kernel's lock
/// events) saw real certbot hold the lock and a second certbot refused, before the app ever
/// watched the directory; the details pane lists both, with the holder of the refused attempt.
#[test]
fn the_details_pane_lists_what_the_flight_recorder_saw_before_the_app_watched() {
    assert!(
        common::is_root(),
        "this test records the kernel's lock events: run it as root"
    );
    let cfg = tempfile::tempdir().unwrap();
    let (root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let store = root.path().join("history.db");
    let recorder = common::Recorder::start(&store, &[dir]);
    let first = certbot_lock_dir(dir).expect_locked();
    let first_pid = first.pid;
    let busy = certbot_lock_dir(dir).expect_busy();
    assert!(busy.contains("Another instance"), "{busy}");
    std::thread::sleep(Duration::from_millis(300));
    first.release();
    std::thread::sleep(Duration::from_millis(300));
    recorder.stop();

    let mut config = app_config(cfg.path(), FakePicker::new(), None);
    config.history_stores = vec![root.path().join("no-such-history.db"), store.clone()];
    let mut h = build_app(config, true);
    run_until(&mut h, "the watch lists are loaded", lists_loaded);
    add_absent_rows(&mut h, &[dir]);
    select_row(&mut h, dir);
    let held = format!("held by pid {first_pid}");
    let refused_while = format!("while pid {first_pid} held it");
    run_until(&mut h, "the recorded hold and refused attempt", |h| {
        let labels = labels(h);
        labels
            .iter()
            .any(|l| l.contains(&held) && l.contains("(released)"))
            && labels
                .iter()
                .any(|l| l.contains("refused pid") && l.contains(&refused_while))
    });
    assert!(
        labels(&h)
            .iter()
            .any(|l| l.contains(store.to_str().unwrap())),
        "the pane names the history file: {}",
        describe(&h)
    );
}

/// Two paths pasted as two lines into the path field are two rows (they became one bogus row,
/// the paths joined by a space: a one-line field turns the newline into a space).
#[test]
fn pasted_lines_are_one_row_each() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(2);
    let mut h = start_app(cfg.path(), FakePicker::new());
    path_field(&h).focus();
    h.step();
    h.event(egui::Event::Paste(format!(
        "{}\n{}\n",
        dirs[0].display(),
        dirs[1].display()
    )));
    h.step();
    run_until(&mut h, "both pasted directories show as Absent", |h| {
        has_badge(h, &dirs[0], "Absent") && has_badge(h, &dirs[1], "Absent")
    });
    let joined = format!("{} {}", dirs[0].display(), dirs[1].display());
    assert!(
        h.query_by_label_contains(&joined).is_none(),
        "no row for the joined lines"
    );
    assert_eq!(path_field(&h).value().as_deref(), Some(""));
}

/// A typed relative path is refused with a hint and stays in the field to be completed (it was
/// resolved silently against the app's working directory); the absolute one beside it is added.
#[test]
fn a_typed_relative_path_is_refused_and_kept_in_the_field() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let mut h = start_app(cfg.path(), FakePicker::new());
    path_field(&h).focus();
    h.step();
    h.event(egui::Event::Paste(format!(
        "letsencrypt/work\n{}\n",
        dirs[0].display()
    )));
    h.step();
    run_until(&mut h, "the absolute path shows as Absent", |h| {
        has_badge(h, &dirs[0], "Absent")
    });
    assert!(
        h.query_by_label_contains("letsencrypt/work is a relative path")
            .is_some(),
        "no hint for the relative path"
    );
    assert_eq!(
        path_field(&h).value().as_deref(),
        Some("letsencrypt/work"),
        "the refused path stays in the field"
    );
    // No row for the path resolved against the working directory.
    let cwd = std::env::current_dir().unwrap().join("letsencrypt/work");
    assert!(row(&h, &cwd).is_none(), "a row for {}", cwd.display());
}

/// Messages do not pile up: the same error twice is one message "(×2)" that stays until
/// dismissed; information goes by itself after a while; "Dismiss all" clears the rest.
#[test]
fn messages_collapse_repeats_expire_when_informational_and_can_all_be_dismissed() {
    let cfg = tempfile::tempdir().unwrap();
    let (root, dirs) = tempdirs(1);
    let picker = FakePicker::new();
    let mut config = app_config(cfg.path(), picker.clone(), None);
    config.info_lifetime = Duration::from_millis(600);
    let mut h = build_app(config, true);
    add_absent_rows(&mut h, &[&dirs[0]]);
    let nowhere = root.path().join("no such dir/list.toml");
    for _ in 0..2 {
        picker.answer_save_file(Some(nowhere.clone()));
        click(&mut h, |h| button(h, "Export…"));
        h.run_steps(5);
    }
    run_until(&mut h, "one export error, counted twice", |h| {
        message_containing(h, "export failed").is_some_and(|m| m.ends_with("(×2)"))
    });
    let errors = h
        .query_all_by(|n| {
            n.role() == Role::Label && n.value().is_some_and(|v| v.contains("export failed"))
        })
        .count();
    assert_eq!(errors, 1, "{}", describe(&h));
    type_path(&mut h, dirs[0].to_str().unwrap());
    run_until(&mut h, "the information", |h| {
        message_containing(h, "already watched").is_some()
    });
    run_until(&mut h, "the information goes by itself", |h| {
        message_containing(h, "already watched").is_none()
    });
    std::thread::sleep(Duration::from_millis(700));
    h.run_steps(3);
    assert!(
        message_containing(&h, "export failed").is_some(),
        "errors stay"
    );
    picker.answer_save_file(Some(root.path().join("no such dir/other.toml")));
    click(&mut h, |h| button(h, "Export…"));
    run_until(&mut h, "two errors and Dismiss all", |h| {
        h.query_by_role_and_label(Role::Button, "Dismiss all")
            .is_some()
    });
    h.run_steps(3); // the toasts' area settles its size (a new toast moves the button)
    click(&mut h, |h| button(h, "Dismiss all"));
    run_until(&mut h, "no message left", |h| {
        message_containing(h, "export failed").is_none()
    });
    picker.assert_all_used(3);
}

#[test]
fn typed_paths_become_rows_and_the_field_stays_ready_for_the_next() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let missing = dirs[0].with_file_name("not-there");
    let mut h = start_app(cfg.path(), FakePicker::new());
    assert!(h.query_by_label_contains("No directories yet").is_some());

    type_path(&mut h, dirs[0].to_str().unwrap());
    run_until(&mut h, "the typed directory shows as Absent", |h| {
        has_badge(h, &dirs[0], "Absent")
    });
    assert_eq!(
        path_field(&h).value().as_deref(),
        Some(""),
        "Enter empties the field"
    );
    assert!(
        path_field(&h).is_focused(),
        "after Enter the field keeps the focus for the next path"
    );

    // The next path, typed straight away: no click into the field first.
    path_field(&h).type_text(missing.to_str().unwrap());
    h.key_press(egui::Key::Enter);
    run_until(&mut h, "the second path shows as Missing", |h| {
        has_badge(h, &missing, "Missing")
    });
    assert!(has_badge(&h, &dirs[0], "Absent"), "the first row stays");
    assert!(!row_button_enabled(&h, &missing, "Acquire"));

    // The "Add" button does what Enter does; the same path twice is one row.
    path_field(&h).type_text(dirs[0].to_str().unwrap());
    h.step();
    click(&mut h, |h| button(h, "Add"));
    run_until(&mut h, "the field is emptied by Add", |h| {
        path_field(h).value().as_deref() == Some("")
    });
    let text = dirs[0].display().to_string();
    assert_eq!(
        h.query_all_by(|n| is_label(n, &text)).count(),
        1,
        "a path added twice is one row"
    );
    assert!(
        h.query_by_label("2 of 2 shown").is_some(),
        "{}",
        describe(&h)
    );
}

#[test]
fn a_lockscope_holder_shows_as_held_with_its_pid_until_it_releases() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[dir]);

    let mut holder = lockscope_hold(&[dir.to_str().unwrap()]);
    assert!(holder.line.starts_with("held "), "{}", holder.line);
    let pid = holder.child.id().to_string();
    run_until(&mut h, "Held by the child, with its pid", |h| {
        let texts = row_texts(h, dir);
        texts.iter().any(|t| t == "Held") && texts.contains(&pid)
    });
    let texts = row_texts(&h, dir);
    assert!(
        texts.iter().any(|t| t.contains("lockscope hold")),
        "the holder's command is shown: {texts:?}"
    );

    holder.signal("TERM");
    assert_eq!(holder.wait_exit(DEADLINE), 0);
    run_until(&mut h, "Absent after the holder released", |h| {
        has_badge(h, dir, "Absent")
    });
    assert!(!row_texts(&h, dir).contains(&pid), "the pid is gone");
}

#[test]
fn real_certbot_shows_as_held_with_its_pid_then_absent_or_stale() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[dir]);

    // certbot's own lock_dir, then its release (unlink, close).
    let certbot = certbot_lock_dir(dir).expect_locked();
    let pid = certbot.pid.to_string();
    run_until(&mut h, "Held by certbot, with its pid", |h| {
        let texts = row_texts(h, dir);
        texts.iter().any(|t| t == "Held") && texts.contains(&pid)
    });
    assert!(!row_button_enabled(&h, dir, "Acquire"));
    certbot.release();
    run_until(&mut h, "Absent after certbot released", |h| {
        has_badge(h, dir, "Absent")
    });

    // A killed certbot leaves its file: free, and the app may take it.
    let certbot = certbot_lock_dir(dir).expect_locked();
    let pid = certbot.pid.to_string();
    run_until(&mut h, "Held by the second certbot", |h| {
        row_texts(h, dir).contains(&pid)
    });
    certbot.kill();
    run_until(&mut h, "a stale file after SIGKILL", |h| {
        has_badge(h, dir, "Free (stale file)")
    });
    assert!(dir.join(LOCK).exists());
    assert!(row_button_enabled(&h, dir, "Acquire"));
}

#[test]
fn acquire_and_release_from_the_row_are_seen_by_another_process() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(2);
    let (dir, other) = (&dirs[0], &dirs[1]);
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[dir, other]);
    assert!(
        !row_button_enabled(&h, dir, "Release"),
        "nothing to release"
    );

    click(&mut h, |h| row_button(h, dir, "Acquire"));
    run_until_status(&mut h, dir, "held", Some(me()));
    run_until(&mut h, "the badge says Held by this app", |h| {
        has_badge(h, dir, "Held by this app")
    });
    assert!(row_button_enabled(&h, dir, "Release"));
    assert!(!row_button_enabled(&h, dir, "Acquire"));
    assert!(!row_button_enabled(&h, dir, "Hold"));
    assert_eq!(status(other), ("absent".into(), None), "only that row");
    assert!(has_badge(&h, other, "Absent"));

    click(&mut h, |h| row_button(h, dir, "Release"));
    run_until_status(&mut h, dir, "absent", None);
    run_until(&mut h, "the badge says Absent again", |h| {
        has_badge(h, dir, "Absent") && row_button_enabled(h, dir, "Acquire")
    });
    assert!(!dir.join(LOCK).exists(), "release removes the lock file");
    assert!(!row_button_enabled(&h, dir, "Release"));
}

#[test]
fn hold_for_n_seconds_takes_the_lock_and_releases_it_by_itself() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let mut h = start_app(cfg.path(), FakePicker::new());
    assert_eq!(hold_secs_field(&h).value().as_deref(), Some("30 s"));
    hold_secs_field(&h).set_value_accesskit(2.0);
    run_until(&mut h, "Hold for shows 2 s", |h| {
        hold_secs_field(h).value().as_deref() == Some("2 s")
    });
    add_absent_rows(&mut h, &[dir]);

    // Another process records every change, so nothing depends on when this test looks.
    let watch = Watch::start(dir);
    let clicked = Instant::now();
    click(&mut h, |h| row_button(h, dir, "Hold"));
    run_until(&mut h, "a countdown next to Held by this app", |h| {
        let texts = row_texts(h, dir);
        texts.iter().any(|t| t == "Held by this app") && countdown(&texts).is_some()
    });
    let left = countdown(&row_texts(&h, dir)).unwrap();
    assert!(left <= 2, "a 2 s hold shows {left} s left");

    let held = watch.next_change(&mut h);
    assert_eq!(
        (held.state.as_str(), held.pid),
        ("held", Some(u64::from(me()))),
        "another process sees the app's hold"
    );
    let released = watch.next_change(&mut h);
    assert_eq!(released.state, "absent", "then sees it released");
    let after = released.seen.duration_since(clicked);
    assert!(
        after >= Duration::from_secs(2),
        "released {after:?} after the click, before the 2 s were up"
    );
    assert_eq!(status(dir), ("absent".into(), None));
    run_until(
        &mut h,
        "Absent, no countdown, Acquire possible again",
        |h| {
            let texts = row_texts(h, dir);
            has_badge(h, dir, "Absent")
                && countdown(&texts).is_none()
                && row_button_enabled(h, dir, "Acquire")
                && !row_button_enabled(h, dir, "Release")
        },
    );
}

#[test]
fn acquire_is_disabled_while_another_process_holds_the_lock() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[dir]);
    // Selected, so the toolbar's buttons apply to it as well.
    click(&mut h, |h| {
        let text = dir.display().to_string();
        h.get_by(move |n| is_label(n, &text))
    });
    run_until(&mut h, "one row selected", |h| {
        h.query_by_label("Selected: 1").is_some()
    });
    assert!(
        !button(&h, "Acquire selected")
            .accesskit_node()
            .is_disabled()
    );

    let mut holder = lockscope_hold(&[dir.to_str().unwrap()]);
    let pid = holder.child.id();
    run_until(&mut h, "Held by the child", |h| has_badge(h, dir, "Held"));
    for label in ["Acquire", "Hold", "Release"] {
        assert!(
            !row_button_enabled(&h, dir, label),
            "{label} must be disabled while pid {pid} holds the lock"
        );
    }
    for label in ["Acquire selected", "Hold selected", "Release selected"] {
        assert!(
            button(&h, label).accesskit_node().is_disabled(),
            "{label} must be disabled while pid {pid} holds the lock"
        );
    }
    // A click on the disabled button does nothing: no request, no refusal, the child keeps it.
    row_button(&h, dir, "Acquire").click();
    h.remove_cursor();
    h.run_steps(10);
    assert_eq!(status(dir), ("held".into(), Some(u64::from(pid))));
    assert!(has_badge(&h, dir, "Held"));
    assert!(
        message_containing(&h, "refused").is_none(),
        "{}",
        describe(&h)
    );

    holder.signal("TERM");
    assert_eq!(holder.wait_exit(DEADLINE), 0);
    run_until(&mut h, "Acquire enabled once the child released", |h| {
        has_badge(h, dir, "Absent") && row_button_enabled(h, dir, "Acquire")
    });
}

#[test]
fn watch_lists_survive_a_restart_and_can_be_switched() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(3);
    let all: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    {
        let mut h = start_app(cfg.path(), FakePicker::new());
        assert_eq!(active_list(&h).as_deref(), Some("default"));
        type_path(&mut h, dirs[0].to_str().unwrap());
        type_path(&mut h, dirs[1].to_str().unwrap());
        run_until(&mut h, "two rows", |h| shown_dirs(h, &all).len() == 2);
    } // the window closes: pending saves finish

    let mut h = start_app(cfg.path(), FakePicker::new());
    run_until(&mut h, "both rows back after the restart", |h| {
        shown_dirs(h, &all) == dirs[..2]
    });
    assert_eq!(active_list(&h).as_deref(), Some("default"));

    // A new list: named in the field, created with "New list", and empty.
    assert!(
        button(&h, "New list").accesskit_node().is_disabled(),
        "no name yet"
    );
    create_list(&mut h, "staging");
    run_until(&mut h, "the new list is empty", |h| {
        shown_dirs(h, &all).is_empty()
    });
    assert_eq!(list_name_field(&h).value().as_deref(), Some(""));
    type_path(&mut h, dirs[2].to_str().unwrap());
    run_until(&mut h, "the third dir in the new list", |h| {
        shown_dirs(h, &all) == dirs[2..]
    });

    // Back to "default" with the ComboBox.
    switch_list(&mut h, "default");
    run_until(&mut h, "default's two rows", |h| {
        shown_dirs(h, &all) == dirs[..2]
    });
    drop(h);

    // Both lists, and which one was active, are saved.
    let mut h = start_app(cfg.path(), FakePicker::new());
    run_until(&mut h, "default's rows after the second restart", |h| {
        shown_dirs(h, &all) == dirs[..2]
    });
    assert_eq!(active_list(&h).as_deref(), Some("default"));
    let saved = std::fs::read_to_string(cfg.path().join("lockscope.toml")).unwrap();
    assert!(
        saved.contains("staging") && saved.contains(dirs[2].to_str().unwrap()),
        "{saved}"
    );
}

#[test]
fn a_corrupt_watch_list_file_is_set_aside_and_reported() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let file = cfg.path().join("lockscope.toml");
    let backup = cfg.path().join("lockscope.toml.bak");
    let garbage: &[u8] = b"[[lists]\nname = \"x\"\n\xff\xfe\x00 not toml at all";
    std::fs::write(&file, garbage).unwrap();

    let mut h = start_app(cfg.path(), FakePicker::new());
    // (A toast shows from the frame after its message: its first frame only sizes it.)
    run_until(&mut h, "the set-aside message", |h| {
        message_containing(h, "moved aside").is_some()
    });
    let shown = message_containing(&h, "moved aside").unwrap();
    assert!(
        shown.contains(&backup.display().to_string()),
        "the message names the backup: {shown}"
    );
    assert_eq!(std::fs::read(&backup).unwrap(), garbage, "byte for byte");
    assert_eq!(active_list(&h).as_deref(), Some("default"), "the app works");

    // The message can be dismissed.
    click(&mut h, |h| h.get_by_role_and_label(Role::Button, "🗙"));
    run_until(&mut h, "the message is gone", |h| {
        message_containing(h, "moved aside").is_none()
    });

    // Saving still works, into a fresh file; the backup is left alone.
    type_path(&mut h, dirs[0].to_str().unwrap());
    run_until(&mut h, "the new row", |h| has_badge(h, &dirs[0], "Absent"));
    drop(h);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains(dirs[0].to_str().unwrap()), "{saved}");
    assert_eq!(std::fs::read(&backup).unwrap(), garbage);

    // A restart does not repeat it.
    let mut h = start_app(cfg.path(), FakePicker::new());
    run_until(&mut h, "the saved row", |h| row(h, &dirs[0]).is_some());
    assert!(message_containing(&h, "moved aside").is_none());
}

#[test]
fn the_folder_dialog_adds_what_was_picked_or_hints_when_there_is_none() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(2);
    let picker = FakePicker::new();
    let mut h = start_app(cfg.path(), picker.clone());

    // Two folders picked (a user takes a moment).
    picker.answer_folders(Duration::from_millis(50), Some(dirs.clone()));
    click(&mut h, |h| button(h, "Add folders…"));
    run_until(&mut h, "both picked folders as rows", |h| {
        has_badge(h, &dirs[0], "Absent") && has_badge(h, &dirs[1], "Absent")
    });
    assert!(!button(&h, "Add folders…").accesskit_node().is_disabled());
    assert!(message_containing(&h, "No folder dialog").is_none());

    // Cancelled by the user after a while: nothing happens.
    picker.answer_folders(Duration::from_millis(600), None);
    click(&mut h, |h| button(h, "Add folders…"));
    run_until(&mut h, "the dialog is open", |h| {
        button(h, "Add folders…").accesskit_node().is_disabled()
    });
    run_until(&mut h, "the dialog is closed", |h| {
        !button(h, "Add folders…").accesskit_node().is_disabled()
    });
    h.run_steps(3);
    assert!(message_containing(&h, "No folder dialog").is_none());

    // No dialog at all (an instant None): a hint to type or drag instead, the field focused.
    picker.answer_folders(Duration::ZERO, None);
    click(&mut h, |h| button(h, "Add folders…"));
    run_until(&mut h, "the no-dialog hint", |h| {
        message_containing(h, "No folder dialog").is_some()
    });
    let hint = message_containing(&h, "No folder dialog").unwrap();
    assert!(
        hint.contains("Type or paste a path") && hint.contains("drag folders"),
        "{hint}"
    );
    assert!(
        path_field(&h).is_focused(),
        "the hint focuses the path field"
    );
    assert_eq!(shown_dirs(&h, &[&dirs[0], &dirs[1]]).len(), 2);
    picker.assert_all_used(3);

    // Typing a path clears the hint.
    path_field(&h).type_text(dirs[0].to_str().unwrap());
    h.key_press(egui::Key::Enter);
    run_until(&mut h, "the hint is gone", |h| {
        message_containing(h, "No folder dialog").is_none()
    });
}

#[test]
fn dropped_folders_and_lock_files_become_rows() {
    #[derive(Debug)]
    struct Dropped(PathBuf);
    impl egui::DroppedFile for Dropped {
        fn path(&self) -> &Path {
            &self.0
        }
        fn bytes(&self) -> Result<Vec<u8>, String> {
            Err("not read".into())
        }
    }
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(2);
    std::fs::write(dirs[1].join(LOCK), b"").unwrap();
    let mut h = start_app(cfg.path(), FakePicker::new());
    h.input_mut().dropped_files.extend([
        Arc::new(Dropped(dirs[0].clone())) as egui::DroppedFileHandle,
        Arc::new(Dropped(dirs[1].join(LOCK))),
    ]);
    run_until(
        &mut h,
        "a row per drop, the lock file's as its directory",
        |h| has_badge(h, &dirs[0], "Absent") && has_badge(h, &dirs[1], "Free (stale file)"),
    );
}

#[test]
fn export_and_import_a_watch_list_through_the_dialogs() {
    let cfg = tempfile::tempdir().unwrap();
    let (root, dirs) = tempdirs(2);
    let exchange = root.path().join("exported.toml");
    let picker = FakePicker::new();
    let mut h = start_app(cfg.path(), picker.clone());
    type_path(&mut h, dirs[0].to_str().unwrap());
    type_path(&mut h, dirs[1].to_str().unwrap());
    run_until(&mut h, "two rows", |h| {
        row(h, &dirs[0]).is_some() && row(h, &dirs[1]).is_some()
    });

    picker.answer_save_file(Some(exchange.clone()));
    click(&mut h, |h| button(h, "Export…"));
    run_until(&mut h, "the export is reported", |h| {
        message_containing(h, "exported to").is_some()
    });
    let text = std::fs::read_to_string(&exchange).unwrap();
    assert!(
        text.contains(dirs[0].to_str().unwrap()) && text.contains(dirs[1].to_str().unwrap()),
        "{text}"
    );

    // Imported under a new name (the list "default" exists), and opened.
    click(&mut h, |h| button(h, "Delete list"));
    run_until(&mut h, "Delete list asks first", |h| {
        h.query_by_label("Delete watch list?").is_some()
    });
    click(&mut h, |h| button(h, "Delete"));
    run_until(&mut h, "no rows after deleting the only list", |h| {
        row(h, &dirs[0]).is_none() && row(h, &dirs[1]).is_none()
    });
    picker.answer_pick_file(Some(exchange.clone()));
    click(&mut h, |h| button(h, "Import…"));
    run_until(&mut h, "the imported list's rows", |h| {
        row(h, &dirs[0]).is_some()
            && row(h, &dirs[1]).is_some()
            && message_containing(h, "imported watch list").is_some()
    });
    assert_ne!(active_list(&h).as_deref(), Some("default"), "a new name");
    picker.assert_all_used(2);
}

/// An imported file with a few bad entries (a relative path, a bad `HOST:DIR`) brings in the
/// good ones and says which were skipped and why, instead of refusing the whole file; the file
/// itself is left as it was.
#[test]
fn import_keeps_the_good_entries_and_lists_the_skipped_ones() {
    let cfg = tempfile::tempdir().unwrap();
    let (root, dirs) = tempdirs(2);
    let file = root.path().join("mixed.toml");
    let text = format!(
        "name = \"mixed\"\ndirs = [\"{}\", \"relative/dir\", \"-oProxyCommand=x:/etc\", \"{}\"]\n",
        dirs[0].display(),
        dirs[1].display()
    );
    std::fs::write(&file, &text).unwrap();
    let picker = FakePicker::new();
    let mut h = start_app(cfg.path(), picker.clone());
    run_until(&mut h, "the watch lists are loaded", lists_loaded);
    picker.answer_pick_file(Some(file.clone()));
    click(&mut h, |h| button(h, "Import…"));
    run_until(&mut h, "the good entries are rows", |h| {
        row(h, &dirs[0]).is_some() && row(h, &dirs[1]).is_some()
    });
    run_until(&mut h, "word of the skipped entries", |h| {
        message_containing(h, "skipped 2 entries").is_some()
    });
    let said = message_containing(&h, "skipped 2 entries").unwrap();
    assert!(
        said.contains("\"relative/dir\" is not an absolute path"),
        "{said}"
    );
    assert!(said.contains("-oProxyCommand=x:/etc"), "{said}");
    assert_eq!(active_list(&h).as_deref(), Some("mixed"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "the file is untouched"
    );
    picker.assert_all_used(1);
}

/// Without a desktop portal or zenity the file dialogs answer at once with nothing: Import… and
/// Export… then ask for the file's path in a field (as "Add folders…" does), instead of doing
/// nothing at all.
#[test]
fn import_and_export_take_a_typed_path_when_there_is_no_file_dialog() {
    const FILE_HINT: &str = "path of a .toml file";
    fn file_field(h: &App) -> Node<'_> {
        h.get_by(|n| n.role() == Role::TextInput && n.data().placeholder() == Some(FILE_HINT))
    }
    fn no_file_field(h: &App) -> bool {
        h.query_by(|n| n.role() == Role::TextInput && n.data().placeholder() == Some(FILE_HINT))
            .is_none()
    }
    let cfg = tempfile::tempdir().unwrap();
    let (root, dirs) = tempdirs(1);
    let exchange = root.path().join("typed.toml");
    let picker = FakePicker::new();
    let mut h = start_app(cfg.path(), picker.clone());
    type_path(&mut h, dirs[0].to_str().unwrap());
    run_until(&mut h, "the row", |h| row(h, &dirs[0]).is_some());

    // Export…: no dialog (an instant None), so a field for the path, focused. The typed path
    // names an unrelated file: the app asks before replacing it, and Cancel keeps it.
    std::fs::write(&exchange, "my notes\n").unwrap();
    picker.answer_save_file(None);
    click(&mut h, |h| button(h, "Export…"));
    run_until(&mut h, "the export path field", |h| {
        message_containing(h, "No file dialog").is_some() && !no_file_field(h)
    });
    assert!(file_field(&h).is_focused(), "the prompt focuses its field");
    file_field(&h).type_text(exchange.to_str().unwrap());
    h.key_press(egui::Key::Enter);
    answer(&mut h, "Replace the file?", "Cancel");
    h.run_steps(10);
    assert_eq!(std::fs::read_to_string(&exchange).unwrap(), "my notes\n");
    assert!(message_containing(&h, "exported to").is_none());
    picker.answer_save_file(None);
    click(&mut h, |h| button(h, "Export…"));
    run_until(&mut h, "the export path field again", |h| !no_file_field(h));
    file_field(&h).focus();
    h.step();
    file_field(&h).type_text(exchange.to_str().unwrap());
    h.key_press(egui::Key::Enter);
    answer(&mut h, "Replace the file?", "Replace");
    run_until(&mut h, "the export is reported", |h| {
        message_containing(h, "exported to").is_some() && no_file_field(h)
    });
    let text = std::fs::read_to_string(&exchange).unwrap();
    assert!(text.contains(dirs[0].to_str().unwrap()), "{text}");

    // Cancel closes the prompt without importing.
    picker.answer_pick_file(None);
    click(&mut h, |h| button(h, "Import…"));
    run_until(&mut h, "the import path field", |h| !no_file_field(h));
    click(&mut h, |h| button(h, "Cancel"));
    run_until(&mut h, "the prompt is gone", no_file_field);

    // Import…: the typed file is imported (under a new name) and opened.
    click(&mut h, |h| button(h, "Delete list"));
    answer(&mut h, "Delete watch list?", "Delete");
    run_until(&mut h, "no rows", |h| row(h, &dirs[0]).is_none());
    picker.answer_pick_file(None);
    click(&mut h, |h| button(h, "Import…"));
    run_until(&mut h, "the import path field", |h| !no_file_field(h));
    file_field(&h).type_text(exchange.to_str().unwrap());
    click(&mut h, |h| button(h, "Import"));
    run_until(&mut h, "the imported list's row", |h| {
        row(h, &dirs[0]).is_some() && message_containing(h, "imported watch list").is_some()
    });
    assert!(no_file_field(&h));
    picker.assert_all_used(4);
}

#[test]
fn quitting_releases_every_lock_the_app_holds() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(2);
    let (held, timed) = (&dirs[0], &dirs[1]);
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[held, timed]);
    click(&mut h, |h| row_button(h, held, "Acquire"));
    click(&mut h, |h| row_button(h, timed, "Hold")); // 30 s: still held when we quit
    run_until_status(&mut h, held, "held", Some(me()));
    run_until_status(&mut h, timed, "held", Some(me()));

    drop(h); // closing the window
    // Released by the time the app is gone: no waiting.
    assert_eq!(status(held), ("absent".into(), None));
    assert_eq!(status(timed), ("absent".into(), None));
    assert!(!held.join(LOCK).exists() && !timed.join(LOCK).exists());
}

/// Asks the window to close, as its close button (or Ctrl+Q through eframe) does.
fn request_close(h: &mut App) {
    h.input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .events
        .push(egui::ViewportEvent::Close);
    h.step();
}

/// Whether the app's last frame told the window to stay open (`CancelClose`), or to close.
fn viewport_commands(h: &App) -> Vec<egui::ViewportCommand> {
    h.output()
        .viewport_output
        .get(&egui::ViewportId::ROOT)
        .map(|v| v.commands.clone())
        .unwrap_or_default()
}

/// Closing the window while the app holds a lock asks first (quitting releases it); Cancel
/// keeps the window and the lock; "Release and quit" closes. Nothing held: no question.
#[test]
fn closing_the_window_with_locks_held_asks_first() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[dir]);
    request_close(&mut h);
    assert!(
        !viewport_commands(&h).contains(&egui::ViewportCommand::CancelClose),
        "nothing held: the window closes"
    );
    assert!(h.query_by_label("Quit and release your locks?").is_none());

    click(&mut h, |h| row_button(h, dir, "Acquire"));
    run_until_status(&mut h, dir, "held", Some(me()));
    request_close(&mut h);
    assert!(viewport_commands(&h).contains(&egui::ViewportCommand::CancelClose));
    answer(&mut h, "Quit and release your locks?", "Cancel");
    assert_eq!(status(dir), ("held".into(), Some(u64::from(me()))));

    press(&mut h, egui::Modifiers::COMMAND, egui::Key::Q);
    request_close(&mut h); // what eframe turns Ctrl+Q's Close command into
    click_button_when(&mut h, "Quit and release your locks?", "Release and quit");
    let mut closed = viewport_commands(&h).contains(&egui::ViewportCommand::Close);
    for _ in 0..10 {
        if closed {
            break;
        }
        h.step();
        closed = viewport_commands(&h).contains(&egui::ViewportCommand::Close);
    }
    assert!(closed, "the app closes the window: {}", describe(&h));
    request_close(&mut h);
    assert!(!viewport_commands(&h).contains(&egui::ViewportCommand::CancelClose));
    drop(h);
    assert_eq!(status(dir), ("absent".into(), None));
}

/// Clicks `label` in the question titled `title` once it shows (without waiting for it to go).
fn click_button_when(h: &mut App, title: &str, label: &str) {
    run_until(h, &format!("the app asks {title:?}"), |h| {
        h.query_by_label(title).is_some()
    });
    button(h, label).click();
    h.step();
}

/// "New list" while the app holds a lock asks the list menu's question: release, or keep
/// holding (the row stays, marked), or cancel.
#[test]
fn a_new_list_asks_like_switching_when_locks_are_held() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[dir]);
    click(&mut h, |h| row_button(h, dir, "Acquire"));
    run_until_status(&mut h, dir, "held", Some(me()));
    list_name_field(&h).focus();
    h.step();
    list_name_field(&h).type_text("fresh");
    h.step();
    click(&mut h, |h| button(h, "New list"));
    answer(&mut h, "Switch watch lists?", "Release and switch");
    run_until(&mut h, "fresh is the active list", |h| {
        active_list(h).as_deref() == Some("fresh")
    });
    run_until_status(&mut h, dir, "absent", None);
    assert!(row(&h, dir).is_none());
}

/// Every input widget must have an accessible name (screen readers; tests find widgets by it),
/// including the watch-list ComboBox and the hold-duration field.
#[test]
fn every_input_widget_has_an_accessible_name() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[&dirs[0]]);
    h.step();
    let unnamed = h.unnamed_widgets();
    assert!(unnamed.is_empty(), "unnamed widgets: {unnamed:#?}");
}

/// Every character the window shows must have a glyph, or it is drawn as an empty box ("tofu").
/// The harness panics on the first one missing. (A dismiss button once used "✕", U+2715, which
/// none of egui's fonts has.)
#[test]
fn every_symbol_the_window_shows_has_a_glyph() {
    let cfg = tempfile::tempdir().unwrap();
    std::fs::write(cfg.path().join("lockscope.toml"), b"not = [toml").unwrap();
    let picker = FakePicker::new();
    picker.answer_folders(Duration::ZERO, None);
    let mut h = build_app(app_config(cfg.path(), picker, None), true);
    run_until(&mut h, "a banner message", |h| {
        message_containing(h, "moved aside").is_some()
    });
    click(&mut h, |h| button(h, "Add folders…"));
    run_until(&mut h, "the no-dialog hint", |h| {
        message_containing(h, "No folder dialog").is_some()
    });
}

#[test]
fn the_list_asked_for_at_start_is_opened_or_imported() {
    let cfg = tempfile::tempdir().unwrap();
    let (root, dirs) = tempdirs(2);
    let all: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    {
        // Two saved lists; "default" (with dirs[0]) is the active one when the app closes.
        let mut h = start_app(cfg.path(), FakePicker::new());
        type_path(&mut h, dirs[0].to_str().unwrap());
        create_list(&mut h, "staging");
        type_path(&mut h, dirs[1].to_str().unwrap());
        run_until(&mut h, "staging's row", |h| {
            shown_dirs(h, &all) == dirs[1..]
        });
        switch_list(&mut h, "default");
        run_until(&mut h, "default's row", |h| {
            shown_dirs(h, &all) == dirs[..1]
        });
    }

    // `--watchlist staging`
    let open = Some(OpenList::Name("staging".into()));
    let mut h = build_app(app_config(cfg.path(), FakePicker::new(), open), false);
    run_until(&mut h, "staging opened", |h| {
        active_list(h).as_deref() == Some("staging") && shown_dirs(h, &all) == dirs[1..]
    });
    drop(h);

    // `--watchlist nosuch`: said so, and the last active list opens.
    let open = Some(OpenList::Name("nosuch".into()));
    let mut h = build_app(app_config(cfg.path(), FakePicker::new(), open), false);
    run_until(&mut h, "an error naming the list", |h| {
        message_containing(h, "no saved watch list named \"nosuch\"").is_some() && lists_loaded(h)
    });
    drop(h);

    // `--watchlist FILE`: imported as a new list and opened.
    let file = root.path().join("ops.toml");
    std::fs::write(
        &file,
        format!("name = \"ops\"\ndirs = [{:?}]\n", dirs[0].to_str().unwrap()),
    )
    .unwrap();
    let open = Some(OpenList::File(file));
    let mut h = build_app(app_config(cfg.path(), FakePicker::new(), open), false);
    run_until(&mut h, "the imported list opened", |h| {
        active_list(h).as_deref() == Some("ops") && shown_dirs(h, &all) == dirs[..1]
    });
}

/// `--watchlist certbot` is the built-in preset unless a list has that name (as for `serve`),
/// also when the saved state cannot be read: a corrupt file on a read-only mount, which cannot
/// be set aside, is reported and left alone.
#[test]
fn watchlist_certbot_opens_the_preset_without_a_file() {
    let all: Vec<PathBuf> = lockscope::watchlist::WatchList::certbot_preset().dirs;
    let all: Vec<&Path> = all.iter().map(PathBuf::as_path).collect();
    let open = || Some(OpenList::Name("certbot".into()));
    let empty = tempfile::tempdir().unwrap();
    let mut h = build_app(app_config(empty.path(), FakePicker::new(), open()), false);
    run_until(&mut h, "the preset opened", |h| {
        active_list(h).as_deref() == Some("certbot") && shown_dirs(h, &all) == all
    });
    drop(h);

    assert!(
        crate::common::is_root(),
        "mounts a read-only bind mount (CI runs as root)"
    );
    let cfg = tempfile::tempdir().unwrap();
    let file = cfg.path().join("lockscope.toml");
    std::fs::write(&file, "[[list]\ncorrupt").unwrap();
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let mount = |args: &[&str]| {
        let ok = std::process::Command::new("mount")
            .args(args)
            .arg(cfg.path())
            .arg(cfg.path())
            .status();
        assert!(ok.unwrap().success(), "mount {args:?}");
    };
    mount(&["--bind"]);
    let _unmount = Unmount(cfg.path());
    mount(&["-o", "remount,bind,ro"]);
    let mut h = build_app(app_config(cfg.path(), FakePicker::new(), open()), false);
    run_until(&mut h, "the preset opened and the file reported", |h| {
        active_list(h).as_deref() == Some("certbot")
            && shown_dirs(h, &all) == all
            && message_containing(h, "could not be moved aside").is_some()
    });
    drop(h);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "[[list]\ncorrupt");
}

/// A watch-list load that blocks until released: what a config directory on a hung network
/// filesystem does (the store opens even a FIFO without blocking, so nothing local can).
/// Dropping the gate releases it, so a failing test never leaves the store thread blocked.
#[derive(Clone, Default)]
struct LoadGate(Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

impl LoadGate {
    fn config(&self, config_dir: &Path) -> AppConfig {
        let gate = self.clone();
        let mut config = app_config(config_dir, FakePicker::new(), None);
        config.before_load = Some(Arc::new(move || {
            let (open, changed) = &*gate.0;
            let mut open = open.lock().unwrap_or_else(|p| p.into_inner());
            while !*open {
                open = changed.wait(open).unwrap_or_else(|p| p.into_inner());
            }
        }));
        config
    }

    fn open(&self) {
        let (open, changed) = &*self.0;
        *open.lock().unwrap_or_else(|p| p.into_inner()) = true;
        changed.notify_all();
    }
}

struct OpenOnDrop(LoadGate);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// A path typed (or picked, or dropped) while the watch lists are still loading must not be lost.
/// (It once was: the load replaced the rows with the loaded list's.) Loading is instant on a local
/// disk, but not with a config directory on a slow or hung network filesystem; a gated load
/// makes it deterministic here.
#[test]
fn a_path_typed_while_the_lists_load_is_not_lost() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let gate = LoadGate::default();
    let mut h = build_app(gate.config(cfg.path()), false);
    // Declared after `h`, so dropped first: a failing assertion cannot leave the load blocked.
    let load = OpenOnDrop(gate);
    assert!(!lists_loaded(&h));
    type_path(&mut h, dirs[0].to_str().unwrap());
    h.run_steps(3);
    load.0.open();
    run_until(&mut h, "the lists are loaded", lists_loaded);
    h.run_steps(5);
    let kept_as_row = row(&h, &dirs[0]).is_some();
    let kept_in_field = path_field(&h).value().as_deref() == dirs[0].to_str();
    assert!(
        kept_as_row || kept_in_field,
        "the typed path is gone:\n{}",
        describe(&h)
    );
}

/// Closing the window must not wait for a watch-list load that does not return (a config
/// directory on a hung network filesystem): the store thread blocked in the load is left behind
/// (here the gate opens after 3 s; on a hung NFS mount, never).
#[test]
fn quitting_does_not_wait_for_a_blocked_watch_list_load() {
    let cfg = tempfile::tempdir().unwrap();
    let gate = LoadGate::default();
    let mut h = build_app(gate.config(cfg.path()), false);
    h.run_steps(3);
    assert!(!lists_loaded(&h));
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        gate.open();
    });
    let closing = Instant::now();
    drop(h);
    let took = closing.elapsed();
    opener.join().unwrap();
    assert!(took < Duration::from_secs(1), "closing took {took:?}");
}

#[test]
fn a_hostile_directory_name_is_shown_escaped() {
    let cfg = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("evil\nname\x1b[2J\u{202e}");
    std::fs::create_dir(&dir).unwrap();
    let shown = format!("{}/evil\\nname\\e[2J\\u{{202e}}", root.path().display());
    // A typed path cannot hold a newline; an imported watch list can (TOML escapes).
    let file = root.path().join("evil.toml");
    let toml_dir = format!("{}/evil\\nname\\u001b[2J\\u202e", root.path().display());
    std::fs::write(&file, format!("name = \"evil\"\ndirs = [\"{toml_dir}\"]\n")).unwrap();
    let open = Some(OpenList::File(file));
    let mut h = build_app(app_config(cfg.path(), FakePicker::new(), open), false);
    run_until(&mut h, "the escaped directory in the table", |h| {
        h.query_all_by(|n| is_label(n, &shown)).next().is_some()
    });
    run_until(&mut h, "its event-log line, escaped", |h| {
        message_containing(h, &format!("{shown}  - → absent")).is_some()
    });
    let raw: Vec<String> = h
        .query_all_by(|n| {
            n.value()
                .or_else(|| n.label())
                .is_some_and(|t| t.contains(['\x1b', '\u{202e}']) || t.contains("evil\n"))
        })
        .map(|n| format!("{:?}", n.accesskit_node().value()))
        .collect();
    assert!(raw.is_empty(), "raw control characters shown: {raw:?}");
}

/// Someone runs `rm .certbot.lock` while the app holds the lock for a test: the app's lock no
/// longer excludes certbot (a certbot started now creates a new file and runs). The row and a
/// message say so, instead of showing "Held by this app" as if all were well.
#[test]
fn a_lock_file_removed_while_held_is_reported() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[dir]);
    click(&mut h, |h| row_button(h, dir, "Acquire"));
    run_until(&mut h, "the badge says Held by this app", |h| {
        has_badge(h, dir, "Held by this app")
    });
    std::fs::remove_file(dir.join(LOCK)).unwrap();
    run_until(&mut h, "the row says the lock file was removed", |h| {
        row_texts(h, dir)
            .iter()
            .any(|t| t.contains("lock file removed while held"))
    });
    run_until(
        &mut h,
        "the message that the lock no longer excludes certbot",
        |h| message_containing(h, "no longer excludes certbot").is_some(),
    );
    // And certbot can indeed start beside it: the app does not pretend otherwise.
    certbot_lock_dir(dir).expect_locked().release();
}

/// The settings panel reads the poll interval like `lockscope watch --interval` and the
/// watch-list file do: a bare number is seconds. (It used to refuse `5` with "time unit
/// needed".)
#[test]
fn the_settings_panel_takes_a_bare_number_of_seconds_as_the_interval() {
    let cfg = tempfile::tempdir().unwrap();
    let mut h = start_app(cfg.path(), FakePicker::new());
    click(&mut h, |h| h.get_by_label("Settings"));
    // The interval field is the text field showing the default, 1s.
    fn interval_field(h: &App) -> Node<'_> {
        h.get_by(|n| n.role() == Role::TextInput && n.value().as_deref() == Some("1s"))
    }
    run_until(&mut h, "the settings panel shows the interval", |h| {
        h.query_by(|n| n.role() == Role::TextInput && n.value().as_deref() == Some("1s"))
            .is_some()
    });
    interval_field(&h).focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    interval_field(&h).type_text("5");
    h.step();
    click(&mut h, |h| button(h, "Apply"));
    run_until(&mut h, "the panel says it polls every 5s", |h| {
        h.query_by_label("Polling every 5s").is_some()
    });
    assert!(
        message_containing(&h, "poll interval").is_none(),
        "{}",
        describe(&h)
    );
    let saved_interval = || {
        std::fs::read_to_string(cfg.path().join("lockscope.toml"))
            .is_ok_and(|saved| saved.contains("interval = \"5s\""))
    };
    run_until(&mut h, "the interval is saved as 5s", |_| saved_interval());
}

/// Messages float as toasts over a corner instead of stacking up as banners above the table: a
/// message never moves a row (it used to push the table down, so the next click missed). And a
/// bad interval is explained in words.
#[test]
fn a_message_does_not_move_the_table() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[&dirs[0]]);
    click(&mut h, |h| h.get_by_label("Settings"));
    run_until(&mut h, "the settings panel shows the interval", |h| {
        h.query_by(|n| n.role() == Role::TextInput && n.value().as_deref() == Some("1s"))
            .is_some()
    });
    h.run_steps(3);
    let cell = |h: &App| {
        row(h, &dirs[0]).expect("the row")[0]
            .get_by_role(Role::Label)
            .rect()
    };
    let before = cell(&h);

    for (n, typed) in ["soon", "5 parsecs", "-1"].into_iter().enumerate() {
        fn field(h: &App) -> Node<'_> {
            h.get_by(|n| {
                n.role() == Role::TextInput
                    && n.value()
                        .is_some_and(|v| v == "1s" || v == "soon" || v == "5 parsecs")
            })
        }
        field(&h).focus();
        h.step();
        h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        h.step();
        field(&h).type_text(typed);
        h.step();
        click(&mut h, |h| button(h, "Apply"));
        run_until(&mut h, "the error message", |h| {
            h.query_all_by(|n| {
                n.role() == Role::Label && n.value().is_some_and(|v| v.contains("poll interval"))
            })
            .count()
                == n + 1
        });
        h.run_steps(3);
        assert_eq!(cell(&h), before, "message {} moved the row", n + 1);
    }
    let text = message_containing(&h, "poll interval").unwrap();
    assert!(
        text.contains("is not a duration") && text.contains("examples: 30s"),
        "{text}"
    );
    assert!(!text.contains("expected"), "parser jargon: {text}");
}

/// Times are shown in the local time zone with its name (they were UTC with a bare "Z"): the
/// Since column and the event log.
#[test]
fn times_are_shown_in_the_local_zone() {
    times_are_shown_in(jiff::tz::TimeZone::system());
}

const NEW_YORK: &str = "America/New_York";

/// The test above in a zone that is not UTC whatever the machine's: on a UTC machine it cannot
/// tell the local zone from UTC. This binary again with `TZ=America/New_York`, running only
/// [`times_in_new_york_child`].
#[test]
fn times_follow_tz_not_utc() {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let name = format!("{module}::times_in_new_york_child");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", &name, "--test-threads=1"])
        .env("TZ", NEW_YORK)
        .output()
        .expect("run the test binary again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Not a test of its own (ignored): [`times_follow_tz_not_utc`] runs it with `TZ` set.
#[test]
#[ignore = "run by times_follow_tz_not_utc, with TZ=America/New_York"]
fn times_in_new_york_child() {
    assert_eq!(
        std::env::var("TZ").as_deref(),
        Ok(NEW_YORK),
        "run by times_follow_tz_not_utc"
    );
    // Named here, not taken from the environment the app reads.
    let zone = jiff::tz::TimeZone::get(NEW_YORK).expect("the tz database has America/New_York");
    times_are_shown_in(zone);
}

/// The Since cell and the event log show the app's first look at a row as `HH:MM:SS ABBR` in
/// `zone`: its abbreviation, and a time of day a moment before now in that zone.
fn times_are_shown_in(zone: jiff::tz::TimeZone) {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[&dirs[0]]);
    let now = jiff::Timestamp::now().to_zoned(zone);
    let abbr = format!(" {}", now.strftime("%Z"));
    let now_secs =
        i32::from(now.hour()) * 3600 + i32::from(now.minute()) * 60 + i32::from(now.second());
    // `HH:MM:SS` at most two minutes before `now` (midnight wraps) in `zone`.
    let recent = |s: &str| -> bool {
        let b = s.as_bytes();
        let shape = b.len() >= 8
            && b[2] == b':'
            && b[5] == b':'
            && s[..8].chars().all(|c| c == ':' || c.is_ascii_digit());
        if !shape {
            return false;
        }
        let n = |r: std::ops::Range<usize>| s[r].parse::<i32>().unwrap();
        let secs = n(0..2) * 3600 + n(3..5) * 60 + n(6..8);
        (now_secs - secs).rem_euclid(86_400) <= 120
    };
    // "≤ 04:01:42 CET": absent at least since the app's first look.
    run_until(&mut h, "the Since cell", |h| {
        row_texts(h, &dirs[0])
            .iter()
            .filter_map(|t| t.strip_prefix("≤ "))
            .any(|t| recent(t) && t[8..] == abbr)
    });
    let line = h
        .query_all_by(|n| {
            n.role() == Role::Label && n.value().is_some_and(|v| v.contains("[initial]"))
        })
        .filter_map(|n| n.accesskit_node().value())
        .next()
        .expect("an event log line");
    assert!(
        recent(&line) && line[8..].starts_with(&format!("{abbr}  ")),
        "{line} (now {now})"
    );
}

/// Settings has a Dark / Light / System choice, applied at once (the choice is saved with the
/// rest of the window state: `state.rs`'s test).
#[test]
fn the_theme_can_be_chosen_in_the_settings() {
    let cfg = tempfile::tempdir().unwrap();
    let mut h = start_app(cfg.path(), FakePicker::new());
    assert_eq!(
        h.ctx.options(|o| o.theme_preference),
        egui::ThemePreference::System
    );
    click(&mut h, |h| h.get_by_label("Settings"));
    for (choice, theme) in [("Light", egui::Theme::Light), ("Dark", egui::Theme::Dark)] {
        click(&mut h, |h| h.get_by_label(choice));
        h.run_steps(2);
        assert_eq!(h.ctx.theme(), theme, "{choice}");
    }
    click(&mut h, |h| h.get_by_label("System"));
    h.run_steps(2);
    assert_eq!(
        h.ctx.options(|o| o.theme_preference),
        egui::ThemePreference::System
    );
}

/// The event log's hover text repeats the line, arrow included: it must have a glyph there too
/// (the hover's font once lacked "→" and showed a box). The harness panics on a missing glyph.
#[test]
fn the_event_log_hover_has_every_glyph() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[&dirs[0]]);
    let is_line = |n: &egui_kittest::kittest::AccessKitNode<'_>| {
        n.role() == Role::Label && n.value().is_some_and(|v| v.contains("[initial]"))
    };
    run_until(&mut h, "an event log line", |h| {
        h.query_by(is_line).is_some()
    });
    h.get_by(is_line).hover();
    // Tooltips show after a short delay.
    for _ in 0..40 {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    let tooltip = h
        .query_all_by(|n| {
            n.role() == Role::Label && n.value().is_some_and(|v| v.contains("[initial]"))
        })
        .count();
    assert!(tooltip >= 2, "the hover text is shown:\n{}", describe(&h));
}

// ---- the details pane, the warning badge and "End holder…" ------------------------------------

/// Clicks the button labelled `label` (like [`click`]).
fn click_button(h: &mut App, label: &str) {
    let n = h.get_by_role_and_label(Role::Button, label);
    assert!(!n.accesskit_node().is_disabled(), "{label} is disabled");
    n.click();
    h.remove_cursor();
    h.step();
}

/// Selects `dir`'s row with a plain click on its path.
fn select_row(h: &mut App, dir: &Path) {
    let cells = row(h, dir).unwrap_or_else(|| panic!("no row for {}", dir.display()));
    cells[0].get_by_role(Role::Label).click();
    h.remove_cursor();
    h.step();
    run_until(h, "one row selected", |h| {
        h.query_by_label("Selected: 1").is_some()
    });
}

/// Every label of the window, in tree order.
fn labels(h: &App) -> Vec<String> {
    h.query_all_by_role(Role::Label)
        .filter_map(|n| n.accesskit_node().value())
        .collect()
}

/// The details pane's value for a field ("PID", "User", "Command", "Held since"): the label
/// after the field's name. (The table's headers are buttons, so these names are the pane's.)
fn detail(h: &App, name: &str) -> Option<String> {
    let labels = labels(h);
    let at = labels.iter().position(|l| l == name)?;
    labels.get(at + 1).cloned()
}

/// The uid this test runs as (the certbot it starts runs as the same).
fn my_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid()
}

/// "12 s", "1 min 3 s": the HELD FOR cell's text.
fn is_age(text: &str) -> bool {
    let t = text.trim_start_matches("≥ ");
    t.ends_with(" s")
        && t.split(' ')
            .next()
            .is_some_and(|n| n.parse::<u64>().is_ok())
        || t.contains(" min")
}

#[test]
fn the_details_pane_shows_who_holds_the_lock_since_when_and_stays_fresh() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[dir]);
    assert!(
        !row_texts(&h, dir).iter().any(|t| is_age(t)),
        "no HELD FOR while absent: {:?}",
        row_texts(&h, dir)
    );
    let certbot = certbot_lock_dir(dir).expect_locked();
    let pid = certbot.pid.to_string();
    run_until(&mut h, "Held by certbot", |h| {
        row_texts(h, dir).contains(&pid)
    });
    assert_eq!(
        detail(&h, "PID"),
        None,
        "no details pane before a row is selected"
    );
    // HELD FOR: an age, from the diagnosis (the lock file's birth).
    assert!(
        row_texts(&h, dir).iter().any(|t| is_age(t)),
        "HELD FOR: {:?}",
        row_texts(&h, dir)
    );

    select_row(&mut h, dir);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let words: Vec<String> = cmdline
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    run_until(&mut h, "the details name pid, user and command", |h| {
        detail(h, "PID").as_deref() == Some(pid.as_str())
            && detail(h, "User").is_some_and(|u| u.ends_with(&format!("(uid {})", my_uid())))
            && detail(h, "Command").is_some_and(|c| words.iter().all(|w| c.contains(w.as_str())))
    });
    let since = detail(&h, "Held since").expect("a Held since field");
    assert!(since.ends_with(" ago"), "held since: {since:?}");
    // The app saw certbot take it (absent → held): that time wins over the file's.
    let all = labels(&h);
    let at = all.iter().position(|l| *l == since).unwrap();
    assert_eq!(
        all.get(at + 1).map(String::as_str),
        Some("when lockscope saw it taken"),
        "the source of held-since: {all:?}"
    );
    assert!(
        labels(&h).iter().any(|l| l.starts_with("What to do:")),
        "the what-to-do sentence"
    );
    assert!(
        h.query_by_role_and_label(Role::Button, "End holder…")
            .is_some(),
        "End holder… is offered for another process's lock"
    );

    // Fresh: while the row stays selected and held, it is diagnosed again every ~2 s.
    let checked = |h: &App| {
        labels(h).iter().find_map(|l| {
            let age = l.strip_prefix("checked ")?.strip_suffix(" ago")?;
            age.strip_suffix(" s")?.parse::<u64>().ok()
        })
    };
    let until = Instant::now() + Duration::from_secs(5);
    let mut oldest = 0;
    while Instant::now() < until {
        h.step();
        if let Some(age) = checked(&h) {
            oldest = oldest.max(age);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(checked(&h).is_some(), "the pane says when it was checked");
    assert!(
        oldest <= 3,
        "the details were {oldest} s old: not refreshed while selected"
    );
    certbot.release();
    run_until(&mut h, "the pane follows the release", |h| {
        detail(h, "PID").is_none() && labels(h).iter().any(|l| l == "Absent")
    });
}

#[test]
fn a_row_with_a_warning_shows_a_badge_with_the_messages_on_hover() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(2);
    let (dir, other) = (&dirs[0], &dirs[1]);
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[dir, other]);
    let certbot = certbot_lock_dir(dir).expect_locked();
    let pid = certbot.pid.to_string();
    run_until(&mut h, "Held by certbot", |h| {
        row_texts(h, dir).contains(&pid)
    });
    assert!(
        !row_texts(&h, dir).iter().any(|t| t.starts_with('⚠')),
        "no badge without a warning"
    );
    // Someone deletes a running certbot's lock file: the path looks free, the badge says not
    // (it said "Absent" beside the ⚠; issue 25 item 1).
    std::fs::remove_file(dir.join(LOCK)).unwrap();
    run_until(&mut h, "Orphaned lock with a ⚠ 1 badge", |h| {
        let texts = row_texts(h, dir);
        texts.iter().any(|t| t == "Orphaned lock") && texts.iter().any(|t| t == "⚠ 1")
    });
    assert!(
        !row_texts(&h, other).iter().any(|t| t.starts_with('⚠')),
        "only the row with the warning has a badge"
    );
    let cells = row(&h, dir).unwrap();
    let badge = cells
        .iter()
        .flat_map(|c| c.query_all_by_role(Role::Label))
        .find(|n| n.accesskit_node().value().as_deref() == Some("⚠ 1"))
        .expect("the badge");
    badge.hover();
    run_until(&mut h, "the tooltip names the warning", |h| {
        message_containing(h, "orphaned-lock: ").is_some_and(|m| m.contains(&pid))
    });
    drop(certbot);
}

/// A certbot that ignores SIGTERM (SIG_IGN survives exec): only SIGKILL ends it.
struct StubbornCertbot {
    child: std::process::Child,
    pid: u32,
}

impl StubbornCertbot {
    fn start(dir: &Path) -> StubbornCertbot {
        use std::io::BufRead;
        let mut child = std::process::Command::new(common::certbot_python())
            .args([
                "-c",
                "import os, signal, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); \
                 os.execv(sys.executable, [sys.executable] + sys.argv[1:])",
            ])
            .arg(common::peer_script())
            .arg("hold")
            .arg(dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start certbot peer");
        let pid = child.id();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), format!("locked {pid}"));
        StubbornCertbot { child, pid }
    }

    /// Whether it has exited (it is reaped here).
    fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }
}

impl Drop for StubbornCertbot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dialog_open(h: &App) -> bool {
    h.query_by_role_and_label(Role::Button, "Cancel").is_some()
}

#[test]
fn end_holder_asks_first_then_ends_a_real_certbot() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[dir]);
    let certbot = certbot_lock_dir(dir).expect_locked();
    let pid = certbot.pid.to_string();
    run_until(&mut h, "Held by certbot", |h| {
        row_texts(h, dir).contains(&pid)
    });
    // The row's menu offers it too, and selects the row, whose pane shows the progress.
    row(&h, dir).unwrap()[0]
        .get_by_role(Role::Label)
        .click_secondary();
    h.step();
    run_until(&mut h, "the row's menu offers End holder…", |h| {
        h.query_by_role_and_label(Role::Button, "End holder…")
            .is_some()
    });
    button(&h, "End holder…").click();
    run_until(&mut h, "the confirmation dialog from the menu", dialog_open);
    assert!(
        h.query_by_label("Selected: 1").is_some(),
        "{}",
        describe(&h)
    );
    click(&mut h, |h| button(h, "Cancel"));
    run_until(&mut h, "the dialog closes", |h| !dialog_open(h));
    h.run_steps(10);
    select_row(&mut h, dir);
    run_until(&mut h, "End holder… is offered", |h| {
        h.query_by_role_and_label(Role::Button, "End holder…")
            .is_some()
    });

    // The dialog names pid, user and command; Cancel signals nothing.
    click(&mut h, |h| button(h, "End holder…"));
    let end_label = format!("End pid {pid}");
    run_until(&mut h, "the confirmation dialog", dialog_open);
    let user = labels(&h)
        .into_iter()
        .find(|l| l.starts_with(&format!("pid {pid}, user ")))
        .unwrap_or_else(|| panic!("the dialog names pid and user: {}", describe(&h)));
    assert!(!user.ends_with("unknown"), "{user}");
    assert!(
        labels(&h)
            .iter()
            .any(|l| l.contains("certbot_peer.py hold") && l.contains(dir.to_str().unwrap())),
        "the dialog shows the full command: {}",
        describe(&h)
    );
    assert!(
        h.query_by_role_and_label(Role::Button, &end_label)
            .is_some()
    );
    click(&mut h, |h| button(h, "Cancel"));
    run_until(&mut h, "the dialog closes", |h| !dialog_open(h));
    for _ in 0..20 {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        status(dir),
        ("held".to_string(), Some(u64::from(certbot.pid))),
        "Cancel left the holder alone"
    );

    // Confirmed: SIGTERM, certbot exits (Python's default for TERM: no cleanup, the file stays).
    click(&mut h, |h| button(h, "End holder…"));
    run_until(&mut h, "the confirmation dialog again", dialog_open);
    click_button(&mut h, &end_label);
    run_until(&mut h, "the row is no longer held", |h| {
        has_badge(h, dir, "Free (stale file)") || has_badge(h, dir, "Absent")
    });
    run_until(&mut h, "the outcome is reported", |h| {
        message_containing(h, &format!("SIGTERM ended pid {pid}")).is_some()
    });
    assert_ne!(status(dir).0, "held");
    drop(certbot);
}

/// `/proc`'s state letter of `pid` (T: stopped).
fn process_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    after.trim_start().chars().next().unwrap()
}

/// A holder stopped by SIGSTOP (Ctrl+Z) cannot act on End holder's SIGTERM: the pane says it is
/// stopped and offers Resume, which lets it run again (still holding the lock); the advice
/// names the app's buttons, not commands to type.
#[test]
fn a_stopped_holder_is_offered_resume_and_the_advice_names_the_apps_buttons() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let certbot = certbot_lock_dir(dir).expect_locked();
    let pid = certbot.pid;
    // SAFETY: kill has no memory preconditions; pid is our own child.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGSTOP) }, 0);
    let mut h = start_app(cfg.path(), FakePicker::new());
    type_path(&mut h, dir.to_str().unwrap());
    run_until(&mut h, "Held by certbot", |h| {
        row_texts(h, dir).contains(&pid.to_string())
    });
    select_row(&mut h, dir);
    run_until(
        &mut h,
        "the pane says it is stopped and offers Resume",
        |h| {
            h.query_by_role_and_label(Role::Button, "Resume").is_some()
                && labels(h)
                    .iter()
                    .any(|l| l.contains("The holder is stopped"))
        },
    );
    let advice = labels(&h)
        .into_iter()
        .find(|l| l.starts_with("What to do:"))
        .unwrap_or_else(|| panic!("no advice: {}", describe(&h)));
    assert!(advice.contains("Resume (above)"), "{advice}");
    assert!(advice.contains("End holder…"), "{advice}");
    assert!(!advice.contains("lockscope terminate"), "{advice}");
    assert!(!advice.contains("kill -CONT"), "{advice}");
    assert_eq!(process_state(pid), 'T');
    click(&mut h, |h| button(h, "Resume"));
    run_until(&mut h, "the holder runs again", |_| {
        process_state(pid) != 'T'
    });
    run_until(&mut h, "the pane no longer says stopped", |h| {
        h.query_by_role_and_label(Role::Button, "Resume").is_none()
            && !labels(h)
                .iter()
                .any(|l| l.contains("The holder is stopped"))
    });
    assert_eq!(
        status(dir),
        ("held".to_string(), Some(u64::from(pid))),
        "resumed, not ended"
    );
    certbot.release();
}

/// Runs the calling thread, and the threads it starts, as uid and gid 65534 (nobody): real and
/// effective ids, as an unprivileged user's app has; the saved ids stay root, so the drop comes
/// back. Raw syscalls: glibc's wrappers would change every thread of the test process.
struct ThreadAsNobody;

impl ThreadAsNobody {
    fn start() -> ThreadAsNobody {
        // SAFETY: raw setresgid/setresuid change only this thread's credentials.
        unsafe {
            assert_eq!(libc::syscall(libc::SYS_setresgid, 65534, 65534, 0), 0);
            assert_eq!(libc::syscall(libc::SYS_setresuid, 65534, 65534, 0), 0);
        }
        ThreadAsNobody
    }
}

impl Drop for ThreadAsNobody {
    fn drop(&mut self) {
        // SAFETY: as above; the saved ids are root.
        unsafe {
            libc::syscall(libc::SYS_setresuid, 0, 0, 0);
            libc::syscall(libc::SYS_setresgid, 0, 0, 0);
        }
    }
}

/// An unprivileged user's app does not offer to end a root-owned holder: End holder is
/// disabled with the reason in sight, before anything is confirmed or sent.
#[test]
fn end_holder_is_disabled_with_the_reason_for_another_users_holder() {
    if !common::is_root() {
        panic!("this test needs root: it runs the app as nobody beside a root-owned certbot");
    }
    use std::os::unix::fs::PermissionsExt;
    let cfg = tempfile::tempdir().unwrap();
    let (root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    for open in [cfg.path(), root.path(), dir.as_path()] {
        std::fs::set_permissions(open, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let certbot = certbot_lock_dir(dir).expect_locked();
    let pid = certbot.pid;
    let nobody = ThreadAsNobody::start();
    let mut h = start_app(cfg.path(), FakePicker::new());
    type_path(&mut h, dir.to_str().unwrap());
    run_until(&mut h, "Held by certbot", |h| {
        row_texts(h, dir).contains(&pid.to_string())
    });
    select_row(&mut h, dir);
    run_until(&mut h, "the reason End holder is disabled", |h| {
        labels(h)
            .iter()
            .any(|l| l.starts_with("owned by root: this app may not signal"))
    });
    let end = h.get_by_role_and_label(Role::Button, "End holder…");
    assert!(end.accesskit_node().is_disabled(), "{}", describe(&h));
    drop(h);
    drop(nobody);
    assert_eq!(status(dir), ("held".to_string(), Some(u64::from(pid))));
    certbot.release();
}

#[test]
fn end_holder_offers_kill_when_sigterm_is_ignored() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[dir]);
    let mut certbot = StubbornCertbot::start(dir);
    let pid = certbot.pid.to_string();
    run_until(&mut h, "Held by certbot", |h| {
        row_texts(h, dir).contains(&pid)
    });
    select_row(&mut h, dir);
    run_until(&mut h, "End holder… is offered", |h| {
        h.query_by_role_and_label(Role::Button, "End holder…")
            .is_some()
    });
    click(&mut h, |h| button(h, "End holder…"));
    run_until(&mut h, "the confirmation dialog", dialog_open);
    click(&mut h, |h| h.get_by_label("5 s"));
    click_button(&mut h, &format!("End pid {pid}"));
    run_until(&mut h, "the progress line while waiting", |h| {
        labels(h)
            .iter()
            .any(|l| l.starts_with(&format!("sent SIGTERM to pid {pid}; waiting up to 5s")))
    });
    assert!(!certbot.exited(), "it ignores SIGTERM");
    let kill = format!("Kill pid {pid}");
    run_until(&mut h, "Kill is offered after the grace time", |h| {
        h.query_by_role_and_label(Role::Button, &kill).is_some()
    });
    // (A toast shows from the frame after its message: its first frame only sizes it.)
    run_until(&mut h, "the still-held message", |h| {
        message_containing(h, "still held by pid").is_some()
    });
    click_button(&mut h, &kill);
    run_until(&mut h, "the row is free after SIGKILL", |h| {
        has_badge(h, dir, "Free (stale file)")
    });
    run_until(&mut h, "the outcome is reported", |h| {
        message_containing(h, &format!("SIGKILL ended pid {pid}")).is_some()
    });
    assert!(certbot.exited());
}

/// Closing the window while "End holder…" waits out its grace time does not wait for it.
#[test]
fn quitting_while_ending_a_holder_does_not_wait_for_the_grace_time() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[dir]);
    let certbot = StubbornCertbot::start(dir);
    let pid = certbot.pid.to_string();
    run_until(&mut h, "Held by certbot", |h| {
        row_texts(h, dir).contains(&pid)
    });
    select_row(&mut h, dir);
    run_until(&mut h, "End holder… is offered", |h| {
        h.query_by_role_and_label(Role::Button, "End holder…")
            .is_some()
    });
    click(&mut h, |h| button(h, "End holder…"));
    run_until(&mut h, "the confirmation dialog", dialog_open);
    click(&mut h, |h| h.get_by_label("60 s"));
    click_button(&mut h, &format!("End pid {pid}"));
    run_until(&mut h, "waiting for the lock", |h| {
        labels(h)
            .iter()
            .any(|l| l.starts_with(&format!("sent SIGTERM to pid {pid}; waiting up to 1m")))
    });
    let closing = Instant::now();
    drop(h);
    let took = closing.elapsed();
    assert!(took < Duration::from_secs(3), "closing took {took:?}");
    drop(certbot);
}

/// A holder whose command line carries a hostile path: the details pane, the warning-free row
/// and the End-holder dialog show it escaped, never raw.
#[test]
fn a_hostile_holder_command_is_shown_escaped_in_the_details_and_the_dialog() {
    let cfg = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("evil\nname\x1b[2J\u{202e}");
    std::fs::create_dir(&dir).unwrap();
    let shown = format!("{}/evil\\nname\\e[2J\\u{{202e}}", root.path().display());
    let file = root.path().join("evil.toml");
    let toml_dir = format!("{}/evil\\nname\\u001b[2J\\u202e", root.path().display());
    std::fs::write(&file, format!("name = \"evil\"\ndirs = [\"{toml_dir}\"]\n")).unwrap();
    let open = Some(OpenList::File(file));
    let mut h = build_app(app_config(cfg.path(), FakePicker::new(), open), false);
    run_until(&mut h, "the escaped directory in the table", |h| {
        h.query_all_by(|n| is_label(n, &shown)).next().is_some()
    });
    let certbot = certbot_lock_dir(&dir).expect_locked();
    let pid = certbot.pid.to_string();
    run_until(&mut h, "Held by certbot", |h| {
        row_texts(h, Path::new(&shown)).contains(&pid)
    });
    let label = h.get_by(|n| is_label(n, &shown));
    label.click();
    h.remove_cursor();
    h.step();
    run_until(&mut h, "the details show the command, escaped", |h| {
        detail(h, "Command").is_some_and(|c| c.contains(&shown))
    });
    click(&mut h, |h| button(h, "End holder…"));
    run_until(&mut h, "the confirmation dialog", dialog_open);
    assert!(
        labels(&h)
            .iter()
            .any(|l| l.contains("certbot_peer.py hold") && l.contains(&shown)),
        "the dialog shows the escaped command: {}",
        describe(&h)
    );
    let raw: Vec<String> = h
        .query_all_by(|n| {
            n.value()
                .or_else(|| n.label())
                .is_some_and(|t| t.contains(['\x1b', '\u{202e}']) || t.contains("evil\n"))
        })
        .map(|n| format!("{:?}", n.accesskit_node().value()))
        .collect();
    assert!(raw.is_empty(), "raw control characters shown: {raw:?}");
    click(&mut h, |h| button(h, "Cancel"));
    certbot.release();
}

// ---- issue 13: the app as a daily tool ---------------------------------------------------------

/// The event log's lines (labels) that mention `dir`.
fn log_lines(h: &App, dir: &Path) -> Vec<String> {
    let text = dir.display().to_string();
    h.query_all_by(|n| {
        n.role() == Role::Label
            && n.value()
                .is_some_and(|v| v.contains(&text) && v.contains(" → "))
    })
    .filter_map(|n| n.accesskit_node().value())
    .collect()
}

/// Waits for the app's question `title`, then clicks its button `answer`.
fn answer(h: &mut App, title: &str, answer: &str) {
    run_until(h, &format!("the app asks {title:?}"), |h| {
        h.query_by_label(title).is_some()
    });
    click_button(h, answer);
    run_until(h, "the question is gone", |h| {
        h.query_by_label(title).is_none()
    });
    // The dialog's backdrop fades out over a few frames; clicks meanwhile land on it.
    h.run_steps(10);
}

#[test]
fn switching_lists_while_holding_asks_and_every_release_is_logged() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(2);
    let (held, other) = (&dirs[0], &dirs[1]);
    let mut h = start_app(cfg.path(), FakePicker::new());
    create_list(&mut h, "b");
    add_absent_rows(&mut h, &[other]);
    switch_list(&mut h, "default");
    add_absent_rows(&mut h, &[held]);
    click(&mut h, |h| row_button(h, held, "Acquire"));
    run_until_status(&mut h, held, "held", Some(me()));
    // The app's own acquire is logged as its action, not as a filesystem event.
    run_until(&mut h, "the acquire is logged as [action]", |h| {
        log_lines(h, held)
            .iter()
            .any(|l| l.contains("→ held") && l.contains("[action]"))
    });

    // Keep holding: the lock stays, its row stays visible (kept), the other list's rows show.
    click(&mut h, |h| h.get_by_role(Role::ComboBox));
    run_until(&mut h, "the list menu opens", |h| {
        h.query_all_by_label("b").next().is_some()
    });
    click(&mut h, |h| h.get_by_label("b"));
    answer(&mut h, "Switch watch lists?", "Keep holding and switch");
    run_until(&mut h, "list b is active", |h| {
        active_list(h).as_deref() == Some("b")
    });
    run_until(&mut h, "b's row and the kept row", |h| {
        row(h, other).is_some() && row(h, held).is_some() && h.query_by_label("(kept)").is_some()
    });
    assert_eq!(status(held), ("held".into(), Some(u64::from(me()))));
    // Releasing the kept row releases the lock, logs it, and the row goes.
    click(&mut h, |h| row_button(h, held, "Release"));
    run_until_status(&mut h, held, "absent", None);
    run_until(&mut h, "the kept row goes, its release logged", |h| {
        row(h, held).is_none()
            && log_lines(h, held)
                .iter()
                .any(|l| l.contains("released by this app"))
    });

    // Release and switch: released, and logged.
    switch_list(&mut h, "default");
    run_until(&mut h, "the row is back", |h| has_badge(h, held, "Absent"));
    click(&mut h, |h| row_button(h, held, "Acquire"));
    run_until_status(&mut h, held, "held", Some(me()));
    click(&mut h, |h| h.get_by_role(Role::ComboBox));
    run_until(&mut h, "the list menu opens", |h| {
        h.query_all_by_label("b").next().is_some()
    });
    click(&mut h, |h| h.get_by_label("b"));
    answer(&mut h, "Switch watch lists?", "Release and switch");
    run_until_status(&mut h, held, "absent", None);
    run_until(&mut h, "the release is logged with its reason", |h| {
        log_lines(h, held)
            .iter()
            .any(|l| l.contains("released by this app: switched to watch list"))
    });
    assert!(row(&h, held).is_none());
}

#[test]
fn cancelling_a_list_switch_keeps_everything() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let mut h = start_app(cfg.path(), FakePicker::new());
    create_list(&mut h, "b");
    switch_list(&mut h, "default");
    add_absent_rows(&mut h, &[dir]);
    click(&mut h, |h| row_button(h, dir, "Acquire"));
    run_until_status(&mut h, dir, "held", Some(me()));
    click(&mut h, |h| h.get_by_role(Role::ComboBox));
    run_until(&mut h, "the list menu opens", |h| {
        h.query_all_by_label("b").next().is_some()
    });
    click(&mut h, |h| h.get_by_label("b"));
    answer(&mut h, "Switch watch lists?", "Cancel");
    assert_eq!(active_list(&h).as_deref(), Some("default"));
    assert_eq!(status(dir), ("held".into(), Some(u64::from(me()))));
    assert!(row_button_enabled(&h, dir, "Release"));
}

#[test]
fn changing_the_lock_name_while_holding_asks_to_release_first() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    std::fs::write(dir.join(LOCK), b"").unwrap(); // a stale default lock file
    let mut h = start_app(cfg.path(), FakePicker::new());
    click(&mut h, |h| h.get_by_label("Settings"));
    fn set_lock_name(h: &mut App, from: &str, to: &str) {
        let field = |h: &App, v: &str| {
            h.query_by(|n| n.role() == Role::TextInput && n.value().as_deref() == Some(v))
                .is_some()
        };
        run_until(h, "the lock name field", |h| field(h, from));
        let from = from.to_string();
        h.get_by(|n| n.role() == Role::TextInput && n.value().as_deref() == Some(&from))
            .focus();
        h.step();
        h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        h.step();
        h.get_by(|n| n.role() == Role::TextInput && n.value().as_deref() == Some(&from))
            .type_text(to);
        h.step();
        click_button(h, "Apply");
    }
    set_lock_name(&mut h, LOCK, "custom.lock");
    run_until(&mut h, "the panel says custom.lock", |h| {
        h.query_by_label("Lock file: custom.lock").is_some()
    });
    add_absent_rows(&mut h, &[dir]);
    click(&mut h, |h| row_button(h, dir, "Acquire"));
    run_until(&mut h, "held by this app", |h| {
        has_badge(h, dir, "Held by this app")
    });
    assert!(dir.join("custom.lock").exists());

    set_lock_name(&mut h, "custom.lock", LOCK);
    answer(&mut h, "Change the lock-file name?", "Release and apply");
    run_until(&mut h, "custom.lock released, the row right", |h| {
        !dir.join("custom.lock").exists()
            && h.query_by_label(&format!("Lock file: {LOCK}")).is_some()
            && has_badge(h, dir, "Free (stale file)")
            && row_button_enabled(h, dir, "Acquire")
            && !row_button_enabled(h, dir, "Release")
    });
}

#[test]
fn a_refusal_note_goes_when_the_state_changes() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let lock = dir.join(LOCK);
    std::fs::write(&lock, b"").unwrap();
    // No periodic pass during the test: only the file events the test makes tell the monitor
    // (a pass could see the lock taken before Acquire is clicked; seen once under load).
    std::fs::write(
        cfg.path().join("lockscope.toml"),
        "[settings]\ninterval = \"1h\"\n",
    )
    .unwrap();
    // A holder that takes the lock on a file it opened before the app watched it: no
    // filesystem event tells the monitor, so the row still says Free when Acquire is clicked.
    // It locks when told, after the row shows Free: no sleep decides the order.
    let mut holder = common::ScriptedPeer::start(
        "import fcntl, os, sys\n\
         fd = os.open(sys.argv[1], os.O_RDWR)\n\
         print('opened', flush=True)\n\
         sys.stdin.readline()\n\
         fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n\
         print('locked', flush=True)\n\
         sys.stdin.read()\n",
        &lock,
    );
    assert_eq!(holder.read_line(), "opened");
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows_or_free(&mut h, dir);
    assert_eq!(holder.ask("lock"), "locked");
    h.run_steps(5);
    assert!(has_badge(&h, dir, "Free (stale file)"), "{}", describe(&h));
    click(&mut h, |h| row_button(h, dir, "Acquire"));
    // The monitor hears of the holder (an event on the file) about when the refusal comes.
    let touch = || {
        std::fs::File::options()
            .write(true)
            .open(&lock)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()))
            .unwrap()
    };
    touch();
    run_until(&mut h, "refused, the holder shown", |h| {
        has_badge(h, dir, "Held") && row_texts(h, dir).iter().any(|t| t.contains("refused"))
    });
    // The holder dies: the note must go with the state it described.
    holder.finish();
    touch();
    run_until(&mut h, "Free again, no refusal note", |h| {
        has_badge(h, dir, "Free (stale file)")
            && !row_texts(h, dir).iter().any(|t| t.contains("refused"))
    });
}

/// Adds `dir` (its lock file stale) and waits until it shows Free.
fn add_absent_rows_or_free(h: &mut App, dir: &Path) {
    type_path(h, dir.to_str().unwrap());
    run_until(h, "the row shows Free", |h| {
        has_badge(h, dir, "Free (stale file)")
    });
}

#[test]
fn acquire_selected_says_what_it_skipped_and_disabled_bulk_buttons_say_why() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(2);
    let (busy, free) = (&dirs[0], &dirs[1]);
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[busy, free]);
    button(&h, "Acquire selected").hover();
    h.run_steps(3);
    run_until(
        &mut h,
        "a tooltip says why Acquire selected is disabled",
        |h| message_containing(h, "no row is selected").is_some(),
    );
    h.remove_cursor();
    h.step();

    let mut holder = lockscope_hold(&[busy.to_str().unwrap()]);
    run_until(&mut h, "Held by the child", |h| has_badge(h, busy, "Held"));
    select_row(&mut h, busy);
    row(&h, free).unwrap()[0]
        .get_by_role(Role::Label)
        .click_modifiers(egui::Modifiers::COMMAND);
    h.remove_cursor();
    h.step();
    run_until(&mut h, "two rows selected", |h| {
        h.query_by_label("Selected: 2").is_some()
    });
    click_button(&mut h, "Acquire selected");
    run_until_status(&mut h, free, "held", Some(me()));
    run_until(&mut h, "the skipped row is named", |h| {
        message_containing(h, "skipped").is_some_and(|m| {
            m.contains(busy.to_str().unwrap()) && m.contains(&format!("{}", holder.child.id()))
        })
    });
    holder.signal("TERM");
    assert_eq!(holder.wait_exit(DEADLINE), 0);
}

#[test]
fn a_typed_lock_file_path_is_watched_as_its_directory_like_status_does() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(2);
    std::fs::write(dirs[0].join(LOCK), b"").unwrap();
    let other_file = dirs[1].join("renew.lock");
    std::fs::write(&other_file, b"").unwrap();
    let mut h = start_app(cfg.path(), FakePicker::new());
    type_path(&mut h, dirs[0].join(LOCK).to_str().unwrap());
    run_until(&mut h, "the lock file's directory is the row", |h| {
        has_badge(h, &dirs[0], "Free (stale file)")
    });
    assert!(row(&h, &dirs[0].join(LOCK)).is_none(), "{}", describe(&h));
    // An existing file of another name: its directory, and a word about the name.
    type_path(&mut h, other_file.to_str().unwrap());
    run_until(&mut h, "the file's directory is the row", |h| {
        has_badge(h, &dirs[1], "Absent")
            && message_containing(h, "is a file: watching its directory").is_some()
    });
    assert!(row(&h, &other_file).is_none(), "{}", describe(&h));
    // The same directory again: said, not silently ignored.
    type_path(&mut h, dirs[0].to_str().unwrap());
    run_until(&mut h, "already watched", |h| {
        message_containing(h, "already watched").is_some()
    });
}

#[test]
fn remove_and_delete_list_ask_first() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[dir]);
    click(&mut h, |h| row_button(h, dir, "Acquire"));
    run_until_status(&mut h, dir, "held", Some(me()));
    select_row(&mut h, dir);
    click_button(&mut h, "Remove selected");
    answer(&mut h, "Remove directories?", "Cancel");
    assert!(row(&h, dir).is_some());
    assert_eq!(status(dir), ("held".into(), Some(u64::from(me()))));
    click_button(&mut h, "Remove selected");
    answer(&mut h, "Remove directories?", "Release and remove");
    run_until_status(&mut h, dir, "absent", None);
    run_until(&mut h, "the row is gone, the release logged", |h| {
        row(h, dir).is_none()
            && log_lines(h, dir)
                .iter()
                .any(|l| l.contains("released by this app: removed from the watch list"))
    });

    create_list(&mut h, "b");
    click_button(&mut h, "Delete list");
    answer(&mut h, "Delete watch list?", "Cancel");
    assert_eq!(active_list(&h).as_deref(), Some("b"));
    click_button(&mut h, "Delete list");
    answer(&mut h, "Delete watch list?", "Delete");
    run_until(&mut h, "b is gone", |h| {
        active_list(h).as_deref() == Some("default")
    });
}

// ---- the table as a daily tool: stable rows, keyboard, context menu, command column ----------

/// The rows of `dirs`, top to bottom as the table shows them.
fn display_order(h: &App, dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut rows: Vec<(f32, PathBuf)> = dirs
        .iter()
        .filter_map(|d| {
            let y = row(h, d)?[0].get_by_role(Role::Label).rect().min.y;
            Some((y, d.clone()))
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    rows.into_iter().map(|(_, d)| d).collect()
}

/// How many labels show `dir`'s path: 2 when its row is the one selected (the details pane).
fn path_labels(h: &App, dir: &Path) -> usize {
    let text = dir.display().to_string();
    h.query_all_by(move |n| is_label(n, &text)).count()
}

fn selected_count(h: &App) -> Option<usize> {
    labels(h)
        .iter()
        .find_map(|l| l.strip_prefix("Selected: ")?.parse().ok())
}

/// `dir` alone is selected (its details pane is open).
fn only_selected(h: &App, dir: &Path) -> bool {
    selected_count(h) == Some(1) && path_labels(h, dir) == 2
}

fn press(h: &mut App, modifiers: egui::Modifiers, key: egui::Key) {
    h.key_press_modifiers(modifiers, key);
    h.step();
}

#[test]
fn a_row_stays_under_the_pointer_until_it_leaves_the_table() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(3);
    let mut h = start_app(cfg.path(), FakePicker::new());
    let refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    add_absent_rows(&mut h, &refs);
    click(&mut h, |h| button(h, "Since"));
    run_until(&mut h, "sorted by Since", |h| {
        h.query_by_label("Since ⏶").is_some()
    });
    let before = display_order(&h, &dirs);
    assert_eq!(before.len(), 3);
    let top = before[0].clone();

    // Acquire the oldest row and leave the pointer there, as a user about to click again: its
    // change of state (now the newest) must not move it, nor another row under the pointer.
    let pointer = row_button(&h, &top, "Acquire").rect().center();
    row_button(&h, &top, "Acquire").click();
    h.step();
    run_until(&mut h, "Held by this app", |h| {
        has_badge(h, &top, "Held by this app")
    });
    h.run_steps(5);
    assert_eq!(
        display_order(&h, &dirs),
        before,
        "rows moved under the pointer"
    );
    assert_eq!(
        row_button(&h, &top, "Release").rect().center().y,
        pointer.y,
        "the clicked row's buttons are still under the pointer"
    );

    // The pointer leaves the table: now it is sorted again (the newest change last).
    h.remove_cursor();
    run_until(&mut h, "re-sorted once the pointer left", |h| {
        display_order(h, &dirs).last() == Some(&top)
    });
}

#[test]
fn the_keyboard_moves_extends_acts_on_and_removes_the_selection() {
    use egui::{Key, Modifiers};
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(3);
    let mut h = start_app(cfg.path(), FakePicker::new());
    let refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    add_absent_rows(&mut h, &refs);
    select_row(&mut h, &dirs[0]);

    press(&mut h, Modifiers::NONE, Key::ArrowDown);
    run_until(&mut h, "Down selects the next row", |h| {
        only_selected(h, &dirs[1])
    });
    press(&mut h, Modifiers::SHIFT, Key::ArrowDown);
    run_until(&mut h, "Shift+Down extends", |h| {
        selected_count(h) == Some(2)
    });
    press(&mut h, Modifiers::NONE, Key::ArrowUp);
    run_until(&mut h, "Up: one row again", |h| only_selected(h, &dirs[1]));
    press(&mut h, Modifiers::COMMAND, Key::A);
    run_until(&mut h, "Ctrl+A selects all", |h| {
        selected_count(h) == Some(3)
    });
    press(&mut h, Modifiers::NONE, Key::Escape);
    run_until(&mut h, "Esc selects none", |h| selected_count(h) == Some(0));
    press(&mut h, Modifiers::NONE, Key::PageUp);
    run_until(&mut h, "Page Up goes to the top", |h| {
        only_selected(h, &dirs[0])
    });

    // Enter takes the lock, Enter again releases it (another process sees both).
    press(&mut h, Modifiers::NONE, Key::Enter);
    run_until_status(&mut h, &dirs[0], "held", Some(me()));
    run_until(&mut h, "Held by this app", |h| {
        has_badge(h, &dirs[0], "Held by this app")
    });
    press(&mut h, Modifiers::NONE, Key::Enter);
    run_until_status(&mut h, &dirs[0], "absent", None);

    // Delete removes (after asking), Ctrl+Z puts it back.
    press(&mut h, Modifiers::NONE, Key::Delete);
    answer(&mut h, "Remove directories?", "Remove");
    run_until(&mut h, "Delete removes the row", |h| {
        row(h, &dirs[0]).is_none()
    });
    assert!(h.query_by_label("Undo remove (1)").is_some());
    press(&mut h, Modifiers::COMMAND, Key::Z);
    run_until(&mut h, "Ctrl+Z puts it back", |h| {
        has_badge(h, &dirs[0], "Absent")
    });

    // Ctrl+F: the filter; keys typed there are text, not table keys.
    select_row(&mut h, &dirs[2]);
    press(&mut h, Modifiers::COMMAND, Key::F);
    h.event(egui::Event::Text("/d2".into()));
    h.step();
    run_until(&mut h, "typed into the filter", |h| {
        h.query_by_label("1 of 3 shown").is_some()
    });
    press(&mut h, Modifiers::NONE, Key::ArrowUp);
    press(&mut h, Modifiers::COMMAND, Key::A);
    h.run_steps(3);
    assert_eq!(selected_count(&h), Some(1), "keys in the filter field");
    // Ctrl+L: the path field, even from the filter field.
    press(&mut h, Modifiers::COMMAND, Key::L);
    let extra = _root.path().join("extra");
    std::fs::create_dir(&extra).unwrap();
    h.event(egui::Event::Text(extra.display().to_string()));
    h.step();
    h.key_press(Key::Enter);
    h.step();
    // (filtered by "d2": the new row is added but not shown; clear the filter to see it.)
    press(&mut h, Modifiers::COMMAND, Key::F);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.key_press(Key::Backspace);
    h.step();
    run_until(&mut h, "the typed path is a row", |h| {
        has_badge(h, &extra, "Absent")
    });
}

/// A filter that hides every row says so (not a blank table) and offers to clear itself; a
/// selected row the filter hides leaves the details pane; switching lists clears the filter.
#[test]
fn a_filter_that_hides_every_row_says_so_and_the_details_follow_what_is_shown() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(3);
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[&dirs[0], &dirs[1], &dirs[2]]);
    select_row(&mut h, &dirs[0]);
    run_until(&mut h, "the details pane", |h| {
        h.query_by_label("Details").is_some()
    });
    press(&mut h, egui::Modifiers::COMMAND, egui::Key::F);
    h.event(egui::Event::Text("no-such-directory".into()));
    h.step();
    run_until(&mut h, "the filter says it hides them all", |h| {
        h.query_by_label("The filter \u{201c}no-such-directory\u{201d} hides all 3 directories.")
            .is_some()
    });
    assert!(h.query_by_label("Details").is_none(), "{}", describe(&h));
    click(&mut h, |h| button(h, "Clear the filter"));
    run_until(&mut h, "every row again", |h| {
        h.query_by_label("3 of 3 shown").is_some()
    });

    press(&mut h, egui::Modifiers::COMMAND, egui::Key::F);
    h.event(egui::Event::Text("/d2".into()));
    h.step();
    run_until(&mut h, "filtered", |h| {
        h.query_by_label("1 of 3 shown").is_some()
    });
    create_list(&mut h, "other");
    switch_list(&mut h, "default");
    run_until(&mut h, "the filter is cleared by the switch", |h| {
        h.query_by_label("3 of 3 shown").is_some()
    });
}

/// "Find certbot locks…" finds a real certbot's lock in a directory nobody named (a logs dir
/// under /tmp, as Nginx Proxy Manager uses), ticked with its holder; adding it makes a row.
#[test]
fn find_certbot_locks_lists_a_held_lock_nobody_named_and_adds_it() {
    let cfg = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("letsencrypt-log");
    std::fs::create_dir(&dir).unwrap();
    let certbot = certbot_lock_dir(&dir).expect_locked();
    let mut h = start_app(cfg.path(), FakePicker::new());
    run_until(&mut h, "the watch lists are loaded", lists_loaded);
    click(&mut h, |h| button(h, "Find certbot locks…"));
    let ours = dir.display().to_string();
    run_until(&mut h, "the found list names the directory", |h| {
        h.query_by(|n| n.role() == Role::CheckBox && n.label().as_deref() == Some(&ours))
            .is_some()
    });
    let held_by = format!("held by pid {}", certbot.pid);
    assert!(
        labels(&h).iter().any(|l| l.starts_with(&held_by)),
        "{}",
        describe(&h)
    );
    assert!(
        labels(&h)
            .iter()
            .any(|l| l.contains("certbot locks are held now")
                || l.contains("1 certbot lock is held now")),
        "{}",
        describe(&h)
    );
    // Other tests' locks may be found too: only ours is kept ticked.
    let others: Vec<String> = h
        .query_all_by(|n| {
            n.role() == Role::CheckBox
                && n.toggled() == Some(egui::accesskit::Toggled::True)
                && n.label().as_deref() != Some(&ours)
        })
        .filter_map(|n| n.accesskit_node().label())
        .collect();
    for other in others {
        // (By AccessKit: a long list scrolls, and a box out of sight takes no pointer click.)
        h.get_by(|n| n.role() == Role::CheckBox && n.label().as_deref() == Some(&other))
            .click_accesskit();
        h.step();
    }
    let ticked = h.get_by(|n| n.role() == Role::CheckBox && n.label().as_deref() == Some(&ours));
    assert_eq!(
        ticked.accesskit_node().toggled(),
        Some(egui::accesskit::Toggled::True)
    );
    h.run_steps(3); // the window settles its size
    click(&mut h, |h| button(h, "Add 1 directory"));
    run_until(&mut h, "the row, held by certbot", |h| {
        row_texts(h, &dir).contains(&certbot.pid.to_string())
    });
    certbot.release();
}

/// The Remove question names the directories it is about (not only how many).
#[test]
fn the_remove_question_names_the_directories() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(3);
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[&dirs[0], &dirs[1], &dirs[2]]);
    select_row(&mut h, &dirs[0]);
    let cells = row(&h, &dirs[2]).unwrap();
    cells[0]
        .get_by_role(Role::Label)
        .click_modifiers(egui::Modifiers::COMMAND);
    h.remove_cursor();
    h.step();
    run_until(&mut h, "two rows selected", |h| {
        selected_count(h) == Some(2)
    });
    press(&mut h, egui::Modifiers::NONE, egui::Key::Delete);
    run_until(&mut h, "the question", |h| {
        h.query_by_label_contains("Remove 2 directories from this watch list?")
            .is_some()
    });
    let text = h
        .get_by_label_contains("Remove 2 directories from this watch list?")
        .accesskit_node()
        .value()
        .unwrap_or_default();
    for (dir, named) in [(&dirs[0], true), (&dirs[1], false), (&dirs[2], true)] {
        assert_eq!(text.contains(dir.to_str().unwrap()), named, "{text}");
    }
    click(&mut h, |h| button(h, "Cancel"));
}

#[test]
fn a_rows_context_menu_copies_opens_acts_and_removes() {
    let cfg = tempfile::tempdir().unwrap();
    let (root, dirs) = tempdirs(2);
    let (dir, other) = (&dirs[0], &dirs[1]);
    // The file manager: records its argument, then fails (its failure must be reported).
    let opened = root.path().join("opened");
    let script = root.path().join("file-manager");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1\" >> '{}'\nexit 3\n", opened.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = app_config(cfg.path(), FakePicker::new(), None);
    config.file_manager = Some(script);
    let mut h = build_app(config, true);
    run_until(&mut h, "the watch lists are loaded", lists_loaded);
    add_absent_rows(&mut h, &[dir, other]);

    let open_menu = |h: &mut App, dir: &Path| {
        let cells = row(h, dir).unwrap_or_else(|| panic!("no row for {}", dir.display()));
        cells[0].get_by_role(Role::Label).click_secondary();
        h.step();
        run_until(h, "the row's menu opens", |h| {
            h.query_by_role_and_label(Role::Button, "Copy lock-file path")
                .is_some()
        });
    };
    let copied = |h: &App| -> Option<String> {
        h.output()
            .platform_output
            .commands
            .iter()
            .find_map(|c| match c {
                egui::OutputCommand::CopyText(t) => Some(t.clone()),
                _ => None,
            })
    };

    open_menu(&mut h, dir);
    button(&h, "Copy lock-file path").click();
    let want = dir.join(LOCK).display().to_string();
    run_until(&mut h, "the lock file's path is copied", |h| {
        copied(h).as_deref() == Some(want.as_str())
    });
    h.remove_cursor();
    h.step();

    open_menu(&mut h, dir);
    click(&mut h, |h| button(h, "Acquire the lock"));
    run_until_status(&mut h, dir, "held", Some(me()));
    assert_eq!(status(other), ("absent".into(), None), "only that row");

    open_menu(&mut h, dir);
    click(&mut h, |h| button(h, "Open folder"));
    run_until(&mut h, "the file manager's failure is reported", |h| {
        message_containing(h, "could not open").is_some()
    });
    let args = std::fs::read_to_string(&opened).unwrap();
    assert_eq!(args.trim(), dir.display().to_string());

    open_menu(&mut h, dir);
    click(&mut h, |h| button(h, "Remove"));
    run_until(&mut h, "removed", |h| row(h, dir).is_none());
    run_until_status(&mut h, dir, "absent", None);

    click(&mut h, |h| button(h, "Undo remove (1)"));
    run_until(&mut h, "back", |h| has_badge(h, dir, "Absent"));
}

/// "Copy holder command line" copies what a shell runs as the holder's own arguments: a
/// directory with a space, a quote and an ESC in its name survives the paste exactly, and the
/// copied line shows no raw control character.
#[test]
fn the_copied_holder_command_line_is_shell_quoted() {
    let cfg = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("my cert's\x1b[2J dir");
    std::fs::create_dir(&dir).unwrap();
    let certbot = certbot_lock_dir(&dir).expect_locked();
    let argv: Vec<Vec<u8>> = std::fs::read(format!("/proc/{}/cmdline", certbot.pid))
        .unwrap()
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    assert!(argv.len() >= 3, "{argv:?}");
    let file = root.path().join("quoted.toml");
    let toml_dir = format!("{}/my cert's\\u001b[2J dir", root.path().display());
    std::fs::write(
        &file,
        format!("name = \"quoted\"\ndirs = [\"{toml_dir}\"]\n"),
    )
    .unwrap();
    let open = Some(OpenList::File(file));
    let mut h = build_app(app_config(cfg.path(), FakePicker::new(), open), false);
    let shown = escape_for_test(&dir);
    let pid = certbot.pid.to_string();
    run_until(&mut h, "Held by certbot", |h| {
        row_texts(h, Path::new(&shown)).contains(&pid)
    });
    h.get_by(|n| is_label(n, &shown)).click_secondary();
    h.step();
    run_until(&mut h, "the row's menu opens", |h| {
        h.query_by_role_and_label(Role::Button, "Copy holder command line")
            .is_some()
    });
    button(&h, "Copy holder command line").click();
    let mut copied = None;
    run_until(&mut h, "the command line is copied", |h| {
        copied = h
            .output()
            .platform_output
            .commands
            .iter()
            .find_map(|c| match c {
                egui::OutputCommand::CopyText(t) => Some(t.clone()),
                _ => None,
            });
        copied.is_some()
    });
    let copied = copied.unwrap();
    assert!(
        !copied.contains(char::is_control),
        "raw control characters: {copied:?}"
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "-c", &format!("printf '%s\\0' {copied}")])
        .output()
        .unwrap();
    let words: Vec<Vec<u8>> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(words, argv, "pasted into bash: {copied}");
    certbot.release();
}

/// `path` as the app shows it (escaped).
fn escape_for_test(path: &Path) -> String {
    lockscope::escape::escape_path(path).into_owned()
}

#[test]
fn the_command_column_keeps_the_paths_that_tell_two_certbots_apart() {
    let cfg = tempfile::tempdir().unwrap();
    let (root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let config_dir = root
        .path()
        .join("customers/acme-corporation-with-a-long-name/letsencrypt-staging");
    // A certbot-like holder: the same lock certbot takes (lockf), its paths on the command line.
    let certbot = root.path().join("certbot");
    std::fs::write(
        &certbot,
        "import fcntl, sys, time\n\
         import os\n\
         f = open(os.environ['LOCK_DIR'] + '/.certbot.lock', 'w')\n\
         fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n\
         print('locked', flush=True)\n\
         time.sleep(60)\n",
    )
    .unwrap();
    let mut holder = std::process::Command::new("python3")
        .arg(&certbot)
        .env("LOCK_DIR", dir)
        .arg("renew")
        .arg("--config-dir")
        .arg(&config_dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");

    let mut h = start_app(cfg.path(), FakePicker::new());
    type_path(&mut h, dir.to_str().unwrap());
    run_until(&mut h, "Held", |h| has_badge(h, dir, "Held"));
    let command = row_texts(&h, dir)
        .into_iter()
        .find(|t| t.contains("renew"))
        .expect("a command cell");
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(
        command.starts_with("certbot renew --config-dir /"),
        "the interpreter goes first, the config dir is kept: {command}"
    );
    assert!(command.ends_with("-staging"), "the end is kept: {command}");
}

/// The labels of the timeline header's axis: the zone (once) and the tick times.
fn axis_labels(h: &App) -> (usize, Vec<String>) {
    let zone = jiff::Zoned::now().strftime("%Z").to_string();
    let all = labels(h);
    let zones = all.iter().filter(|l| **l == zone).count();
    let ticks = all
        .into_iter()
        .filter(|l| {
            let b = l.as_bytes();
            b.len() == 5 && b[2] == b':' && l.chars().filter(char::is_ascii_digit).count() == 4
        })
        .collect();
    (zones, ticks)
}

#[test]
fn the_timeline_has_a_local_time_axis_and_its_hover_names_the_holder_and_times() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[dir]);
    let zone = jiff::Zoned::now().strftime("%Z").to_string();
    let (zones, ticks) = axis_labels(&h);
    assert_eq!(zones, 1, "the zone is shown once: {zone}\n{}", describe(&h));
    assert!(
        !ticks.is_empty(),
        "tick labels like 04:10\n{}",
        describe(&h)
    );

    let certbot = certbot_lock_dir(dir).expect_locked();
    let pid = certbot.pid.to_string();
    run_until(&mut h, "Held by certbot", |h| {
        row_texts(h, dir).contains(&pid)
    });
    // The held stretch is at the strip's right end (now).
    let strip = h.get_by_role_and_label(Role::Canvas, "timeline").rect();
    h.hover_at(egui::pos2(strip.right() - 1.0, strip.center().y));
    let holder = format!("holder: pid {pid}: ");
    run_until(&mut h, "the hover names the holder and since when", |h| {
        message_containing(h, &holder).is_some_and(|m| {
            m.starts_with("Held by another process")
                && m.contains("certbot_peer.py hold")
                && m.contains(dir.to_str().unwrap())
                && m.contains("\nsince ")
                && m.contains(&format!(" {zone}, still"))
        })
    });
    // Before the row was added: nothing recorded.
    h.hover_at(egui::pos2(strip.left() + 1.0, strip.center().y));
    run_until(&mut h, "the hover says nothing was recorded then", |h| {
        message_containing(h, "nothing recorded yet").is_some()
    });
    drop(certbot);
}

// ---- desktop notifications --------------------------------------------------------------------

/// Notifications are off until the user turns them on for a list; then a certbot holding past
/// the threshold is reported once per hold, and changes while the window is in the background
/// are reported (not those seen while it has the focus). The choices are saved with the list.
#[test]
fn notifications_are_opt_in_per_list_and_report_a_stuck_certbot_once() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let notices = Arc::new(RecordedNotices::default());
    let mut config = app_config(cfg.path(), FakePicker::new(), None);
    config.notices = notices.clone();
    let mut h = build_app(config, true);
    run_until(&mut h, "the watch lists are loaded", lists_loaded);
    add_absent_rows(&mut h, &[dir]);

    // Off by default: a change in the background is not reported. Notices reach the sink on a
    // worker thread, so "none yet" proves nothing here: the first notice that does come (the
    // stuck one below, through the same queue) must be the only one.
    h.input_mut().focused = false;
    let certbot = certbot_lock_dir(dir).expect_locked();
    run_until(&mut h, "the row shows certbot's hold", |h| {
        has_badge(h, dir, "Held")
    });
    certbot.release();
    run_until(&mut h, "the row is Absent again", |h| {
        has_badge(h, dir, "Absent")
    });
    h.input_mut().focused = true;

    // Turned on in the settings panel: a 2 s threshold and background changes.
    click(&mut h, |h| h.get_by_label("Settings"));
    fn threshold(h: &App) -> Node<'_> {
        h.get_by(|n| n.role() == Role::TextInput && n.data().placeholder() == Some("10m"))
    }
    run_until(&mut h, "the panel offers notifications", |h| {
        h.query_by_label("Changes while in the background")
            .is_some()
    });
    threshold(&h).focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    threshold(&h).type_text("2s");
    h.step();
    click(&mut h, |h| h.get_by_label("Held longer than"));
    click(&mut h, |h| {
        h.get_by_label("Changes while in the background")
    });
    let saved = || std::fs::read_to_string(cfg.path().join("lockscope.toml")).unwrap_or_default();
    run_until(&mut h, "the list's notifications are saved", |_| {
        let text = saved();
        text.contains("stuck_after = \"2s\"") && text.contains("background_changes = true")
    });

    // Seen while focused: no notification (checked once the stuck notice is through).
    let certbot = certbot_lock_dir(dir).expect_locked();
    run_until(&mut h, "the row shows certbot's hold", |h| {
        has_badge(h, dir, "Held")
    });
    // Held past 2 s: "certbot may be stuck", naming the directory and certbot's pid, once.
    run_until(&mut h, "a stuck notification", |_| {
        !notices.with_summary("certbot may be stuck").is_empty()
    });
    let pid = certbot.pid;
    // One queue, in order: a notice for the change while notifications were off, or for the
    // one seen while focused, would have come before this one.
    let stuck = notices.all();
    assert_eq!(
        stuck.len(),
        1,
        "only the stuck notice: not the background change while off, nor the focused one: {stuck:?}"
    );
    assert_eq!(stuck[0].summary, "certbot may be stuck", "{stuck:?}");
    assert!(
        stuck[0]
            .body
            .starts_with(&format!("{} held for ", dir.display()))
            && stuck[0].body.contains(&format!("by pid {pid} (")),
        "{:?}",
        stuck[0].body
    );
    // Two more seconds of frames with the hold going on (a re-report would be due at once).
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }

    // In the background: certbot's release is reported.
    h.input_mut().focused = false;
    certbot.release();
    run_until(&mut h, "a notification of the release", |_| {
        !notices.with_summary("Lock state changed").is_empty()
    });
    // Through the same queue after any second stuck notice of those frames: once per hold.
    let all = notices.all();
    let summaries: Vec<&str> = all.iter().map(|n| n.summary.as_str()).collect();
    assert_eq!(
        summaries,
        ["certbot may be stuck", "Lock state changed"],
        "stuck once per hold, then the release: {all:?}"
    );
    assert_eq!(all[1].body, format!("{}: Absent", dir.display()), "{all:?}");
}

/// A double click on a row opens its details, whatever the modifiers: a Ctrl+double click on one
/// of two selected rows leaves only that row selected, with its details pane (two Ctrl+clicks
/// would toggle it off and on again, keeping both rows).
#[test]
fn a_double_click_opens_the_rows_details() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(2);
    let mut h = start_app(cfg.path(), FakePicker::new());
    add_absent_rows(&mut h, &[&dirs[0], &dirs[1]]);
    select_row(&mut h, &dirs[0]);
    press(&mut h, egui::Modifiers::COMMAND, egui::Key::A);
    run_until(&mut h, "both rows selected", |h| {
        selected_count(h) == Some(2)
    });
    let path_cell = |h: &App| {
        let cells = row(h, &dirs[0]).expect("the row");
        cells[0].get_by_role(Role::Label).rect().center()
    };
    let at = path_cell(&h);
    // Two Ctrl+clicks one frame (0.25 s of the harness's clock) apart: within egui's double-click
    // delay (0.3 s).
    for _ in 0..2 {
        let events = &mut h.input_mut().events;
        events.push(egui::Event::ModifiersChanged(egui::Modifiers::COMMAND));
        events.push(egui::Event::PointerMoved(at));
        for pressed in [true, false] {
            events.push(egui::Event::PointerButton {
                pos: at,
                button: egui::PointerButton::Primary,
                pressed,
                modifiers: egui::Modifiers::COMMAND,
            });
        }
        h.step();
    }
    h.input_mut()
        .events
        .push(egui::Event::ModifiersChanged(egui::Modifiers::NONE));
    run_until(
        &mut h,
        "only the double-clicked row, with its details",
        |h| only_selected(h, &dirs[0]),
    );
}

// ---- remote rows over a real sshd -------------------------------------------------------------

#[cfg(target_os = "linux")] // the sshd fixture reads /proc
mod over_ssh {
    use super::*;
    use crate::common::sshd::{ALIAS, REMOTE, Sshd};

    /// The app reaching `sshd` (its alias) with the lockscope under test as the remote program.
    fn start_remote_app(config_dir: &Path, sshd: &Sshd) -> App {
        let mut config = app_config(config_dir, FakePicker::new(), None);
        config.ssh_command = Some(sshd.ssh_command("ssh_config"));
        config.remote_command = Some(REMOTE.to_string());
        let mut h = build_app(config, true);
        run_until(&mut h, "the watch lists are loaded", lists_loaded);
        h
    }

    #[test]
    fn a_remote_row_follows_certbot_the_connection_and_the_apps_own_hold() {
        let cfg = tempfile::tempdir().unwrap();
        let (_root, dirs) = tempdirs(1);
        let dir = &dirs[0];
        let row = PathBuf::from(format!("{ALIAS}:{}", dir.display()));
        let mut sshd = Sshd::start();
        let mut h = start_remote_app(cfg.path(), &sshd);
        type_path(&mut h, row.to_str().unwrap());
        run_until(&mut h, "the remote row Absent", |h| {
            has_badge(h, &row, "Absent")
        });

        // Real certbot holds DIR "on the remote": Held, with certbot's pid.
        let certbot = certbot_lock_dir(dir).expect_locked();
        let pid = certbot.pid.to_string();
        run_until(&mut h, "Held by certbot, with its pid", |h| {
            let texts = row_texts(h, &row);
            texts.iter().any(|t| t == "Held") && texts.contains(&pid)
        });

        // The details pane: the remote's holder and the host's connection; no local End holder.
        select_row(&mut h, &row);
        run_until(&mut h, "the details pane shows the remote holder", |h| {
            detail(h, "PID").as_deref() == Some(pid.as_str())
                && detail(h, "Host").as_deref() == Some(&format!("{ALIAS} (connected)"))
        });
        assert!(button(&h, "End holder…").accesskit_node().is_disabled());

        // The server vanishes: Unknown, never a stale Held; the banner says why.
        sshd.kill();
        run_until(
            &mut h,
            "Unknown (connection lost) after the server vanished",
            |h| {
                has_badge(h, &row, "Unknown")
                    && row_texts(h, &row)
                        .iter()
                        .any(|t| t.starts_with("connection lost"))
            },
        );
        assert!(
            !row_texts(&h, &row).contains(&pid),
            "no stale holder: {:?}",
            row_texts(&h, &row)
        );
        run_until(&mut h, "the banner says the connection was lost", |h| {
            message_containing(h, &format!("connection to {ALIAS} lost")).is_some()
                && detail(h, "Host").is_some_and(|t| t.starts_with(&format!("{ALIAS} (lost: ")))
        });
        assert!(!row_button_enabled(&h, &row, "Acquire"));

        // Back after a restart (reconnect with backoff).
        sshd.restart();
        run_until(
            &mut h,
            "Held by certbot again once reconnected, and logged",
            |h| {
                row_texts(h, &row).contains(&pid)
                    && message_containing(h, &format!("connection to {ALIAS} is back")).is_some()
            },
        );
        certbot.release();
        run_until(&mut h, "Absent after certbot released", |h| {
            has_badge(h, &row, "Absent")
        });

        // The app's own remote hold: another process sees DIR held, then released.
        click(&mut h, |h| row_button(h, &row, "Acquire"));
        run_until(&mut h, "Held by this app", |h| {
            has_badge(h, &row, "Held by this app")
        });
        let (state, holder) = status(dir);
        assert_eq!(state, "held", "another process sees the remote hold");
        // The PID column shows the remote hold's pid on that host, not this process's.
        let holder = holder.expect("the remote hold's pid").to_string();
        run_until(&mut h, "the remote hold's pid in the row", |h| {
            row_texts(h, &row).contains(&holder)
        });
        assert!(!row_texts(&h, &row).contains(&std::process::id().to_string()));
        click(&mut h, |h| row_button(h, &row, "Release"));
        run_until(
            &mut h,
            "Absent after the release, Acquire enabled again",
            |h| has_badge(h, &row, "Absent") && row_button_enabled(h, &row, "Acquire"),
        );
        assert_eq!(status(dir).0, "absent");

        // A hold whose connection drops ends, and the app says so; the remote released it.
        click(&mut h, |h| row_button(h, &row, "Acquire"));
        run_until(&mut h, "Held by this app before the loss", |h| {
            has_badge(h, &row, "Held by this app")
        });
        sshd.kill();
        run_until(&mut h, "the app says the remote hold ended", |h| {
            message_containing(h, "the remote hold ended").is_some()
                && !row_button_enabled(h, &row, "Release")
        });
        let deadline = Instant::now() + DEADLINE;
        while status(dir).0 == "held" {
            assert!(
                Instant::now() < deadline,
                "the lost session released the remote lock"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd.restart();
        // The killed session's remote hold could not unlink its file: free (stale), or absent.
        run_until(&mut h, "not held, Acquire enabled once reconnected", |h| {
            (has_badge(h, &row, "Absent") || has_badge(h, &row, "Free (stale file)"))
                && row_button_enabled(h, &row, "Acquire")
        });

        // Closing the app releases its remote lock.
        click(&mut h, |h| row_button(h, &row, "Acquire"));
        run_until(&mut h, "Held by this app again", |h| {
            has_badge(h, &row, "Held by this app")
        });
        drop(h);
        let deadline = Instant::now() + DEADLINE;
        while status(dir).0 == "held" {
            assert!(
                Instant::now() < deadline,
                "closing the app released the remote lock"
            );
            std::thread::sleep(Duration::from_millis(50));
        }

        // The saved list keeps the remote row.
        let mut h = start_remote_app(cfg.path(), &sshd);
        run_until(&mut h, "the remote row back after a restart", |h| {
            has_badge(h, &row, "Absent")
        });
        let saved = std::fs::read_to_string(cfg.path().join("lockscope.toml")).unwrap_or_default();
        assert!(
            saved.contains(&format!("\"{}\"", row.display())),
            "saved as a HOST:DIR string: {saved}"
        );
    }

    #[test]
    fn a_timed_remote_hold_ends_on_its_own_and_the_app_says_so() {
        let cfg = tempfile::tempdir().unwrap();
        let (_root, dirs) = tempdirs(1);
        let dir = &dirs[0];
        let row = PathBuf::from(format!("{ALIAS}:{}", dir.display()));
        let sshd = Sshd::start();
        let mut h = start_remote_app(cfg.path(), &sshd);
        hold_secs_field(&h).set_value_accesskit(2.0);
        run_until(&mut h, "Hold for shows 2 s", |h| {
            hold_secs_field(h).value().as_deref() == Some("2 s")
        });
        type_path(&mut h, row.to_str().unwrap());
        run_until(&mut h, "the remote row Absent", |h| {
            has_badge(h, &row, "Absent")
        });
        click(&mut h, |h| row_button(h, &row, "Hold"));
        run_until(&mut h, "Held by this app, timed", |h| {
            has_badge(h, &row, "Held by this app")
        });
        assert_eq!(status(dir).0, "held");
        run_until(&mut h, "the hold ran its time", |h| {
            message_containing(h, "the remote hold ran its time").is_some()
                && has_badge(h, &row, "Absent")
                && row_button_enabled(h, &row, "Acquire")
        });
        assert_eq!(
            status(dir).0,
            "absent",
            "the remote released (unlink, close)"
        );
    }

    /// Issue 21: a remote lockscope that reports a directory the app did not ask for and
    /// never reports one it did. The remote program is a script (a stand-in for a hostile
    /// remote lockscope) running the real one on other directories.
    #[test]
    fn a_hostile_remote_neither_adds_a_directory_nor_hides_one() {
        use std::os::unix::fs::PermissionsExt;
        let cfg = tempfile::tempdir().unwrap();
        let (_root, dirs) = tempdirs(3);
        let (a, b, c) = (&dirs[0], &dirs[1], &dirs[2]);
        let _certbot = certbot_lock_dir(c).expect_locked();
        let sshd = Sshd::start();
        let script = sshd.dir.path().join("hostile-lockscope");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nexec {REMOTE} watch --json --interval 200ms -- {} {}\n",
                c.display(),
                a.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut config = app_config(cfg.path(), FakePicker::new(), None);
        config.ssh_command = Some(sshd.ssh_command("ssh_config"));
        config.remote_command = Some(script.display().to_string());
        let mut h = build_app(config, true);
        run_until(&mut h, "the watch lists are loaded", lists_loaded);
        let row_of = |d: &Path| PathBuf::from(format!("{ALIAS}:{}", d.display()));
        type_path(&mut h, row_of(a).to_str().unwrap());
        type_path(&mut h, row_of(b).to_str().unwrap());
        run_until(&mut h, "a Absent, b Unknown (never reported)", |h| {
            has_badge(h, &row_of(a), "Absent")
                && has_badge(h, &row_of(b), "Unknown")
                && row_texts(h, &row_of(b))
                    .iter()
                    .any(|t| t.contains("has not reported"))
        });
        run_until(&mut h, "the app says a row was ignored", |h| {
            message_containing(h, "not asked for").is_some()
        });
        assert!(row(&h, &row_of(c)).is_none(), "no row for c");
    }

    #[test]
    fn an_option_like_host_is_refused_in_the_add_field() {
        let cfg = tempfile::tempdir().unwrap();
        let mut h = start_app(cfg.path(), FakePicker::new());
        type_path(&mut h, "-oProxyCommand=evil:/etc");
        run_until(&mut h, "the refusal shown", |h| {
            message_containing(h, "refusing host").is_some()
        });
        assert!(row(&h, Path::new("-oProxyCommand=evil:/etc")).is_none());
    }
}

/// Item 9 of issue 20: a held row's SINCE is when its lock was taken, as the details pane says
/// (here the earliest it can have been: the app's first look found it held), not when the row
/// was added; HELD FOR says it is at most that long.
#[test]
fn the_since_column_of_a_held_row_agrees_with_the_details_pane() {
    let cfg = tempfile::tempdir().unwrap();
    let (_root, dirs) = tempdirs(1);
    let dir = &dirs[0];
    let certbot = certbot_lock_dir(dir).expect_locked();
    // Age, not synchronization: the lock is seconds older than the row.
    std::thread::sleep(Duration::from_millis(2200));
    let mut h = start_app(cfg.path(), FakePicker::new());
    type_path(&mut h, dir.to_str().unwrap());
    let pid = certbot.pid.to_string();
    run_until(&mut h, "Held by certbot", |h| {
        row_texts(h, dir).contains(&pid)
    });
    select_row(&mut h, dir);
    run_until(&mut h, "the details pane's Held since", |h| {
        detail(h, "Held since").is_some()
    });
    let pane = detail(&h, "Held since").unwrap();
    let all = labels(&h);
    let at = all.iter().position(|l| *l == pane).unwrap();
    assert_ne!(
        all.get(at + 1).map(String::as_str),
        Some("when lockscope saw it taken"),
        "the app's first look found it held: {all:?}"
    );
    // "2026-12-07 14:50:17 UTC, 3 s ago": the clock part.
    let clock = |t: &str| -> Option<String> {
        t.split(' ')
            .find(|w| w.len() == 8 && w.as_bytes()[2] == b':' && w.as_bytes()[5] == b':')
            .map(str::to_string)
    };
    let texts = row_texts(&h, dir);
    let since_cell = texts
        .iter()
        .find(|t| !t.contains('/') && clock(t).is_some())
        .unwrap_or_else(|| panic!("no SINCE cell: {texts:?}"));
    assert_eq!(
        clock(since_cell),
        clock(&pane),
        "SINCE {since_cell:?} but the details pane says held since {pane:?}"
    );
    assert!(
        since_cell.starts_with("≥ "),
        "taken at or after it: {since_cell:?}"
    );
    assert!(
        texts.iter().any(|t| t.starts_with("≤ ") && is_age(&t[4..])),
        "HELD FOR is at most: {texts:?}"
    );
}
