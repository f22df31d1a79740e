//! Where requests go: national clouds, API versions, and the base URL of the calls API.

use std::fmt;

use url::Url;

use crate::error::{Error, Result};

/// A Microsoft Graph deployment, with its Graph host, Azure AD authority host and token scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cloud {
    /// The global service: `graph.microsoft.com`, `login.microsoftonline.com`.
    Global,
    /// US Government L4: `graph.microsoft.us`, `login.microsoftonline.us`.
    UsGovL4,
    /// US Government L5 (DOD): `dod-graph.microsoft.us`, `login.microsoftonline.us`.
    UsGovL5,
    /// China, operated by 21Vianet: `microsoftgraph.chinacloudapi.cn`, `login.chinacloudapi.cn`.
    China,
}

impl Cloud {
    /// Every known cloud.
    pub const ALL: [Cloud; 4] = [Cloud::Global, Cloud::UsGovL4, Cloud::UsGovL5, Cloud::China];

    /// The Graph root, scheme and host, without a version: `https://graph.microsoft.com`.
    pub fn graph_root(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGovL4 => "https://graph.microsoft.us",
            Cloud::UsGovL5 => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The Azure AD authority host that issues tokens for this cloud.
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGovL4 | Cloud::UsGovL5 => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// The client-credentials scope for Graph in this cloud: `{graph_root}/.default`.
    pub fn scope(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com/.default",
            Cloud::UsGovL4 => "https://graph.microsoft.us/.default",
            Cloud::UsGovL5 => "https://dod-graph.microsoft.us/.default",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn/.default",
        }
    }

    /// The cloud whose Graph host is `host` (case-insensitive), if any.
    pub fn from_graph_host(host: &str) -> Option<Cloud> {
        Cloud::ALL.into_iter().find(|c| {
            c.graph_root()
                .strip_prefix("https://")
                .is_some_and(|h| h.eq_ignore_ascii_case(host))
        })
    }
}

/// A Graph API version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiVersion {
    /// `v1.0`, the stable API.
    V1,
    /// `beta`.
    Beta,
}

impl ApiVersion {
    /// The path segment: `v1.0` or `beta`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }
}

/// Percent-encodes `call_id` as one URL path segment, with
/// [`graph_comms_transfer::call_path_segment`]: everything outside RFC 3986's unreserved set is
/// escaped, so `/`, `?`, `#` and `%` cannot change the URL's shape.
///
/// # Errors
/// [`Error::InvalidCallId`] when the id is empty or blank, or `.` or `..` (which a URL parser
/// would fold into the path even when percent-encoded).
pub(crate) fn encode_call_id(call_id: &str) -> Result<String> {
    graph_comms_transfer::call_path_segment(call_id).map_err(|e| Error::InvalidCallId {
        call_id: call_id.to_owned(),
        reason: e.to_string(),
    })
}

/// Which collection path calls live under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CallsPath {
    /// `/communications/calls` (the default).
    #[default]
    Communications,
    /// The deprecated `/app/calls`, used only when asked for explicitly.
    LegacyApp,
}

impl CallsPath {
    fn as_str(self) -> &'static str {
        match self {
            CallsPath::Communications => "communications/calls",
            CallsPath::LegacyApp => "app/calls",
        }
    }
}

/// The root of the Graph API including its version (`https://graph.microsoft.com/v1.0`), plus
/// the cloud it belongs to (which picks the token authority and scope) and the calls path.
///
/// ```
/// use graph_comms_transport::{ApiVersion, BaseUrl, Cloud};
///
/// let beta = BaseUrl::new(Cloud::Global, ApiVersion::Beta);
/// assert_eq!(
///     beta.transfer_url("341a0500/x").unwrap().as_str(),
///     "https://graph.microsoft.com/beta/communications/calls/341a0500%2Fx/transfer"
/// );
/// let local = BaseUrl::parse("http://127.0.0.1:8080/v1.0").unwrap();
/// assert_eq!(local.cloud(), None);
/// let gov = BaseUrl::parse("https://graph.microsoft.us/v1.0").unwrap();
/// assert_eq!(gov.cloud(), Some(Cloud::UsGovL4));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BaseUrl {
    root: String,
    cloud: Option<Cloud>,
    calls_path: CallsPath,
    /// `{root}/{calls path}/`, parsed once: a call's URL is resolved against it, so the scheme
    /// and host are not parsed again for every request.
    calls: Url,
}

