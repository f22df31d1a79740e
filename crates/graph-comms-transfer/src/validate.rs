//! Validation of a transfer request body against the call it applies to: [`validate`] for a typed
//! body, [`validate_json`] for JSON as a bot or a user wrote it.

use graph_comms_model::{EndpointType, Identity, IdentitySet, TransferRequestBody};
use serde_json::{Map, Value};

use crate::context::{CallContext, CallKind};
use crate::error::{Error, Report, Result, Violation};
use crate::ids::{call_id_value, e164_problem, parse_hyphenated, Guid};

/// Checks `body` against the call it applies to and returns every violation found, errors and
/// warnings, in a fixed order (target, consultation, transferee).
///
/// The rules:
/// - the target's identity set names exactly one kind of identity (`user`, `phone`,
///   `application`, `applicationInstance`, ...): none or several is an error; a set naming only
///   fields this crate does not know is a warning (they are sent as they are);
/// - a Teams user target has a GUID `id`; any stated `tenantId` is a GUID;
/// - a PSTN target (`phone`) has an E.164 `id`, and the bot must be an application instance;
/// - an application or application instance target has an `id` (a GUID, else a warning);
/// - any other kind of target (`guest`, `device`, ...) is a warning;
/// - a consultative transfer's `replacesCallId` is a call id (a GUID with or without dashes) and
///   not the id of the call being transferred ([`CallContext::call_id`]);
/// - a group call needs a `transferee` with an identity and a `participantId`; a peer call with
///   a `transferee` is a warning;
/// - every stated tenant (the call's, the target's, the transferee's) is the same one;
/// - `endpointType` values are known ones, else a warning;
/// - a field of the transfer target at the body's root (`languageId`, `region`, ...; example 5
///   of the page prints them there) is a warning;
/// - fields this crate does not know are never a violation.
///
/// ```
/// use graph_comms_transfer::{validate, CallContext, Transfer, Guid};
///
/// let user: Guid = "550fae72-d251-43ec-868c-373732c2704f".parse()?;
/// let body = Transfer::to_teams_user(user, None).build();
/// assert!(validate(&body, &CallContext::peer()).is_empty());
///
/// let report = validate(&body, &CallContext::group());
/// assert_eq!(
///     report.to_string(),
///     "transferee: required when transferring from a group call (with an identity and a participantId)\n"
/// );
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
pub fn validate(body: &TransferRequestBody, ctx: &CallContext) -> Report {
    let mut v = Validator {
        report: Report::new(),
        tenant: ctx.tenant_id.map(|t| (t, None)),
    };
    v.target(body, ctx);
    v.transferee(body, ctx);
    v.misplaced(body);
    v.report
}

