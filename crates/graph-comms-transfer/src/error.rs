//! The crate's error type ([`Error`]), the rules a transfer request can break ([`Violation`]),
//! and the collected outcome of a validation ([`Report`]).

use std::fmt;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in this crate: a value that is not what its type promises, input that is not a
/// transfer request body, or a body that breaks at least one rule (with every violation found).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A string is not an E.164 phone number.
    #[error("{value:?} is not E.164 ({reason})")]
    InvalidE164 {
        /// The string given.
        value: String,
        /// The first problem found.
        reason: String,
    },
    /// A string is not a hyphenated GUID.
    #[error("{value:?} is not a GUID ({reason})")]
    InvalidGuid {
        /// The string given.
        value: String,
        /// The problem found.
        reason: &'static str,
    },
    /// A string is not a Graph call id (a GUID with or without dashes).
    #[error("{value:?} is not a call id ({reason})")]
    InvalidCallId {
        /// The string given.
        value: String,
        /// The problem found.
        reason: &'static str,
    },
    /// A call id cannot go into a request URL.
    #[error("call id in the URL: {value:?} cannot be used ({reason})")]
    InvalidUrlCallId {
        /// The string given.
        value: String,
        /// The problem found.
        reason: &'static str,
    },
    /// The input is not JSON.
    #[error("not valid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the JSON parser found.
        message: String,
    },
    /// The input is JSON but not an object.
    #[error("the body is {found}, not a JSON object (a transfer request body is an object with transferTarget)")]
    NotAnObject {
        /// What the JSON is: `an array`, `a string`, `null`, ...
        found: &'static str,
    },
    /// The body has the right shape but still could not be read into the model's types.
    #[error("the body cannot be read as a transfer request: {message}")]
    Decode {
        /// The decoder's message.
        message: String,
    },
    /// The body could not be written as JSON (a value the model holds has no JSON form).
    #[error("the body cannot be written as JSON: {message}")]
    Encode {
        /// The encoder's message.
        message: String,
    },
    /// The body breaks at least one rule; the report holds every violation, warnings included.
    #[error("{}", summary(.0))]
    Invalid(Report),
    /// The body of a call-control request (`answer`, `reject`, `redirect`, `playPrompt`,
    /// `startHoldMusic`, a new call, ...) breaks at least one rule; the report holds every
    /// violation, warnings included.
    #[error("{}", action_summary(action, report))]
    InvalidRequest {
        /// The action, as Graph names it (`answer`, `createCall`, ...).
        action: &'static str,
        /// Every violation found.
        report: Report,
    },
}

fn action_summary(action: &str, report: &Report) -> String {
    let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
    let n = errors.len();
    format!(
        "the {action} request breaks {n} rule{}: {}",
        if n == 1 { "" } else { "s" },
        errors.join("; ")
    )
}

fn summary(report: &Report) -> String {
    let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
    let n = errors.len();
    format!(
        "the transfer request breaks {n} rule{}: {}",
        if n == 1 { "" } else { "s" },
        errors.join("; ")
    )
}

/// How serious a [`Violation`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Graph may accept it, but it is probably a mistake.
    Warning,
    /// Graph would refuse the request, or accept it and fail the transfer.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// One rule a transfer request body breaks, with the JSON path of the offending value.
