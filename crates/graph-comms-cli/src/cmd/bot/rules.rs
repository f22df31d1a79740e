//! The bot's rules file: parsed, validated and matched, with no I/O (the runtime is `run.rs`).
//!
//! A rules file (TOML) is a list of `[[rule]]`s tried in order; the first whose conditions all
//! hold for a call decides where the call goes: a chain of targets tried in turn (each a blind or
//! a consultative transfer), then a last resort (a call queue, a voicemail, or a polite hang-up).
//! `docs/bot.md` documents the format; every error names its line and column.

use std::ops::Range;

use graph_comms_transfer::{Guid, E164};
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Deserialize;
use toml::Spanned;

/// At most this many rules in a file.
pub(crate) const MAX_RULES: usize = 1_000;
/// At most this many targets in one rule's chain.
pub(crate) const MAX_TARGETS: usize = 10;
/// The consultation answer timeout when a target names none, in seconds.
pub(crate) const DEFAULT_ANSWER_TIMEOUT: u64 = 20;

/// A rules file that is not valid: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RulesError {
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column (in characters).
    pub(crate) column: usize,
    /// What is wrong.
    pub(crate) message: String,
}

impl std::fmt::Display for RulesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Every rule of a file, validated.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// The rules, in file order.
    pub(crate) rules: Vec<Rule>,
}

/// One rule: when it applies, and where the call goes.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// Its name (in logs and the per-call JSON line).
    pub(crate) name: String,
    /// The numbers (E.164) or application instance ids (lower-case, hyphenated) called.
    pub(crate) callee: Vec<String>,
    /// Prefixes of the caller's number.
    pub(crate) caller_prefix: Vec<String>,
    /// The caller's tenants (lower-case, hyphenated).
    pub(crate) caller_tenant: Vec<String>,
    /// When, in local time.
    pub(crate) time: Option<TimeWindow>,
    /// The greeting played after answering.
    pub(crate) prompt: Option<String>,
    /// The chain, tried in order.
    pub(crate) targets: Vec<Target>,
    /// What happens when every target failed (or on shutdown).
    pub(crate) last_resort: LastResort,
}

/// Days and hours in a time zone.
#[derive(Debug, Clone)]
pub(crate) struct TimeWindow {
    zone: TimeZone,
    /// Bit `i` set: weekday `i` (Monday 0) matches.
    days: u8,
    /// Minutes after midnight: the start (inclusive) and end (exclusive); start > end wraps over
    /// midnight.
    start: u16,
    end: u16,
}

/// One target of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// Who.
    pub(crate) kind: TargetKind,
    /// Consultative (a Teams user only): the target is called first, and the transfer happens
    /// only once they answer.
    pub(crate) consult: bool,
    /// Seconds the consulted target has to answer.
    pub(crate) answer_timeout: u64,
}

/// Who a target is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetKind {
    /// A Teams user (object id).
    User(Guid),
    /// A PSTN number.
    Phone(E164),
    /// An application instance (a resource account: an auto attendant, another bot).
    Instance(Guid),
}

impl TargetKind {
    /// `user:ID`, `phone:+N`, `instance:ID` (for logs and the JSON line).
    pub(crate) fn label(&self) -> String {
        match self {
            TargetKind::User(g) => format!("user:{}", g.to_hyphenated()),
            TargetKind::Phone(p) => format!("phone:{p}"),
            TargetKind::Instance(g) => format!("instance:{}", g.to_hyphenated()),
        }
    }
}

/// The end of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LastResort {
    /// A blind transfer to a call queue's resource account (application instance).
    Queue(Guid),
    /// A blind transfer to a Teams user's voicemail (`endpointType: voicemail`).
    Voicemail(Guid),
    /// A prompt (when given), then the bot hangs up.
    HangUp {
        /// The goodbye prompt.
        prompt: Option<String>,
    },
}

impl LastResort {
    /// `queue:ID`, `voicemail:ID`, `hangUp`.
    pub(crate) fn label(&self) -> String {
        match self {
            LastResort::Queue(g) => format!("queue:{}", g.to_hyphenated()),
            LastResort::Voicemail(g) => format!("voicemail:{}", g.to_hyphenated()),
            LastResort::HangUp { .. } => "hangUp".to_owned(),
        }
    }
}

