//! `cargo xtask codegen [--check]`: generates `graph-comms-model`'s types from Graph's CSDL.
//!
//! Input: `shared/graph-metadata/v1.0-full.csdl.xml` (Microsoft's whole v1.0 metadata) with the
//! communications types of `comms-beta.csdl.xml` laid over it (beta's descriptions, and the
//! members only beta has). Where the versions differ the union is kept, and
//! `docs/model-versions.md` says which version has what. Output:
//! `crates/graph-comms-model/src/generated/` and `docs/model-versions.md`.
//! `--check` fails when the committed output differs from what generation would write.
//!
//! How the Rust is written: each item is a `quote!` token stream (identifiers checked with `syn`,
//! metadata descriptions as `#[doc = "..."]` attributes), parsed into a `syn::File` and printed by
//! prettyplease (which prints the doc attributes as `///` lines), one blank line between items,
//! then formatted with rustfmt so that the committed files are what `cargo fmt` keeps.
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

use proc_macro2::{Ident, TokenStream};
use quote::quote;

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
    let header = format!(
        "//! Generated by cargo xtask codegen from graph-metadata/{V1} and {BETA}. Do not edit by \
         hand.\n\n"
    );
    let dir = PathBuf::from("crates/graph-comms-model/src/generated");
    let mut files = vec![
        (dir.join("mod.rs"), render(&header, model.module())?),
        (dir.join("enums.rs"), render(&header, model.enums()?)?),
        (dir.join("types.rs"), render(&header, model.structs(true)?)?),
        (
            dir.join("actions.rs"),
            render(&header, model.structs(false)?)?,
        ),
    ];
    files.push((
        PathBuf::from("docs/model-versions.md"),
        model.versions_doc(),
    ));
    Ok(files)
}