/// Reads a transfer request body from JSON and checks it as [`validate`] does.
///
/// Unknown fields are kept in the body's `additional_data`. A field Graph defines that holds a
/// value of the wrong JSON type (a string where an object belongs, ...) is reported as
/// [`Violation::WrongType`] and left out of the returned body, and the rest of the body is still
/// checked; violations under a value already reported are not repeated. `null` in an optional
/// field means the field is absent.
///
/// ```
/// use graph_comms_transfer::{validate_json, CallContext};
///
/// let json = br#"{"transferTarget":{"identity":{"phone":{"id":"12345"}}},"x-custom":1}"#;
/// let (body, report) = validate_json(json, &CallContext::peer().with_application_instance(true))?;
/// assert_eq!(body.additional_data["x-custom"], 1);
/// assert_eq!(
///     report.to_string(),
///     "transferTarget.identity.phone.id: \"12345\" is not E.164 (it must start with '+' and a country code)\n"
/// );
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
///
/// # Errors
/// [`Error::Json`] (with line and column) when the input is not JSON, [`Error::NotAnObject`]
/// when it is not a JSON object, [`Error::Decode`] when the model cannot read it even after the
/// wrong-typed values are left out. A body that breaks rules is not an `Err`: see the report, or
/// call [`Report::into_result`].
pub fn validate_json(json: &[u8], ctx: &CallContext) -> Result<(TransferRequestBody, Report)> {
    // Fast path: a body the model reads directly has every known field of the right type.
    if let Ok(body) = serde_json::from_slice::<TransferRequestBody>(json) {
        let report = validate(&body, ctx);
        return Ok((body, report));
    }
    let value: Value = serde_json::from_slice(json).map_err(|e| json_error(&e))?;
    let Value::Object(mut map) = value else {
        return Err(Error::NotAnObject {
            found: json_type(&value),
        });
    };
    let mut shape = Vec::new();
    let mut broken: Vec<String> = Vec::new();
    match map.get_mut("transferTarget") {
        None => {
            shape.push(Violation::MissingTransferTarget);
            broken.push("transferTarget".to_owned());
            map.insert("transferTarget".to_owned(), Value::Object(Map::new()));
        }
        Some(v @ Value::Object(_)) => {
            check_shape(
                v,
                INVITATION_PARTICIPANT_INFO,
                "transferTarget",
                &mut shape,
                &mut broken,
            );
        }
        Some(v) => {
            shape.push(Violation::WrongType {
                path: "transferTarget".to_owned(),
                expected: "an object",
                found: json_type(v),
            });
            broken.push("transferTarget".to_owned());
            *v = Value::Object(Map::new());
        }
    }
    if let Some(v) = map.get_mut("transferee") {
        check_field(
            v,
            Shape::Object(PARTICIPANT_INFO),
            "transferee",
            &mut shape,
            &mut broken,
        );
    }
    let body: TransferRequestBody =
        serde_json::from_value(Value::Object(map)).map_err(|e| Error::Decode {
            message: e.to_string(),
        })?;
    let mut report = Report::new();
    for v in shape {
        report.push(v);
    }
    for v in validate(&body, ctx) {
        let p = v.path();
        // A value already reported as the wrong type is not reported again, nor is an identity
        // set found empty because its only kind was the wrong type.
        let repeated = broken.iter().any(|b| {
            is_within(p, b) || (matches!(v, Violation::NoIdentity { .. }) && is_within(b, p))
        });
        if !repeated {
            report.push(v);
        }
    }
    Ok((body, report))
}

/// Whether JSON path `p` is `ancestor` or lies under it.
fn is_within(p: &str, ancestor: &str) -> bool {
    p.strip_prefix(ancestor)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The body as JSON bytes, ready to POST: `serde_json`'s output byte for byte, written into a
/// buffer sized for a typical transfer body so that it is allocated once. Strings (nearly all of
/// a body) are scanned for the bytes JSON escapes eight at a time rather than one by one.
///
/// ```
/// use graph_comms_transfer::{to_json, Guid, Transfer};
///
/// let body = Transfer::to_teams_user("550fae72-d251-43ec-868c-373732c2704f".parse::<Guid>()?, None).build();
/// assert_eq!(
///     to_json(&body)?,
///     br#"{"transferTarget":{"identity":{"user":{"id":"550fae72-d251-43ec-868c-373732c2704f"}}}}"#
/// );
/// # Ok::<(), graph_comms_transfer::Error>(())
/// ```
///
/// # Errors
/// [`Error::Encode`] if a value has no JSON form (the model's types always have one).
pub fn to_json(body: &TransferRequestBody) -> Result<Vec<u8>> {
    to_json_vec(body).map_err(|e| Error::Encode {
        message: e.to_string(),
    })
}

/// The compact JSON of any request body (a transfer, an answer, a new call, ...): byte for byte
/// what `serde_json::to_vec` writes, with strings scanned for the bytes JSON escapes eight at a
/// time, into a buffer sized for a typical body. What the client sends.
///
/// ```
/// let value = serde_json::json!({"callbackUri": "https://bot.example.com/callback", "n": [1, 2.5]});
/// assert_eq!(
///     graph_comms_transfer::to_json_vec(&value)?,
///     serde_json::to_vec(&value)?
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
///
/// # Errors
/// `serde_json`'s, when a value has no JSON form (such as a map whose keys are not strings).
pub fn to_json_vec<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(TYPICAL_BODY_BYTES);
    if crate::json::write(&mut out, value).is_ok() {
        return Ok(out);
    }
    // A value the compact writer leaves to serde_json: start again with serde_json.
    out.clear();
    serde_json::to_writer(&mut out, value)?;
    Ok(out)
}

