//! The rules of the call-control bodies, collected into a [`Report`] the way the transfer's are:
//! every violation with its JSON path, errors and warnings, in a fixed order.

use graph_comms_model::{
    AnswerRequestBody, Call, Identity, IdentitySet, InvitationParticipantInfo, MediaConfig,
    MediaConfigKind, Modality, ParticipantInfo, PlayPromptRequestBody, Prompt, RedirectRequestBody,
    RejectReason, RejectRequestBody, StartHoldMusicRequestBody, StopHoldMusicRequestBody,
};

use std::fmt::Display;

use crate::context::CallContext;
use crate::error::{Report, Violation};
use crate::ids::{e164_problem, Guid};

/// The shortest and longest `timeout` of a redirect, in seconds (Graph's `call: redirect` page).
pub const REDIRECT_TIMEOUT_SECS: (i32, i32) = (15, 90);

/// What the checks of one body share: the report and the tenant every stated one must match.
pub(crate) struct Rules {
    pub(crate) report: Report,
    /// The call's tenant, or the first tenant the body states (with its path).
    tenant: Option<(Guid, String)>,
    application_instance: bool,
}

impl Rules {
    pub(crate) fn new(ctx: &CallContext) -> Self {
        Self {
            report: Report::new(),
            tenant: ctx.tenant_id.map(|t| (t, "the call's tenant".to_owned())),
            application_instance: ctx.application_instance,
        }
    }

    fn push(&mut self, v: Violation) {
        self.report.push(v);
    }