///
/// Its [`Display`](fmt::Display) is one line, `path: message`, where the message names the rule;
/// a warning's message starts with `warning: `. [`severity`](Self::severity) tells errors from
/// warnings, [`path`](Self::path) gives the path alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// A field Graph defines holds a value of the wrong JSON type (e.g. `null` or a string where
    /// an object belongs).
    #[error("{path}: expected {expected}, found {found}")]
    WrongType {
        /// JSON path of the value.
        path: String,
        /// The JSON type Graph expects.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// The body has no `transferTarget`.
    #[error("transferTarget: required; it names the participant the call is transferred to")]
    MissingTransferTarget,
    /// A group call is transferred without naming the `transferee`.
    #[error("transferee: required when transferring from a group call (with an identity and a participantId)")]
    TransfereeRequired,
    /// A `transferee` lacks its identity or its participant id.
    #[error(
        "{path}: required; a transferee needs an identity and the participantId it has in the call"
    )]
    TransfereeIncomplete {
        /// JSON path of the missing field (`transferee.identity` or `transferee.participantId`).
        path: String,
    },
    /// A peer call is transferred with a `transferee` (warning).
    #[error("transferee: warning: Graph documents a transferee only for group calls; this is a peer call")]
    TransfereeOnPeerCall,
    /// An identity set names no kind of identity.
    #[error("{path}: names no identity; name exactly one of user, phone, application, applicationInstance")]
    NoIdentity {
        /// JSON path of the identity set.
        path: String,
    },
    /// The target's identity set names more than one kind of identity.
    #[error("{path}: names {} kinds of identity ({}); name exactly one", .kinds.len(), .kinds.join(", "))]
    SeveralIdentities {
        /// JSON path of the identity set.
        path: String,
        /// The JSON names of the kinds found.
        kinds: Vec<String>,
    },
    /// The target's identity set names no known kind, only fields this crate does not know
    /// (warning: kept and sent as they are, in case Graph knows them).
    #[error("{path}: warning: names no known kind of identity, only {}; sent as is", .names.join(", "))]
    UnknownIdentityKind {
        /// JSON path of the identity set.
        path: String,
        /// The unknown field names.
        names: Vec<String>,
    },
    /// The target is a kind of identity Graph does not document as a transfer target (warning).
    #[error("{path}: warning: a {kind} identity is not a documented transfer target (use user, phone, application or applicationInstance)")]
    UnsupportedTargetKind {
        /// JSON path of the identity.
        path: String,
        /// The JSON name of the kind.
        kind: String,
    },
    /// A named identity has no `id` (or an empty one).
    #[error("{path}: required; the {kind} identity needs its id")]
    MissingIdentityId {
        /// JSON path of the id.
        path: String,
        /// The JSON name of the kind.
        kind: String,
    },
    /// A PSTN target's `phone.id` is not E.164.
    #[error("{path}: {value:?} is not E.164 ({reason})")]
    PhoneNotE164 {
        /// JSON path of the number.
        path: String,
        /// The value found.
        value: String,
        /// The first problem found.
        reason: String,
    },
    /// A PSTN target while the bot is not an application instance with a phone number.
    #[error("{path}: transferring to a PSTN number needs a bot that is an application instance with a phone number")]
    PstnNeedsApplicationInstance {
        /// JSON path of the phone identity.
        path: String,
    },
    /// A Teams user's `id` is not a GUID.
    #[error("{path}: {value:?} is not a GUID ({reason}); a Teams user is named by its object id (a GUID)")]
    UserIdNotGuid {
        /// JSON path of the id.
        path: String,
        /// The value found.
        value: String,
        /// The problem found.
        reason: &'static str,
    },
    /// An application or application instance `id` is not a GUID (warning).
    #[error("{path}: warning: {value:?} is not a GUID ({reason}); application and application instance ids are GUIDs")]
    ApplicationIdNotGuid {
        /// JSON path of the id.
        path: String,
        /// The value found.
        value: String,
        /// The problem found.
        reason: &'static str,
    },
    /// A stated `tenantId` is not a GUID.
    #[error("{path}: {value:?} is not a GUID ({reason}); a tenantId is the tenant's GUID")]
    TenantIdNotGuid {
        /// JSON path of the tenant id.
        path: String,
        /// The value found.
        value: String,
        /// The problem found.
        reason: &'static str,
    },
    /// Two stated tenants differ: the transfer would cross tenants, which Graph refuses (7505).
    #[error("{path}: tenant {found} differs from {expected} ({expected_at}); a transfer stays inside one tenant (Graph answers 7505 tenant mismatch)")]
    TenantMismatch {
        /// JSON path of the differing tenant id.
        path: String,
        /// The tenant found there.
        found: String,
        /// The tenant expected.
        expected: String,
        /// Where the expected tenant was stated: `the call's tenant` or a JSON path.
        expected_at: String,
    },
    /// A consultative transfer's `replacesCallId` is not a call id.
    #[error("{path}: {value:?} is not a call id ({reason})")]
    ReplacesCallIdInvalid {
        /// JSON path of the id.
        path: String,
        /// The value found.
        value: String,
        /// The problem found.
        reason: &'static str,
    },
    /// A consultative transfer names the call being transferred as the call it replaces.
    #[error("{path}: {value:?} is the call being transferred; a consultative transfer replaces the other call (the one with the transfer target)")]
    ReplacesOwnCall {
        /// JSON path of the id.
        path: String,
        /// The value found.
        value: String,
    },
    /// A field of the transfer target found at the body's root, where Graph does not read it
    /// (warning: kept and sent as it is).
    #[error("{path}: warning: not a parameter of transfer; did you mean transferTarget.{path}? (sent as is)")]
    MisplacedField {
        /// JSON path of the field (a root key).
        path: String,
    },
    /// A value the request needs is absent or empty (`callbackUri`, `mediaConfig`, `targets`, ...).
    #[error("{path}: required; {why}")]
    Required {
        /// JSON path of the missing value.
        path: String,
        /// Why it is needed.
        why: &'static str,
    },
    /// A URL Graph must reach (a callback, a prompt's media) is not an absolute `https` URL.
    #[error("{path}: {value:?} is not an absolute https URL ({reason})")]
    NotHttpsUrl {
        /// JSON path of the URL.
        path: String,
        /// The value found.
        value: String,
        /// The problem found.
        reason: &'static str,
    },
    /// A number is outside the range Graph accepts.
    #[error("{path}: {value} is outside {min}..={max} ({why})")]
    OutOfRange {
        /// JSON path of the number.
        path: String,
        /// The value found.
        value: i64,
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
        /// What the range comes from.
        why: &'static str,
    },
    /// Two tenants stated in a call-control request differ (the call's and a target's, ...)
    /// (warning: Graph documents a bot's calls inside one tenant; sent as is).
    #[error("{path}: warning: tenant {found} differs from {expected} ({expected_at}); Graph documents a bot's calls inside one tenant")]
    CallTenantMismatch {
        /// JSON path of the differing tenant id.
        path: String,
        /// The tenant found there.
        found: String,
        /// The tenant expected.
        expected: String,
        /// Where the expected tenant was stated: `the call's tenant` or a JSON path.
        expected_at: String,
    },
    /// A PSTN number is called or redirected to without the application instance it needs.
    #[error("{path}: {action} a PSTN number needs {needs}")]
    PstnNeedsInstance {
        /// JSON path of the value that is missing or wrong.
        path: String,
        /// What is done: `calling`, `redirecting to`.
        action: &'static str,
        /// What is needed.
        needs: &'static str,
    },
    /// A value Graph defines as an enum is not one of its known members (warning).
    #[error("{path}: warning: {value:?} is not a known {enum_name} (known: {}); sent as is", .known.join(", "))]
    UnknownEnumValue {
        /// JSON path of the value.
        path: String,
        /// The value found.
        value: String,
        /// The enum's Graph name.
        enum_name: &'static str,
        /// The known members.
        known: &'static [&'static str],
    },
}

