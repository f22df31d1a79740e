//! Reads the parts of a CSDL (OData metadata) document that code generation needs.

use std::collections::BTreeMap;

/// An `EnumType`.
#[derive(Debug, Clone)]
pub(crate) struct EnumType {
    pub(crate) name: String,
    pub(crate) members: Vec<String>,
}

/// A `Property` of a structured type.
#[derive(Debug, Clone)]
pub(crate) struct Property {
    pub(crate) name: String,
    /// The CSDL type, e.g. `Edm.String`, `graph.identity`, `Collection(graph.modality)`.
    pub(crate) ty: String,
    pub(crate) description: Option<String>,
}

/// An `EntityType` or a `ComplexType`.
#[derive(Debug, Clone)]
pub(crate) struct StructuredType {
    pub(crate) name: String,
    pub(crate) is_entity: bool,
    pub(crate) base: Option<String>,
    pub(crate) is_abstract: bool,
    pub(crate) open: bool,
    pub(crate) properties: Vec<Property>,
}

/// A bound `Action` parameter (the binding parameter is left out).
#[derive(Debug, Clone)]
pub(crate) struct Parameter {
    pub(crate) name: String,
    pub(crate) ty: String,
    pub(crate) nullable: bool,
}

/// A bound `Action`.
#[derive(Debug, Clone)]
pub(crate) struct Action {
    pub(crate) name: String,
    /// The type the action is bound to (`call`, `participant`, ...), without the alias.
    pub(crate) binding: String,
    pub(crate) description: Option<String>,
    pub(crate) parameters: Vec<Parameter>,
    /// The `ReturnType`, if any (e.g. `graph.playPromptOperation`).
    pub(crate) return_type: Option<String>,
}

/// The `microsoft.graph` schema of one CSDL file.
#[derive(Debug, Default)]
pub(crate) struct Schema {
    pub(crate) enums: BTreeMap<String, EnumType>,
    pub(crate) types: BTreeMap<String, StructuredType>,
    /// Bound actions by `(binding type, name)`: names repeat across bindings (`redirect` is an
    /// action of `call` and of `printJob`).
    pub(crate) actions: BTreeMap<(String, String), Action>,
}

const EDM: &str = "http://docs.oasis-open.org/odata/ns/edm";
const DESCRIPTION: &str = "Org.OData.Core.V1.Description";

fn description(node: roxmltree::Node<'_, '_>) -> Option<String> {
    node.children()
        .filter(|c| c.has_tag_name((EDM, "Annotation")))
        .find(|c| c.attribute("Term") == Some(DESCRIPTION))
        .and_then(|c| c.attribute("String"))
        .map(str::to_owned)
}

/// Strips the `graph.` alias (or the full namespace) from a type reference.
pub(crate) fn local_name(ty: &str) -> &str {
    ty.strip_prefix("graph.")
        .or_else(|| ty.strip_prefix("microsoft.graph."))
        .unwrap_or(ty)
}

/// Parses a CSDL document.
pub(crate) fn parse(xml: &str) -> Result<Schema, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("CSDL is not XML: {e}"))?;
    let schema = doc
        .descendants()
        .find(|n| {
            n.has_tag_name((EDM, "Schema")) && n.attribute("Namespace") == Some("microsoft.graph")
        })
        .ok_or("CSDL has no microsoft.graph Schema")?;
    let mut out = Schema::default();
    for node in schema.children().filter(|n| n.is_element()) {
        let name = node.attribute("Name").unwrap_or_default().to_owned();
        match node.tag_name().name() {
            "EnumType" => {
                let members = node
                    .children()
                    .filter(|c| c.has_tag_name((EDM, "Member")))
                    .filter_map(|c| c.attribute("Name").map(str::to_owned))
                    .collect();
                out.enums.insert(name.clone(), EnumType { name, members });
            }
            tag @ ("EntityType" | "ComplexType") => {
                let properties = node
                    .children()
                    .filter(|c| c.has_tag_name((EDM, "Property")))
                    .map(|c| Property {
                        name: c.attribute("Name").unwrap_or_default().to_owned(),
                        ty: c.attribute("Type").unwrap_or_default().to_owned(),
                        description: description(c),
                    })
                    .collect();
                let ty = StructuredType {
                    name: name.clone(),
                    is_entity: tag == "EntityType",
                    base: node.attribute("BaseType").map(|b| local_name(b).to_owned()),
                    is_abstract: node.attribute("Abstract") == Some("true"),
                    open: node.attribute("OpenType") == Some("true"),
                    properties,
                };
                out.types.insert(name, ty);
            }
            "Action" => {
                let parameters = node
                    .children()
                    .filter(|c| c.has_tag_name((EDM, "Parameter")))
                    .filter(|c| {
                        !matches!(
                            c.attribute("Name"),
                            Some("bindingParameter" | "bindparameter")
                        )
                    })
                    .map(|c| Parameter {
                        name: c.attribute("Name").unwrap_or_default().to_owned(),
                        ty: c.attribute("Type").unwrap_or_default().to_owned(),
                        nullable: c.attribute("Nullable") != Some("false"),
                    })
                    .collect();
                let binding = node
                    .children()
                    .filter(|c| c.has_tag_name((EDM, "Parameter")))
                    .find(|c| {
                        matches!(
                            c.attribute("Name"),
                            Some("bindingParameter" | "bindparameter")
                        )
                    })
                    .and_then(|c| c.attribute("Type"))
                    .map(|t| local_name(t).to_owned())
                    .unwrap_or_default();
                let return_type = node
                    .children()
                    .find(|c| c.has_tag_name((EDM, "ReturnType")))
                    .and_then(|c| c.attribute("Type"))
                    .map(str::to_owned);
                let description = node
                    .descendants()
                    .filter(|c| c.has_tag_name((EDM, "PropertyValue")))
                    .find(|c| c.attribute("Property") == Some("LongDescription"))
                    .and_then(|c| c.attribute("String"))
                    .map(str::to_owned);
                out.actions.insert(
                    (binding.clone(), name.clone()),
                    Action {
                        name,
                        binding,
                        description,
                        parameters,
                        return_type,
                    },
                );
            }
            _ => {}
        }
    }
    Ok(out)
}
