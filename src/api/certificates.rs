//! A resident's certificates: issue, and the actions on the active one.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use super::asker::Asker;
use super::extract::ApiJson;
use crate::db;
use crate::domain::certificate::{CancelReason, Category};
use crate::error::AppResult;
use crate::state::AppState;
use crate::use_cases::residents::certificates::{self, Assessment, CertificateAction};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueCertificate {
    number: String,
    category: Category,
    #[serde(default)]
    components: Vec<Category>,
    grade: i32,
    issued_on: NaiveDate,
    valid_until: Option<NaiveDate>,
}

pub async fn issue(
    state: web::Data<AppState>,
    asker: Asker,
    id: web::Path<uuid::Uuid>,
    ApiJson(body): ApiJson<IssueCertificate>,
) -> AppResult<HttpResponse> {
    let resident_id = id.into_inner().to_string();
    let assessment = Assessment {
        category: body.category,
        components: body.components,
        grade: body.grade,
        issued_on: body.issued_on,
        valid_until: body.valid_until,
    };
    let number = body.number;
    let certificate = db::run(&state.pool, move |conn| {
        certificates::issue(conn, &asker.requester(), &resident_id, &number, assessment)
    })
    .await?;
    Ok(HttpResponse::Created().json(certificate))
}

#[derive(Deserialize)]
pub struct CertificatePath {
    id: uuid::Uuid,
    certificate_id: uuid::Uuid,
}

async fn act(
    state: web::Data<AppState>,
    asker: Asker,
    path: CertificatePath,
    action: CertificateAction,
) -> AppResult<HttpResponse> {
    let resident_id = path.id.to_string();
    let certificate_id = path.certificate_id.to_string();
    let certificate = db::run(&state.pool, move |conn| {
        certificates::act(
            conn,
            &asker.requester(),
            &resident_id,
            &certificate_id,
            action,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(certificate))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Renew {
    issued_on: NaiveDate,
    valid_until: Option<NaiveDate>,
}

pub async fn renew(
    state: web::Data<AppState>,
    asker: Asker,
    path: web::Path<CertificatePath>,
    ApiJson(body): ApiJson<Renew>,
) -> AppResult<HttpResponse> {
    let action = CertificateAction::Renew {
        issued_on: body.issued_on,
        valid_until: body.valid_until,
    };
    act(state, asker, path.into_inner(), action).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reissue {
    issued_on: NaiveDate,
}

pub async fn reissue(
    state: web::Data<AppState>,
    asker: Asker,
    path: web::Path<CertificatePath>,
    ApiJson(body): ApiJson<Reissue>,
) -> AppResult<HttpResponse> {
    let action = CertificateAction::Reissue {
        issued_on: body.issued_on,
    };
    act(state, asker, path.into_inner(), action).await
}

pub async fn reassess(
    state: web::Data<AppState>,
    asker: Asker,
    path: web::Path<CertificatePath>,
    ApiJson(body): ApiJson<IssueAssessment>,
) -> AppResult<HttpResponse> {
    let action = CertificateAction::Reassess(Assessment {
        category: body.category,
        components: body.components,
        grade: body.grade,
        issued_on: body.issued_on,
        valid_until: body.valid_until,
    });
    act(state, asker, path.into_inner(), action).await
}

/// A re-assessment: a new category and grade (the number follows from them).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueAssessment {
    category: Category,
    #[serde(default)]
    components: Vec<Category>,
    grade: i32,
    issued_on: NaiveDate,
    valid_until: Option<NaiveDate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    reason: CancelReason,
    cancelled_on: NaiveDate,
}

pub async fn cancel(
    state: web::Data<AppState>,
    asker: Asker,
    path: web::Path<CertificatePath>,
    ApiJson(body): ApiJson<Cancel>,
) -> AppResult<HttpResponse> {
    let action = CertificateAction::Cancel {
        reason: body.reason,
        cancelled_on: body.cancelled_on,
    };
    act(state, asker, path.into_inner(), action).await
}