    /// An absolute `https` URL with a host, no whitespace or control characters.
    pub(crate) fn https_url(&mut self, value: &str, path: &str) {
        let reason = if value.is_empty() {
            Some("it is empty")
        } else if let Some(rest) = value.strip_prefix("https://") {
            let host_len = rest
                .bytes()
                .position(|b| matches!(b, b'/' | b'?' | b'#'))
                .unwrap_or(rest.len());
            if host_len == 0 {
                Some("it has no host")
            } else if !value.bytes().all(|b| b.is_ascii_graphic())
                && value.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                Some("it contains whitespace or control characters")
            } else {
                None
            }
        } else if value.starts_with("http://") && is_loopback_http(value) {
            self.push(Violation::LoopbackHttpUrl {
                path: path.to_owned(),
                value: value.to_owned(),
            });
            None
        } else if value.starts_with("http://") {
            Some("Graph reaches only https URLs")
        } else {
            Some("it must start with https://")
        };
        if let Some(reason) = reason {
            self.push(Violation::NotHttpsUrl {
                path: path.to_owned(),
                value: value.to_owned(),
                reason,
            });
        }
    }

    fn required_callback(&mut self, value: Option<&str>, path: &str) {
        match value {
            None => self.push(Violation::Required {
                path: path.to_owned(),
                why: "Graph POSTs the call's notifications there",
            }),
            Some(v) => self.https_url(v, path),
        }
    }

    fn modalities(&mut self, m: Option<&Vec<Modality>>, path: &str, required: bool) {
        match m {
            Some(list) if list.is_empty() => self.push(Violation::Required {
                path: path.to_owned(),
                why: "name at least one modality (audio)",
            }),
            None if required => self.push(Violation::Required {
                path: path.to_owned(),
                why: "name at least one modality (audio)",
            }),
            _ => {}
        }
        for (i, m) in m.into_iter().flatten().enumerate() {
            if let Modality::Unknown(value) = m {
                self.push(Violation::UnknownEnumValue {
                    path: format!("{path}[{i}]"),
                    value: value.clone(),
                    enum_name: "modality",
                    known: Modality::KNOWN,
                });
            }
        }
    }

    pub(crate) fn media_config(&mut self, m: &MediaConfig, path: &str) {
        match m.kind() {
            MediaConfigKind::AppHosted if m.blob.as_deref().is_none_or(str::is_empty) => {
                self.push(Violation::Required {
                    path: format!("{path}.blob"),
                    why: "app-hosted media needs the media platform's configuration blob",
                });
            }
            MediaConfigKind::Other(value) => self.push(Violation::UnknownEnumValue {
                path: format!("{path}.@odata.type"),
                value,
                enum_name: "mediaConfig type",
                known: &[
                    graph_comms_model::derived::SERVICE_HOSTED_MEDIA_CONFIG,
                    graph_comms_model::derived::APP_HOSTED_MEDIA_CONFIG,
                ],
            }),
            _ => {} // service-hosted: nothing more to check
        }
        for (i, media) in m.pre_fetch_media.iter().flatten().enumerate() {
            if let Some(uri) = &media.uri {
                self.https_url(uri, &format!("{path}.preFetchMedia[{i}].uri"));
            }
        }
    }

    pub(crate) fn prompt(&mut self, p: &Prompt, path: &str) {
        match p.media_info.as_ref().and_then(|m| m.uri.as_deref()) {
            None => self.push(Violation::Required {
                path: format!("{path}.mediaInfo.uri"),
                why: "a media prompt plays the audio file at this URL",
            }),
            Some(uri) => self.https_url(uri, &format!("{path}.mediaInfo.uri")),
        }
    }

    /// A stated tenant id (paths are formatted only for a violation, or for the first tenant).
    fn tenant_value(&mut self, value: &str, path: &dyn Display) {
        match Guid::parse(value) {
            Err(crate::Error::InvalidGuid { reason, .. }) => {
                self.push(Violation::TenantIdNotGuid {
                    path: path.to_string(),
                    value: value.to_owned(),
                    reason,
                })
            }
            Err(_) => {}
            Ok(found) => match &self.tenant {
                None => self.tenant = Some((found, path.to_string())),
                Some((expected, at)) if *expected != found => {
                    let v = Violation::CallTenantMismatch {
                        path: path.to_string(),
                        found: found.to_string(),
                        expected: expected.to_string(),
                        expected_at: at.clone(),
                    };
                    self.push(v);
                }
                Some(_) => {}
            },
        }
    }

    fn guid_id(&mut self, identity: &Identity, path: &dyn Display, kind: &str, strict: bool) {
        let Some(id) = identity.id.as_deref().filter(|id| !id.is_empty()) else {
            self.push(Violation::MissingIdentityId {
                path: format!("{path}.id"),
                kind: kind.to_owned(),
            });
            return;
        };
        if let Err(crate::Error::InvalidGuid { reason, .. }) = Guid::parse(id) {
            let path = format!("{path}.id");
            let value = id.to_owned();
            self.push(if strict {
                Violation::UserIdNotGuid {
                    path,
                    value,
                    reason,
                }
            } else {
                Violation::ApplicationIdNotGuid {
                    path,
                    value,
                    reason,
                }
            });
        }
    }

    /// One identity set that must name exactly one kind; returns whether it names a phone.
    fn identity_set(&mut self, set: &IdentitySet, path: &dyn Display) -> bool {
        let kinds: [(&str, Option<&Identity>); 6] = [
            ("user", set.user.as_deref()),
            ("phone", set.phone.as_deref()),
            ("application", set.application.as_deref()),
            ("applicationInstance", set.application_instance.as_deref()),
            ("guest", set.guest.as_deref()),
            ("device", set.device.as_deref()),
        ];
        match kinds.iter().filter(|(_, i)| i.is_some()).count() {
            0 => {
                self.push(Violation::NoIdentity {
                    path: path.to_string(),
                });
                return false;
            }
            1 => {}
            _ => {
                self.push(Violation::SeveralIdentities {
                    path: path.to_string(),
                    kinds: kinds
                        .iter()
                        .filter(|(_, i)| i.is_some())
                        .map(|(k, _)| (*k).to_owned())
                        .collect(),
                });
            }
        }
        let mut phone = false;
        for (kind, identity) in kinds {
            let Some(identity) = identity else { continue };
            match kind {
                "user" => self.guid_id(identity, &format_args!("{path}.{kind}"), kind, true),
                "phone" => {
                    phone = true;
                    let id = identity.id.as_deref().unwrap_or_default();
                    if let Some(reason) = e164_problem(id) {
                        self.push(Violation::PhoneNotE164 {
                            path: format!("{path}.{kind}.id"),
                            value: id.to_owned(),
                            reason,
                        });
                    }
                }
                "application" | "applicationInstance" => {
                    self.guid_id(identity, &format_args!("{path}.{kind}"), kind, false);
                }
                other => self.push(Violation::UnsupportedTargetKind {
                    path: format!("{path}.{kind}"),
                    kind: other.to_owned(),
                }),
            }
            if let Some(t) = identity.tenant_id.as_deref() {
                self.tenant_value(t, &format_args!("{path}.{kind}.tenantId"));
            }
        }
        phone
    }

    /// A target of a new call or a redirect; returns whether it is a PSTN number.
    pub(crate) fn target(&mut self, t: &InvitationParticipantInfo, path: &dyn Display) -> bool {
        if let Some(graph_comms_model::EndpointType::Unknown(value)) = &t.endpoint_type {
            self.push(Violation::UnknownEnumValue {
                path: format!("{path}.endpointType"),
                value: value.clone(),
                enum_name: "endpointType",
                known: graph_comms_model::EndpointType::KNOWN,
            });
        }
        match &t.identity {
            None => {
                self.push(Violation::NoIdentity {
                    path: format!("{path}.identity"),
                });
                false
            }
            Some(set) => self.identity_set(set, &format_args!("{path}.identity")),
        }
    }

    fn targets(&mut self, targets: &[InvitationParticipantInfo], path: &str) -> bool {
        let mut phone = false;
        for (i, t) in targets.iter().enumerate() {
            phone |= self.target(t, &format_args!("{path}[{i}]"));
        }
        phone
    }

    /// The source of a new call: returns the application instance's id when it is one.
    fn source(&mut self, s: &ParticipantInfo, path: &str) -> bool {
        let Some(set) = &s.identity else {
            self.push(Violation::NoIdentity {
                path: format!("{path}.identity"),
            });
            return false;
        };
        self.identity_set(set, &format_args!("{path}.identity"));
        set.application_instance.is_some()
    }
}

