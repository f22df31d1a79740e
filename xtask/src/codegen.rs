//! `cargo xtask codegen [--check]`: generates `graph-comms-model`'s types from Graph's CSDL.
//!
//! Input: `shared/graph-metadata/comms-beta.csdl.xml` (the API the seed documents), compared with
//! `comms-v1.0.csdl.xml` to mark what v1.0 lacks. Output: `crates/graph-comms-model/src/generated/`
//! and `docs/model-versions.md`, formatted with rustfmt. `--check` fails when the committed output
//! differs from what generation would write.
//!
//! Shape of the output:
//! - every enum, complex type and entity type that the `transfer` action, the `call` entity and
//!   `commsNotifications` reach (plus `participant` and `commsOperation`, which notifications carry);
//! - a complex type and the types derived from it become one struct (`identitySet` and
//!   `communicationsIdentitySet` are both `IdentitySet`): payloads put derived-type fields on
//!   values whose declared type is the base, with or without `@odata.type`;
//! - an entity type gets its own struct with the fields it inherits (`entity.id`);
//! - the action's parameters become `TransferRequestBody`;
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

const BETA: &str = "comms-beta.csdl.xml";
const V1: &str = "comms-v1.0.csdl.xml";

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
    let model = Model::new(&beta, &v1)?;
    let header = |what: &str| {
        format!("//! Generated by cargo xtask codegen from {what}. Do not edit by hand.\n\n")
    };
    let src = format!("graph-metadata/{BETA}");
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
}

struct Model<'a> {
    beta: &'a Schema,
    v1: &'a Schema,
    enums: Vec<&'a csdl::EnumType>,
    structs: Vec<Struct>,
    /// Derived complex type → the family root it is merged into.
    family: BTreeMap<String, String>,
}

impl<'a> Model<'a> {
    fn new(beta: &'a Schema, v1: &'a Schema) -> Result<Self, String> {
        let action = beta
            .actions
            .get("transfer")
            .ok_or("no transfer action in CSDL")?;
        // Family roots of complex types.
        let mut family = BTreeMap::new();
        for t in beta.types.values().filter(|t| !t.is_entity) {
            let mut root = t;
            while let Some(base) = root.base.as_deref().and_then(|b| beta.types.get(b)) {
                root = base;
            }
            family.insert(t.name.clone(), root.name.clone());
        }
        // Closure of reachable types.
        let mut reached = BTreeSet::new();
        let mut enums = BTreeSet::new();
        let mut todo: Vec<String> = ROOTS.iter().map(|s| (*s).to_owned()).collect();
        todo.extend(
            action
                .parameters
                .iter()
                .map(|p| element_type(&p.ty).to_owned()),
        );
        while let Some(name) = todo.pop() {
            if beta.enums.contains_key(&name) {
                enums.insert(name);
                continue;
            }
            let Some(t) = beta.types.get(&name) else {
                continue; // Edm primitive
            };
            let members = Self::members_of(beta, &family, t);
            for m in members {
                if reached.insert(m.name.clone()) {
                    for p in Self::own_and_inherited(beta, m) {
                        todo.push(element_type(&p.ty).to_owned());
                    }
                }
            }
        }
        let mut model = Model {
            beta,
            v1,
            enums: enums.iter().filter_map(|e| beta.enums.get(e)).collect(),
            structs: Vec::new(),
            family,
        };
        // Family roots and entities become structs.
        let mut roots = BTreeSet::new();
        for name in &reached {
            let t = &beta.types[name];
            if t.is_entity {
                if !t.is_abstract {
                    roots.insert(name.clone());
                }
            } else {
                roots.insert(model.family[name].clone());
            }
        }
        for root in &roots {
            let s = model.build_struct(&beta.types[root]);
            model.structs.push(s);
        }
        model.structs.push(model.build_action(action));
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

    fn build_struct(&self, t: &StructuredType) -> Struct {
        let members = Self::members_of(self.beta, &self.family, t);
        let mut fields: Vec<Field> = Vec::new();
        let mut json_names = Vec::new();
        for m in &members {
            json_names.push(m.name.clone());
            for p in Self::own_and_inherited(self.beta, m) {
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
                    || (t.is_entity && self.beta.types.contains_key(local_name(&p.ty)))
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
        Struct {
            name: format!("{}RequestBody", pascal(&action.name)),
            json_names: vec![],
            doc: format!(
                "The body of the `{}` action (`POST /communications/calls/{{id}}/{}`).\n\n{}",
                action.name,
                action.name,
                action.description.clone().unwrap_or_default()
            ),
            fields,
            odata_type: false,
            required: action
                .parameters
                .iter()
                .filter(|p| !p.nullable)
                .map(|p| p.name.clone())
                .collect(),
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
                let beta_only = if v1.is_some_and(|v1| !v1.members.contains(m)) {
                    " *Beta only*: the v1.0 metadata lacks this member."
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
        let what = s
            .json_names
            .first()
            .cloned()
            .unwrap_or_else(|| "transfer request body".into());
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
        let mut out = String::from(
            "# Model versions: what v1.0 lacks\n\n\
             Generated by `cargo xtask codegen` from `graph-metadata/comms-beta.csdl.xml` and\n\
             `graph-metadata/comms-v1.0.csdl.xml`. Do not edit by hand.\n\n\
             The model is generated from the beta schema, the API the `call: transfer` page documents.\n\
             These are the properties and enum members that the v1.0 metadata does not declare. Fields\n\
             added by hand (not in either metadata) are listed last.\n\n## Properties\n\n\
             | struct | property |\n|---|---|\n",
        );
        for s in self.structs.iter().filter(|s| s.odata_type) {
            for f in &s.fields {
                if f.doc.contains("*Beta only*") {
                    let _ = writeln!(out, "| `{}` | `{}` |", s.name, f.json);
                }
            }
        }
        out.push_str("\n## Enum members\n\n| enum | member |\n|---|---|\n");
        for e in &self.enums {
            let v1 = self.v1.enums.get(&e.name);
            for m in &e.members {
                if v1.is_none_or(|v1| !v1.members.contains(m)) {
                    let _ = writeln!(out, "| `{}` | `{m}` |", pascal(&e.name));
                }
            }
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