/// Transfer bodies are 100 to 600 bytes: the page's five examples are 150 to 430 compact.
const TYPICAL_BODY_BYTES: usize = 512;

/// [`Error::Json`] from a parser error, with its line and column.
pub(crate) fn json_error(e: &serde_json::Error) -> Error {
    let full = e.to_string();
    let tail = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&tail).unwrap_or(&full).to_owned();
    Error::Json {
        line: e.line(),
        column: e.column(),
        message,
    }
}

/// The name of a JSON value's type, as this crate's errors give it in `found`
/// ([`Error::NotAnObject`], [`Violation::WrongType`]): `null`, `a boolean`, `a number`,
/// `a string`, `an array` or `an object`. Other checkers of Graph bodies (the emulator's) use it
/// so that their messages say the same.
///
/// ```
/// use graph_comms_transfer::json_type;
/// use serde_json::json;
///
/// assert_eq!(json_type(&json!([1])), "an array");
/// assert_eq!(json_type(&json!(null)), "null");
/// ```
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The JSON type a field Graph defines must have.
#[derive(Clone, Copy)]
enum Shape {
    String,
    Bool,
    Object(&'static [(&'static str, Shape)]),
}

const IDENTITY: &[(&str, Shape)] = &[
    ("@odata.type", Shape::String),
    ("id", Shape::String),
    ("displayName", Shape::String),
    ("tenantId", Shape::String),
    ("applicationType", Shape::String),
    ("azureCommunicationServicesResourceId", Shape::String),
    ("email", Shape::String),
    ("hidden", Shape::Bool),
];

const IDENTITY_SET: &[(&str, Shape)] = &[
    ("@odata.type", Shape::String),
    ("endpointType", Shape::String),
    ("user", Shape::Object(IDENTITY)),
    ("phone", Shape::Object(IDENTITY)),
    ("application", Shape::Object(IDENTITY)),
    ("applicationInstance", Shape::Object(IDENTITY)),
    ("device", Shape::Object(IDENTITY)),
    ("guest", Shape::Object(IDENTITY)),
    ("encrypted", Shape::Object(IDENTITY)),
    ("onPremises", Shape::Object(IDENTITY)),
    ("azureCommunicationServicesUser", Shape::Object(IDENTITY)),
    ("assertedIdentity", Shape::Object(IDENTITY)),
];

const INVITATION_PARTICIPANT_INFO: &[(&str, Shape)] = &[
    ("@odata.type", Shape::String),
    ("endpointType", Shape::String),
    ("identity", Shape::Object(IDENTITY_SET)),
    ("replacesCallId", Shape::String),
    ("participantId", Shape::String),
    ("languageId", Shape::String),
    ("region", Shape::String),
    ("hidden", Shape::Bool),
    ("removeFromDefaultAudioRoutingGroup", Shape::Bool),
];

const PARTICIPANT_INFO: &[(&str, Shape)] = &[
    ("@odata.type", Shape::String),
    ("endpointType", Shape::String),
    ("identity", Shape::Object(IDENTITY_SET)),
    ("nonAnonymizedIdentity", Shape::Object(IDENTITY_SET)),
    ("participantId", Shape::String),
    ("languageId", Shape::String),
    ("region", Shape::String),
    ("countryCode", Shape::String),
    ("platformId", Shape::String),
];

