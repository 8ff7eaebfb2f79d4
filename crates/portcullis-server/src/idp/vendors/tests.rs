use super::*;
use crate::config::sso::*;
use crate::config::vendors::settings_for;
use crate::config::{optional, ConfigError, Env};

/// The provider `AUTH_PROVIDER` names: `None` for the built-in `local` provider.
fn from_env(env: &Env) -> Result<Option<OidcSettings>, ConfigError> {
    let provider = optional(env, "AUTH_PROVIDER").unwrap_or_else(|| "local".into());
    settings_for("AUTH_PROVIDER", &provider, env)
}

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const OKTA: &[(&str, &str)] = &[
    ("AUTH_PROVIDER", "okta"),
    ("OKTA_CLIENT_ID", "0oa1"),
    ("OKTA_CLIENT_SECRET", "s3cret"),
    ("OKTA_SITE", "https://acme.okta.com"),
    ("OKTA_AUTHORIZATION_SERVER", "default"),
    ("OKTA_AUDIENCE", "api://default"),
];
const ENTRA: &[(&str, &str)] = &[
    ("AUTH_PROVIDER", "entra_id"),
    ("ENTRA_ID_CLIENT_ID", "app-id"),
    ("ENTRA_ID_CLIENT_SECRET", "s3cret"),
    ("ENTRA_ID_TENANT_ID", "tenant-1"),
];
const KEYCLOAK: &[(&str, &str)] = &[
    ("AUTH_PROVIDER", "keycloak"),
    ("KEYCLOAK_CLIENT_ID", "crewai-factory"),
    ("KEYCLOAK_CLIENT_SECRET", "s3cret"),
    ("KEYCLOAK_SITE", "https://kc.example.com"),
    ("KEYCLOAK_REALM", "factory"),
    ("KEYCLOAK_AUDIENCE", "account"),
];
const AUTH0: &[(&str, &str)] = &[
    ("AUTH_PROVIDER", "auth0"),
    ("AUTH0_CLIENT_ID", "abc"),
    ("AUTH0_CLIENT_SECRET", "s3cret"),
    ("AUTH0_DOMAIN", "acme.auth0.com"),
];
const WORKOS: &[(&str, &str)] = &[("AUTH_PROVIDER", "workos"), ("WORKOS_CLIENT_ID", "client_1"), ("WORKOS_AUTHKIT_DOMAIN", "acme.authkit.com")];

#[test]
fn local_is_the_default() {
    assert!(from_env(&Env::new()).unwrap().is_none());
    assert!(from_env(&env(&[("AUTH_PROVIDER", "local")])).unwrap().is_none());
}

#[test]
fn issuers_follow_each_vendor_layout() {
    let o = from_env(&env(OKTA)).unwrap().unwrap();
    assert_eq!(o.issuer, "https://acme.okta.com/oauth2/default");
    assert_eq!(o.discovery_url.as_str(), "https://acme.okta.com/oauth2/default/.well-known/openid-configuration");
    assert_eq!(o.cli_domain, "acme.okta.com");
    assert_eq!(o.cli_extra, serde_json::json!({"authorization_server_name": "default", "using_org_auth_server": false}));
    let mut org = env(OKTA);
    org.insert("OKTA_AUTHORIZATION_SERVER".into(), "org".into());
    let o = from_env(&org).unwrap().unwrap();
    assert_eq!(o.issuer, "https://acme.okta.com");
    assert_eq!(o.cli_extra["using_org_auth_server"], true);

    let mut e = env(ENTRA);
    e.insert("ENTRA_ID_CUSTOM_OPENID_SCOPE".into(), "api://crewai-cli/read".into());
    let e = from_env(&e).unwrap().unwrap();
    assert_eq!(e.issuer, "https://login.microsoftonline.com/tenant-1/v2.0");
    assert_eq!(e.audience.as_ref().map(|a| a.as_str()), Some("api://crewai-cli"));
    assert_eq!(e.cli_domain, "tenant-1");
    assert_eq!(e.roles_claim, "roles");
    let mut gov = env(ENTRA);
    gov.insert("ENTRA_ID_AUTHORITY_HOST".into(), "https://login.microsoftonline.us".into());
    assert_eq!(from_env(&gov).unwrap().unwrap().issuer, "https://login.microsoftonline.us/tenant-1/v2.0");

    let k = from_env(&env(KEYCLOAK)).unwrap().unwrap();
    assert_eq!(k.issuer, "https://kc.example.com/realms/factory");
    assert_eq!(k.cli_domain, "kc.example.com");
    assert_eq!(k.roles_claim, "realm_access.roles");
    let mut old = env(KEYCLOAK);
    old.insert("KEYCLOAK_BASE_URL".into(), "/auth".into());
    let k = from_env(&old).unwrap().unwrap();
    assert_eq!(k.issuer, "https://kc.example.com/auth/realms/factory");
    assert_eq!(k.cli_domain, "kc.example.com/auth");

    let a = from_env(&env(AUTH0)).unwrap().unwrap();
    assert_eq!(a.issuer, "https://acme.auth0.com/");
    assert_eq!(a.discovery_url.as_str(), "https://acme.auth0.com/.well-known/openid-configuration");

    let w = from_env(&env(WORKOS)).unwrap().unwrap();
    assert_eq!(w.issuer, "https://acme.authkit.com");
    assert!(w.client_secret.is_none());
    assert_eq!(w.device_client_id.as_ref().map(|c| c.as_str()), Some("client_1"));
}