/// Checks a new call (`POST /communications/calls`): an https `callbackUri`; targets (unless the
/// call joins a meeting or a chat), each naming exactly one valid identity; a `mediaConfig`;
/// at least one requested modality; one tenant throughout; a PSTN target needs the bot's
/// application instance as the `source`.
pub fn validate_call(call: &Call, ctx: &CallContext) -> Report {
    let mut r = Rules::new(ctx);
    r.required_callback(call.callback_uri.as_deref(), "callbackUri");
    if let Some(t) = call.tenant_id.as_deref() {
        r.tenant_value(t, &"tenantId");
    }
    let instance_source = match &call.source {
        Some(s) => r.source(s, "source"),
        None => false,
    };
    let joins = call.meeting_info.is_some() || call.chat_info.is_some();
    let phone = match call.targets.as_deref() {
        Some(t) if !t.is_empty() => r.targets(t, "targets"),
        _ if joins => false,
        _ => {
            r.push(Violation::Required {
                path: "targets".to_owned(),
                why: "a new call needs at least one target (or meetingInfo to join a meeting)",
            });
            false
        }
    };
    if phone && !instance_source {
        r.push(Violation::PstnNeedsInstance {
            path: "source.identity.applicationInstance".to_owned(),
            action: "calling",
            needs: "the bot's application instance (with a phone number) as the source",
        });
    }
    if phone && call.tenant_id.is_none() {
        r.push(Violation::Required {
            path: "tenantId".to_owned(),
            why: "a PSTN call is billed to the bot's tenant",
        });
    }
    match &call.media_config {
        None => r.push(Violation::Required {
            path: "mediaConfig".to_owned(),
            why: "service-hosted or app-hosted media",
        }),
        Some(m) => r.media_config(m, "mediaConfig"),
    }
    r.modalities(
        call.requested_modalities.as_ref(),
        "requestedModalities",
        true,
    );
    r.report
}

