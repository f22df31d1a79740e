//! `cargo xtask codegen [--check]`: generates `graph-comms-model`'s types from Graph's CSDL.
//!
//! Input: `shared/graph-metadata/v1.0-full.csdl.xml` (Microsoft's whole v1.0 metadata) with the
//! communications types of `comms-beta.csdl.xml` laid over it (beta's descriptions, and the
//! members only beta has). Where the versions differ the union is kept, and
//! `docs/model-versions.md` says which version has what. Output:
//! `crates/graph-comms-model/src/generated/` and `docs/model-versions.md`, formatted with rustfmt.
//! `--check` fails when the committed output differs from what generation would write.
//!
//! Shape of the output:
//! - every enum, complex type and entity type that the [`ACTIONS`] (their parameters and return
//!   types), the `call` entity and `commsNotifications` reach (plus `participant` and
//!   `commsOperation`, which notifications carry);
//! - a complex type and the types derived from it become one struct (`identitySet` and
//!   `communicationsIdentitySet` are both `IdentitySet`): payloads put derived-type fields on
//!   values whose declared type is the base, with or without `@odata.type`. A family gathers the
//!   derived types the communications metadata declares and, for an abstract root (`prompt`,
//!   `mediaConfig`), every derived type of v1.0 (`mediaPrompt`; `appHostedMediaConfig`,
//!   `serviceHostedMediaConfig`), which `@odata.type` tells apart;
//! - an entity type gets its own struct with the fields it inherits (`entity.id`);
//! - each action's parameters become `<Action>RequestBody` (`TransferRequestBody`, ...);
//! - [`OVERLAY`] adds the fields that the wire carries but the metadata lacks, each with the payload
//!   that shows it, and [`TYPE_OVERRIDES`] widens the fields that the wire spells more loosely.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::csdl::{self, local_name, Schema, StructuredType};

/// A field that the wire carries but the metadata does not declare, added by hand.
struct Extra {
    ty: &'static str,
    json: &'static str,
    rust: &'static str,
    doc: &'static str,
}

/// Fields the wire carries beyond the metadata. Each one cites the payload that shows it.
const OVERLAY: &[Extra] = &[
    Extra {
        ty: "identity",
        json: "tenantId",
        rust: "String",
        doc: "The tenant of the identity. `identity` is an open type; the transfer examples of the \
              `call: transfer` page (example 1, `transferTarget.identity.user.tenantId`) carry it.",
    },
    Extra {
        ty: "invitationParticipantInfo",
        json: "languageId",
        rust: "String",
        doc: "The language culture string of the target. Not in the metadata; the `call: transfer` \
              page's examples 1 to 4 send `transferTarget.languageId`.",
    },
    Extra {
        ty: "invitationParticipantInfo",
        json: "region",
        rust: "String",
        doc: "The home region of the target. Not in the metadata; the `call: transfer` page's \
              examples 1 to 4 send `transferTarget.region`.",
    },
    Extra {
        ty: "call",
        json: "replacesContext",
        rust: "String",
        doc: "The context of the call that a failed consultative transfer would have replaced. Not in \
              the metadata; the `call: transfer` page's example 2 failure notification carries it.",
    },
    Extra {
        ty: "call",
        json: "terminationReason",
        rust: "String",
        doc: "Why the call terminated, e.g. `AppTransferred`. Beta-only in the metadata; the \
              `call: transfer` page's example 2 completion notification carries it.",
    },
    Extra {
        ty: "resultInfo",
        json: "subCode",
        rust: "crate::WireInt",
        doc: "The result sub-code as spelled `subCode` (the metadata spells it `subcode`; the \
              `call: transfer` page's failure notifications use `subCode`). Kept apart from \
              [`subcode`](Self::subcode) so that a round trip keeps the spelling; read either with \
              [`subcode_value`](Self::subcode_value).",
    },
    Extra {
        ty: "commsNotification",
        json: "resourceData",
        rust: "crate::ResourceData",
        doc: "The changed resource: a `call` for call updates, an array of participants for roster \
              updates, anything else kept as raw JSON. Not in the metadata; every notification of \
              the `call: transfer` page carries it.",
    },
    Extra {
        ty: "commsNotification",
        json: "resource",
        rust: "String",
        doc: "The legacy spelling of the resource path, which older payloads carry beside or \
              instead of `resourceUrl` (e.g. the v1.0 `call: redirect` notifications of 2019-2021).",
    },
];

