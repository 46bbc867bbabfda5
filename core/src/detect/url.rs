//! URLs that dev servers announce: `Local: http://localhost:5173/`, `Listening on
//! http://0.0.0.0:3000`. Only http(s) URLs with an explicit port count; a URL whose host is not
//! local (loopback, wildcard, private LAN, `.local`) counts only on an announcing line; a line
//! that reads like a request, a proxy rule or a connection attempt never announces.

use std::collections::BTreeSet;

use super::model::Url;

/// At most this many URLs are extracted from one line. Real announcements carry one or two
/// (webpack-dev-server's `Loopback: http://localhost:8081/, http://[::1]:8081/`); a line with
/// more is a dump (a sitemap, a config print) and the rest are ignored.
pub const URLS_PER_LINE_MAX: usize = 4;

/// Words (lowercase) that mark a line as announcing where the server can be reached.
const ANNOUNCE_CUES: [&str; 16] = [
    "local:",
    "network:",
    "loopback:",
    "on your network",
    "listening",
    "running at",
    "running on",
    "ready on",
    "ready at",
    "started server",
    "server started",
    "server running",
    "available at",
    "available on",
    "serving",
    "server at",
];

/// Words (lowercase) that mark a URL as someone else's: requests, proxies, connections.
const OTHER_CUES: [&str; 14] = [
    "get ",
    "post ",
    "put ",
    "delete ",
    "patch ",
    "fetch",
    "proxy",
    "proxies",
    "connect",
    "request",
    "econnrefused",
    "error",
    "failed",
    " -> ",
];

/// Finds the announced URLs on a line (already ANSI-stripped). Allocation-free unless the line
/// contains `http`.
pub(crate) fn find_urls(line: &str, mut found_url: impl FnMut(Url)) {
    if !line.contains("http") {
        return;
    }
    let lower = line.to_ascii_lowercase();
    let announced = ANNOUNCE_CUES.iter().any(|c| lower.contains(c));
    if !announced && OTHER_CUES.iter().any(|c| lower.contains(c)) {
        return;
    }
    let mut found = 0;
    let mut rest = line;
    while let Some(at) = rest.find("http") {
        let cand = rest.get(at..).unwrap_or("");
        let advance = at + 4;
        // A URL starts a word: `xhttp://` is not one.
        let word_start = at == 0 || !rest.as_bytes().get(at - 1).is_some_and(|b| b.is_ascii_alphanumeric());
        if word_start && let Some((url, len)) = parse_url(cand) {
            // Unlabelled, only a bare local origin counts: `http://localhost:4318/v1/traces`
            // on a line without a cue is a request target, not a server's address.
            if announced || is_local(url.host) && url.bare_origin() {
                found_url(url.into_url());
                found += 1;
                if found == URLS_PER_LINE_MAX {
                    return;
                }
            }
            rest = cand.get(len..).unwrap_or("");
            continue;
        }
        rest = rest.get(advance..).unwrap_or("");
    }
}

struct Parsed<'a> {
    text: &'a str,
    scheme_len: usize,
    host: &'a str,
    host_end: usize,
    port: u16,
}

impl Parsed<'_> {
    fn bare_origin(&self) -> bool {
        matches!(self.text.get(self.host_end..).and_then(|r| r.split_once('/')), None | Some((_, "")))
    }

    fn into_url(self) -> Url {
        let browse = if matches!(self.host, "0.0.0.0" | "[::]") {
            let tail = self.text.get(self.host_end..).unwrap_or("");
            format!("{}localhost{}", self.text.get(..self.scheme_len).unwrap_or("http://"), tail)
        } else {
            self.text.to_string()
        };
        let scheme = self.text.get(..self.scheme_len).unwrap_or("http://").trim_end_matches("://").to_string();
        let after = self.text.get(self.host_end..).unwrap_or("");
        let path = match after.find('/') {
            Some(i) => after[i..].to_string(),
            None => "/".to_string(),
        };
        Url { url: self.text.to_string(), browse, scheme, host: self.host.to_string(), port: self.port, path }
    }
}