impl Violation {
    /// Whether this is an error (Graph would refuse or fail) or a warning.
    pub fn severity(&self) -> Severity {
        match self {
            Self::TransfereeOnPeerCall
            | Self::UnknownIdentityKind { .. }
            | Self::UnsupportedTargetKind { .. }
            | Self::ApplicationIdNotGuid { .. }
            | Self::MisplacedField { .. }
            | Self::UnknownEnumValue { .. }
            | Self::CallTenantMismatch { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }

    /// The JSON path of the offending value (`transferTarget.identity.phone.id`, `transferee`, ...).
    pub fn path(&self) -> &str {
        match self {
            Self::MissingTransferTarget => "transferTarget",
            Self::TransfereeRequired | Self::TransfereeOnPeerCall => "transferee",
            Self::WrongType { path, .. }
            | Self::TransfereeIncomplete { path }
            | Self::NoIdentity { path }
            | Self::SeveralIdentities { path, .. }
            | Self::UnknownIdentityKind { path, .. }
            | Self::UnsupportedTargetKind { path, .. }
            | Self::MissingIdentityId { path, .. }
            | Self::PhoneNotE164 { path, .. }
            | Self::PstnNeedsApplicationInstance { path }
            | Self::UserIdNotGuid { path, .. }
            | Self::ApplicationIdNotGuid { path, .. }
            | Self::TenantIdNotGuid { path, .. }
            | Self::TenantMismatch { path, .. }
            | Self::ReplacesCallIdInvalid { path, .. }
            | Self::ReplacesOwnCall { path, .. }
            | Self::MisplacedField { path }
            | Self::UnknownEnumValue { path, .. }
            | Self::Required { path, .. }
            | Self::NotHttpsUrl { path, .. }
            | Self::OutOfRange { path, .. }
            | Self::CallTenantMismatch { path, .. }
            | Self::PstnNeedsInstance { path, .. } => path,
        }
    }

    /// A short stable name of the rule broken (`phone-not-e164`, `tenant-mismatch`, ...), for
    /// tests, logs and metrics.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::WrongType { .. } => "wrong-type",
            Self::MissingTransferTarget => "missing-transfer-target",
            Self::TransfereeRequired => "transferee-required",
            Self::TransfereeIncomplete { .. } => "transferee-incomplete",
            Self::TransfereeOnPeerCall => "transferee-on-peer-call",
            Self::NoIdentity { .. } => "no-identity",
            Self::SeveralIdentities { .. } => "several-identities",
            Self::UnknownIdentityKind { .. } => "unknown-identity-kind",
            Self::UnsupportedTargetKind { .. } => "unsupported-target-kind",
            Self::MissingIdentityId { .. } => "missing-identity-id",
            Self::PhoneNotE164 { .. } => "phone-not-e164",
            Self::PstnNeedsApplicationInstance { .. } => "pstn-needs-application-instance",
            Self::UserIdNotGuid { .. } => "user-id-not-guid",
            Self::ApplicationIdNotGuid { .. } => "application-id-not-guid",
            Self::TenantIdNotGuid { .. } => "tenant-id-not-guid",
            Self::TenantMismatch { .. } => "tenant-mismatch",
            Self::ReplacesCallIdInvalid { .. } => "replaces-call-id-invalid",
            Self::ReplacesOwnCall { .. } => "replaces-own-call",
            Self::MisplacedField { .. } => "misplaced-field",
            Self::UnknownEnumValue { .. } => "unknown-enum-value",
            Self::Required { .. } => "required",
            Self::NotHttpsUrl { .. } => "not-https-url",
            Self::OutOfRange { .. } => "out-of-range",
            Self::CallTenantMismatch { .. } => "call-tenant-mismatch",
            Self::PstnNeedsInstance { .. } => "pstn-needs-instance",
        }
    }
}

