//! The schemas Portcullis serves (RFC 7643 §4 and §8.7): what each
//! attribute is, as `/Schemas` publishes it and as incoming documents are
//! read against it. Only attributes Portcullis keeps are published, so a
//! client (or a compliance checker) never writes a value that is dropped.

use serde_json::{json, Value};

/// The core User schema (RFC 7643 §4.1).
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema (RFC 7643 §4.2).
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// A list response (RFC 7644 §3.4.2).
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// A PATCH request (RFC 7644 §3.5.2).
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// A search request (RFC 7644 §3.4.3).
pub const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// An error response (RFC 7644 §3.12).
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// A string.
    String,
    /// `true` or `false`.
    Boolean,
    /// A URI reference to a resource or elsewhere.
    Reference,
    /// A set of sub-attributes.
    Complex,
}

/// Whether and how an attribute may be changed (RFC 7643 §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    /// Set by the service provider only.
    ReadOnly,
    /// Set and changed by the client.
    ReadWrite,
    /// Set once, never changed.
    Immutable,
}

/// One attribute of a schema.
#[derive(Debug)]
pub struct Attr {
    /// Its name, in the schema's case.
    pub name: &'static str,
    /// Its type.
    pub ty: Type,
    /// Whether it holds a list.
    pub multi: bool,
    /// Whether a resource must have it.
    pub required: bool,
    /// Whether string comparisons are case-sensitive.
    pub case_exact: bool,
    /// Who may change it.
    pub mutability: Mutability,
    /// `server` when no two resources of an organization may share it.
    pub unique: bool,
    /// Returned only when `attributes` names it (`returned: request`).
    pub on_request: bool,
    /// What it says, for `/Schemas`.
    pub description: &'static str,
    /// Its sub-attributes, for a complex attribute.
    pub sub: &'static [Attr],
    /// The values `type` sub-attributes suggest.
    pub canonical: &'static [&'static str],
    /// What a reference may point at.
    pub reference_types: &'static [&'static str],
}

const fn attr(name: &'static str, ty: Type, description: &'static str) -> Attr {
    Attr {
        name,
        ty,
        multi: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        unique: false,
        on_request: false,
        description,
        sub: &[],
        canonical: &[],
        reference_types: &[],
    }
}

impl Attr {
    const fn multi(mut self) -> Self {
        self.multi = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn read_only(mut self) -> Self {
        self.mutability = Mutability::ReadOnly;
        self
    }
    const fn immutable(mut self) -> Self {
        self.mutability = Mutability::Immutable;
        self
    }
    const fn unique(mut self) -> Self {
        self.unique = true;
        self
    }
    const fn on_request(mut self) -> Self {
        self.on_request = true;
        self
    }
    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn sub(mut self, sub: &'static [Attr]) -> Self {
        self.sub = sub;
        self
    }
    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical = values;
        self
    }
    const fn refs(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }

    /// The sub-attribute `name` (any case).
    pub fn sub_attr(&self, name: &str) -> Option<&'static Attr> {
        self.sub.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn to_json(&self) -> Value {
        let mut a = json!({
            "name": self.name,
            "type": match self.ty { Type::String => "string", Type::Boolean => "boolean", Type::Reference => "reference", Type::Complex => "complex" },
            "multiValued": self.multi,
            "description": self.description,
            "required": self.required,
            "mutability": match self.mutability { Mutability::ReadOnly => "readOnly", Mutability::ReadWrite => "readWrite", Mutability::Immutable => "immutable" },
            "returned": if self.on_request { "request" } else { "default" },
            "uniqueness": if self.unique { "server" } else { "none" },
        });
        if matches!(self.ty, Type::String | Type::Reference) {
            a["caseExact"] = Value::Bool(self.case_exact);
        }
        if !self.canonical.is_empty() {
            a["canonicalValues"] = json!(self.canonical);
        }
        if !self.reference_types.is_empty() {
            a["referenceTypes"] = json!(self.reference_types);
        }
        if !self.sub.is_empty() {
            a["subAttributes"] = Value::Array(self.sub.iter().map(Attr::to_json).collect());
        }
        a
    }
}

/// A schema: a named set of attributes.
#[derive(Debug)]
pub struct Schema {
    /// Its URN.
    pub id: &'static str,
    /// Its name.
    pub name: &'static str,
    /// What it describes.
    pub description: &'static str,
    /// Its attributes.
    pub attrs: &'static [Attr],
}

impl Schema {
    /// The attribute `name` (any case).
    pub fn attr(&self, name: &str) -> Option<&'static Attr> {
        self.attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The schema as `/Schemas/{id}` serves it; `base` is the SCIM base URL.
    pub fn to_json(&self, base: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attrs.iter().map(Attr::to_json).collect::<Vec<_>>(),
            "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{}", self.id) },
        })
    }
}

const EMAIL_SUB: &[Attr] = &[
    attr("value", Type::String, "The e-mail address."),
    attr("type", Type::String, "What the address is for.").canonical(&["work", "home", "other"]),
    attr("primary", Type::Boolean, "Whether it is the preferred address (at most one is)."),
];