/// Fields whose wire form is looser than their metadata type: `(type, property, rust type)`.
const TYPE_OVERRIDES: &[(&str, &str, &str)] = &[
    ("resultInfo", "code", "crate::WireInt"),
    ("resultInfo", "subcode", "crate::WireInt"),
];

/// Complex-typed members stored boxed: `(type whose members, member type)`. An `identitySet`
/// holds ten `identity` members of which a payload sets one or two; inline they made every
/// `IdentitySet` 1.7 KiB and a transfer body 6.6 KiB, built, moved and dropped on each transfer.
const BOXED: &[(&str, &str)] = &[("identitySet", "identity")];

/// Roots of the generated closure besides the action's parameters.
const ROOTS: &[&str] = &[
    "call",
    "commsNotifications",
    "participant",
    "commsOperation",
];

/// The bound actions whose bodies are generated: `(binding type, action)`.
const ACTIONS: &[(&str, &str)] = &[
    ("call", "transfer"),
    ("call", "answer"),
    ("call", "reject"),
    ("call", "redirect"),
    ("call", "playPrompt"),
    ("participant", "startHoldMusic"),
    ("participant", "stopHoldMusic"),
];

const BETA: &str = "comms-beta.csdl.xml";
const V1: &str = "v1.0-full.csdl.xml";

/// Lays the beta communications subset over the whole v1.0 schema: a type both have gets beta's
/// properties (with their descriptions) followed by those only v1.0 has; an enum gets beta's
/// members followed by those only v1.0 has; an action both have is beta's.
fn merge(v1: &Schema, beta: &Schema) -> Schema {
    let mut out = Schema {
        enums: v1.enums.clone(),
        types: v1.types.clone(),
        actions: v1.actions.clone(),
    };
    for (name, e) in &beta.enums {
        let mut e = e.clone();
        if let Some(v) = v1.enums.get(name) {
            for m in &v.members {
                if !e.members.contains(m) {
                    e.members.push(m.clone());
                }
            }
        }
        out.enums.insert(name.clone(), e);
    }
    for (name, t) in &beta.types {
        let mut t = t.clone();
        if let Some(v) = v1.types.get(name) {
            for p in &v.properties {
                if !t.properties.iter().any(|q| q.name == p.name) {
                    t.properties.push(p.clone());
                }
            }
        }
        out.types.insert(name.clone(), t);
    }
    for (key, a) in &beta.actions {
        out.actions.insert(key.clone(), a.clone());
    }
    out
}

/// Runs code generation: writes the files, or with `check` compares them.
pub(crate) fn run(check: bool) -> Result<(), String> {
    let root = crate::workspace_root();
    let shared = crate::shared_dir()?;
    let outputs = generate(&shared.join("graph-metadata"))?;
    let mut stale = Vec::new();
    for (rel, text) in &outputs {
        let path = root.join(rel);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != *text {
            if check {
                stale.push(rel.display().to_string());
            } else {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                eprintln!("wrote {}", rel.display());
            }
        }
    }
    if check && !stale.is_empty() {
        return Err(format!(
            "generated code is stale (run `cargo xtask codegen`): {}",
            stale.join(", ")
        ));
    }
    Ok(())
}

/// Generates every output file: `(path relative to the workspace root, contents)`.
pub(crate) fn generate(metadata: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let read = |name: &str| {
        let p = metadata.join(name);
        std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))
    };
    let beta = csdl::parse(&read(BETA)?)?;
    let v1 = csdl::parse(&read(V1)?)?;
    let schema = merge(&v1, &beta);
    let model = Model::new(&schema, &beta, &v1)?;
    let header = |what: &str| {
        format!("//! Generated by cargo xtask codegen from {what}. Do not edit by hand.\n\n")
    };
    let src = format!("graph-metadata/{V1} and {BETA}");
    let dir = PathBuf::from("crates/graph-comms-model/src/generated");
    let mut files = vec![
        (
            dir.join("mod.rs"),
            rustfmt(&(header(&src) + &model.module()))?,
        ),
        (
            dir.join("enums.rs"),
            rustfmt(&(header(&src) + &model.enums()))?,
        ),
        (
            dir.join("types.rs"),
            rustfmt(&(header(&src) + &model.structs()))?,
        ),
        (
            dir.join("actions.rs"),
            rustfmt(&(header(&src) + &model.actions()))?,
        ),
    ];
    files.push((
        PathBuf::from("docs/model-versions.md"),
        model.versions_doc(),
    ));
    Ok(files)
}

fn rustfmt(code: &str) -> Result<String, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run rustfmt: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("rustfmt has no stdin")?
        .write_all(code.as_bytes())
        .map_err(|e| format!("rustfmt stdin: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "rustfmt failed on generated code: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("rustfmt output: {e}"))
}