/// The URL at the start of `text`, if `text` starts with one.
pub(crate) fn parse_one(text: &str) -> Option<Url> {
    parse_url(text).map(|(p, _)| p.into_url())
}

/// Parses `http(s)://host:port[/path]` at the start of `s`; returns it and its length.
fn parse_url(s: &str) -> Option<(Parsed<'_>, usize)> {
    let scheme_len = if s.starts_with("https://") {
        8
    } else if s.starts_with("http://") {
        7
    } else {
        return None;
    };
    let after = s.get(scheme_len..)?;
    // The URL runs to the first character that cannot be in one.
    let len = after
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`' | '{' | '}' | '|' | '\\' | '^'))
        .unwrap_or(after.len());
    let mut body = after.get(..len)?;
    // Trailing punctuation belongs to the sentence, and an unbalanced `)` or `]` to a wrapper.
    loop {
        let trimmed = body.trim_end_matches(['.', ',', ';', ':', '!', '?']);
        let trimmed = match trimmed.strip_suffix(')') {
            Some(t) if trimmed.matches('(').count() < trimmed.matches(')').count() => t,
            _ => trimmed,
        };
        let trimmed = match trimmed.strip_suffix(']') {
            Some(t) if !t.ends_with('[') && trimmed.matches('[').count() < trimmed.matches(']').count() => t,
            _ => trimmed,
        };
        if trimmed.len() == body.len() {
            break;
        }
        body = trimmed;
    }
    let authority_len = body.find('/').unwrap_or(body.len());
    let authority = body.get(..authority_len)?;
    if authority.contains('@') {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        (authority.get(..=close)?, authority.get(close + 1..)?.strip_prefix(':')?)
    } else {
        authority.rsplit_once(':')?
    };
    if host.is_empty() || port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    let total = scheme_len + body.len();
    let text = s.get(..total)?;
    Some((Parsed { text, scheme_len, host, host_end: scheme_len + host.len(), port }, total))
}

/// Loopback, wildcard, private-LAN and link-local addresses, `localhost` and `*.local` names.
fn is_local(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    if h == "localhost" || h.ends_with(".localhost") || h.ends_with(".local") {
        return true;
    }
    if let Some(v6) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return v6 == "::"
            || v6 == "::1"
            || v6.starts_with("fd")
            || v6.starts_with("fc")
            || v6.starts_with("fe80:")
            || v6.starts_with("::ffff:127.");
    }
    let mut octets = [0u8; 4];
    let mut n = 0;
    for part in h.split('.') {
        if n == 4 {
            return false;
        }
        match part.parse::<u8>() {
            Ok(v) if !part.is_empty() && part.len() <= 3 => octets[n] = v,
            _ => return false,
        }
        n += 1;
    }
    if n != 4 {
        return false;
    }
    matches!(octets, [127, ..] | [0, 0, 0, 0] | [10, ..] | [192, 168, ..] | [169, 254, ..])
        || (octets[0] == 172 && (16..=31).contains(&octets[1]))
}

/// The most distinct URLs [`UrlSet`] remembers for one process. A dev server announces a
/// handful; a process that prints hundreds of distinct local URLs is not announcing, and
/// remembering them all would let one process grow memory without bound.
pub const URLS_PER_PROCESS_MAX: usize = 64;

/// Per-instance dedupe for announced URLs (the supervisor owns one per instance, shared by its
/// two streams). Two URLs are the
/// same if their browse forms match without a trailing `/`: `http://0.0.0.0:3000` and
/// `http://localhost:3000/` are one server.
#[derive(Debug, Default, Clone)]
pub struct UrlSet {
    seen: BTreeSet<String>,
    dropped: u64,
}

