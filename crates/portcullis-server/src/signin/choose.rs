//! `GET /auth/login`: the ways of signing in this server offers.


#[derive(serde::Deserialize)]
pub struct SignInQuery {
    return_to: Option<String>,
}

/// `GET /auth/login`: the way in. With one way of signing in it goes there
/// directly (the platform's single-provider behaviour); with several
/// (`PORTCULLIS_AUTH_PROVIDERS`) it offers a choice.
pub async fn sign_in_page(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    headers: axum::http::HeaderMap,
    axum::extract::Query(q): axum::extract::Query<SignInQuery>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let rt = portcullis_domain::validation::safe_return_to(q.return_to.as_deref(), &state.config.public_origin());
    let query = if rt == "/" { String::new() } else { format!("?{}", serde_urlencoded::to_string([("return_to", rt.as_str())]).unwrap_or_default()) };
    let mut ways: Vec<(String, String)> =
        state.sso.providers().iter().map(|p| (format!("/auth/{}/login{query}", p.name()), format!("Sign in with {}", p.display_name()))).collect();
    if state.config.sso.local {
        ways.push((format!("/auth/local/login{query}"), "Sign in with a Portcullis password".into()));
    }
    if crate::error::wants_json(&headers) {
        let list: Vec<_> = ways.iter().map(|(url, label)| serde_json::json!({ "url": url, "label": label })).collect();
        return axum::Json(serde_json::json!({ "ways": list })).into_response();
    }
    if ways.len() == 1 {
        return axum::response::Redirect::to(&ways[0].0).into_response();
    }
    let items: String = ways
        .iter()
        .map(|(url, label)| {
            format!("<p><a class=\"way\" href=\"{}\">{}</a></p>", html_escape::encode_double_quoted_attribute(url), html_escape::encode_text(label))
        })
        .collect();
    crate::pages::page(crate::error::Status::Ok, "Sign in", &format!("<h1>Sign in to Portcullis</h1>{items}"))
}

