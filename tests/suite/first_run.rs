//! What a new user sees first: `lockscope --version`, and `lockscope` (the app) on a machine
//! without a display, which must say so and point to the command line instead of printing the
//! windowing library's internals.

use crate::common::*;
use std::path::Path;
use std::process::Command;

#[test]
fn version_names_the_release_and_the_commit_of_a_checkout() {
    let out = run(lockscope().arg("--version"));
    assert_eq!(out.status.code(), Some(0));
    let line = String::from_utf8(out.stdout).unwrap();
    let expected = format!("lockscope {}", env!("CARGO_PKG_VERSION"));
    let repo = env!("CARGO_MANIFEST_DIR");
    if Path::new(repo).join(".git").exists() {
        // Built from this checkout: build.rs asked git, so git is here to ask again.
        let head = Command::new("git")
            .args(["-C", repo, "rev-parse", "--short", "HEAD"])
            .output()
            .expect("git (this is a checkout)");
        let commit = String::from_utf8(head.stdout).unwrap();
        assert_eq!(line, format!("{expected} (git {})\n", commit.trim()));
    } else {
        assert_eq!(line, format!("{expected}\n"));
    }
}

#[cfg(feature = "gui")]
mod without_a_display {
    use super::*;
    use std::process::Output;

    /// The app started the way a user starts it (`lockscope`, no subcommand) with only the
    /// display variables changed; its config and state go to a temporary home.
    fn app(display: Option<&str>) -> Output {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = lockscope();
        cmd.env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("WAYLAND_SOCKET")
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"));
        if let Some(display) = display {
            cmd.env("DISPLAY", display);
        }
        run(&mut cmd)
    }

    /// The advice and the absence of the windowing library's source paths, in both cases.
    fn assert_points_to_the_cli(out: &Output, reason: &str) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.starts_with(reason), "{stderr}");
        assert!(
            stderr.contains("Without a working display, use lockscope's command line:")
                && stderr.contains("  lockscope status /etc/letsencrypt")
                && stderr.contains("`lockscope --help` lists every command"),
            "{stderr}"
        );
        for internal in [".cargo", "registry", "winit", ".rs:"] {
            assert!(!stderr.contains(internal), "{internal:?} in {stderr}");
        }
        assert!(out.stdout.is_empty());
    }

    #[test]
    fn neither_display_variable_set() {
        assert_points_to_the_cli(
            &app(None),
            "lockscope: no display for the window: neither DISPLAY nor WAYLAND_DISPLAY is set\n",
        );
    }

    #[test]
    fn display_with_no_server_behind_it() {
        // The first X display number from :99 with neither a socket nor a lock file: no server.
        let n = (99..200)
            .find(|n| {
                !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                    && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
            })
            .expect("a free X display number");
        let display = format!(":{n}");
        assert_points_to_the_cli(
            &app(Some(&display)),
            &format!(
                "lockscope: cannot connect to the display {display} (Failed to open connection to \
                 X server)\n"
            ),
        );
    }
}