/// What the rules match a call on.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallFacts {
    /// What was called: the first target's application instance id, phone number, application id.
    pub(crate) callee: Vec<String>,
    /// The caller's phone number (PSTN callers).
    pub(crate) caller_phone: Option<String>,
    /// The caller's tenant (Teams callers).
    pub(crate) caller_tenant: Option<String>,
}

impl Rules {
    /// The first rule that applies to a call at `now`.
    pub(crate) fn find(&self, facts: &CallFacts, now: Timestamp) -> Option<&Rule> {
        self.rules.iter().find(|r| r.applies(facts, now))
    }

    /// One rule: every call to the user, blind; hang up when the transfer fails.
    pub(crate) fn transfer_to(user: Guid, prompt: Option<String>) -> Rules {
        Rules {
            rules: vec![Rule {
                name: "transfer-to".to_owned(),
                callee: Vec::new(),
                caller_prefix: Vec::new(),
                caller_tenant: Vec::new(),
                time: None,
                prompt,
                targets: vec![Target {
                    kind: TargetKind::User(user),
                    consult: false,
                    answer_timeout: DEFAULT_ANSWER_TIMEOUT,
                }],
                last_resort: LastResort::HangUp { prompt: None },
            }],
        }
    }
}

impl Rule {
    /// Whether every condition of the rule holds.
    pub(crate) fn applies(&self, facts: &CallFacts, now: Timestamp) -> bool {
        let callee = self.callee.is_empty()
            || facts
                .callee
                .iter()
                .any(|c| self.callee.contains(&normalize_id(c)));
        let prefix = self.caller_prefix.is_empty()
            || facts.caller_phone.as_deref().is_some_and(|p| {
                let p = normalize_number(p);
                self.caller_prefix.iter().any(|pre| p.starts_with(pre))
            });
        let tenant = self.caller_tenant.is_empty()
            || facts
                .caller_tenant
                .as_deref()
                .is_some_and(|t| self.caller_tenant.contains(&normalize_id(t)));
        let time = self.time.as_ref().is_none_or(|w| w.contains(now));
        callee && prefix && tenant && time
    }
}