impl BaseUrl {
    /// The base URL of `version` in `cloud`.
    pub fn new(cloud: Cloud, version: ApiVersion) -> Self {
        let root = format!("{}/{}", cloud.graph_root(), version.as_str());
        let url = Url::parse(&root).expect("a known cloud's root is a valid URL");
        Self::from_parts(root, &url, Some(cloud), CallsPath::Communications)
    }

    /// A base from its root (without a trailing `/`) and that root parsed.
    fn from_parts(root: String, url: &Url, cloud: Option<Cloud>, calls_path: CallsPath) -> Self {
        Self {
            calls: calls_collection(url, calls_path),
            root,
            cloud,
            calls_path,
        }
    }

    /// Any root including its version, such as `http://127.0.0.1:8080/v1.0` for an emulator.
    /// A root on a known Graph host is recognised as that [`Cloud`].
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when `root` is not an absolute `http`/`https` URL without query or
    /// fragment.
    pub fn parse(root: &str) -> Result<Self> {
        let url = Url::parse(root).map_err(|e| Error::InvalidUrl {
            url: root.to_owned(),
            reason: e.to_string(),
        })?;
        let reason = if url.scheme() != "http" && url.scheme() != "https" {
            Some("scheme must be http or https")
        } else if url.host_str().is_none() {
            Some("has no host")
        } else if url.query().is_some() || url.fragment().is_some() {
            Some("must not have a query or fragment")
        } else if !url.username().is_empty() || url.password().is_some() {
            Some("must not carry credentials")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(Error::InvalidUrl {
                url: root.to_owned(),
                reason: reason.to_owned(),
            });
        }
        let cloud = if url.scheme() == "https" {
            url.host_str().and_then(Cloud::from_graph_host)
        } else {
            None
        };
        let root = url.as_str().trim_end_matches('/').to_owned();
        Ok(Self::from_parts(
            root,
            &url,
            cloud,
            CallsPath::Communications,
        ))
    }

    /// The same root, sending to the deprecated `/app/calls` path instead of
    /// `/communications/calls`.
    pub fn with_calls_path(mut self, calls_path: CallsPath) -> Self {
        let old = format!("/{}/", self.calls_path.as_str());
        let root_path = self.calls.path().strip_suffix(&old).unwrap_or_default();
        let mut root = self.calls.clone();
        root.set_path(root_path);
        self.calls = calls_collection(&root, calls_path);
        self.calls_path = calls_path;
        self
    }

    /// The cloud this root belongs to, or `None` for a custom root.
    pub fn cloud(&self) -> Option<Cloud> {
        self.cloud
    }

    /// The root as text, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.root
    }

    /// The calls path in use.
    pub fn calls_path(&self) -> CallsPath {
        self.calls_path
    }

    /// `{root}/communications/calls/{call_id}` with the id percent-encoded as one segment.
    ///
    /// # Errors
    /// [`Error::InvalidCallId`] for an empty or dot-segment id.
    pub fn call_url(&self, call_id: &str) -> Result<Url> {
        self.url(call_id, "")
    }

    /// `{root}/communications/calls/{call_id}/transfer`.
    ///
    /// # Errors
    /// [`Error::InvalidCallId`] for an empty or dot-segment id.
    pub fn transfer_url(&self, call_id: &str) -> Result<Url> {
        self.url(call_id, "/transfer")
    }

    fn url(&self, call_id: &str, suffix: &str) -> Result<Url> {
        let mut relative = encode_call_id(call_id)?;
        relative.push_str(suffix);
        self.resolve(&relative)
    }

    /// `{root}/{calls path}/`: the collection of calls, with a trailing `/`.
    pub(crate) fn calls(&self) -> &Url {
        &self.calls
    }

    /// `relative` (percent-encoded path segments: no scheme, no `?`, no `#`, no dot segment)
    /// resolved against `{root}/{calls path}/`. The same URL as parsing the whole text, without
    /// parsing the scheme and host again.
    pub(crate) fn resolve(&self, relative: &str) -> Result<Url> {
        debug_assert!(!relative.contains(['?', '#', ':']), "{relative:?}");
        self.calls.join(relative).map_err(|e| Error::InvalidUrl {
            url: format!("{}{relative}", self.calls),
            reason: e.to_string(),
        })
    }
}

