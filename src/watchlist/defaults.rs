//! certbot's default directories on this OS (`/etc/letsencrypt`, ..., or `C:\Certbot`, ...),
//! and the watch list made of them ([`WatchList::certbot_preset`]).

use super::WatchList;
use std::path::{Path, PathBuf};

/// The name of [`WatchList::certbot_preset`].
pub const CERTBOT_PRESET_NAME: &str = "certbot";

impl WatchList {
    /// certbot's directories on this OS, named [`CERTBOT_PRESET_NAME`]: see [`certbot_defaults`].
    pub fn certbot_preset() -> WatchList {
        WatchList {
            name: CERTBOT_PRESET_NAME.to_string(),
            dirs: certbot_defaults(),
            notify: Default::default(),
        }
    }
}

/// certbot's default directories on this OS: `/etc/letsencrypt`, `/var/lib/letsencrypt`,
/// `/var/log/letsencrypt` and, for the nginx and apache plugins (which lock the server root),
/// whichever of `/etc/nginx`, `/etc/apache2`, `/etc/httpd` is a directory here. On Windows
/// `C:\Certbot`, `C:\Certbot\lib`, `C:\Certbot\log`.
pub fn certbot_defaults() -> Vec<PathBuf> {
    certbot_defaults_with(Path::is_dir)
}

/// [`certbot_defaults`] with `exists` deciding which web-server roots are present.
pub fn certbot_defaults_with(exists: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    certbot_defaults_for(cfg!(windows), exists)
}

/// [`certbot_defaults_with`] for Windows (`windows`) or elsewhere, testable on any OS.
fn certbot_defaults_for(windows: bool, exists: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    if windows {
        return [r"C:\Certbot", r"C:\Certbot\lib", r"C:\Certbot\log"]
            .into_iter()
            .map(PathBuf::from)
            .collect();
    }
    let certbot = [
        "/etc/letsencrypt",
        "/var/lib/letsencrypt",
        "/var/log/letsencrypt",
    ];
    let web_roots = ["/etc/nginx", "/etc/apache2", "/etc/httpd"];
    certbot
        .into_iter()
        .map(PathBuf::from)
        .chain(
            web_roots
                .into_iter()
                .map(PathBuf::from)
                .filter(|p| exists(p)),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watchlist::test_support::*;

    #[test]
    fn certbot_defaults_per_os() {
        let linux = certbot_defaults_for(false, |_| false);
        assert_eq!(
            linux,
            [
                p("/etc/letsencrypt"),
                p("/var/lib/letsencrypt"),
                p("/var/log/letsencrypt")
            ]
        );
        let with_nginx = certbot_defaults_for(false, |d| d == Path::new("/etc/nginx"));
        assert_eq!(with_nginx.last(), Some(&p("/etc/nginx")));
        assert_eq!(with_nginx.len(), 4);
        let all = certbot_defaults_for(false, |_| true);
        assert_eq!(
            &all[3..],
            [p("/etc/nginx"), p("/etc/apache2"), p("/etc/httpd")]
        );
        let windows = certbot_defaults_for(true, |_| true);
        assert_eq!(
            windows,
            [p(r"C:\Certbot"), p(r"C:\Certbot\lib"), p(r"C:\Certbot\log")]
        );
        // The preset is a valid list on this OS.
        let preset = WatchList::certbot_preset();
        assert_eq!(preset.checked().unwrap(), preset);
        assert_eq!(preset.name, "certbot");
    }
}