/// Formats with rustfmt: prettyplease's layout is close to rustfmt's but not the same, and the
/// committed files must be what `cargo fmt` keeps.
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

    fn module(&self) -> TokenStream {
        quote! {
            mod actions;
            mod enums;
            mod types;

            pub use actions::*;
            pub use enums::*;
            pub use types::*;
        }
    }

    fn enums(&self) -> Result<TokenStream, String> {
        let mut out = quote! { use std::fmt; };
        for e in &self.enums {
            out.extend(self.emit_enum(e)?);
        }
        Ok(out)
    }

    fn emit_enum(&self, e: &csdl::EnumType) -> Result<TokenStream, String> {
        let name = ident(&pascal(&e.name))?;
        let wire_name = &e.name;
        let v1 = self.v1.enums.get(&e.name);
        let beta = self.beta.enums.get(&e.name);
        let mut variants = Vec::new();
        let mut docs = Vec::new();
        for m in &e.members {
            let v = pascal(m);
            // `Unknown` is the catch-all variant.
            variants.push(ident(if v == "Unknown" { "UnknownValue" } else { &v })?);
            let version = if v1.is_some_and(|v1| !v1.members.contains(m)) {
                " *Beta only*: the v1.0 metadata lacks this member."
            } else if beta.is_some_and(|b| !b.members.contains(m)) {
                " *v1.0 only*: the beta metadata lacks this member."
            } else {
                ""
            };
            docs.push(doc(&format!("`{m}`.{version}")));
        }
        let wire = &e.members;
        let enum_doc = doc(&format!(
            "The `{wire_name}` enumeration of Microsoft Graph.\n\n\
             Values this version does not know are kept in [`Self::Unknown`], so a new value from\n\
             Graph never breaks a parse and is written back as it came."
        ));
        Ok(quote! {
            #enum_doc
            #[derive(Debug, Clone, PartialEq, Eq, Hash)]
            #[non_exhaustive]
            pub enum #name {
                #(#docs #variants,)*
                /// A value this version of the model does not know, kept verbatim.
                Unknown(String),
            }

            impl #name {
                /// Every value the metadata declares, as spelled on the wire.
                pub const KNOWN: &'static [&'static str] = &[#(#wire),*];

                /// The value as spelled on the wire.
                pub fn as_str(&self) -> &str {
                    match self {
                        #(Self::#variants => #wire,)*
                        Self::Unknown(s) => s,
                    }
                }

                /// Whether the value is one the metadata declares.
                pub fn is_known(&self) -> bool {
                    !matches!(self, Self::Unknown(_))
                }
            }

            impl From<&str> for #name {
                fn from(s: &str) -> Self {
                    match s {
                        #(#wire => Self::#variants,)*
                        other => Self::Unknown(other.to_owned()),
                    }
                }
            }

            impl From<String> for #name {
                fn from(s: String) -> Self {
                    match Self::from(s.as_str()) {
                        Self::Unknown(_) => Self::Unknown(s),
                        known => known,
                    }
                }
            }

            impl fmt::Display for #name {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(self.as_str())
                }
            }

            impl serde::Serialize for #name {
                fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                    serializer.serialize_str(self.as_str())
                }
            }

            impl<'de> serde::Deserialize<'de> for #name {
                fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    crate::wire::deserialize_enum(deserializer, #wire_name)
                }
            }
        })
    }

    /// The structs of the metadata's types (`odata_type`) or of the actions' bodies (not).
    fn structs(&self, odata_type: bool) -> Result<TokenStream, String> {
        let mut out = quote! { use crate::*; };
        for s in self.structs.iter().filter(|s| s.odata_type == odata_type) {
            out.extend(emit_struct(s)?);
        }
        Ok(out)
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

/// A struct, its visitor (one pass over the object; unknown keys kept; errors name the field),
/// its `Deserialize` and the aliases of the types merged into it.
fn emit_struct(s: &Struct) -> Result<TokenStream, String> {
    let name = ident(&s.name)?;
    let visitor = ident(&format!("{}Visitor", s.name))?;
    let struct_doc = doc(&escape_doc_text(&s.doc));
    let visitor_doc = doc(&format!(
        "Reads a [`{}`] from a JSON object (unknown members kept).",
        s.name
    ));
    let expecting = format!("a JSON object ({})", s.what);
    let (mut decls, mut required_lets, mut optional_lets, mut arms, mut inits) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    if s.odata_type {
        decls.push(quote! {
            /// The `@odata.type` annotation, as received or as set; `None` writes none.
            #[serde(rename = "@odata.type", skip_serializing_if = "Option::is_none")]
            pub odata_type: Option<String>,
        });
        arms.push(quote! {
            "@odata.type" => odata_type = crate::wire::field(&mut map, "@odata.type")?,
        });
        inits.push(quote! { odata_type, });
    }
    for f in &s.fields {
        let field_doc = doc(&escape_doc_text(&f.doc));
        let field = ident(&f.rust_name)?;
        let ty = rust_type_tokens(&f.rust_ty)?;
        let json = &f.json;
        if s.required.contains(&f.json) {
            decls.push(quote! {
                #field_doc
                #[serde(rename = #json)]
                pub #field: #ty,
            });
            required_lets.push(quote! { let mut #field: Option<#ty> = None; });
            inits.push(quote! {
                #field: #field.ok_or_else(|| <A::Error as serde::de::Error>::missing_field(#json))?,
            });
        } else {
            decls.push(quote! {
                #field_doc
                #[serde(rename = #json, skip_serializing_if = "Option::is_none")]
                pub #field: Option<#ty>,
            });
            optional_lets.push(quote! { let mut #field = None; });
            inits.push(quote! { #field, });
        }
        arms.push(quote! { #json => #field = crate::wire::field(&mut map, #json)?, });
    }
    let odata_let = s.odata_type.then(|| quote! { let mut odata_type = None; });
    let mut aliases = Vec::new();
    for alias in s.json_names.iter().skip(1) {
        let alias_doc = doc(&format!(
            "`{alias}`, derived from `{}`: its fields are part of [`{}`].",
            s.json_names[0], s.name
        ));
        let alias = ident(&pascal(alias))?;
        aliases.push(quote! {
            #alias_doc
            pub type #alias = #name;
        });
    }
    Ok(quote! {
        #struct_doc
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
        pub struct #name {
            #(#decls)*
            /// Properties the model does not declare, kept and written back as they came.
            #[serde(flatten)]
            pub additional_data: serde_json::Map<String, serde_json::Value>,
        }

        #visitor_doc
        #[derive(Debug, Clone, Copy, Default)]
        pub(crate) struct #visitor;

        impl<'de> serde::de::Visitor<'de> for #visitor {
            type Value = #name;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(#expecting)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                #(#required_lets)*
                let mut additional_data = serde_json::Map::new();
                #odata_let
                #(#optional_lets)*
                while let Some(key) = map.next_key::<crate::wire::Key<'de>>()? {
                    match key.as_str() {
                        #(#arms)*
                        _ => crate::wire::keep(&mut map, key, &mut additional_data)?,
                    }
                }
                Ok(#name {
                    #(#inits)*
                    additional_data,
                })
            }
        }

        impl<'de> serde::Deserialize<'de> for #name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_map(#visitor)
            }
        }

        #(#aliases)*
    })
}

/// Prints generated items: the header, then each item as prettyplease prints it, with a blank
/// line between items (none between consecutive `mod`s or `use`s), then through rustfmt so that
/// the committed file is what `cargo fmt` keeps.
fn render(header: &str, tokens: TokenStream) -> Result<String, String> {
    let file: syn::File =
        syn::parse2(tokens).map_err(|e| format!("generated code does not parse: {e}"))?;
    let mut out = header.to_owned();
    let mut previous = None;
    for (i, item) in file.items.into_iter().enumerate() {
        let group = match &item {
            syn::Item::Mod(_) => Some("mod"),
            syn::Item::Use(_) => Some("use"),
            _ => None,
        };
        if i > 0 && (group.is_none() || group != previous) {
            out.push('\n');
        }
        previous = group;
        let text = prettyplease::unparse(&syn::File {
            shebang: None,
            frontmatter: None,
            attrs: Vec::new(),
            items: vec![item],
        });
        space_impl_items(&text, &mut out);
    }
    rustfmt(&out)
}

/// Appends `code` to `out` with a blank line before each documented item of a block (an `impl`'s
/// constants and methods) that follows another item: prettyplease writes no blank line inside a
/// block, and rustfmt keeps those it finds.
fn space_impl_items(code: &str, out: &mut String) {
    let item_level = |line: &str| line.starts_with("    ") && !line.starts_with("     ");
    let mut previous = "";
    for line in code.lines() {
        let ends_item =
            item_level(previous) && (previous.ends_with('}') || previous.ends_with(';'));
        if ends_item && item_level(line) && line.trim_start().starts_with("///") {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
        previous = line;
    }
}

/// A Rust identifier (`r#type` for a keyword), or an error naming the metadata's spelling.
fn ident(name: &str) -> Result<Ident, String> {
    syn::parse_str(name).map_err(|e| format!("{name:?} is not a Rust identifier: {e}"))
}

/// The tokens of a field type spelled as Rust (`Option<Box<crate::WireInt>>`); the parse of the
/// whole file checks that they are a type.
fn rust_type_tokens(ty: &str) -> Result<TokenStream, String> {
    ty.parse()
        .map_err(|e| format!("{ty:?} is not a Rust type: {e}"))
}

/// `#[doc = "..."]` attributes, one per line of `text` (prettyplease prints them as `///` lines).
fn doc(text: &str) -> TokenStream {
    let lines = text.lines().map(|line| {
        if line.is_empty() {
            String::new()
        } else {
            format!(" {line}")
        }
    });
    quote! { #(#[doc = #lines])* }
}

/// Documentation text whose lines cannot trip rustdoc's lints (HTML tags, links, bare URLs).
fn escape_doc_text(text: &str) -> String {
    text.lines().map(escape_doc).collect::<Vec<_>>().join("\n")
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

    #[test]
    fn identifiers_and_types_are_checked_not_trusted() {
        assert_eq!(
            super::ident("r#type").map(|i| i.to_string()),
            Ok("r#type".into())
        );
        let e = super::ident("@odata.type").expect_err("not an identifier");
        assert!(e.contains("\"@odata.type\""), "{e}");
        assert!(super::ident("type").is_err(), "a bare keyword is refused");
        assert!(super::rust_type_tokens("Option<Box<crate::WireInt>>").is_ok());
        let e = super::rust_type_tokens("Vec<\"x").expect_err("unterminated string");
        assert!(e.contains("not a Rust type"), "{e}");
    }

    /// Doc attributes print as `///` lines; items are one blank line apart (none between `mod`s
    /// or `use`s), and so are the documented items of an `impl`.
    #[test]
    fn rendered_code_reads_as_written_by_hand() {
        let mut tokens = quote::quote! {
            mod a;
            mod b;
            pub use a::*;
            pub use b::*;
            struct S;
            impl S {
                /// One.
                const ONE: u8 = 1;
                /// Two.
                fn two() -> u8 { 2 }
                /// Three.
                fn three() -> u8 { 3 }
            }
        };
        tokens.extend(super::doc("A `doc` line.\n\nAfter a blank line."));
        tokens.extend(quote::quote! { struct T; });
        let text = super::render("//! Header.\n\n", tokens).expect("renders");
        assert_eq!(
            text,
            "//! Header.\n\nmod a;\nmod b;\n\npub use a::*;\npub use b::*;\n\nstruct S;\n\n\
             impl S {\n    /// One.\n    const ONE: u8 = 1;\n\n    /// Two.\n    fn two() -> u8 {\n        \
             2\n    }\n\n    /// Three.\n    fn three() -> u8 {\n        3\n    }\n}\n\n\
             /// A `doc` line.\n///\n/// After a blank line.\nstruct T;\n"
        );
    }

    /// Code that does not parse is an error naming it, not a panic.
    #[test]
    fn unparsable_output_is_an_error() {
        let e = super::render("", quote::quote! { struct; }).expect_err("not Rust");
        assert!(e.contains("does not parse"), "{e}");
    }
}