const NAME_SUB: &[Attr] = &[
    attr("formatted", Type::String, "The full name, formatted for display."),
    attr("familyName", Type::String, "The family name."),
    attr("givenName", Type::String, "The given name."),
];

const USER_GROUP_SUB: &[Attr] = &[
    attr("value", Type::String, "The group's id.").read_only(),
    attr("$ref", Type::Reference, "The group's URI.").read_only().refs(&["Group"]),
    attr("display", Type::String, "The group's displayName.").read_only(),
];

/// The core User schema, as far as Portcullis keeps it.
pub static USER: Schema = Schema {
    id: USER_URN,
    name: "User",
    description: "A person who may sign in to Portcullis.",
    attrs: &[
        attr("userName", Type::String, "The identifier the person signs in with, unique in the organization; usually their e-mail address or UPN.").required().unique(),
        attr("name", Type::Complex, "The person's name.").sub(NAME_SUB),
        attr("displayName", Type::String, "The name shown for the person."),
        attr("title", Type::String, "The person's title."),
        attr("active", Type::Boolean, "Whether the person may sign in and use the organization; false ends every session and login at once."),
        attr("emails", Type::Complex, "E-mail addresses; the primary (or first work) one is the account's address.").multi().sub(EMAIL_SUB),
        attr("groups", Type::Complex, "The groups the person belongs to (set through the groups' members).").multi().read_only().sub(USER_GROUP_SUB),
    ],
};

const MANAGER_SUB: &[Attr] = &[
    attr("value", Type::String, "The manager's id."),
    attr("$ref", Type::Reference, "The manager's URI.").refs(&["User"]),
    attr("displayName", Type::String, "The manager's displayName.").read_only(),
];

/// The enterprise User extension.
pub static ENTERPRISE_USER: Schema = Schema {
    id: ENTERPRISE_URN,
    name: "EnterpriseUser",
    description: "Attributes of a person in a company.",
    attrs: &[
        attr("employeeNumber", Type::String, "The person's employee number."),
        attr("costCenter", Type::String, "The cost center."),
        attr("organization", Type::String, "The organization."),
        attr("division", Type::String, "The division."),
        attr("department", Type::String, "The department."),
        attr("manager", Type::Complex, "The person's manager.").sub(MANAGER_SUB),
    ],
};

const MEMBER_SUB: &[Attr] = &[
    attr("value", Type::String, "The member's id.").immutable(),
    attr("$ref", Type::Reference, "The member's URI.").immutable().refs(&["User"]),
    attr("type", Type::String, "The member's resource type.").immutable().canonical(&["User"]),
    attr("display", Type::String, "The member's displayName (returned when asked for: attributes=members.display).").read_only().on_request(),
];

/// The core Group schema. Members are people only (no nested groups).
pub static GROUP: Schema = Schema {
    id: GROUP_URN,
    name: "Group",
    description: "A group of people, which rules can turn into an organization role.",
    attrs: &[
        attr("displayName", Type::String, "The group's name, unique in the organization.").required().unique(),
        attr("members", Type::Complex, "The people in the group.").multi().sub(MEMBER_SUB),
    ],
};

/// `externalId`, common to every resource (RFC 7643 §3.1): the client's own
/// id for it, compared case-sensitively.
pub static EXTERNAL_ID: Attr = attr("externalId", Type::String, "The provisioning client's id for the resource.").case_exact();

/// A resource type Portcullis serves (RFC 7643 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    /// `/Users`.
    User,
    /// `/Groups`.
    Group,
}

impl ResourceKind {
    /// The resource type's name (`meta.resourceType`).
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }
    /// Its endpoint, relative to the base URL.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }
    /// Its core schema.
    pub fn schema(self) -> &'static Schema {
        match self {
            ResourceKind::User => &USER,
            ResourceKind::Group => &GROUP,
        }
    }
    /// Its schema extensions.
    pub fn extensions(self) -> &'static [&'static Schema] {
        static USER_EXTENSIONS: [&Schema; 1] = [&ENTERPRISE_USER];
        match self {
            ResourceKind::User => &USER_EXTENSIONS,
            ResourceKind::Group => &[],
        }
    }

    /// The resource type as `/ResourceTypes/{name}` serves it.
    pub fn to_json(self, base: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.name(),
            "name": self.name(),
            "endpoint": self.endpoint(),
            "description": self.schema().description,
            "schema": self.schema().id,
            "schemaExtensions": self.extensions().iter().map(|s| json!({ "schema": s.id, "required": false })).collect::<Vec<_>>(),
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", self.name()) },
        })
    }
}

/// Every schema served, for `/Schemas`.
pub fn all_schemas() -> [&'static Schema; 3] {
    [&USER, &ENTERPRISE_USER, &GROUP]
}

/// The service provider configuration (RFC 7643 §5). `max_results` caps a
/// page; `etag` is announced because every resource has a version.
pub fn service_provider_config(base: &str, max_results: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": max_results },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A SCIM token created in the admin panel (Sign-in settings, Provisioning) or with POST /api/v1/scim/tokens, sent as Authorization: Bearer.",
            "primary": true,
        }],
        "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig") },
    })
}