/// Every violation found in one transfer request body, errors and warnings, in the order found.
///
/// Its [`Display`](fmt::Display) is one violation per line (`path: message`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    violations: Vec<Violation>,
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a violation.
    pub fn push(&mut self, violation: Violation) {
        self.violations.push(violation);
    }

    /// Every violation, in the order found.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(|v| v.is_error())
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(|v| !v.is_error())
    }

    /// Whether any violation is an error.
    pub fn has_errors(&self) -> bool {
        self.violations.iter().any(Violation::is_error)
    }

    /// Whether there is no violation at all.
    pub fn is_empty(&self) -> bool {
        self.violations.is_empty()
    }

    /// `Ok(self)` (warnings allowed) when there is no error, else [`Error::Invalid`].
    ///
    /// # Errors
    /// [`Error::Invalid`] holding this report when it has at least one error.
    pub fn into_result(self) -> Result<Report> {
        if self.has_errors() {
            Err(Error::Invalid(self))
        } else {
            Ok(self)
        }
    }

    /// The violations, consumed.
    pub fn into_violations(self) -> Vec<Violation> {
        self.violations
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for v in &self.violations {
            writeln!(f, "{v}")?;
        }
        Ok(())
    }
}

impl IntoIterator for Report {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;
    fn into_iter(self) -> Self::IntoIter {
        self.violations.into_iter()
    }
}

impl<'a> IntoIterator for &'a Report {
    type Item = &'a Violation;
    type IntoIter = std::slice::Iter<'a, Violation>;
    fn into_iter(self) -> Self::IntoIter {
        self.violations.iter()
    }
}