/// Checks the known fields of the object `v` (which must be an object) recursively.
fn check_shape(
    v: &mut Value,
    fields: &'static [(&'static str, Shape)],
    path: &str,
    out: &mut Vec<Violation>,
    broken: &mut Vec<String>,
) {
    let Value::Object(map) = v else { return };
    for &(name, shape) in fields {
        if let Some(field) = map.get_mut(name) {
            check_field(field, shape, &format!("{path}.{name}"), out, broken);
        }
    }
}

/// Checks one field; a value of the wrong type is reported and replaced by `null` (absent).
fn check_field(
    v: &mut Value,
    shape: Shape,
    path: &str,
    out: &mut Vec<Violation>,
    broken: &mut Vec<String>,
) {
    let expected = match (shape, &*v) {
        (_, Value::Null) | (Shape::String, Value::String(_)) | (Shape::Bool, Value::Bool(_)) => {
            return
        }
        (Shape::Object(fields), Value::Object(_)) => {
            check_shape(v, fields, path, out, broken);
            return;
        }
        (Shape::String, _) => "a string",
        (Shape::Bool, _) => "a boolean",
        (Shape::Object(_), _) => "an object",
    };
    out.push(Violation::WrongType {
        path: path.to_owned(),
        expected,
        found: json_type(v),
    });
    broken.push(path.to_owned());
    *v = Value::Null;
}

/// Fields of `invitationParticipantInfo` that mean nothing at the body's root.
const TARGET_FIELDS: &[&str] = &[
    "endpointType",
    "identity",
    "languageId",
    "region",
    "replacesCallId",
    "participantId",
    "hidden",
    "removeFromDefaultAudioRoutingGroup",
];

/// The kinds of identity an identity set can name, by JSON name (`assertedIdentity` is a claim
/// about a caller, not a kind of endpoint, and is not counted).
fn kinds(set: &IdentitySet) -> [(&'static str, Option<&Identity>); 9] {
    [
        ("user", set.user.as_deref()),
        ("phone", set.phone.as_deref()),
        ("application", set.application.as_deref()),
        ("applicationInstance", set.application_instance.as_deref()),
        ("device", set.device.as_deref()),
        ("guest", set.guest.as_deref()),
        ("encrypted", set.encrypted.as_deref()),
        ("onPremises", set.on_premises.as_deref()),
        (
            "azureCommunicationServicesUser",
            set.azure_communication_services_user.as_deref(),
        ),
    ]
}

/// Which side of the transfer an identity belongs to, for its JSON path.
#[derive(Clone, Copy)]
enum Side {
    Target,
    Transferee,
}

impl Side {
    fn identity_path(self) -> &'static str {
        match self {
            Self::Target => "transferTarget.identity",
            Self::Transferee => "transferee.identity",
        }
    }
}