#[test]
fn each_missing_required_variable_is_named_with_where_to_find_it() {
    for (set, where_) in [(OKTA, "Okta"), (ENTRA, "App registrations"), (KEYCLOAK, "Keycloak"), (AUTH0, "Auth0"), (WORKOS, "WorkOS")] {
        for (var, _) in set.iter().filter(|(k, _)| *k != "AUTH_PROVIDER" && *k != "KEYCLOAK_AUDIENCE") {
            let mut e = env(set);
            e.remove(*var);
            let err = from_env(&e).unwrap_err();
            assert_eq!(err.var, *var);
            let text = err.to_string();
            assert!(text.contains("is missing"), "{text}");
            assert!(text.contains("example: "), "{text}");
            let _ = where_;
        }
    }
}

#[test]
fn malformed_values_are_refused() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (OKTA, "OKTA_SITE", "http://acme.okta.com"),
        (OKTA, "OKTA_SITE", "ftp://acme.okta.com"),
        (OKTA, "OKTA_AUTHORIZATION_SERVER", "a/b"),
        (KEYCLOAK, "KEYCLOAK_BASE_URL", "auth"),
        (KEYCLOAK, "KEYCLOAK_REALM", "a b"),
        (ENTRA, "ENTRA_ID_TENANT_ID", "x/y"),
        (ENTRA, "ENTRA_ID_AUTHORITY_HOST", "http://login.example.com"),
        (WORKOS, "WORKOS_AUTHKIT_DOMAIN", "https://x.example?q=1"),
        (&[("AUTH_PROVIDER", "github")], "AUTH_PROVIDER", "github"),
    ];
    for (set, var, value) in cases {
        let mut e = env(set);
        e.insert(var.to_string(), value.to_string());
        let err = from_env(&e).unwrap_err();
        assert_eq!(err.var, *var, "{value}: {err}");
    }
    // Loopback hosts may use plain http, so that tests run against local IdPs.
    let mut e = env(OKTA);
    e.insert("OKTA_SITE".into(), "http://127.0.0.1:9000".into());
    let o = from_env(&e).unwrap().unwrap();
    assert_eq!(o.issuer, "http://127.0.0.1:9000/oauth2/default");
    assert_eq!(o.cli_domain, "127.0.0.1:9000");
    let mut e = env(KEYCLOAK);
    e.insert("PORTCULLIS_ROLES_CLAIM".into(), "resource_access.crewai-factory.roles".into());
    assert_eq!(from_env(&e).unwrap().unwrap().roles_claim, "resource_access.crewai-factory.roles");
}

#[test]
fn client_secrets_stay_out_of_debug() {
    let o = from_env(&env(OKTA)).unwrap().unwrap();
    assert!(!format!("{o:?}").contains("s3cret"));
}