/// One field of a generated struct.
struct Field {
    json: String,
    rust_name: String,
    rust_ty: String,
    doc: String,
}

/// One generated struct.
struct Struct {
    name: String,
    json_names: Vec<String>,
    doc: String,
    fields: Vec<Field>,
    /// Structs of the metadata's action parameters have no `@odata.type`.
    odata_type: bool,
    /// Required fields (`Nullable="false"` action parameters): not `Option`.
    required: BTreeSet<String>,
    /// What the deserializer expects, e.g. `transfer request body`.
    what: String,
}

struct Model<'a> {
    /// The merged schema (v1.0 with the beta subset laid over it).
    schema: &'a Schema,
    /// The beta communications subset alone.
    beta: &'a Schema,
    /// The whole v1.0 schema alone.
    v1: &'a Schema,
    enums: Vec<&'a csdl::EnumType>,
    structs: Vec<Struct>,
    /// Derived complex type → the family root it is merged into.
    family: BTreeMap<String, String>,
}

impl<'a> Model<'a> {
    fn new(schema: &'a Schema, beta: &'a Schema, v1: &'a Schema) -> Result<Self, String> {
        let mut actions = Vec::new();
        for (binding, name) in ACTIONS {
            let action = schema
                .actions
                .get(&((*binding).to_owned(), (*name).to_owned()))
                .ok_or_else(|| format!("no {name} action bound to {binding} in CSDL"))?;
            actions.push(action);
        }
        // Family roots of complex types: a derived type joins its root's family when the
        // communications metadata declares it or the root is abstract.
        let mut family = BTreeMap::new();
        for t in schema.types.values().filter(|t| !t.is_entity) {
            let mut root = t;
            while let Some(base) = root.base.as_deref().and_then(|b| schema.types.get(b)) {
                root = base;
            }
            let joins = root.name == t.name || beta.types.contains_key(&t.name) || root.is_abstract;
            let target = if joins { &root.name } else { &t.name };
            family.insert(t.name.clone(), target.clone());
        }
        // Closure of reachable types.
        let mut reached = BTreeSet::new();
        let mut enums = BTreeSet::new();
        let mut todo: Vec<String> = ROOTS.iter().map(|s| (*s).to_owned()).collect();
        for action in &actions {
            todo.extend(
                action
                    .parameters
                    .iter()
                    .map(|p| element_type(&p.ty).to_owned()),
            );
            todo.extend(
                action
                    .return_type
                    .as_deref()
                    .map(|t| element_type(t).to_owned()),
            );
        }
        while let Some(name) = todo.pop() {
            if schema.enums.contains_key(&name) {
                enums.insert(name);
                continue;
            }
            let Some(t) = schema.types.get(&name) else {
                continue; // Edm primitive
            };
            let members = Self::members_of(schema, &family, t);
            for m in members {
                if reached.insert(m.name.clone()) {
                    for p in Self::own_and_inherited(schema, m) {
                        todo.push(element_type(&p.ty).to_owned());
                    }
                }
            }
        }
        let mut model = Model {
            schema,
            beta,
            v1,
            enums: enums.iter().filter_map(|e| schema.enums.get(e)).collect(),
            structs: Vec::new(),
            family,
        };
        // Family roots and entities become structs.
        let mut roots = BTreeSet::new();
        for name in &reached {
            let t = &schema.types[name];
            if t.is_entity {
                if !t.is_abstract {
                    roots.insert(name.clone());
                }
            } else {
                roots.insert(model.family[name].clone());
            }
        }
        for root in &roots {
            let s = model.build_struct(&schema.types[root]);
            model.structs.push(s);
        }
        for action in actions {
            model.structs.push(model.build_action(action));
        }
        Ok(model)
    }