struct Validator {
    report: Report,
    /// The tenant every other must match: the call's (`None`), or the first one the body states
    /// (its side and kind of identity).
    tenant: Option<(Guid, Option<(Side, &'static str)>)>,
}

impl Validator {
    fn push(&mut self, v: Violation) {
        self.report.push(v);
    }

    fn target(&mut self, body: &TransferRequestBody, ctx: &CallContext) {
        let target = &body.transfer_target;
        self.endpoint_type(target.endpoint_type.as_ref(), "transferTarget.endpointType");
        match &target.identity {
            None => self.push(Violation::NoIdentity {
                path: "transferTarget.identity".to_owned(),
            }),
            Some(set) => self.identity_set(set, Side::Target, ctx),
        }
        if let Some(replaces) = &target.replaces_call_id {
            self.replaces_call_id(replaces, ctx);
        }
    }

    fn identity_set(&mut self, set: &IdentitySet, side: Side, ctx: &CallContext) {
        let base = side.identity_path();
        if let Some(e) = set.endpoint_type.as_ref() {
            self.endpoint_type(Some(e), &format!("{base}.endpointType"));
        }
        let kinds = kinds(set);
        let named = kinds.iter().filter(|(_, i)| i.is_some()).count();
        if named == 0 {
            let unknown: Vec<String> = set
                .additional_data
                .iter()
                .filter(|(k, v)| v.is_object() && !k.starts_with('@'))
                .map(|(k, _)| k.clone())
                .collect();
            if unknown.is_empty() {
                self.push(Violation::NoIdentity {
                    path: base.to_owned(),
                });
            } else if let Side::Target = side {
                self.push(Violation::UnknownIdentityKind {
                    path: base.to_owned(),
                    names: unknown,
                });
            }
        } else if named > 1 {
            if let Side::Target = side {
                self.push(Violation::SeveralIdentities {
                    path: base.to_owned(),
                    kinds: kinds
                        .iter()
                        .filter(|(_, i)| i.is_some())
                        .map(|(k, _)| (*k).to_owned())
                        .collect(),
                });
            }
        }
        for &(kind, identity) in &kinds {
            if let Some(identity) = identity {
                self.identity(kind, identity, side, ctx);
            }
        }
    }

    fn identity(&mut self, kind: &'static str, identity: &Identity, side: Side, ctx: &CallContext) {
        let base = side.identity_path();
        let id = identity.id.as_deref();
        match (kind, side) {
            ("user", _) => match id {
                None => self.missing_id(base, kind),
                Some(id) => {
                    if let Err(reason) = parse_hyphenated(id) {
                        self.push(Violation::UserIdNotGuid {
                            path: format!("{base}.user.id"),
                            value: id.to_owned(),
                            reason,
                        });
                    }
                }
            },
            ("phone", Side::Target) => {
                match id {
                    None => self.missing_id(base, kind),
                    Some(id) => {
                        if let Some(reason) = e164_problem(id) {
                            self.push(Violation::PhoneNotE164 {
                                path: format!("{base}.phone.id"),
                                value: id.to_owned(),
                                reason,
                            });
                        }
                    }
                }
                if !ctx.application_instance {
                    self.push(Violation::PstnNeedsApplicationInstance {
                        path: format!("{base}.phone"),
                    });
                }
            }
            ("application" | "applicationInstance", Side::Target) => match id {
                None => self.missing_id(base, kind),
                Some(id) => {
                    if let Err(reason) = parse_hyphenated(id) {
                        self.push(Violation::ApplicationIdNotGuid {
                            path: format!("{base}.{kind}.id"),
                            value: id.to_owned(),
                            reason,
                        });
                    }
                }
            },
            ("phone", Side::Transferee) | ("application" | "applicationInstance", _) => {}
            (_, Side::Target) => self.push(Violation::UnsupportedTargetKind {
                path: format!("{base}.{kind}"),
                kind: kind.to_owned(),
            }),
            (_, Side::Transferee) => {}
        }
        if let Some(tenant) = identity.tenant_id.as_deref() {
            match parse_hyphenated(tenant) {
                Ok(g) => self.tenant(Guid::from_u128(g), side, kind),
                Err(reason) => self.push(Violation::TenantIdNotGuid {
                    path: format!("{base}.{kind}.tenantId"),
                    value: tenant.to_owned(),
                    reason,
                }),
            }
        }
    }

    fn missing_id(&mut self, base: &str, kind: &'static str) {
        self.push(Violation::MissingIdentityId {
            path: format!("{base}.{kind}.id"),
            kind: kind.to_owned(),
        });
    }

    fn replaces_call_id(&mut self, replaces: &str, ctx: &CallContext) {
        const PATH: &str = "transferTarget.replacesCallId";
        match call_id_value(replaces) {
            Err(reason) => self.push(Violation::ReplacesCallIdInvalid {
                path: PATH.to_owned(),
                value: replaces.to_owned(),
                reason,
            }),
            Ok(value) => {
                let own = ctx
                    .call_id
                    .as_deref()
                    .is_some_and(|own| match call_id_value(own) {
                        Ok(own) => own == value,
                        Err(_) => own.eq_ignore_ascii_case(replaces),
                    });
                if own {
                    self.push(Violation::ReplacesOwnCall {
                        path: PATH.to_owned(),
                        value: replaces.to_owned(),
                    });
                }
            }
        }
    }

    fn transferee(&mut self, body: &TransferRequestBody, ctx: &CallContext) {
        let Some(transferee) = &body.transferee else {
            if ctx.kind == CallKind::Group {
                self.push(Violation::TransfereeRequired);
            }
            return;
        };
        if ctx.kind == CallKind::Peer {
            self.push(Violation::TransfereeOnPeerCall);
        }
        self.endpoint_type(transferee.endpoint_type.as_ref(), "transferee.endpointType");
        match &transferee.identity {
            None => self.push(Violation::TransfereeIncomplete {
                path: "transferee.identity".to_owned(),
            }),
            Some(set) => self.identity_set(set, Side::Transferee, ctx),
        }
        if transferee
            .participant_id
            .as_deref()
            .is_none_or(str::is_empty)
        {
            self.push(Violation::TransfereeIncomplete {
                path: "transferee.participantId".to_owned(),
            });
        }
    }

    /// Checks a stated tenant against the reference, or makes it the reference.
    fn tenant(&mut self, found: Guid, side: Side, kind: &'static str) {
        let Some((expected, at)) = self.tenant else {
            self.tenant = Some((found, Some((side, kind))));
            return;
        };
        if found != expected {
            let expected_at = match at {
                None => "the call's tenant".to_owned(),
                Some((side, kind)) => format!("{}.{kind}.tenantId", side.identity_path()),
            };
            self.push(Violation::TenantMismatch {
                path: format!("{}.{kind}.tenantId", side.identity_path()),
                found: found.to_string(),
                expected: expected.to_string(),
                expected_at,
            });
        }
    }

    fn misplaced(&mut self, body: &TransferRequestBody) {
        if body.additional_data.is_empty() {
            return;
        }
        for name in TARGET_FIELDS {
            if body.additional_data.contains_key(*name) {
                self.push(Violation::MisplacedField {
                    path: (*name).to_owned(),
                });
            }
        }
    }

    fn endpoint_type(&mut self, e: Option<&EndpointType>, path: &str) {
        if let Some(EndpointType::Unknown(value)) = e {
            self.push(Violation::UnknownEnumValue {
                path: path.to_owned(),
                value: value.clone(),
                enum_name: "endpointType",
                known: EndpointType::KNOWN,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use graph_comms_model::{InvitationParticipantInfo, ParticipantInfo};

    /// An object with every field of `fields` set to a value of its shape.
    fn sample(fields: &[(&str, Shape)]) -> Value {
        let mut map = Map::new();
        for &(name, shape) in fields {
            let v = match shape {
                Shape::String => Value::from("x"),
                Shape::Bool => Value::from(true),
                Shape::Object(inner) => sample(inner),
            };
            map.insert(name.to_owned(), v);
        }
        Value::Object(map)
    }

    /// The shape tables name only fields the model declares, with the types it reads: were the
    /// model to rename one, a wrong-typed value would slip past the shape check.
    #[test]
    fn shape_tables_match_the_model() {
        let t: InvitationParticipantInfo =
            serde_json::from_value(sample(INVITATION_PARTICIPANT_INFO)).expect("model reads it");
        assert!(t.additional_data.is_empty(), "{:?}", t.additional_data);
        let set = t.identity.expect("identity");
        assert!(set.additional_data.is_empty(), "{:?}", set.additional_data);
        let user = set.user.expect("user");
        assert!(
            user.additional_data.is_empty(),
            "{:?}",
            user.additional_data
        );
        let p: ParticipantInfo =
            serde_json::from_value(sample(PARTICIPANT_INFO)).expect("model reads it");
        assert!(p.additional_data.is_empty(), "{:?}", p.additional_data);
    }

    #[test]
    fn within() {
        assert!(is_within("transferTarget.identity", "transferTarget"));
        assert!(is_within("transferTarget", "transferTarget"));
        assert!(!is_within("transferTargetX", "transferTarget"));
        assert!(!is_within("transferee", "transferTarget"));
    }
}