impl TimeWindow {
    /// Whether `now` falls in the window, in its zone.
    pub(crate) fn contains(&self, now: Timestamp) -> bool {
        let local = now.to_zoned(self.zone.clone());
        let day = local.weekday().to_monday_zero_offset();
        if self.days & (1 << day) == 0 {
            return false;
        }
        let minute = u16::try_from(local.hour()).unwrap_or(0) * 60
            + u16::try_from(local.minute()).unwrap_or(0);
        if self.start < self.end {
            self.start <= minute && minute < self.end
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

/// A GUID compares lower-case and hyphenated; a number as written without separators.
fn normalize_id(s: &str) -> String {
    match Guid::parse(s) {
        Ok(g) => g.to_hyphenated().to_ascii_lowercase(),
        Err(_) => normalize_number(s),
    }
}

/// A phone number without spaces, dashes, dots or brackets, and a `tel:` prefix.
fn normalize_number(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_prefix("tel:").unwrap_or(s);
    s.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect()
}

// --- the file as written ---

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    prompt: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<Spanned<String>>,
    #[serde(default)]
    callee: Vec<Spanned<String>>,
    #[serde(default)]
    caller_prefix: Vec<Spanned<String>>,
    #[serde(default)]
    caller_tenant: Vec<Spanned<String>>,
    days: Option<Spanned<Vec<Spanned<String>>>>,
    hours: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
    prompt: Option<Spanned<String>>,
    #[serde(default)]
    targets: Vec<Spanned<RawTarget>>,
    last_resort: Option<Spanned<RawLastResort>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    user: Option<Spanned<String>>,
    phone: Option<Spanned<String>>,
    instance: Option<Spanned<String>>,
    consult: Option<Spanned<bool>>,
    answer_timeout: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLastResort {
    queue: Option<Spanned<String>>,
    voicemail: Option<Spanned<String>>,
    hang_up: Option<Spanned<bool>>,
    prompt: Option<Spanned<String>>,
}

/// Parses and validates a rules file.
///
/// # Errors
/// The first thing wrong, with its line and column.
pub(crate) fn parse(text: &str) -> Result<Rules, RulesError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        at(text, &span, e.message().trim_end().to_owned())
    })?;
    let err = |span: Range<usize>, message: String| at(text, &span, message);
    let default_zone = match &raw.time_zone {
        Some(z) => Some(zone(z).map_err(|m| err(z.span(), m))?),
        None => None,
    };
    let default_prompt = match &raw.prompt {
        Some(p) => Some(prompt(p).map_err(|m| err(p.span(), m))?),
        None => None,
    };
    if raw.rule.is_empty() {
        return Err(err(
            0..0,
            "no rules: add at least one [[rule]] (see docs/bot.md)".to_owned(),
        ));
    }
    if raw.rule.len() > MAX_RULES {
        return Err(err(
            raw.rule[MAX_RULES].span(),
            format!("more than {MAX_RULES} rules"),
        ));
    }
    let mut rules = Vec::with_capacity(raw.rule.len());
    for (i, spanned) in raw.rule.iter().enumerate() {
        let r = spanned.get_ref();
        let whole = spanned.span();
        let name = match &r.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                return Err(err(n.span(), "name: must not be empty".to_owned()))
            }
            Some(n) => n.get_ref().clone(),
            None => format!("rule {}", i + 1),
        };
        if rules.iter().any(|x: &Rule| x.name == name) {
            let span = r.name.as_ref().map_or(whole.clone(), Spanned::span);
            return Err(err(
                span,
                format!("name: {name:?} is used by an earlier rule"),
            ));
        }
        let mut callee = Vec::with_capacity(r.callee.len());
        for c in &r.callee {
            let value = c.get_ref().trim();
            let ok = Guid::parse(value).is_ok() || E164::parse(&normalize_number(value)).is_ok();
            if !ok {
                return Err(err(
                    c.span(),
                    format!(
                        "callee: {value:?} is neither an E.164 number (+14255550100) nor an \
                         application instance id (a GUID)"
                    ),
                ));
            }
            callee.push(normalize_id(value));
        }
        let mut caller_prefix = Vec::with_capacity(r.caller_prefix.len());
        for p in &r.caller_prefix {
            let value = normalize_number(p.get_ref());
            let digits = value.strip_prefix('+').unwrap_or("");
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(err(
                    p.span(),
                    format!(
                        "caller_prefix: {:?} is not the start of an E.164 number ('+' then digits, \
                         e.g. \"+44\")",
                        p.get_ref()
                    ),
                ));
            }
            caller_prefix.push(value);
        }
        let mut caller_tenant = Vec::with_capacity(r.caller_tenant.len());
        for t in &r.caller_tenant {
            match Guid::parse(t.get_ref().trim()) {
                Ok(g) => caller_tenant.push(g.to_hyphenated().to_ascii_lowercase()),
                Err(_) => {
                    return Err(err(
                        t.span(),
                        format!(
                            "caller_tenant: {:?} is not a tenant id (a GUID)",
                            t.get_ref()
                        ),
                    ))
                }
            }
        }
        let time = time_window(r, default_zone.as_ref()).map_err(|(s, m)| err(s, m))?;
        let prompt = match &r.prompt {
            Some(p) => Some(prompt(p).map_err(|m| err(p.span(), m))?),
            None => default_prompt.clone(),
        };
        if r.targets.len() > MAX_TARGETS {
            return Err(err(
                r.targets[MAX_TARGETS].span(),
                format!("targets: more than {MAX_TARGETS} in one chain"),
            ));
        }
        let mut targets = Vec::with_capacity(r.targets.len());
        for t in &r.targets {
            targets.push(target(t).map_err(|(s, m)| err(s, m))?);
        }
        let last_resort = match &r.last_resort {
            Some(l) => last_resort(l).map_err(|(s, m)| err(s, m))?,
            None => LastResort::HangUp { prompt: None },
        };
        if targets.is_empty() && r.last_resort.is_none() {
            return Err(err(
                whole,
                format!("rule {name:?}: no targets and no last_resort: it would only hang up"),
            ));
        }
        rules.push(Rule {
            name,
            callee,
            caller_prefix,
            caller_tenant,
            time,
            prompt,
            targets,
            last_resort,
        });
    }
    Ok(Rules { rules })
}