    /// The types merged into the struct of `t`: its complex-type family, or the entity alone.
    fn members_of<'s>(
        beta: &'s Schema,
        family: &BTreeMap<String, String>,
        t: &'s StructuredType,
    ) -> Vec<&'s StructuredType> {
        if t.is_entity {
            return vec![t];
        }
        let root = &family[&t.name];
        let mut out = vec![&beta.types[root]];
        out.extend(
            beta.types
                .values()
                .filter(|o| !o.is_entity && family.get(&o.name) == Some(root) && o.name != *root),
        );
        out
    }

    /// The properties of `t` after those of its base types.
    fn own_and_inherited<'s>(beta: &'s Schema, t: &'s StructuredType) -> Vec<&'s csdl::Property> {
        let mut chain = vec![t];
        while let Some(base) = chain
            .last()
            .and_then(|c| c.base.as_deref())
            .and_then(|b| beta.types.get(b))
        {
            chain.push(base);
        }
        chain
            .iter()
            .rev()
            .flat_map(|c| c.properties.iter())
            .collect()
    }

    fn rust_type(&self, ty: &str) -> String {
        if let Some(inner) = ty
            .strip_prefix("Collection(")
            .and_then(|s| s.strip_suffix(')'))
        {
            return format!("Vec<{}>", self.rust_type(inner));
        }
        match ty {
            "Edm.Boolean" => "bool".into(),
            "Edm.Int32" => "i32".into(),
            "Edm.Int64" => "i64".into(),
            "Edm.Int16" => "i16".into(),
            "Edm.Byte" => "u8".into(),
            "Edm.Double" | "Edm.Single" | "Edm.Decimal" => "f64".into(),
            t if t.starts_with("Edm.") => "String".into(),
            t => {
                let local = local_name(t);
                let target = self.family.get(local).map(String::as_str).unwrap_or(local);
                pascal(target)
            }
        }
    }

    /// Whether the v1.0 metadata has property `json` on the family or entity of `type_name`.
    fn in_v1(&self, members: &[&StructuredType], json: &str) -> bool {
        members.iter().any(|m| {
            self.v1.types.get(&m.name).is_some_and(|t| {
                Self::own_and_inherited(self.v1, t)
                    .iter()
                    .any(|p| p.name == json)
            })
        })
    }

    /// Whether the beta subset declares the family or entity of a type (so that it can be
    /// compared) and lacks property `json` on all of its members.
    fn beta_lacks(&self, members: &[&StructuredType], json: &str) -> bool {
        let known: Vec<&StructuredType> = members
            .iter()
            .filter_map(|m| self.beta.types.get(&m.name))
            .collect();
        !known.is_empty()
            && !known.iter().any(|t| {
                Self::own_and_inherited(self.beta, t)
                    .iter()
                    .any(|p| p.name == json)
            })
    }

    fn build_struct(&self, t: &StructuredType) -> Struct {
        let members = Self::members_of(self.schema, &self.family, t);
        let mut fields: Vec<Field> = Vec::new();
        let mut json_names = Vec::new();
        for m in &members {
            json_names.push(m.name.clone());
            for p in Self::own_and_inherited(self.schema, m) {
                if p.name == "@odata.type" || fields.iter().any(|f| f.json == p.name) {
                    continue;
                }
                let rust_ty = TYPE_OVERRIDES
                    .iter()
                    .find(|(ty, prop, _)| members.iter().any(|m| m.name == *ty) && *prop == p.name)
                    .map(|(_, _, r)| (*r).to_owned())
                    .unwrap_or_else(|| self.rust_type(&p.ty));
                // Entities (a `call` is read on every notification) box their complex-typed
                // members: a `call` with them inline is 16 KiB, moved on every decode.
                let boxed = BOXED.iter().any(|(ty, member)| {
                    members.iter().any(|m| m.name == *ty) && local_name(&p.ty) == *member
                });
                let rust_ty = if boxed
                    || (t.is_entity && self.schema.types.contains_key(local_name(&p.ty)))
                {
                    format!("Box<{rust_ty}>")
                } else {
                    rust_ty
                };
                let mut doc = p
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("The `{}` property.", p.name));
                if m.name != t.name {
                    let _ = write!(doc, "\n\nDeclared on `{}`.", m.name);
                }
                if !self.in_v1(&members, &p.name) {
                    doc.push_str("\n\n*Beta only*: the v1.0 metadata lacks this property.");
                } else if self.beta_lacks(&members, &p.name) {
                    doc.push_str("\n\n*v1.0 only*: the beta metadata lacks this property.");
                }
                fields.push(Field {
                    json: p.name.clone(),
                    rust_name: snake(&p.name),
                    rust_ty,
                    doc,
                });
            }
        }
        for extra in OVERLAY
            .iter()
            .filter(|e| members.iter().any(|m| m.name == e.ty))
        {
            if fields.iter().any(|f| f.json == extra.json) {
                continue;
            }
            fields.push(Field {
                json: extra.json.to_owned(),
                rust_name: snake(extra.json),
                rust_ty: extra.rust.to_owned(),
                doc: format!(
                    "{}\n\n*Added by hand* (see `xtask/src/codegen.rs`, `OVERLAY`).",
                    extra.doc
                ),
            });
        }
        let mut doc = format!(
            "The `{}` {} of Microsoft Graph.",
            t.name,
            if t.is_entity {
                "entity"
            } else {
                "complex type"
            }
        );
        if members.len() > 1 {
            let derived: Vec<String> = members[1..]
                .iter()
                .map(|m| format!("`{}`", m.name))
                .collect();
            let _ = write!(
                doc,
                "\n\nMerged with the types derived from it ({}): Graph sends their fields on values \
                 declared as `{}`, with or without `@odata.type`.",
                derived.join(", "),
                t.name
            );
        }
        if t.open {
            doc.push_str(
                "\n\nAn open type: undeclared properties are legal and kept in `additional_data`.",
            );
        }
        Struct {
            name: pascal(&t.name),
            json_names,
            doc,
            fields,
            odata_type: true,
            required: BTreeSet::new(),
            what: t.name.clone(),
        }
    }

    fn build_action(&self, action: &csdl::Action) -> Struct {
        let fields = action
            .parameters
            .iter()
            .map(|p| Field {
                json: p.name.clone(),
                rust_name: snake(&p.name),
                rust_ty: self.rust_type(&p.ty),
                doc: format!(
                    "The `{}` parameter (`{}`{}).",
                    p.name,
                    local_name(&p.ty),
                    if p.nullable {
                        ", optional"
                    } else {
                        ", required"
                    }
                ),
            })
            .collect();
        let path = match action.binding.as_str() {
            "participant" => format!(
                "POST /communications/calls/{{id}}/participants/{{id}}/{}",
                action.name
            ),
            _ => format!("POST /communications/calls/{{id}}/{}", action.name),
        };
        let mut doc = format!("The body of the `{}` action (`{path}`).", action.name);
        if let Some(ret) = &action.return_type {
            let _ = write!(
                doc,
                "\n\nGraph answers with a `{}` ([`{}`]).",
                local_name(ret),
                pascal(local_name(ret))
            );
        }
        if let Some(text) = &action.description {
            let _ = write!(doc, "\n\n{text}");
        }
        Struct {
            name: format!("{}RequestBody", pascal(&action.name)),
            json_names: vec![],
            doc,
            fields,
            odata_type: false,
            required: action
                .parameters
                .iter()
                .filter(|p| !p.nullable)
                .map(|p| p.name.clone())
                .collect(),
            what: format!("{} request body", action.name),
        }
    }

    fn module(&self) -> String {
        "mod actions;\nmod enums;\nmod types;\n\npub use actions::*;\npub use enums::*;\npub use types::*;\n"
            .to_owned()
    }

    fn enums(&self) -> String {
        let mut out = String::from("use std::fmt;\n\n");
        for e in &self.enums {
            let name = pascal(&e.name);
            let v1 = self.v1.enums.get(&e.name);
            let variants: Vec<(String, &String)> = e
                .members
                .iter()
                .map(|m| {
                    let v = pascal(m);
                    let v = if v == "Unknown" {
                        "UnknownValue".to_owned()
                    } else {
                        v
                    };
                    (v, m)
                })
                .collect();
            let _ = writeln!(out, "/// The `{}` enumeration of Microsoft Graph.", e.name);
            out.push_str("///\n/// Values this version does not know are kept in [`Self::Unknown`], so a new value from\n/// Graph never breaks a parse and is written back as it came.\n");
            out.push_str("#[derive(Debug, Clone, PartialEq, Eq, Hash)]\n#[non_exhaustive]\n");
            let _ = writeln!(out, "pub enum {name} {{");
            for (v, m) in &variants {
                let beta = self.beta.enums.get(&e.name);
                let beta_only = if v1.is_some_and(|v1| !v1.members.contains(m)) {
                    " *Beta only*: the v1.0 metadata lacks this member."
                } else if beta.is_some_and(|b| !b.members.contains(m)) {
                    " *v1.0 only*: the beta metadata lacks this member."
                } else {
                    ""
                };
                let _ = writeln!(out, "    /// `{m}`.{beta_only}\n    {v},");
            }
            out.push_str("    /// A value this version of the model does not know, kept verbatim.\n    Unknown(String),\n}\n\n");
            let _ = writeln!(out, "impl {name} {{");
            out.push_str("    /// Every value the metadata declares, as spelled on the wire.\n");
            let list: Vec<String> = e.members.iter().map(|m| format!("{m:?}")).collect();
            let _ = writeln!(
                out,
                "    pub const KNOWN: &'static [&'static str] = &[{}];\n",
                list.join(", ")
            );
            out.push_str("    /// The value as spelled on the wire.\n    pub fn as_str(&self) -> &str {\n        match self {\n");
            for (v, m) in &variants {
                let _ = writeln!(out, "            Self::{v} => {m:?},");
            }
            out.push_str("            Self::Unknown(s) => s,\n        }\n    }\n\n");
            out.push_str("    /// Whether the value is one the metadata declares.\n    pub fn is_known(&self) -> bool {\n        !matches!(self, Self::Unknown(_))\n    }\n}\n\n");
            let _ = writeln!(out, "impl From<&str> for {name} {{\n    fn from(s: &str) -> Self {{\n        match s {{");
            for (v, m) in &variants {
                let _ = writeln!(out, "            {m:?} => Self::{v},");
            }
            out.push_str(
                "            other => Self::Unknown(other.to_owned()),\n        }\n    }\n}\n\n",
            );
            let _ = writeln!(
                out,
                "impl From<String> for {name} {{\n    fn from(s: String) -> Self {{\n        match Self::from(s.as_str()) {{\n            Self::Unknown(_) => Self::Unknown(s),\n            known => known,\n        }}\n    }}\n}}\n"
            );
            let _ = writeln!(
                out,
                "impl fmt::Display for {name} {{\n    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {{\n        f.write_str(self.as_str())\n    }}\n}}\n"
            );
            let _ = writeln!(
                out,
                "impl serde::Serialize for {name} {{\n    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {{\n        serializer.serialize_str(self.as_str())\n    }}\n}}\n"
            );
            let _ = writeln!(
                out,
                "impl<'de> serde::Deserialize<'de> for {name} {{\n    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {{\n        crate::wire::deserialize_enum(deserializer, \"{}\")\n    }}\n}}\n",
                e.name
            );
        }
        out
    }

    fn structs(&self) -> String {
        let mut out = String::from("use crate::*;\n\n");
        for s in self.structs.iter().filter(|s| s.odata_type) {
            self.emit_struct(&mut out, s);
        }
        out
    }

    fn actions(&self) -> String {
        let mut out = String::from("use crate::*;\n\n");
        for s in self.structs.iter().filter(|s| !s.odata_type) {
            self.emit_struct(&mut out, s);
        }
        out
    }

    fn emit_struct(&self, out: &mut String, s: &Struct) {
        let _ = writeln!(out, "{}", doc_comment(&s.doc, ""));
        out.push_str("#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]\n");
        let _ = writeln!(out, "pub struct {} {{", s.name);
        if s.odata_type {
            out.push_str("    /// The `@odata.type` annotation, as received or as set; `None` writes none.\n");
            out.push_str("    #[serde(rename = \"@odata.type\", skip_serializing_if = \"Option::is_none\")]\n    pub odata_type: Option<String>,\n");
        }
        for f in &s.fields {
            let _ = writeln!(out, "{}", doc_comment(&f.doc, "    "));
            if s.required.contains(&f.json) {
                let _ = writeln!(
                    out,
                    "    #[serde(rename = {:?})]\n    pub {}: {},",
                    f.json, f.rust_name, f.rust_ty
                );
            } else {
                let _ = writeln!(
                    out,
                    "    #[serde(rename = {:?}, skip_serializing_if = \"Option::is_none\")]\n    pub {}: Option<{}>,",
                    f.json, f.rust_name, f.rust_ty
                );
            }
        }
        out.push_str(
            "    /// Properties the model does not declare, kept and written back as they came.\n",
        );
        out.push_str("    #[serde(flatten)]\n    pub additional_data: serde_json::Map<String, serde_json::Value>,\n}\n\n");

        // Deserialize: one pass over the object; unknown keys kept; errors name the field.
        let name = &s.name;
        let what = &s.what;
        let _ = writeln!(
            out,
            "/// Reads a [`{name}`] from a JSON object (unknown members kept).\n#[derive(Debug, Clone, Copy, Default)]\npub(crate) struct {name}Visitor;\n"
        );
        let _ = writeln!(
            out,
            "impl<'de> serde::de::Visitor<'de> for {name}Visitor {{"
        );
        let _ = writeln!(out, "            type Value = {name};");
        let _ = writeln!(
            out,
            "            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{\n                f.write_str(\"a JSON object ({what})\")\n            }}"
        );
        out.push_str("            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {\n");
        for f in s.fields.iter().filter(|f| s.required.contains(&f.json)) {
            let _ = writeln!(
                out,
                "                let mut {}: Option<{}> = None;",
                f.rust_name, f.rust_ty
            );
        }
        out.push_str("                let mut additional_data = serde_json::Map::new();\n");
        if s.odata_type {
            out.push_str("                let mut odata_type = None;\n");
        }
        for f in s.fields.iter().filter(|f| !s.required.contains(&f.json)) {
            let _ = writeln!(out, "                let mut {} = None;", f.rust_name);
        }
        out.push_str("                while let Some(key) = map.next_key::<crate::wire::Key<'de>>()? {\n                    match key.as_str() {\n");
        if s.odata_type {
            out.push_str("                        \"@odata.type\" => odata_type = crate::wire::field(&mut map, \"@odata.type\")?,\n");
        }
        for f in &s.fields {
            let _ = writeln!(
                out,
                "                        {:?} => {} = crate::wire::field(&mut map, {:?})?,",
                f.json, f.rust_name, f.json
            );
        }
        out.push_str("                        _ => crate::wire::keep(&mut map, key, &mut additional_data)?,\n                    }\n                }\n");
        let _ = writeln!(out, "                Ok({name} {{");
        if s.odata_type {
            out.push_str("                    odata_type,\n");
        }
        for f in &s.fields {
            if s.required.contains(&f.json) {
                let _ = writeln!(
                    out,
                    "                    {}: {}.ok_or_else(|| <A::Error as serde::de::Error>::missing_field({:?}))?,",
                    f.rust_name, f.rust_name, f.json
                );
            } else {
                let _ = writeln!(out, "                    {},", f.rust_name);
            }
        }
        out.push_str(
            "                    additional_data,\n                })\n            }\n}\n\n",
        );
        let _ = writeln!(
            out,
            "impl<'de> serde::Deserialize<'de> for {name} {{\n    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {{\n        deserializer.deserialize_map({name}Visitor)\n    }}\n}}\n"
        );
        for alias in s.json_names.iter().skip(1) {
            let _ = writeln!(
                out,
                "/// `{alias}`, derived from `{}`: its fields are part of [`{name}`].\npub type {} = {name};\n",
                s.json_names[0],
                pascal(alias)
            );
        }
    }

    fn versions_doc(&self) -> String {
        let mut out = format!(
            "# Model versions: what v1.0 and beta each have\n\n\
             Generated by `cargo xtask codegen` from `graph-metadata/{V1}` (Microsoft's whole v1.0\n\
             metadata) and `graph-metadata/{BETA}` (the beta communications types). Do not edit by\n\
             hand.\n\n\
             The model is the union of both: every type the generated actions (`{}`), the `call` entity\n\
             and `commsNotifications` reach, with beta's members laid over v1.0's. A member that one\n\
             version lacks is still read and written; these tables say which version has what. Fields\n\
             added by hand (in neither metadata) are listed last.\n\n## Beta only: properties v1.0 lacks\n\n\
             | struct | property |\n|---|---|\n",
            ACTIONS
                .iter()
                .map(|(_, a)| *a)
                .collect::<Vec<_>>()
                .join("`, `")
        );
        let tagged = |tag: &str, out: &mut String| {
            let mut any = false;
            for s in self.structs.iter().filter(|s| s.odata_type) {
                for f in &s.fields {
                    if f.doc.contains(tag) {
                        let _ = writeln!(out, "| `{}` | `{}` |", s.name, f.json);
                        any = true;
                    }
                }
            }
            if !any {
                out.push_str("| (none) | |\n");
            }
        };
        tagged("*Beta only*", &mut out);
        out.push_str("\n## v1.0 only: properties beta lacks\n\n| struct | property |\n|---|---|\n");
        tagged("*v1.0 only*", &mut out);
        out.push_str("\n## Beta only: enum members v1.0 lacks\n\n| enum | member |\n|---|---|\n");
        for e in &self.enums {
            let v1 = self.v1.enums.get(&e.name);
            for m in &e.members {
                if v1.is_none_or(|v1| !v1.members.contains(m)) {
                    let _ = writeln!(out, "| `{}` | `{m}` |", pascal(&e.name));
                }
            }
        }
        out.push_str("\n## v1.0 only: enum members beta lacks\n\n| enum | member |\n|---|---|\n");
        for e in &self.enums {
            let Some(beta) = self.beta.enums.get(&e.name) else {
                continue;
            };
            for m in e.members.iter().filter(|m| !beta.members.contains(m)) {
                let _ = writeln!(out, "| `{}` | `{m}` |", pascal(&e.name));
            }
        }
        out.push_str(
            "\n## From v1.0 alone (the beta subset does not declare them, so beta is not compared)\n\n\
             | type |\n|---|\n",
        );
        let mut alone: BTreeSet<String> = BTreeSet::new();
        for s in self.structs.iter().filter(|s| s.odata_type) {
            for json in &s.json_names {
                if !self.beta.types.contains_key(json) {
                    alone.insert(format!("`{json}` (in [`{}`])", s.name));
                }
            }
        }
        for e in &self.enums {
            if !self.beta.enums.contains_key(&e.name) {
                alone.insert(format!("`{}` (enum [`{}`])", e.name, pascal(&e.name)));
            }
        }
        for a in alone {
            let _ = writeln!(out, "| {a} |");
        }
        out.push_str("\n## Added by hand (wire fields the metadata lacks)\n\n| type | property | Rust type |\n|---|---|---|\n");
        for e in OVERLAY {
            let _ = writeln!(out, "| `{}` | `{}` | `{}` |", e.ty, e.json, e.rust);
        }
        for (ty, member) in BOXED {
            let _ = writeln!(
                out,
                "| `{ty}` | every `{member}` member (boxed: most are absent) | `Option<Box<{}>>` |",
                pascal(member)
            );
        }
        for (ty, prop, rust) in TYPE_OVERRIDES {
            let _ = writeln!(
                out,
                "| `{ty}` | `{prop}` (widened: a number or a numeric string) | `{rust}` |"
            );
        }
        out
    }
}

