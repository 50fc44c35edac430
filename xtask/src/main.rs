//! `cargo xtask gen DIR`: writes lockscope's man pages (`DIR/man/lockscope.1` and one page per
//! subcommand, `lockscope-status.1`, ...) and shell completions (`DIR/completions/`: bash
//! `lockscope.bash`, zsh `_lockscope`, fish `lockscope.fish`) from the clap definition in
//! src/bin/lockscope/args.rs. With `--features gui` they describe the full binary (with `lockscope gui`),
//! without it the CLI-only one. scripts/package runs it; the output is never committed.

// Only the definition is used here; the parsed values are the binary's business.
#[allow(dead_code)]
#[path = "../../src/bin/lockscope/args.rs"]
mod args;

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};
use std::io::Write;
use std::path::{Path, PathBuf};

fn main() -> std::process::ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let [task, dir] = argv.as_slice() else {
        eprintln!("usage: cargo xtask gen DIR");
        return std::process::ExitCode::from(2);
    };
    if task != "gen" {
        eprintln!("xtask: unknown task {task:?} (known: gen)");
        return std::process::ExitCode::from(2);
    }
    match generate(Path::new(dir)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn generate(dir: &Path) -> Result<(), String> {
    // clap keeps &'static str (without its `string` feature); this process is short.
    let version: &'static str = lockscope_version()?.leak();
    let mut cmd = args::Cli::command()
        .version(version)
        .disable_help_subcommand(true);
    cmd.build();

    let man_dir = dir.join("man");
    let completions_dir = dir.join("completions");
    for d in [&man_dir, &completions_dir] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }

    let pages: Vec<String> = std::iter::once("lockscope".to_string())
        .chain(subcommands(&cmd).map(|s| page_name(s).to_string()))
        .collect();
    write(
        &man_dir.join("lockscope.1"),
        &man_page(&cmd, version, &pages)?,
    )?;
    for sub in subcommands(&cmd) {
        let path = man_dir.join(format!("{}.1", page_name(sub)));
        write(&path, &man_page(sub, version, &pages)?)?;
    }

    for (shell, file) in [
        (Shell::Bash, "lockscope.bash"),
        (Shell::Zsh, "_lockscope"),
        (Shell::Fish, "lockscope.fish"),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), "lockscope", &mut script);
        write(&completions_dir.join(file), &script)?;
    }
    Ok(())
}

fn subcommands(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set())
}

/// `lockscope-status` for `lockscope status` (clap's display name once built).
fn page_name(cmd: &clap::Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

/// One page: clap_mangen's title, name, synopsis, description, options and subcommands; then
/// the long help after the options as sections of their own (STATES, EXIT STATUS, EXAMPLES),
/// SEE ALSO the other pages, and the version (on lockscope(1); every footer has it).
fn man_page(cmd: &clap::Command, version: &str, pages: &[String]) -> Result<Vec<u8>, String> {
    let man = Man::new(cmd.clone())
        .source(format!("lockscope {version}"))
        .manual("User Commands");
    let mut out = Vec::new();
    let rendered = (|| -> std::io::Result<()> {
        man.render_title(&mut out)?;
        man.render_name_section(&mut out)?;
        man.render_synopsis_section(&mut out)?;
        man.render_description_section(&mut out)?;
        if cmd.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut out)?;
        }
        if subcommands(cmd).next().is_some() {
            man.render_subcommands_section(&mut out)?;
        }
        let mut roff = Roff::new();
        if let Some(text) = cmd.get_after_long_help() {
            help_sections(&mut roff, &text.to_string());
        }
        see_also(&mut roff, page_name(cmd), pages);
        roff.to_writer(&mut out)?;
        // Subcommands have no version of their own; the page footer names it.
        if cmd.get_version().is_some() {
            man.render_version_section(&mut out)?;
        }
        Ok(())
    })();
    rendered.map_err(|e| format!("cannot render {}: {e}", page_name(cmd)))?;
    Ok(out)
}

/// The long help's layout (see src/bin/lockscope/args.rs) in roff: `Heading:` lines become sections,
/// indented lines are shown unfilled (examples, tables), other lines are filled paragraphs.
fn help_sections(roff: &mut Roff, text: &str) {
    let mut verbatim = false;
    let mut paragraph_open = false;
    for line in text.lines() {
        let indented = line.starts_with("  ");
        if verbatim && !indented {
            roff.control("fi", []).control("RE", []);
            verbatim = false;
        }
        if line.trim().is_empty() {
            paragraph_open = false;
        } else if indented {
            if !verbatim {
                roff.control("RS", ["4"]).control("nf", []);
                verbatim = true;
            }
            roff.text([roman(&line[2..])]);
        } else if let Some(heading) = line
            .strip_suffix(':')
            .filter(|h| h.split(' ').count() <= 3 && !h.contains(": "))
        {
            roff.control("SH", [heading.to_uppercase().as_str()]);
            paragraph_open = true;
        } else {
            if !paragraph_open {
                roff.control("PP", []);
            }
            roff.text([roman(line)]);
            paragraph_open = true;
        }
    }
    if verbatim {
        roff.control("fi", []).control("RE", []);
    }
}

fn see_also(roff: &mut Roff, this: &str, pages: &[String]) {
    let others: Vec<&String> = pages.iter().filter(|p| *p != this).collect();
    if others.is_empty() {
        return;
    }
    roff.control("SH", ["SEE ALSO"]);
    let mut line = Vec::new();
    for (i, page) in others.iter().enumerate() {
        line.push(bold(page.as_str()));
        line.push(roman(if i + 1 < others.len() { "(1), " } else { "(1)" }));
    }
    roff.text(line);
}

/// lockscope's version, from its Cargo.toml (this crate's own version is not lockscope's).
fn lockscope_version() -> Result<String, String> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let parsed: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", manifest.display()))?;
    parsed
        .get("package")
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("{}: no package.version", manifest.display()))
}

fn write(path: &Path, content: &[u8]) -> Result<(), String> {
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(content))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