/// `root` with the calls path and a trailing `/`, against which a call's path resolves.
fn calls_collection(root: &Url, calls_path: CallsPath) -> Url {
    let mut calls = root.clone();
    let base = root.path().trim_end_matches('/');
    calls.set_path(&format!("{base}/{}/", calls_path.as_str()));
    calls
}

impl Default for BaseUrl {
    /// `https://graph.microsoft.com/v1.0`.
    fn default() -> Self {
        BaseUrl::new(Cloud::Global, ApiVersion::V1)
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BaseUrl")
            .field("root", &self.root)
            .field("cloud", &self.cloud)
            .field("calls_path", &self.calls_path)
            .finish()
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.root)
    }
}

impl std::str::FromStr for BaseUrl {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        BaseUrl::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_have_matching_hosts_and_scopes() {
        for cloud in Cloud::ALL {
            assert_eq!(cloud.scope(), format!("{}/.default", cloud.graph_root()));
            let host = cloud.graph_root().trim_start_matches("https://");
            assert_eq!(Cloud::from_graph_host(host), Some(cloud));
        }
        assert_eq!(
            Cloud::UsGovL5.authority_host(),
            "https://login.microsoftonline.us"
        );
        assert_eq!(
            Cloud::China.authority_host(),
            "https://login.chinacloudapi.cn"
        );
    }

    #[test]
    fn urls_for_every_cloud_and_version() {
        let id = "341a0500-d4bf-4224-8b19-1581168d328b";
        let got: Vec<String> = Cloud::ALL
            .into_iter()
            .flat_map(|c| [ApiVersion::V1, ApiVersion::Beta].map(move |v| (c, v)))
            .map(|(c, v)| BaseUrl::new(c, v).transfer_url(id).unwrap().to_string())
            .collect();
        assert_eq!(
            got,
            [
                "https://graph.microsoft.com/v1.0/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b/transfer",
                "https://graph.microsoft.com/beta/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b/transfer",
                "https://graph.microsoft.us/v1.0/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b/transfer",
                "https://graph.microsoft.us/beta/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b/transfer",
                "https://dod-graph.microsoft.us/v1.0/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b/transfer",
                "https://dod-graph.microsoft.us/beta/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b/transfer",
                "https://microsoftgraph.chinacloudapi.cn/v1.0/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b/transfer",
                "https://microsoftgraph.chinacloudapi.cn/beta/communications/calls/341a0500-d4bf-4224-8b19-1581168d328b/transfer",
            ]
        );
    }

    #[test]
    fn legacy_app_calls_only_when_asked() {
        let base = BaseUrl::default();
        assert!(base
            .transfer_url("a")
            .unwrap()
            .path()
            .starts_with("/v1.0/communications/calls/"));
        let legacy = base.with_calls_path(CallsPath::LegacyApp);
        assert_eq!(
            legacy.transfer_url("a").unwrap().path(),
            "/v1.0/app/calls/a/transfer"
        );
    }