#[test]
fn several_providers_for_a_chooser() {
    let mut e = env(OKTA);
    e.extend(env(KEYCLOAK));
    e.insert("PORTCULLIS_AUTH_PROVIDERS".into(), "okta, keycloak,local".into());
    let c = SsoConfig::from_env(&e).unwrap();
    assert_eq!(c.providers.iter().map(|p| p.provider).collect::<Vec<_>>(), ["okta", "keycloak"]);
    assert!(c.local);
    // AUTH_PROVIDER alone keeps the single-provider behaviour.
    let c = SsoConfig::from_env(&env(ENTRA)).unwrap();
    assert!(!c.local);
    assert!(c.providers[0].require_role, "Entra ID requires an app role by default");
    assert!(!SsoConfig::from_env(&env(OKTA)).unwrap().providers[0].require_role);
    e.insert("PORTCULLIS_AUTH_PROVIDERS".into(), "okta,okta".into());
    assert!(SsoConfig::from_env(&e).unwrap_err().problem.contains("twice"));
    e.insert("PORTCULLIS_AUTH_PROVIDERS".into(), "okta,auth0".into());
    assert_eq!(SsoConfig::from_env(&e).unwrap_err().var, "AUTH0_CLIENT_ID", "each listed provider's variables are required");
}

#[test]
fn role_mapping_parses_and_refuses_nonsense() {
    let rules = RoleRule::parse_list("factory-admin=Owner, eng=Developer@Acme Corp,*=Member").unwrap();
    assert_eq!(rules[1], RoleRule { idp_role: "eng".into(), role: RoleTarget::Key("developer".into()), org: Some("Acme Corp".into()) });
    assert_eq!(rules[0].role, RoleTarget::Predefined(portcullis_domain::RoleKind::Owner));
    assert_eq!(rules[2].idp_role, "*");
    assert_eq!(rules[2].role, RoleTarget::Predefined(portcullis_domain::RoleKind::Member));
    let id = uuid::Uuid::new_v4();
    assert_eq!(RoleRule::parse_list(&format!("ops={id}")).unwrap()[0].role, RoleTarget::Id(portcullis_domain::RoleId(id)));
    for bad in ["owner", "=Owner", "x=", "x=Owner@"] {
        let e = RoleRule::parse_list(bad).unwrap_err();
        assert_eq!(e.var, "PORTCULLIS_ROLE_MAPPING", "{bad}");
    }
}

#[test]
fn roles_are_read_from_each_vendors_claim() {
    let claims = serde_json::json!({
        "groups": ["member"], "roles": "factory-admin member",
        "realm_access": {"roles": ["member"]}, "resource_access": {"crewai-factory": {"roles": ["factory-admin"]}},
        "https://portcullis/roles": ["member"],
    });
    assert_eq!(claim_strings(&claims, "groups"), ["member"]);
    assert_eq!(claim_strings(&claims, "roles"), ["factory-admin", "member"]);
    assert_eq!(claim_strings(&claims, "https://portcullis/roles"), ["member"], "a claim name with dots is found whole");
    let k = from_env(&env(KEYCLOAK)).unwrap().unwrap();
    assert_eq!(k.vendor().roles(&k, &claims), ["factory-admin", "member"], "realm and client roles");
    assert!(claim_strings(&claims, "missing.path").is_empty());
}

#[test]
fn entra_error_codes_are_explained() {
    let e = from_env(&env(ENTRA)).unwrap().unwrap();
    use crate::idp::error::SignInError;
    let Some(SignInError::Vendor { cause, fix }) = e.vendor().explain_error("consent_required", "AADSTS65001: The user or administrator has not consented") else {
        panic!("AADSTS65001 is explained")
    };
    assert!(cause.contains("needs admin approval") && fix.contains("Grant admin consent"));
    assert!(matches!(e.vendor().explain_error("access_denied", "AADSTS50105: not assigned"), Some(SignInError::Vendor { cause, .. }) if cause.contains("not assigned")));
    assert_eq!(e.vendor().explain_error("invalid_request", "AADSTS50011: The redirect URI does not match"), Some(SignInError::RedirectUriMismatch));
    assert!(e.vendor().explain_error("x", "something else").is_none());
}
