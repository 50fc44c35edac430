//! Sets LOCKSCOPE_VERSION for `lockscope --version`: the crate's version, plus the git commit
//! when built from a checkout ("0.1.0 (git ce8fba1)"). From a crates.io tarball, or without
//! git, it is the version alone; nothing here can fail the build.

use std::path::Path;
use std::process::Command;

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    // Only this crate's own checkout: an unpacked tarball inside some other repository (vendored
    // sources) must not be labelled with that repository's commit.
    let text = match Path::new(&manifest_dir)
        .join(".git")
        .exists()
        .then(|| commit(&manifest_dir))
        .flatten()
    {
        Some(commit) => format!("{version} (git {commit})"),
        None => version.to_string(),
    };
    println!("cargo:rustc-env=LOCKSCOPE_VERSION={text}");
    println!("cargo:rerun-if-changed=build.rs");
}

/// The short commit of HEAD, and rerun-if-changed on the files that move with it.
fn commit(dir: &std::ffi::OsStr) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    // HEAD moves with a checkout; the branch's ref with a commit (packed-refs holds it once git
    // packs refs; before that the ref is a file, or the next commit creates one in its
    // directory). Worktrees keep these in different places, so git names them.
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"]).map(|p| (p, false))];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &branch]).map(|p| (p, true)));
        watched.push(git(&["rev-parse", "--git-path", "packed-refs"]).map(|p| (p, false)));
    }
    for (path, or_its_directory) in watched.into_iter().flatten() {
        let path = Path::new(dir).join(path);
        // A path that does not exist would rerun this script on every build.
        let path = if path.exists() {
            Some(path.as_path())
        } else if or_its_directory {
            path.parent().filter(|p| p.exists())
        } else {
            None
        };
        if let Some(path) = path {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    Some(commit)
}