fn zone(name: &Spanned<String>) -> Result<TimeZone, String> {
    TimeZone::get(name.get_ref()).map_err(|_| {
        format!(
            "time_zone: {:?} is not an IANA time zone (e.g. \"Europe/London\", \"America/New_York\", \"UTC\")",
            name.get_ref()
        )
    })
}

fn prompt(uri: &Spanned<String>) -> Result<String, String> {
    let value = uri.get_ref().trim();
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !value.chars().any(char::is_whitespace) => {
            Ok(value.to_owned())
        }
        _ => Err(format!(
            "prompt: {value:?} is not an http(s) URL of an audio file"
        )),
    }
}

fn time_window(
    r: &RawRule,
    default_zone: Option<&TimeZone>,
) -> Result<Option<TimeWindow>, (Range<usize>, String)> {
    if r.days.is_none() && r.hours.is_none() {
        if let Some(z) = &r.time_zone {
            return Err((
                z.span(),
                "time_zone: given without days or hours, it has no effect".to_owned(),
            ));
        }
        return Ok(None);
    }
    let zone = match &r.time_zone {
        Some(z) => zone(z).map_err(|m| (z.span(), m))?,
        None => default_zone.cloned().unwrap_or(TimeZone::UTC),
    };
    let mut days = 0u8;
    match &r.days {
        None => days = 0x7f,
        Some(list) => {
            if list.get_ref().is_empty() {
                return Err((list.span(), "days: empty: name at least one day".to_owned()));
            }
            for d in list.get_ref() {
                let day = match d.get_ref().to_ascii_lowercase().as_str() {
                    "mon" | "monday" => Weekday::Monday,
                    "tue" | "tuesday" => Weekday::Tuesday,
                    "wed" | "wednesday" => Weekday::Wednesday,
                    "thu" | "thursday" => Weekday::Thursday,
                    "fri" | "friday" => Weekday::Friday,
                    "sat" | "saturday" => Weekday::Saturday,
                    "sun" | "sunday" => Weekday::Sunday,
                    _ => {
                        return Err((
                            d.span(),
                            format!(
                                "days: {:?} is not a day (mon, tue, wed, thu, fri, sat, sun)",
                                d.get_ref()
                            ),
                        ))
                    }
                };
                days |= 1 << day.to_monday_zero_offset();
            }
        }
    }
    let (start, end) = match &r.hours {
        None => (0, 24 * 60),
        Some(h) => hours(h.get_ref()).map_err(|m| (h.span(), m))?,
    };
    Ok(Some(TimeWindow {
        zone,
        days,
        start,
        end,
    }))
}

/// `HH:MM-HH:MM`, the end exclusive and up to `24:00`.
fn hours(text: &str) -> Result<(u16, u16), String> {
    let bad = || {
        format!(
            "hours: {text:?} is not a range of local times \"HH:MM-HH:MM\" (e.g. \"08:30-17:00\"; \
             \"22:00-06:00\" wraps over midnight)"
        )
    };
    let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
    let minute = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (start, end) = (minute(a).ok_or_else(bad)?, minute(b).ok_or_else(bad)?);
    if start == end || start == 24 * 60 {
        return Err(format!(
            "hours: {text:?} is an empty range (for the whole day, leave hours out or write \
             \"00:00-24:00\")"
        ));
    }
    Ok((start, end))
}

fn guid(field: &str, s: &Spanned<String>, what: &str) -> Result<Guid, (Range<usize>, String)> {
    Guid::parse(s.get_ref().trim()).map_err(|_| {
        (
            s.span(),
            format!("{field}: {:?} is not {what} (a GUID)", s.get_ref()),
        )
    })
}