impl UrlSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// True the first time a URL is seen (report it); false for a repeat, or when the set is
    /// full (counted in [`UrlSet::dropped`]).
    pub fn insert(&mut self, url: &Url) -> bool {
        let key = url.browse.trim_end_matches('/');
        if self.seen.contains(key) {
            return false;
        }
        if self.seen.len() >= URLS_PER_PROCESS_MAX {
            self.dropped += 1;
            return false;
        }
        self.seen.insert(key.to_string());
        true
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// New URLs refused because the set was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Forgets every URL (the process restarted and may announce again).
    pub fn clear(&mut self) {
        self.seen.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        find_urls(line, |u| out.push(u));
        out.iter().map(|u| u.to_string()).collect()
    }

    #[test]
    fn announcements_of_common_dev_servers() {
        assert_eq!(urls("  ➜  Local:   http://localhost:5173/"), ["http://localhost:5173/"]);
        assert_eq!(urls("  ➜  Network: http://192.0.2.2:5173/"), ["http://192.0.2.2:5173/"]);
        assert_eq!(urls("   - Local:        http://localhost:3000"), ["http://localhost:3000"]);
        assert_eq!(
            urls("<i> [webpack-dev-server] Loopback: http://localhost:8081/, http://[::1]:8081/"),
            ["http://localhost:8081/", "http://[::1]:8081/"]
        );
        assert_eq!(urls("Serving on http://0.0.0.0:8000."), ["http://0.0.0.0:8000 (browse http://localhost:8000)"]);
        assert_eq!(urls("listening on http://[::]:4000/"), ["http://[::]:4000/ (browse http://localhost:4000/)"]);
        assert_eq!(urls(" * Running on http://127.0.0.1:5000 (Press CTRL+C to quit)"), ["http://127.0.0.1:5000"]);
        assert_eq!(
            urls("Web Server is available at http://localhost:1313/ (bind address 127.0.0.1)"),
            ["http://localhost:1313/"]
        );
        assert_eq!(urls("open http://10.0.0.7:8080/"), ["http://10.0.0.7:8080/"]);
        assert_eq!(urls("open http://10.0.0.7:8080/app"), Vec::<String>::new());
        assert_eq!(urls("Local: http://10.0.0.7:8080/app"), ["http://10.0.0.7:8080/app"]);
    }

    #[test]
    fn non_announcements_are_ignored() {
        assert!(urls("GET http://localhost:3000/static/error-handler.js 200").is_empty());
        assert!(urls("[HPM] Proxy created: /api  -> http://localhost:8080").is_empty());
        assert!(urls("see https://webpack.js.org/concepts#loaders").is_empty());
        assert!(urls("docs at https://example.com:8443/x").is_empty());
        assert!(urls("http://localhost/ (no port)").is_empty());
        assert!(urls("connecting to http://127.0.0.1:5432").is_empty());
        assert!(urls("sending 3 spans to http://localhost:4318/v1/traces").is_empty());
        assert!(urls("http://localhost:").is_empty());
        assert!(urls("http://localhost:99999/").is_empty());
        assert!(urls("http://user:pw@localhost:3000/").is_empty());
        assert!(urls("xhttp://localhost:3000/").is_empty());
    }

    #[test]
    fn url_set_dedupes_and_stays_bounded() {
        let mut set = UrlSet::new();
        let u = |s: &str| {
            let mut v = Vec::new();
            find_urls(&format!("Local: {s}"), |u| v.push(u));
            v.remove(0)
        };
        assert!(set.insert(&u("http://localhost:3000/")));
        assert!(!set.insert(&u("http://localhost:3000")));
        assert!(!set.insert(&u("http://0.0.0.0:3000")));
        for p in 0..200 {
            set.insert(&u(&format!("http://localhost:{}/", 4000 + p)));
        }
        assert_eq!(set.len(), URLS_PER_PROCESS_MAX);
        assert_eq!(set.dropped(), 200 - (URLS_PER_PROCESS_MAX as u64 - 1));
    }
}
