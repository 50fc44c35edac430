//! The request parser of the HTTP server: the request head at the start of the bytes received
//! so far (RFC 9112), refused with the status to answer when it is not one this server takes.
//! It sees only bytes, never a socket: fuzzed on its own and through whole conversations
//! (`props` in the parent module).

use super::{MAX_HEAD, Request};

/// What the bytes received so far are.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parse<'a> {
    /// The start of a head: more bytes may complete it.
    Incomplete,
    /// A request whose head is the first `len` bytes.
    Request { request: Request<'a>, len: usize },
    /// Not a request this server takes: answer with this status, then close.
    Bad(u16),
}

/// RFC 9110's token characters (methods, header names).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// The request head at the start of `input` (RFC 9112 §2-3, §5): empty lines before it are
/// skipped; lines end in CRLF or a bare LF. A head that is not whole within [`MAX_HEAD`] bytes
/// is refused (431).
pub(crate) fn parse(input: &[u8]) -> Parse<'_> {
    let window = &input[..input.len().min(MAX_HEAD)];
    let Some(start) = window.iter().position(|&b| b != b'\r' && b != b'\n') else {
        return incomplete(input);
    };
    let mut lines = Vec::new();
    let mut line_start = start;
    let mut len = None;
    for (i, &b) in window.iter().enumerate().skip(start) {
        if b != b'\n' {
            continue;
        }
        let line = &window[line_start..i];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        line_start = i + 1;
        if line.is_empty() {
            len = Some(i + 1);
            break;
        }
        lines.push(line);
    }
    let Some(len) = len else {
        return incomplete(input);
    };
    match parse_head(&lines) {
        Ok(request) => Parse::Request { request, len },
        Err(status) => Parse::Bad(status),
    }
}

fn incomplete(input: &[u8]) -> Parse<'_> {
    if input.len() >= MAX_HEAD {
        Parse::Bad(431)
    } else {
        Parse::Incomplete
    }
}

fn parse_head<'a>(lines: &[&'a [u8]]) -> Result<Request<'a>, u16> {
    let (request_line, fields) = lines.split_first().ok_or(400u16)?;
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    if !is_token(method) || target.is_empty() || !target.iter().all(|b| b.is_ascii_graphic()) {
        return Err(400);
    }
    let http11 = match version {
        b"HTTP/1.1" => true,
        b"HTTP/1.0" => false,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(505);
        }
        _ => return Err(400),
    };
    let (mut close, mut body) = (false, false);
    for field in fields {
        // No obs-fold (RFC 9112 §5.2), no whitespace before the colon (§5.1).
        let colon = field.iter().position(|&b| b == b':').ok_or(400u16)?;
        let (name, value) = (&field[..colon], field[colon + 1..].trim_ascii());
        if !is_token(name)
            || value
                .iter()
                .any(|&b| (b.is_ascii_control() && b != b'\t') || b == 0x7f)
        {
            return Err(400);
        }
        if name.eq_ignore_ascii_case(b"connection") {
            close |= value
                .split(|&b| b == b',')
                .any(|option| option.trim_ascii().eq_ignore_ascii_case(b"close"));
        } else if name.eq_ignore_ascii_case(b"content-length") {
            if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                return Err(400);
            }
            body |= value.iter().any(|&b| b != b'0');
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            body = true;
        }
    }
    // Both are ASCII: tokens and visible characters.
    let (Ok(method), Ok(target)) = (std::str::from_utf8(method), std::str::from_utf8(target))
    else {
        return Err(400);
    };
    Ok(Request {
        method,
        target,
        keep_alive: http11 && !close && !body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_request_parses() {
        let input = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET";
        assert_eq!(
            parse(input),
            Parse::Request {
                request: Request {
                    method: "GET",
                    target: "/metrics",
                    keep_alive: true
                },
                len: input.len() - 3
            }
        );
        for (input, keep_alive) in [
            (&b"\r\nGET / HTTP/1.0\n\n"[..], false),
            (
                b"GET / HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\n",
                false,
            ),
            (b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", false),
            (b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", true),
        ] {
            let Parse::Request { request, .. } = parse(input) else {
                panic!("{input:?}: {:?}", parse(input))
            };
            assert_eq!(request.keep_alive, keep_alive, "{input:?}");
        }
    }

    #[test]
    fn bad_heads_are_refused() {
        for (input, status) in [
            (&b"GET /metrics\r\n\r\n"[..], 400),
            (b"GET  /metrics HTTP/1.1\r\n\r\n", 400),
            (b"GET /metrics HTTP/2.0\r\n\r\n", 505),
            (b"GET /metrics HTTP/1.1\r\n folded\r\n\r\n", 400),
            (b"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", 400),
            (b"GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            (b"GET /m\xe9 HTTP/1.1\r\n\r\n", 400),
            (b"GET /metrics HTTP/1.1\r\nX: a\0b\r\n\r\n", 400),
        ] {
            assert_eq!(parse(input), Parse::Bad(status), "{input:?}");
        }
        assert_eq!(
            parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"),
            Parse::Incomplete
        );
        let long = [b"GET /".as_slice(), &[b'a'; MAX_HEAD]].concat();
        assert_eq!(parse(&long), Parse::Bad(431));
        assert_eq!(parse(&[b'\n'; MAX_HEAD]), Parse::Bad(431));
    }
}
