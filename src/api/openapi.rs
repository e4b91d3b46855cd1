use actix_web::HttpResponse;

/// The API contract, compiled into the binary.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

pub async fn spec() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml; charset=utf-8")
        .body(OPENAPI_YAML)
}
