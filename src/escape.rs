//! Text for terminals and windows: names, paths and command lines made visible and harmless.
//!
//! Directory names, lock-file paths and holders' command lines are chosen by local users. Printed
//! raw, a carriage return or an ANSI sequence in one can clear root's screen or forge a table row,
//! a newline forges a whole `watch` line, and a bidi override reorders what is shown. Every text
//! output of lockscope (the `status` table, `watch` text lines, `hold`'s `held` line, messages on
//! stderr, the app) shows them through [`escape`]. JSON output is not escaped this way: JSON
//! escaping already makes every character safe and keeps the raw value for programs.
//!
//! # Rules
//!
//! - `\0 \a \b \t \n \v \f \r \e` for NUL, BEL, BS, TAB, LF, VT, FF, CR and ESC.
//! - Every other C0 control (U+0001–U+001F), DEL (U+007F) and every C1 control
//!   (U+0080–U+009F) as `\xHH`: two lowercase hex digits, the code point (`\x7f`, `\x9b`).
//! - Bidi controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), the line and
//!   paragraph separators U+2028 and U+2029, and the invisible zero-width characters (U+200B–
//!   U+200D, U+2060, U+FEFF) as `\u{hex}`: lowercase hex, no padding (`\u{202e}`).
//! - Everything else is unchanged, **including the backslash itself**: Windows paths are full of
//!   them and must stay readable. So the escaped form is not reversible (a name may contain a
//!   literal `\n`); it is for people. Programs should read `--json`.

use std::borrow::Cow;
use std::fmt::Write;
use std::path::Path;

/// `text` with every control, bidi and invisible character replaced by a visible escape (see the
/// module rules). Borrows `text`, without allocating, when nothing needs escaping.
pub fn escape(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(needs_escape) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// A path for display: lossy UTF-8 (U+FFFD for bytes that are not), then [`escape`]d.
pub fn escape_path(path: &Path) -> Cow<'_, str> {
    match path.to_string_lossy() {
        Cow::Borrowed(text) => escape(text),
        Cow::Owned(text) => Cow::Owned(escape(&text).into_owned()),
    }
}

/// Whether `c` is shown as an escape: C0, DEL, C1, bidi, line/paragraph separators, invisibles.
pub fn needs_escape(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

/// Bidi controls, U+2028/U+2029 and zero-width characters: format characters that move or
/// hide text rather than show it.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{061c}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'
        | '\u{2066}'..='\u{2069}'
        | '\u{feff}')
}

fn push_escaped(out: &mut String, c: char) {
    let short = match c {
        '\0' => "\\0",
        '\x07' => "\\a",
        '\x08' => "\\b",
        '\t' => "\\t",
        '\n' => "\\n",
        '\x0b' => "\\v",
        '\x0c' => "\\f",
        '\r' => "\\r",
        '\x1b' => "\\e",
        c if c.is_control() => {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\x{:02x}", u32::from(c));
            return;
        }
        c if is_invisible_format(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            return;
        }
        c => {
            out.push(c);
            return;
        }
    };
    out.push_str(short);
}

/// `args` as one line a POSIX shell (bash, zsh, ksh) runs as the same arguments: what the app
/// copies as a holder's command line. A plain word stays as it is, other text goes in single
/// quotes, and an argument with a byte [`escape`] would show as an escape (a control, an
/// invisible or bidi character, invalid UTF-8) is written `$'...'` with `\xHH` for those bytes:
/// the copied line is printable, and pasting it cannot send an ESC to the shell's line editor.
pub fn shell_quote(args: &[std::ffi::OsString]) -> String {
    let mut line = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        push_shell_word(&mut line, arg.as_encoded_bytes());
    }
    line
}