    #[test]
    fn call_ids_are_one_encoded_segment() {
        let base = BaseUrl::parse("http://127.0.0.1:9/v1.0/").unwrap();
        let cases = [
            ("abc", "/v1.0/communications/calls/abc/transfer"),
            ("a/b", "/v1.0/communications/calls/a%2Fb/transfer"),
            ("a?b#c", "/v1.0/communications/calls/a%3Fb%23c/transfer"),
            ("%2e%2e", "/v1.0/communications/calls/%252e%252e/transfer"),
            ("a b", "/v1.0/communications/calls/a%20b/transfer"),
            ("é", "/v1.0/communications/calls/%C3%A9/transfer"),
            ("..a", "/v1.0/communications/calls/..a/transfer"),
        ];
        for (id, path) in cases {
            let url = base.transfer_url(id).unwrap();
            assert_eq!(url.path(), path, "call id {id:?}");
            assert!(url.query().is_none() && url.fragment().is_none());
        }
        for bad in ["", " ", ".", ".."] {
            assert!(
                matches!(base.transfer_url(bad), Err(Error::InvalidCallId { .. })),
                "{bad:?}"
            );
        }
    }

    /// A call's URL is resolved against the calls collection parsed once; it must be the URL
    /// that parsing the whole text gives, for any root, calls path and call id.
    #[test]
    fn resolved_urls_equal_parsing_the_whole_text() {
        let roots = [
            "https://graph.microsoft.com/v1.0",
            "http://127.0.0.1:8080/v1.0",
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "http://LOCALHOST:80/a/b/beta/",
            "https://Graph.Example.COM:443/v1.0//",
            "https://xn--bcher-kva.example/v1.0",
            "https://bücher.example/v%31.0/é x",
            "http://[::1]:9/v1.0",
        ];
        let mut ids: Vec<String> = [
            "341a0500-d4bf-4224-8b19-1581168d328b",
            "a/b",
            "a?b#c",
            "%2e%2e",
            "..a",
            "a:b",
            "http:x",
            "//evil.example",
            "\\evil",
            "é",
            "a\tb\n",
            "\u{0}",
            "~._-",
        ]
        .map(String::from)
        .to_vec();
        let alphabet: Vec<char> = "a:/?#%.\\ @[]é\u{7f}\u{1F600}".chars().collect();
        for _ in 0..300 {
            let len = rand::random::<usize>() % 8 + 1;
            ids.push(
                (0..len)
                    .map(|_| alphabet[rand::random::<usize>() % alphabet.len()])
                    .collect(),
            );
        }
        let whole = |base: &BaseUrl, calls: &str, id: &str, suffix: &str| {
            let text = format!(
                "{}/{calls}/{}{suffix}",
                base.as_str(),
                encode_call_id(id).unwrap()
            );
            Url::parse(&text).unwrap()
        };
        for root in roots {
            let parsed = BaseUrl::parse(root).unwrap();
            let legacy = parsed.clone().with_calls_path(CallsPath::LegacyApp);
            let back = legacy.clone().with_calls_path(CallsPath::Communications);
            assert_eq!(back, parsed, "{root}: switching the calls path back");
            for (base, calls) in [(&parsed, "communications/calls"), (&legacy, "app/calls")] {
                for id in &ids {
                    if call_path_ok(id) {
                        assert_eq!(
                            base.transfer_url(id).unwrap(),
                            whole(base, calls, id, "/transfer"),
                            "{root} {id:?}"
                        );
                        assert_eq!(base.call_url(id).unwrap(), whole(base, calls, id, ""));
                    } else {
                        assert!(base.transfer_url(id).is_err(), "{id:?}");
                    }
                }
            }
        }
    }

    fn call_path_ok(id: &str) -> bool {
        !id.trim().is_empty() && id != "." && id != ".."
    }

    #[test]
    fn bad_roots_are_rejected() {
        for bad in [
            "not a url",
            "ftp://x/v1.0",
            "http://x/v1.0?a=b",
            "http://u:p@x/v1.0",
        ] {
            assert!(
                matches!(BaseUrl::parse(bad), Err(Error::InvalidUrl { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            BaseUrl::parse("http://graph.microsoft.com/v1.0")
                .unwrap()
                .cloud(),
            None
        );
    }
}