/// `Collection(graph.x)` → `x`; `graph.x` → `x`.
fn element_type(ty: &str) -> &str {
    let inner = ty
        .strip_prefix("Collection(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(ty);
    local_name(inner)
}

/// `identitySet` → `IdentitySet`.
pub(crate) fn pascal(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `resourceUrl` → `resource_url`; Rust keywords get `r#`.
pub(crate) fn snake(s: &str) -> String {
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    match out.as_str() {
        "as" | "async" | "await" | "break" | "const" | "continue" | "crate" | "dyn" | "else"
        | "enum" | "extern" | "false" | "fn" | "for" | "if" | "impl" | "in" | "let" | "loop"
        | "match" | "mod" | "move" | "mut" | "pub" | "ref" | "return" | "static" | "struct"
        | "super" | "trait" | "true" | "type" | "unsafe" | "use" | "where" | "while"
        | "abstract" | "become" | "box" | "do" | "final" | "gen" | "macro" | "override"
        | "priv" | "try" | "typeof" | "unsized" | "virtual" | "yield" => format!("r#{out}"),
        _ => out,
    }
}

/// A rustdoc comment whose text cannot trip rustdoc's lints (HTML tags, links, bare URLs).
fn doc_comment(text: &str, indent: &str) -> String {
    text.lines()
        .map(|line| {
            let escaped = escape_doc(line);
            if escaped.is_empty() {
                format!("{indent}///")
            } else {
                format!("{indent}/// {escaped}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn escape_doc(line: &str) -> String {
    // Lines written here (overlay docs) may use Markdown on purpose; metadata text is escaped.
    if line.contains("](Self::") || line.starts_with('*') || line.contains('`') {
        return line.trim_end().to_owned();
    }
    let mut out = String::new();
    for word in line.split(' ') {
        if !out.is_empty() {
            out.push(' ');
        }
        if word.starts_with("http://") || word.starts_with("https://") {
            let url = word.trim_end_matches(['.', ',', ')', ';']);
            let rest = &word[url.len()..];
            let _ = write!(out, "<{url}>{rest}");
            continue;
        }
        for ch in word.chars() {
            match ch {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '[' => out.push_str("\\["),
                ']' => out.push_str("\\]"),
                '*' => out.push_str("\\*"),
                '_' => out.push_str("\\_"),
                '#' => out.push_str("\\#"),
                c => out.push(c),
            }
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    /// The committed generated code is what `cargo xtask codegen` would write now.
    #[test]
    fn generated_code_is_fresh() {
        match crate::shared_dir() {
            Ok(_) => super::run(true).unwrap_or_else(|e| panic!("{e}")),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => panic!("{e}"),
            Err(e) => eprintln!("skipping: {e}"),
        }
    }

    #[test]
    fn names() {
        assert_eq!(super::pascal("identitySet"), "IdentitySet");
        assert_eq!(super::snake("resourceUrl"), "resource_url");
        assert_eq!(super::snake("@odata.type"), "@odata.type");
        assert_eq!(super::snake("type"), "r#type");
    }

    #[test]
    fn doc_text_is_escaped() {
        assert_eq!(super::escape_doc("see [x] <b>"), "see \\[x\\] &lt;b&gt;");
        assert_eq!(
            super::escape_doc("at https://a.b/c."),
            "at <https://a.b/c>."
        );
    }
}