/// Checks an `answer` body: an https `callbackUri`, a known `mediaConfig` (app-hosted with its
/// blob), modalities if stated, a positive `participantCapacity`.
pub fn validate_answer(body: &AnswerRequestBody, ctx: &CallContext) -> Report {
    let mut r = Rules::new(ctx);
    r.required_callback(Some(&body.callback_uri), "callbackUri");
    r.media_config(&body.media_config, "mediaConfig");
    r.modalities(
        body.accepted_modalities.as_ref(),
        "acceptedModalities",
        false,
    );
    if let Some(n) = body.participant_capacity {
        if n < 1 {
            r.push(Violation::OutOfRange {
                path: "participantCapacity".to_owned(),
                value: i64::from(n),
                min: 1,
                max: i64::from(i32::MAX),
                why: "the number of participants the bot can handle",
            });
        }
    }
    r.report
}

/// Checks a `reject` body: a known `reason` (else a warning), an https `callbackUri` if stated.
pub fn validate_reject(body: &RejectRequestBody, ctx: &CallContext) -> Report {
    let mut r = Rules::new(ctx);
    if let Some(RejectReason::Unknown(value)) = &body.reason {
        r.push(Violation::UnknownEnumValue {
            path: "reason".to_owned(),
            value: value.clone(),
            enum_name: "rejectReason",
            known: RejectReason::KNOWN,
        });
    }
    if let Some(uri) = &body.callback_uri {
        r.https_url(uri, "callbackUri");
    }
    r.report
}

/// Checks a `redirect` body: at least one target, each naming exactly one valid identity (a PSTN
/// target needs a bot that is an application instance); a `timeout` of 15 to 90 seconds; an
/// https `callbackUri` if stated.
pub fn validate_redirect(body: &RedirectRequestBody, ctx: &CallContext) -> Report {
    let mut r = Rules::new(ctx);
    if body.targets.is_empty() {
        r.push(Violation::Required {
            path: "targets".to_owned(),
            why: "a redirect needs at least one target",
        });
    }
    let phone = r.targets(&body.targets, "targets");
    if phone && !r.application_instance {
        r.push(Violation::PstnNeedsInstance {
            path: "targets".to_owned(),
            action: "redirecting to",
            needs: "a bot that is an application instance with a phone number",
        });
    }
    if let Some(t) = body.timeout {
        let (min, max) = REDIRECT_TIMEOUT_SECS;
        if !(min..=max).contains(&t) {
            r.push(Violation::OutOfRange {
                path: "timeout".to_owned(),
                value: i64::from(t),
                min: i64::from(min),
                max: i64::from(max),
                why: "seconds Graph rings the targets",
            });
        }
    }
    if let Some(uri) = &body.callback_uri {
        r.https_url(uri, "callbackUri");
    }
    r.report
}

/// Checks a `playPrompt` body: at least one prompt, each with an https media URL.
pub fn validate_play_prompt(body: &PlayPromptRequestBody, ctx: &CallContext) -> Report {
    let mut r = Rules::new(ctx);
    if body.prompts.is_empty() {
        r.push(Violation::Required {
            path: "prompts".to_owned(),
            why: "name at least one media prompt",
        });
    }
    for (i, p) in body.prompts.iter().enumerate() {
        r.prompt(p, &format!("prompts[{i}]"));
    }
    r.report
}

/// Checks a `startHoldMusic` body: a custom prompt, if any, has an https media URL.
pub fn validate_start_hold_music(body: &StartHoldMusicRequestBody, ctx: &CallContext) -> Report {
    let mut r = Rules::new(ctx);
    if let Some(p) = &body.custom_prompt {
        r.prompt(p, "customPrompt");
    }
    r.report
}

/// Checks a `stopHoldMusic` body (it has no rules: `clientContext` is free text).
pub fn validate_stop_hold_music(_body: &StopHoldMusicRequestBody, ctx: &CallContext) -> Report {
    Rules::new(ctx).report
}

/// Whether `url` is plain http to a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`), with no
/// whitespace or control characters.
fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