fn target(t: &Spanned<RawTarget>) -> Result<Target, (Range<usize>, String)> {
    let raw = t.get_ref();
    let kind = match (&raw.user, &raw.phone, &raw.instance) {
        (Some(u), None, None) => TargetKind::User(guid("user", u, "a Teams user's object id")?),
        (None, Some(p), None) => TargetKind::Phone(
            E164::parse(&normalize_number(p.get_ref()))
                .map_err(|e| (p.span(), format!("phone: {:?}: {e}", p.get_ref())))?,
        ),
        (None, None, Some(i)) => {
            TargetKind::Instance(guid("instance", i, "an application instance id")?)
        }
        _ => {
            return Err((
                t.span(),
                "a target names exactly one of user, phone or instance".to_owned(),
            ))
        }
    };
    let consult = raw.consult.as_ref().is_some_and(|c| *c.get_ref());
    if consult && !matches!(kind, TargetKind::User(_)) {
        let span = raw.consult.as_ref().map_or(t.span(), Spanned::span);
        return Err((
            span,
            "consult: only a Teams user target can be consulted (the consultation call is placed \
             as the bot)"
                .to_owned(),
        ));
    }
    let answer_timeout = match &raw.answer_timeout {
        Some(s) if !consult => {
            return Err((
                s.span(),
                "answer_timeout: only for a consultative target (consult = true)".to_owned(),
            ))
        }
        Some(s) if !(1..=300).contains(s.get_ref()) => {
            return Err((s.span(), "answer_timeout: seconds from 1 to 300".to_owned()))
        }
        Some(s) => *s.get_ref(),
        None => DEFAULT_ANSWER_TIMEOUT,
    };
    Ok(Target {
        kind,
        consult,
        answer_timeout,
    })
}

fn last_resort(l: &Spanned<RawLastResort>) -> Result<LastResort, (Range<usize>, String)> {
    let raw = l.get_ref();
    let hang_up = raw.hang_up.as_ref().is_some_and(|h| *h.get_ref());
    if let Some(p) = &raw.prompt {
        if !hang_up {
            return Err((
                p.span(),
                "prompt: a last resort's prompt goes with hang_up = true".to_owned(),
            ));
        }
    }
    match (&raw.queue, &raw.voicemail, hang_up) {
        (Some(q), None, false) => Ok(LastResort::Queue(guid(
            "queue",
            q,
            "a call queue's resource account (application instance id)",
        )?)),
        (None, Some(v), false) => Ok(LastResort::Voicemail(guid(
            "voicemail",
            v,
            "a Teams user's object id",
        )?)),
        (None, None, true) => Ok(LastResort::HangUp {
            prompt: match &raw.prompt {
                Some(p) => Some(prompt(p).map_err(|m| (p.span(), m))?),
                None => None,
            },
        }),
        _ => Err((
            l.span(),
            "last_resort names exactly one of queue, voicemail or hang_up = true".to_owned(),
        )),
    }
}