fn push_shell_word(out: &mut String, arg: &[u8]) {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(b);
    if !arg.is_empty() && arg.iter().all(plain) {
        // All ASCII, so valid UTF-8.
        out.push_str(&String::from_utf8_lossy(arg));
        return;
    }
    match std::str::from_utf8(arg) {
        Ok(text) if !text.contains(needs_escape) => {
            out.push('\'');
            out.push_str(&text.replace('\'', "'\\''"));
            out.push('\'');
        }
        _ => {
            out.push_str("$'");
            for chunk in arg.utf8_chunks() {
                for c in chunk.valid().chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\'' => out.push_str("\\'"),
                        c if needs_escape(c) => {
                            let mut bytes = [0; 4];
                            for b in c.encode_utf8(&mut bytes).bytes() {
                                let _ = write!(out, "\\x{b:02x}");
                            }
                        }
                        c => out.push(c),
                    }
                }
                for b in chunk.invalid() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
            out.push('\'');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for text in [
            "",
            "/etc/letsencrypt",
            "C:\\Certbot\\lib",
            "données ✓ 証明書",
            "a\\nb",
        ] {
            assert!(
                matches!(escape(text), Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
    }

    #[test]
    fn named_c0_escapes() {
        assert_eq!(
            escape("\0\x07\x08\t\n\x0b\x0c\r\x1b"),
            "\\0\\a\\b\\t\\n\\v\\f\\r\\e"
        );
        assert_eq!(escape("a\r/x\x1b[K\nb"), "a\\r/x\\e[K\\nb");
    }

    #[test]
    fn other_c0_del_and_c1_as_two_hex_digits() {
        assert_eq!(escape("\x01\x1f\x7f"), "\\x01\\x1f\\x7f");
        assert_eq!(escape("\u{80}\u{9b}\u{9f}"), "\\x80\\x9b\\x9f");
        // U+00A0 (no-break space) is not a control.
        assert_eq!(escape("\u{a0}"), "\u{a0}");
    }

    #[test]
    fn bidi_separators_and_invisibles_as_unicode_escapes() {
        let cases = [
            ('\u{061c}', "\\u{61c}"),
            ('\u{200e}', "\\u{200e}"),
            ('\u{200f}', "\\u{200f}"),
            ('\u{202a}', "\\u{202a}"),
            ('\u{202e}', "\\u{202e}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{2029}', "\\u{2029}"),
            ('\u{200b}', "\\u{200b}"),
            ('\u{200d}', "\\u{200d}"),
            ('\u{2060}', "\\u{2060}"),
            ('\u{feff}', "\\u{feff}"),
        ];
        for (c, want) in cases {
            assert_eq!(escape(&format!("x{c}y")), format!("x{want}y"), "{c:?}");
        }
        // Neighbours that are ordinary characters stay.
        assert_eq!(
            escape("\u{2027}\u{206a}\u{2061}"),
            "\u{2027}\u{206a}\u{2061}"
        );
    }

    #[test]
    fn backslash_is_not_escaped() {
        assert_eq!(escape("C:\\a\n"), "C:\\a\\n");
    }

    #[cfg(unix)]
    #[test]
    fn paths_are_lossy_then_escaped() {
        use std::os::unix::ffi::OsStrExt;
        let path = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/a\xff\nb"));
        assert_eq!(escape_path(path), "/tmp/a\u{fffd}\\nb");
        assert!(matches!(
            escape_path(Path::new("/etc")),
            Cow::Borrowed("/etc")
        ));
    }
}

#[cfg(all(test, unix))]
mod props {
    use super::*;
    use proptest::prelude::*;
    use std::os::unix::ffi::OsStringExt;

    /// What bash makes of `line`: its words, as bytes.
    fn bash_words(line: &str) -> Vec<Vec<u8>> {
        let out = std::process::Command::new("bash")
            .args(["--norc", "-c", &format!("printf '%s\\0' {line}")])
            .output()
            .expect("bash runs");
        assert!(out.status.success(), "{line}: {out:?}");
        let mut words: Vec<Vec<u8>> = out.stdout.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
        words.pop();
        words
    }

    #[test]
    fn a_shell_quoted_command_line_runs_as_the_same_arguments() {
        let args: Vec<Vec<u8>> = vec![
            b"/usr/bin/certbot".to_vec(),
            b"renew".to_vec(),
            b"--config-dir".to_vec(),
            b"/srv/my certs".to_vec(),
            b"it's".to_vec(),
            b"".to_vec(),
            b"$HOME `id` *; rm -rf ~".to_vec(),
            b"a\\b".to_vec(),
            b"\x1b[2J\rline\nnext".to_vec(),
            b"caf\xc3\xa9 \xff\xfe".to_vec(),
            "\u{202e}txt.exe".as_bytes().to_vec(),
        ];
        let os: Vec<std::ffi::OsString> = args
            .iter()
            .cloned()
            .map(std::ffi::OsString::from_vec)
            .collect();
        let line = shell_quote(&os);
        assert!(!line.contains(needs_escape), "printable: {line}");
        assert_eq!(bash_words(&line), args, "{line}");
        assert_eq!(
            shell_quote(&os[..4]),
            "/usr/bin/certbot renew --config-dir '/srv/my certs'"
        );
    }

    proptest! {
        #[test]
        fn output_has_no_control_or_bidi_character(chars in prop::collection::vec(
            prop_oneof![
                any::<char>(),
                prop::sample::select(vec!['\n', '\r', '\x1b', '\x7f', '\u{9b}', '\u{202e}', '\u{2066}', '\u{feff}', '\u{200b}']),
            ],
            0..40,
        )) {
            let text: String = chars.into_iter().collect();
            let shown = escape(&text);
            prop_assert!(!shown.chars().any(needs_escape), "{:?} -> {:?}", text, shown);
        }

        #[test]
        fn printable_ascii_is_unchanged(text in "[ -~]*") {
            prop_assert!(matches!(escape(&text), Cow::Borrowed(t) if t == text));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn any_arguments_survive_shell_quoting(args in prop::collection::vec(
            prop::collection::vec(1u8..=255, 0..12), 1..5)) {
            let os: Vec<std::ffi::OsString> =
                args.iter().cloned().map(std::ffi::OsString::from_vec).collect();
            prop_assert_eq!(bash_words(&shell_quote(&os)), args);
        }
    }
}