/// The 1-based line and column of `span.start` in `text`.
fn at(text: &str, span: &Range<usize>, message: String) -> RulesError {
    let start = span.start.min(text.len());
    let before = text.get(..start).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    RulesError {
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "550fae72-d251-43ec-868c-373732c2704f";
    const BOB: &str = "8a34a46b-3d17-4adc-8dce-dc4e7d572698";
    const QUEUE: &str = "751f6800-3180-414d-bd94-333364659951";
    const TENANT: &str = "aa67bd4c-8475-432d-bd41-39f255720e0a";

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("a timestamp")
    }

    fn facts(callee: &[&str], phone: Option<&str>, tenant: Option<&str>) -> CallFacts {
        CallFacts {
            callee: callee.iter().map(|s| (*s).to_owned()).collect(),
            caller_phone: phone.map(str::to_owned),
            caller_tenant: tenant.map(str::to_owned),
        }
    }

    fn rules() -> Rules {
        let text = format!(
            r#"
prompt = "https://bot.example/hello.wav"
time_zone = "Europe/London"

[[rule]]
name = "sales line"
callee = ["+1 425 555 0100"]
targets = [{{ user = "{ALICE}", consult = true, answer_timeout = 5 }}, {{ user = "{BOB}" }}]
last_resort = {{ queue = "{QUEUE}" }}

[[rule]]
name = "uk callers"
caller_prefix = ["+44"]
targets = [{{ phone = "+442071234567" }}]
last_resort = {{ voicemail = "{ALICE}" }}

[[rule]]
name = "partners"
caller_tenant = ["{TENANT}"]
targets = [{{ user = "{BOB}" }}]

[[rule]]
name = "office hours"
days = ["mon", "tue", "wed", "thu", "fri"]
hours = "09:00-17:00"
targets = [{{ user = "{ALICE}" }}]

[[rule]]
name = "night"
hours = "22:00-06:00"
time_zone = "America/New_York"
targets = [{{ user = "{BOB}" }}]

[[rule]]
name = "closed"
last_resort = {{ hang_up = true, prompt = "https://bot.example/closed.wav" }}
"#
        );
        parse(&text).expect("valid rules")
    }

    fn name<'a>(rules: &'a Rules, f: &CallFacts, now: &str) -> Option<&'a str> {
        rules.find(f, ts(now)).map(|r| r.name.as_str())
    }

    // Monday 2026-11-30, 12:00 in London (UTC+0 in winter).
    const MONDAY_NOON: &str = "2026-11-30T12:00:00Z";
    const SUNDAY_NOON: &str = "2026-11-29T12:00:00Z";

    #[test]
    fn callee_matches_numbers_as_written_or_not() {
        let r = rules();
        let rule = r.find(&facts(&["+14255550100"], None, None), ts(SUNDAY_NOON));
        let rule = rule.expect("a rule");
        assert_eq!(rule.name, "sales line");
        assert_eq!(
            rule.prompt.as_deref(),
            Some("https://bot.example/hello.wav")
        );
        assert_eq!(rule.targets.len(), 2);
        assert!(rule.targets[0].consult);
        assert_eq!(rule.targets[0].answer_timeout, 5);
        assert!(!rule.targets[1].consult);
        assert_eq!(rule.last_resort.label(), format!("queue:{QUEUE}"));
        assert_eq!(
            name(
                &r,
                &facts(&["tel:+1-425-555-0100"], None, None),
                SUNDAY_NOON
            ),
            Some("sales line")
        );
        assert_eq!(
            name(&r, &facts(&["+14255550199"], None, None), SUNDAY_NOON),
            Some("closed")
        );
    }

    #[test]
    fn caller_prefix_and_tenant() {
        let r = rules();
        assert_eq!(
            name(&r, &facts(&[], Some("+44 20 7946 0000"), None), SUNDAY_NOON),
            Some("uk callers")
        );
        assert_eq!(
            name(&r, &facts(&[], Some("+33140000000"), None), SUNDAY_NOON),
            Some("closed")
        );
        let upper = TENANT.to_ascii_uppercase();
        assert_eq!(
            name(&r, &facts(&[], None, Some(&upper)), SUNDAY_NOON),
            Some("partners")
        );
    }

    #[test]
    fn days_and_hours_in_their_zone() {
        let r = rules();
        let nobody = facts(&[], None, None);
        assert_eq!(name(&r, &nobody, MONDAY_NOON), Some("office hours"));
        // Sunday: not a weekday.
        assert_eq!(name(&r, &nobody, SUNDAY_NOON), Some("closed"));
        // 16:59 London matches, 17:00 does not (the end is exclusive).
        assert_eq!(
            name(&r, &nobody, "2026-11-30T16:59:00Z"),
            Some("office hours")
        );
        assert_eq!(name(&r, &nobody, "2026-11-30T17:00:00Z"), Some("closed"));
        // In summer London is UTC+1: 08:30 UTC is 09:30 local.
        assert_eq!(
            name(&r, &nobody, "2026-07-06T08:30:00Z"),
            Some("office hours")
        );
        // The night rule wraps over midnight in New York (UTC-5 in winter).
        assert_eq!(name(&r, &nobody, "2026-11-29T03:30:00Z"), Some("night"));
        assert_eq!(name(&r, &nobody, "2026-11-29T10:30:00Z"), Some("night"));
        assert_eq!(name(&r, &nobody, "2026-11-29T11:00:00Z"), Some("closed"));
    }

    #[test]
    fn last_resorts() {
        let r = rules();
        let closed = r.rules.last().expect("rules");
        assert_eq!(
            closed.last_resort,
            LastResort::HangUp {
                prompt: Some("https://bot.example/closed.wav".to_owned())
            }
        );
        assert_eq!(r.rules[1].last_resort.label(), format!("voicemail:{ALICE}"));
        assert_eq!(r.rules[2].last_resort, LastResort::HangUp { prompt: None });
    }

    #[test]
    fn transfer_to_is_one_catch_all_rule() {
        let user = Guid::parse(ALICE).expect("guid");
        let r = Rules::transfer_to(user, None);
        let rule = r.find(&CallFacts::default(), ts(SUNDAY_NOON));
        assert_eq!(
            rule.map(|r| r.targets[0].kind.label()),
            Some(format!("user:{ALICE}"))
        );
    }

    fn error(text: &str) -> RulesError {
        parse(text).expect_err("invalid rules")
    }

    #[test]
    fn errors_name_line_column_and_the_rule() {
        let e = error("[[rule]]\nname = \"a\"\ntargets = [{ user = \"nope\" }]\n");
        assert_eq!((e.line, e.column), (3, 21), "{e}");
        assert!(
            e.message.contains("user: \"nope\" is not a Teams user"),
            "{e}"
        );

        let e = error("[[rule]]\nhours = \"9-5\"\ntargets = [{ phone = \"+15551234567\" }]\n");
        assert_eq!((e.line, e.column), (2, 9), "{e}");
        assert!(e.message.contains("HH:MM-HH:MM"), "{e}");

        let e = error(&format!(
            "[[rule]]\ndays = [\"mon\", \"funday\"]\ntargets = [{{ user = \"{ALICE}\" }}]\n"
        ));
        assert_eq!((e.line, e.column), (2, 16), "{e}");

        let e = error(&format!(
            "[[rule]]\ntime_zone = \"Mars/Olympus\"\nhours = \"09:00-17:00\"\ntargets = [{{ user = \"{ALICE}\" }}]\n"
        ));
        assert_eq!((e.line, e.column), (2, 13), "{e}");
        assert!(e.message.contains("IANA"), "{e}");

        let e = error(&format!(
            "[[rule]]\ntargets = [{{ user = \"{ALICE}\" }}]\ncolour = \"red\"\n"
        ));
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("colour"), "{e}");

        let e = error("[[rule]\n");
        assert_eq!(e.line, 1, "{e}");

        let e = error("[[rule]]\ntargets = [{ phone = \"+15551234567\", consult = true }]\n");
        assert!(e.message.contains("only a Teams user"), "{e}");
        assert_eq!((e.line, e.column), (2, 48), "{e}");

        let e = error(&format!(
            "[[rule]]\ntargets = [{{ user = \"{ALICE}\" }}]\nlast_resort = {{ queue = \"{QUEUE}\", hang_up = true }}\n"
        ));
        assert_eq!((e.line, e.column), (3, 15), "{e}");

        let e = error("prompt = \"https://x/y.wav\"\n");
        assert!(e.message.contains("no rules"), "{e}");

        let e = error(&format!(
            "[[rule]]\nname = \"a\"\ntargets = [{{ user = \"{ALICE}\" }}]\n[[rule]]\nname = \"a\"\ntargets = [{{ user = \"{ALICE}\" }}]\n"
        ));
        assert_eq!((e.line, e.column), (5, 8), "{e}");
    }

    #[test]
    fn hours_parse() {
        assert_eq!(hours("08:30-17:00"), Ok((510, 1020)));
        assert_eq!(hours("00:00-24:00"), Ok((0, 1440)));
        assert_eq!(hours("22:00-6:00"), Ok((1320, 360)));
        assert!(hours("10:00-10:00").is_err());
        assert!(hours("24:00-10:00").is_err());
        assert!(hours("10:60-11:00").is_err());
        assert!(hours("25:00-26:00").is_err());
    }
}
